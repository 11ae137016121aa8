"""ONNX Runtime backend: the portable default (CPU; CUDA provider where installed)."""
from __future__ import annotations

import numpy as np

from .base import BackendUnavailable


class OnnxRuntimeBackend:
    name = "onnxruntime"
    thread_safe = True  # InferenceSession.run may be called concurrently

    def __init__(self, bundle, device: str | None = None, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device is not None and str(device).startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable(
                    f"device {device!r} asked for, but this onnxruntime has no CUDA provider "
                    f"(available: {ort.get_available_providers()})")
            dev_id = int(str(device).split(":")[1]) if ":" in str(device) else 0
            providers = [("CUDAExecutionProvider", {"device_id": dev_id}), "CPUExecutionProvider"]
        self.session = ort.InferenceSession(bundle.onnx_bytes(), sess_options=opts,
                                            providers=providers)
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self.device = "cuda" if len(providers) > 1 else "cpu"

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: np.ascontiguousarray(inputs[k], dtype=np.float32) for k in self.input_names}
        outs = self.session.run(list(self.output_names), feed)
        return dict(zip(self.output_names, outs))
