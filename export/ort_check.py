"""Run an exported graph on ONNX Runtime (CPU) and compare it with the torch model."""
from __future__ import annotations

import numpy as np


def ort_session(onnx_bytes: bytes, threads: int | None = None, custom_ops_library: str | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    if custom_ops_library:
        so.register_custom_ops_library(custom_ops_library)
    return ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])


def run_ort(onnx_bytes_or_session, inputs: dict) -> dict[str, np.ndarray]:
    """inputs {name: array}; returns {output name: array}. Extra inputs are ignored."""
    sess = (onnx_bytes_or_session if hasattr(onnx_bytes_or_session, "run")
            else ort_session(onnx_bytes_or_session))
    names = [i.name for i in sess.get_inputs()]
    feed = {n: np.ascontiguousarray(np.asarray(inputs[n], dtype=np.float32)) for n in names}
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feed)))


def run_torch(model, inputs: dict) -> dict[str, np.ndarray]:
    import torch

    with torch.no_grad():
        feed = {k: torch.as_tensor(np.asarray(inputs[k], dtype=np.float32)) for k in model.input_names}
        outs = model.export_outputs(model(**feed))
    return {n: o.numpy() for n, o in zip(model.output_names, outs)}


def max_abs_diff(a: dict, b: dict) -> dict[str, float]:
    return {k: float(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)).max())
            for k in a}


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.asarray(a).argmax(-1) == np.asarray(b).argmax(-1)).mean())
