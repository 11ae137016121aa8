"""Access to the compiled extension bharnet._C for the torch ops (pointer entry points).

The ops never fall back to the references on their own: when the native kernel an op needs is
absent (no _C, a _C without CUDA for a CUDA tensor, a dtype the kernels do not take) `require`
raises KernelUnavailable, and the caller chooses the reference explicitly (bharnet.ops.*_ref,
or model.use_kernels: false).
"""
from __future__ import annotations

import os

import torch

try:
    from bharnet import _C
    _IMPORT_ERROR = None
except ImportError as e:  # a source checkout without a build
    _C = None
    _IMPORT_ERROR = str(e)
# read once: the ops check it on every call, also inside torch.compile'd code
_HAS_CUDA = _C is not None and hasattr(_C, "has_cuda") and bool(_C.has_cuda())

NATIVE_DTYPES = (torch.float32, torch.float64)
REF_HINT = ("use bharnet.ops.{op}_ref for the plain-PyTorch path (in a model config: "
            "model.use_kernels: false)")


class KernelUnavailable(RuntimeError):
    """The native kernel asked for cannot run here (not built, no CUDA build, unsupported dtype)."""


def has(entry_point: str) -> bool:
    return _C is not None and hasattr(_C, entry_point)


def cuda_built() -> bool:
    """Whether bharnet._C was compiled with the CUDA kernels."""
    return _HAS_CUDA


def unavailable_reason(device: torch.device | str, entry_point: str) -> str | None:
    """Why the native kernel behind `entry_point` cannot run on `device`; None when it can."""
    kind = torch.device(device).type
    if _C is None:
        return f"bharnet._C is not built ({_IMPORT_ERROR}); build it with `make build`"
    if not hasattr(_C, entry_point):
        return f"bharnet._C has no {entry_point} (a stale build?); rebuild it with `make build`"
    if kind == "cuda" and not cuda_built():
        return ("bharnet._C was built without CUDA (rebuild it with nvcc on PATH and "
                "BHARNET_CUDA=ON)")
    if kind not in ("cpu", "cuda"):
        return f"there is no native kernel for device type {kind!r}"
    return None


def supports(device: torch.device | str, entry_point: str) -> bool:
    """Whether the native kernel behind `entry_point` can run on `device`."""
    return unavailable_reason(device, entry_point) is None


def _raise(op: str, reason: str):
    raise KernelUnavailable(f"bharnet.ops.{op}: {reason}; {REF_HINT.format(op=op)}")


def require_device(op: str, entry_point: str, device: torch.device | str) -> None:
    """Raises unless the native `op` is built for `device`."""
    reason = unavailable_reason(device, entry_point)
    if reason is not None:
        _raise(op, reason)


def require(op: str, entry_point: str, tensors, same_device=()) -> None:
    """Raises unless the native `op` can run on `tensors` (one dtype, one device, float32/64).
    `same_device`: further tensors (masks) that only need to be on that device."""
    present = [t for t in tensors if t is not None]
    x = present[0]
    require_device(op, entry_point, x.device)
    if x.dtype not in NATIVE_DTYPES:
        _raise(op, f"the kernels take float32 or float64, got {x.dtype}")
    for t in present:
        if t.dtype != x.dtype or t.device != x.device:
            raise ValueError(f"bharnet.ops.{op}: all tensors must share one dtype and device; got "
                             f"{x.dtype} on {x.device} and {t.dtype} on {t.device}")
    for t in same_device:
        if t is not None and t.device != x.device:
            raise ValueError(f"bharnet.ops.{op}: masks must be on {x.device}, got {t.device}")


def dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def ptr(t: torch.Tensor | None) -> int:
    return 0 if t is None else t.data_ptr()


def kernel_threads() -> int:
    """Threads for the CPU kernels: BHARNET_KERNEL_THREADS if set, else torch's intra-op count."""
    env = os.environ.get("BHARNET_KERNEL_THREADS")
    return int(env) if env else torch.get_num_threads()


def sync_threads() -> None:
    n = kernel_threads()
    if _C.get_num_threads() != n:
        _C.set_num_threads(n)


def launch(fn, device: torch.device, workspace_bytes: int, *args) -> None:
    """Calls a pointer entry point of bharnet._C. On CUDA it adds a workspace and the current
    stream, under a device guard so a tensor on another GPU launches on its own device."""
    if device.type != "cuda":
        sync_threads()
        fn(*args)
        return
    with torch.cuda.device(device):
        # held until the launch is queued; the caching allocator orders reuse on the stream
        ws = torch.empty(max(workspace_bytes, 1), dtype=torch.uint8, device=device)
        fn(*args, workspace=ws.data_ptr(), stream=torch.cuda.current_stream(device).cuda_stream)
