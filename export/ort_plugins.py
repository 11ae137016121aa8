"""Run a plugin-mode graph on ONNX Runtime (CPU) with our C++ kernels bound as custom ops.

This is how the plugin-mode graph is proven where TensorRT is absent: onnxruntime-extensions
Python custom ops call the kernels engineer's numpy entry points `bharnet._C.graph_conv` and
`bharnet._C.pool_attention` (the same CPU kernels the TensorRT plugins' CPU twins are tested with).
onnxruntime-extensions serves Python ops only in its own domain, so the graph's `bharnet` domain
is renamed for ORT; the bundle's plugin graph itself keeps `bharnet` for TensorRT.
"""
from __future__ import annotations

import functools

import numpy as np

from .plugin import DOMAIN


@functools.lru_cache(maxsize=1)
def register_ops() -> str:
    """Register the two ops once per process; returns the ORT domain they live in."""
    from onnxruntime_extensions import PyCustomOpDef, default_opset_domain, onnx_op

    from bharnet import _C

    f, i64, s = PyCustomOpDef.dt_float, PyCustomOpDef.dt_int64, PyCustomOpDef.dt_string
    plugin_attrs = {"plugin_namespace": s, "plugin_version": s}

    @onnx_op(op_type="GraphConv", inputs=[f] * 4, outputs=[f], attrs={"relu": i64, **plugin_attrs})
    def graph_conv(x, A, W, b, **attrs):
        return _C.graph_conv(*(np.ascontiguousarray(a, np.float32) for a in (x, A, W, b)),
                             relu=bool(attrs.get("relu", 0)))

    @onnx_op(op_type="PoolAttention", inputs=[f] * 8, outputs=[f], attrs={"num_heads": i64, **plugin_attrs})
    def pool_attention(x, ctx, xm, cm, wq, wk, wv, wo, **attrs):
        arrays = (np.ascontiguousarray(a, np.float32) for a in (x, ctx, xm, cm, wq, wk, wv, wo))
        return _C.pool_attention(*arrays, num_heads=int(attrs["num_heads"]))

    return default_opset_domain()


def for_ort(model):
    """A copy of a plugin-mode ModelProto with the plugin domain renamed for onnxruntime-extensions."""
    import onnx

    ort_domain = register_ops()
    m = onnx.ModelProto()
    m.CopyFrom(model if not isinstance(model, (bytes, bytearray)) else onnx.load_from_string(bytes(model)))
    for node in m.graph.node:
        if node.domain == DOMAIN:
            node.domain = ort_domain
    for imp in m.opset_import:
        if imp.domain == DOMAIN:
            imp.domain = ort_domain
    return m


def plugin_session(model, threads: int | None = None):
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path

    ported = for_ort(model)  # registers the Python ops; must precede loading the library (else ORT crashes)
    so = ort.SessionOptions()
    so.register_custom_ops_library(get_library_path())
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(ported.SerializeToString(), so, providers=["CPUExecutionProvider"])
