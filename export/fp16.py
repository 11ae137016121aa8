"""FP16 variant of a portable graph: our own cast pass, inputs and outputs stay FP32.

Why our own pass: onnxconverter-common pins old protobuf versions in some releases, and the graph
is simple enough (no subgraphs, no functions after the exporter's optimiser) to convert directly:
  * FLOAT initializers, Constant / ConstantOfShape values -> FLOAT16;
  * Cast(to=FLOAT) -> Cast(to=FLOAT16), so the graph's own casts stay in half precision;
  * each FP32 graph input is cast to FP16 once, each output cast back to FP32.
Values are range-safe: finite values beyond the FP16 range are clipped to +-65504 and tiny non-zero
values (epsilons such as 1e-12 in a clamp before a log) keep their sign and become the smallest
FP16 subnormal instead of 0, so log(clamp(x, eps)) never turns into -inf.
"""
from __future__ import annotations

import numpy as np

_F16_MAX = float(np.finfo(np.float16).max)
_F16_TINY = float(np.float16(2.0 ** -24))  # smallest positive subnormal


def to_half(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float32)
    finite = np.isfinite(a)
    out = np.where(finite, np.clip(a, -_F16_MAX, _F16_MAX), a).astype(np.float16)
    underflow = finite & (a != 0) & (out == 0)
    out[underflow] = np.copysign(_F16_TINY, a[underflow]).astype(np.float16)
    return out


def _half_tensor(t):
    from onnx import TensorProto, numpy_helper

    if t.data_type != TensorProto.FLOAT:
        return t
    new = numpy_helper.from_array(to_half(numpy_helper.to_array(t)), t.name)
    return new


def convert_fp16(model):
    """A new onnx.ModelProto computing in FP16 with FP32 inputs and outputs."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    if len(m.functions):
        raise ValueError("fp16 conversion expects an inlined graph (no local functions)")

    for i, t in enumerate(g.initializer):
        g.initializer[i].CopyFrom(_half_tensor(t))
    for node in g.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise ValueError(f"fp16 conversion does not handle subgraphs ({node.op_type})")
        for a in node.attribute:
            if node.op_type in ("Constant", "ConstantOfShape") and a.type == onnx.AttributeProto.TENSOR:
                a.t.CopyFrom(_half_tensor(a.t))
            elif node.op_type == "Constant" and a.name == "value_float":
                # a scalar float attribute: re-express as an FP16 tensor
                a.CopyFrom(helper.make_attribute("value", helper.make_tensor(
                    "", TensorProto.FLOAT16, [], [to_half(np.float32(a.f)).item()])))
            elif node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16

    float_in = [i.name for i in g.input if i.type.tensor_type.elem_type == TensorProto.FLOAT]
    float_out = [o.name for o in g.output if o.type.tensor_type.elem_type == TensorProto.FLOAT]
    rename_in = {n: f"{n}__fp16" for n in float_in}
    rename_out = {n: f"{n}__fp16" for n in float_out}
    for node in g.node:
        for k, name in enumerate(node.input):  # an output may also feed other nodes
            node.input[k] = rename_in.get(name, rename_out.get(name, name))
        for k, name in enumerate(node.output):
            node.output[k] = rename_out.get(name, name)
    head = [helper.make_node("Cast", [n], [rename_in[n]], to=TensorProto.FLOAT16, name=f"cast_in_{n}")
            for n in float_in]
    tail = [helper.make_node("Cast", [rename_out[n]], [n], to=TensorProto.FLOAT, name=f"cast_out_{n}")
            for n in float_out]
    nodes = head + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]  # stale FP32 annotations; re-inferred below
    m.doc_string = (model.doc_string + " [fp16 compute, fp32 I/O]").strip()
    # strict inference proves every node type-checks in FP16; its annotations are then dropped,
    # since re-inference loses the exporter's symbolic batch names (unk__N placeholders)
    onnx.checker.check_model(onnx.shape_inference.infer_shapes(m, strict_mode=True), full_check=True)
    return m
