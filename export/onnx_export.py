"""torch -> portable ONNX: the dynamo exporter, standard ops only, fixed T, dynamic batch.

The model must be built with use_kernels=False so the graph holds no custom op (the plugin-mode
graph with our kernels is made separately, see export/plugin.py).
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

DEFAULT_OPSET = 18          # >= 17 as required; 18 is what the dynamo exporter emits natively
BATCH_DIM = "batch"
MAX_BATCH = 1024


class ExportWrapper(nn.Module):
    """Positional inputs in `model.input_names` order -> the tuple in `model.output_names` order."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        return self.model.export_outputs(self.model(**dict(zip(self.model.input_names, inputs))))


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of an eval model with every Conv2d -> BatchNorm2d pair inside a Sequential folded.

    Folding removes a BatchNormalization node per conv (fewer kernels in ORT and TensorRT);
    the other BatchNorms (after the graph conv, on the input) stay as BatchNormalization nodes.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = copy.deepcopy(model).eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = nn.Identity()
    return model


def _name_batch_dim(proto) -> None:
    """Give the dynamic batch axis one stable name on every graph input and output."""
    for vi in list(proto.graph.input) + list(proto.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = BATCH_DIM


def export_onnx(model: nn.Module, example: dict, opset: int = DEFAULT_OPSET, fold_bn: bool = True,
                max_batch: int = MAX_BATCH, dynamic_batch: bool = True, custom_translation_table=None):
    """Export an eval BHaRNet to an onnx.ModelProto (checked with onnx.checker).

    example: model inputs {name: tensor} (any batch >= 2 so the batch axis is not specialised).
    """
    import onnx

    if opset < 17:
        raise ValueError(f"opset {opset} < 17 is not supported (LayerNorm/standard reductions)")
    model = fold_batchnorm(model) if fold_bn else copy.deepcopy(model).eval()
    wrapper = ExportWrapper(model).eval()
    args = tuple(example[k] for k in model.input_names)
    dyn = None
    if dynamic_batch:
        batch = torch.export.Dim(BATCH_DIM, min=1, max=max_batch)
        dyn = (tuple({0: batch} for _ in args),)  # one entry: the *inputs tuple
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper, args, dynamo=True, opset_version=opset, optimize=True, verbose=False,
            input_names=list(model.input_names), output_names=list(model.output_names),
            dynamic_shapes=dyn, external_data=False, custom_translation_table=custom_translation_table)
    proto = program.model_proto
    _name_batch_dim(proto)
    proto.doc_string = "bharnet portable graph: standard ONNX ops, fixed window, dynamic batch"
    # strict shape inference cannot type custom-domain (plugin) nodes; check structure only then
    onnx.checker.check_model(proto, full_check=custom_translation_table is None)
    return proto


def batch_example(cfg: dict, batch: int = 2, seed: int = 0) -> dict:
    """Export example inputs from the training config (random; the exporter only needs shapes)."""
    from bharnet.training.config import example_inputs

    return example_inputs(cfg, batch=batch, seed=seed)
