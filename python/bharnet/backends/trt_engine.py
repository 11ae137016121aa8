"""TensorRT engines at run time: where a bundle's engine is cached and how it is loaded.

Building engines is the export side's job (bharnet.export.trt, `bharnet build-engine`); this
module only finds and deserialises them, so the SDK never imports the exporter.

UNVERIFIED: TensorRT cannot be installed in the workplace where this was written. The code
follows the documented Python API of TensorRT 10.3 ... 11.x; only the pure-Python parts (cache
key, member choice, version split) are tested here.

API split handled here and in the builder:
  * 10.x: FP16 is a builder flag (`BuilderFlag.FP16`) on the FP32 graph `model.onnx`;
  * 11.x: networks are strongly typed (the flag is gone): precision comes from the graph, so FP16
    engines are built from `model.fp16.onnx` with `NetworkDefinitionCreationFlag.STRONGLY_TYPED`.
Plans are not portable across TensorRT versions or GPUs, hence the cache key.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess

PRECISIONS = ("fp32", "fp16")
DEFAULT_CACHE = pathlib.Path(os.environ.get("BHARNET_TRT_CACHE", "~/.cache/bharnet/trt")).expanduser()


class TrtUnavailable(RuntimeError):
    pass


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as e:
        raise TrtUnavailable("TensorRT is not installed (JetPack ships it on Jetson; elsewhere "
                             "install NVIDIA's TensorRT 10.3+ Python wheel)") from e
    return trt


def trt_major(version: str) -> int:
    return int(str(version).split(".")[0])


def strongly_typed(version: str) -> bool:
    """11.x builds only strongly typed networks; 10.x uses weak typing + precision flags."""
    return trt_major(version) >= 11


def onnx_member(meta, precision: str, version: str, plugin: bool = False) -> str:
    """The bundle graph (a member of BundleMeta `meta`) a build starts from."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    role = ("window-plugin" if plugin  # FP32 graph; 10.x may still pick FP16 tactics via the flag
            else "window-fp16" if precision == "fp16" and strongly_typed(version) else "window")
    member = meta.graph(role)
    if member is None:
        raise TrtUnavailable(f"the bundle has no {role!r} graph to build a {precision} engine from "
                             f"(re-export it{' with --plugin' if plugin else ''})")
    return member


def engine_key(bundle, precision: str, max_batch: int, opt_batch: int | None = None,
               min_batch: int = 1, plugin: bool = False, device: int = 0, trt_version: str | None = None
               ) -> tuple[str, dict]:
    """(graph member, cache key) of the engine for an opened bundle on this GPU and TensorRT."""
    opt_batch = opt_batch or max_batch
    if not min_batch <= opt_batch <= max_batch:
        raise ValueError(f"need min_batch <= opt_batch <= max_batch, got {min_batch}, {opt_batch}, "
                         f"{max_batch}")
    version = trt_version or import_tensorrt().__version__
    member = onnx_member(bundle.meta, precision, version, plugin)
    return member, cache_key(bundle.sha256, member, precision, min_batch, opt_batch, max_batch,
                             version, gpu_identity(device))


def gpu_identity(device: int = 0) -> dict:
    """{"name", "compute_capability"} of a GPU: from cuda-python, torch, or nvidia-smi."""
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError:
            cudart = None
    if cudart is not None:
        err, prop = cudart.cudaGetDeviceProperties(device)
        if int(err) == 0:
            name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
            return {"name": name.strip("\x00 "), "compute_capability": f"{prop.major}.{prop.minor}"}
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(device)
            return {"name": torch.cuda.get_device_name(device), "compute_capability": f"{major}.{minor}"}
    except ImportError:
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader",
                              f"--id={device}"], capture_output=True, text=True, timeout=20, check=True)
        name, cc = [s.strip() for s in out.stdout.strip().split(",")[:2]]
        return {"name": name, "compute_capability": cc}
    except (OSError, subprocess.SubprocessError, ValueError):
        raise TrtUnavailable("no CUDA GPU found (cuda-python, torch.cuda and nvidia-smi all failed)") from None


def cache_key(bundle_sha256: str, member: str, precision: str, min_batch: int, opt_batch: int,
              max_batch: int, trt_version: str, gpu: dict) -> dict:
    """Everything that makes a plan valid; its hash names the cached engine file."""
    key = {"bundle_sha256": bundle_sha256, "member": member, "precision": precision,
           "batch": [int(min_batch), int(opt_batch), int(max_batch)], "tensorrt": str(trt_version),
           "gpu": gpu.get("name"), "compute_capability": gpu.get("compute_capability")}
    key["id"] = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return key


def engine_path(cache_dir, key: dict) -> pathlib.Path:
    return pathlib.Path(cache_dir or DEFAULT_CACHE) / f"bharnet-{key['precision']}-{key['id']}.engine"


def default_plugin_library() -> pathlib.Path | None:
    """libbharnet_trt_plugins.so as installed by the CMake TensorRT section (bharnet/lib)."""
    import bharnet

    for base in map(pathlib.Path, bharnet.__path__):
        p = base / "lib" / "libbharnet_trt_plugins.so"
        if p.is_file():
            return p
    return None


def load_plugin_library(trt, path=None) -> None:
    lib = pathlib.Path(path) if path else default_plugin_library()
    if lib is None or not lib.is_file():
        raise TrtUnavailable("bharnet TensorRT plugin library not found (build with TensorRT headers "
                             "present: BHARNET_TRT=AUTO and TENSORRT_ROOT set)")
    trt.init_libnvinfer_plugins(None, "")
    trt.get_plugin_registry().load_library(str(lib))


def load_engine(path, plugin_library=None, plugin: bool = False):
    """Deserialize an engine file into an ICudaEngine."""
    trt = import_tensorrt()
    if plugin:
        load_plugin_library(trt, plugin_library)
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(pathlib.Path(path).read_bytes())
    if engine is None:
        raise RuntimeError(f"{path}: not a TensorRT engine for this TensorRT version/GPU; rebuild it")
    return engine, runtime


__all__ = ["PRECISIONS", "DEFAULT_CACHE", "TrtUnavailable", "import_tensorrt", "strongly_typed",
           "onnx_member", "engine_key", "cache_key", "engine_path", "gpu_identity",
           "load_plugin_library", "load_engine"]
