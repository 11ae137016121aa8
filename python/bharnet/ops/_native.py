"""Access to the compiled extension bharnet._C for the torch ops (pointer entry points)."""
from __future__ import annotations

import os

import torch

try:
    from bharnet import _C
except ImportError:  # source checkout without a build: the ops fall back to the references
    _C = None

NATIVE_DTYPES = (torch.float32, torch.float64)


def has(entry_point: str) -> bool:
    return _C is not None and hasattr(_C, entry_point)


def cuda_built() -> bool:
    return _C is not None and bool(_C.build_info.get("cuda", False))


def supports(device: torch.device | str, entry_point: str) -> bool:
    """Whether the native kernel behind `entry_point` can run on `device`."""
    kind = torch.device(device).type
    if not has(entry_point):
        return False
    if kind == "cpu":
        return True
    return kind == "cuda" and cuda_built()


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
