"""TensorRT backend: runs the cached engine of the bundle on this GPU and TensorRT version.

Engines are built on the target by the export side, once: `bharnet build-engine model.bharnet`
(or `bharnet export CKPT --trt`); this backend finds the plan in the cache
(bharnet.backends.trt_engine) and says how to build it when there is none.

UNVERIFIED: written against the documented TensorRT 10.3 ... 11.x Python API (tensor-name I/O:
`set_input_shape`, `set_tensor_address`, `execute_async_v3`) without access to TensorRT, which
cannot be installed where this was written. Its tests are skipped unless `import tensorrt` works.

Device buffers come from torch (if installed with CUDA) or else cuda-python (`pip install
cuda-python`); one of the two is required. torch is never imported when cuda-python is present,
so the SDK stays torch-free on a robot.
"""
from __future__ import annotations

import threading

import numpy as np

from .base import BackendUnavailable


class _CudaPythonMemory:
    """Device memory and a stream through cuda-python's runtime bindings."""

    def __init__(self, device: int):
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # older cuda-python layout
        self.rt = cudart
        self._check(cudart.cudaSetDevice(device))
        self.stream = self._check(cudart.cudaStreamCreate())
        self._owned: list[int] = []

    def _check(self, result):
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise RuntimeError(f"CUDA runtime error {err}")
        return rest[0] if len(rest) == 1 else (rest or None)

    @property
    def stream_handle(self) -> int:
        return int(self.stream)

    def alloc(self, nbytes: int) -> int:
        ptr = int(self._check(self.rt.cudaMalloc(max(int(nbytes), 1))))
        self._owned.append(ptr)
        return ptr

    def free_all(self) -> None:
        for p in self._owned:
            self.rt.cudaFree(p)
        self._owned.clear()

    def h2d(self, dst: int, src: np.ndarray) -> None:
        self._check(self.rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes,
                                            self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream))

    def d2h(self, dst: np.ndarray, src: int) -> None:
        self._check(self.rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes,
                                            self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream))

    def sync(self) -> None:
        self._check(self.rt.cudaStreamSynchronize(self.stream))


class _TorchMemory:
    """The same operations on torch CUDA tensors (for development installs with torch)."""

    def __init__(self, device: int):
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("tensorrt backend: torch has no CUDA device")
        self.torch = torch
        self.device = torch.device("cuda", device)
        self.stream = torch.cuda.Stream(self.device)
        self._owned: dict[int, object] = {}

    @property
    def stream_handle(self) -> int:
        return int(self.stream.cuda_stream)

    def alloc(self, nbytes: int) -> int:
        t = self.torch.empty(max(int(nbytes), 1), dtype=self.torch.uint8, device=self.device)
        self._owned[t.data_ptr()] = t
        return t.data_ptr()

    def free_all(self) -> None:
        self._owned.clear()

    def _view(self, ptr: int, nbytes: int):
        return self._owned[ptr][:nbytes]

    def h2d(self, dst: int, src: np.ndarray) -> None:
        with self.torch.cuda.stream(self.stream):
            self._view(dst, src.nbytes).copy_(self.torch.from_numpy(src.view(np.uint8).reshape(-1)),
                                              non_blocking=False)

    def d2h(self, dst: np.ndarray, src: int) -> None:
        self.stream.synchronize()
        dst.view(np.uint8).reshape(-1)[:] = self._view(src, dst.nbytes).cpu().numpy()

    def sync(self) -> None:
        self.stream.synchronize()


def _memory(device: int):
    try:
        return _CudaPythonMemory(device)
    except ImportError:
        pass
    try:
        return _TorchMemory(device)
    except ImportError:
        raise BackendUnavailable("tensorrt backend needs cuda-python (pip install cuda-python) or "
                                 "torch with CUDA for device buffers") from None


class TensorRTBackend:
    name = "tensorrt"
    thread_safe = False  # one execution context; the SDK serialises run() calls

    def __init__(self, bundle, device: str | None = None, precision: str = "fp16", max_batch: int = 8,
                 cache_dir=None, plugin: bool = False):
        from .trt_engine import TrtUnavailable, engine_key, engine_path, load_engine

        dev = int(str(device).split(":")[1]) if device and ":" in str(device) else 0
        try:
            import tensorrt as trt

            _, key = engine_key(bundle, precision, max_batch, plugin=plugin, device=dev)
            path = engine_path(cache_dir, key)
            if not path.is_file():
                raise TrtUnavailable(
                    f"no {precision} engine for this bundle, GPU and TensorRT {trt.__version__} in "
                    f"{path.parent}; build it once with `bharnet build-engine {bundle.path} "
                    f"--precision {precision} --max-batch {max_batch}`")
            self.engine, self._runtime = load_engine(path, plugin=plugin)
        except (ImportError, TrtUnavailable) as e:
            raise BackendUnavailable(f"tensorrt backend: {e}") from None
        self.trt = trt
        self.engine_path = path
        self.mem = _memory(dev)
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_in = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = tuple(n for n in names if is_in[n])
        self.output_names = tuple(n for n in names if not is_in[n])
        self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        self.max_batch = int(self.engine.get_tensor_profile_shape(self.input_names[0], 0)[2][0])
        self._lock = threading.Lock()
        self._capacity = 0
        self._ptrs: dict[str, int] = {}
        self.device = f"cuda:{dev}"

    def _ensure(self, batch: int) -> None:
        """Device buffers sized for the engine's max batch, allocated once."""
        if self._capacity:
            return
        self.mem.free_all()
        for n in self.input_names + self.output_names:
            shape = list(self.engine.get_tensor_shape(n))
            shape[0] = self.max_batch
            self._ptrs[n] = self.mem.alloc(int(np.prod(shape)) * self.dtypes[n].itemsize)
            self.context.set_tensor_address(n, self._ptrs[n])
        self._capacity = self.max_batch

    def _run_chunk(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = next(iter(inputs.values())).shape[0]
        staged = []  # host arrays stay alive until the stream is synchronised
        for name in self.input_names:
            a = np.ascontiguousarray(inputs[name], dtype=self.dtypes[name])
            staged.append(a)
            self.context.set_input_shape(name, a.shape)
            self.mem.h2d(self._ptrs[name], a)
        outs = {}
        if not self.context.execute_async_v3(self.mem.stream_handle):
            raise RuntimeError("TensorRT execution failed")
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            outs[name] = np.empty(shape, self.dtypes[name])
            self.mem.d2h(outs[name], self._ptrs[name])
        self.mem.sync()
        del staged
        assert all(o.shape[0] == n for o in outs.values())
        return {k: v.astype(np.float32, copy=False) for k, v in outs.items()}

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            self._ensure(self.max_batch)
            n = next(iter(inputs.values())).shape[0]
            parts = [self._run_chunk({k: inputs[k][i:i + self.max_batch] for k in self.input_names})
                     for i in range(0, n, self.max_batch)]
        return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}

    def __del__(self):
        mem = getattr(self, "mem", None)
        if mem is not None:
            mem.free_all()
