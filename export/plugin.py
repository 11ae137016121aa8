"""Plugin-mode ONNX: our two custom ops become TensorRT plugin nodes in the `bharnet` domain.

The model is built with use_kernels=True, so torch.export sees the opaque custom ops
bharnet::graph_conv and bharnet::pool_attention; `custom_translation_table` maps each to one node
  bharnet::GraphConv(x, A, W, b)                      attrs relu=0, plugin_namespace, plugin_version
  bharnet::PoolAttention(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo)   attrs num_heads, plugin_*
with fixed arity (plugin creators in csrc/trt/ read a fixed input list): a missing bias becomes
zeros, missing masks become all-ones masks (the reference treats None as all present), and a
residual/ReLU is applied with standard Add/Relu after the plugin node.
TensorRT's ONNX parser maps an unknown op to the plugin creator of the same name, version and
namespace (the node's `plugin_version` / `plugin_namespace` attributes).
"""
from __future__ import annotations

import copy

import torch

from .onnx_export import DEFAULT_OPSET, export_onnx

DOMAIN = "bharnet"
PLUGIN_NAMESPACE = "bharnet"
PLUGIN_VERSION = "1"
PLUGIN_OPS = ("GraphConv", "PoolAttention")


def register_schemas() -> None:
    """ONNX schemas for the plugin ops (once per process), so onnxscript can emit the nodes."""
    from onnx import defs

    P, A = defs.OpSchema.FormalParameter, defs.OpSchema.Attribute
    T = [("T", ["tensor(float)", "tensor(float16)"], "compute type")]
    attr = defs.OpSchema.AttrType
    common = [A("plugin_namespace", attr.STRING, "TensorRT plugin namespace"),
              A("plugin_version", attr.STRING, "TensorRT plugin version")]
    specs = {
        "GraphConv": (["x", "A", "W", "b"], [A("relu", attr.INT, "apply ReLU (0/1)")],
                      "y = sum_k W_k x A_k + b; x [N,C,T,V], A [K,V,V], W [K,O,C], b [O]"),
        "PoolAttention": (["x", "ctx", "x_mask", "ctx_mask", "wq", "wk", "wv", "wo"],
                          [A("num_heads", attr.INT, "attention heads")],
                          "pooling cross-attention (python/bharnet/ops/reference.py) -> [N,C]"),
    }
    for name, (inputs, attrs, doc) in specs.items():
        if defs.has(name, DOMAIN):
            continue
        defs.register_schema(defs.OpSchema(
            name, DOMAIN, 1, doc=doc, inputs=[P(i, "T", "") for i in inputs], outputs=[P("y", "T", "")],
            type_constraints=T, attributes=attrs + common))


def _translations(opset: int) -> dict:
    import onnxscript
    from onnxscript import opset18 as op  # standard ops used around the plugin nodes

    custom = onnxscript.values.Opset(DOMAIN, 1)
    register_schemas()
    GraphConv, PoolAttention = custom.GraphConv, custom.PoolAttention

    def graph_conv(x, A, W, b=None, relu: bool = False, residual=None):
        if b is None:
            b = op.Expand(op.Constant(value_float=0.0), op.Slice(op.Shape(W), [1], [2]))
        y = GraphConv(x, A, W, b, relu=0, plugin_namespace=PLUGIN_NAMESPACE,
                             plugin_version=PLUGIN_VERSION)
        if residual is not None:
            y = op.Add(y, residual)
        return op.Relu(y) if relu else y

    def _ones_mask(t):
        # [N, I] of ones for a [N, C, T, V, I] feature: "all instances present"
        shape = op.Shape(t)
        return op.Expand(op.Constant(value_float=1.0),
                         op.Concat(op.Slice(shape, [0], [1]), op.Slice(shape, [4], [5]), axis=0))

    def pool_attention(x, ctx, x_mask, ctx_mask, wq, wk, wv, wo, num_heads: int):
        xm = _ones_mask(x) if x_mask is None else x_mask
        cm = _ones_mask(ctx) if ctx_mask is None else ctx_mask
        return PoolAttention(x, ctx, xm, cm, wq, wk, wv, wo, num_heads=num_heads,
                                    plugin_namespace=PLUGIN_NAMESPACE, plugin_version=PLUGIN_VERSION)

    return {torch.ops.bharnet.graph_conv.default: graph_conv,
            torch.ops.bharnet.pool_attention.default: pool_attention}


def with_kernels(model):
    """A copy of the model that calls the bharnet:: custom ops (needs bharnet.ops native kernels)."""
    from bharnet import ops

    if not ops.kernels_available():
        raise RuntimeError("plugin-mode export needs the bharnet._C kernels (bharnet::graph_conv and "
                           "bharnet::pool_attention custom ops); this install has none")
    m = copy.deepcopy(model).eval()
    for mod in m.modules():
        if hasattr(mod, "use_kernels"):
            mod.use_kernels = True
    return m


def export_plugin_onnx(model, example: dict, opset: int = DEFAULT_OPSET, **kw):
    """onnx.ModelProto with GraphConv / PoolAttention plugin nodes (domain `bharnet`)."""
    return export_onnx(with_kernels(model), example, opset=opset,
                       custom_translation_table=_translations(opset), **kw)
