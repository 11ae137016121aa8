"""Native backend: the bundle's layer program (program.json + program.safetensors, written by
the exporter) run by bharnet._C's CPU kernels and NumPy. No torch, no onnxruntime.

The program says what the network computes, with every BatchNorm folded, so this backend runs
every variant and baseline that has one (all ST-GCN++ models; CTR-GCN units have none) without
knowing anything about the model's classes.
"""
from __future__ import annotations

from .base import BackendUnavailable


class NativeBackend:
    name = "native"
    thread_safe = True  # the runner writes no state while running

    def __init__(self, bundle, device: str | None = None, threads: int | None = None):
        if device is not None and not str(device).startswith("cpu"):
            raise BackendUnavailable(f"backend 'native' runs on the CPU only, not {device!r}")
        try:
            from bharnet import _C
        except ImportError as e:
            raise BackendUnavailable(f"backend 'native' needs the compiled bharnet._C ({e})") from None
        from ..program import WindowRunner

        loaded = bundle.program()
        if loaded is None:
            raise BackendUnavailable("backend 'native': this bundle has no layer program (models with "
                                     "CTR-GCN units have none); use onnxruntime")
        if threads:
            _C.set_num_threads(int(threads))
        program, weights = loaded
        self._program, self._weights = program, weights
        self.runner = WindowRunner(program, weights, kernels=_C)
        self.input_names = tuple(program.inputs)
        self.output_names = tuple(program.outputs)

    def run(self, inputs):
        return self.runner.run(inputs)

    def step_runner(self, schedule: str):
        """The streaming program run frame by frame by the C++ step runtime (csrc/runtime)."""
        from .native_step import NativeStepRunner

        return NativeStepRunner(self._program, self._weights, schedule)
