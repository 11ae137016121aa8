"""The backend protocol and the factory that picks one by name (or "auto").

Backends that live outside the torch-free package (the torch backend, on the training side)
register through the "bharnet.backends" entry-point group: name = "module:Class", with the class
attribute `requires` naming the package that must import for it to run.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
from functools import lru_cache
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Backend(Protocol):
    """Runs one model: batched named float32 inputs in, named outputs out (numpy both ways)."""

    name: str
    # False where concurrent run() calls on one instance are unsafe (the SDK then serialises them)
    thread_safe: bool

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (package missing, no GPU, ...)."""


ENTRY_POINTS = "bharnet.backends"
# name -> (module, class, the import that must succeed for it to be usable)
BUILTIN: dict[str, tuple[str, str, str]] = {
    "onnxruntime": ("bharnet.backends.onnxruntime", "OnnxRuntimeBackend", "onnxruntime"),
    "tensorrt": ("bharnet.backends.tensorrt", "TensorRTBackend", "tensorrt"),
    "native": ("bharnet.backends.native", "NativeBackend", "bharnet._C"),
}
# what a missing package is installed with
_EXTRAS = {"tensorrt": "[trt]", "torch": "[train]"}


@lru_cache(maxsize=1)
def registered() -> dict[str, tuple[str, str, str]]:
    """name -> (module, class, required package) of the built-in backends and of the ones
    registered through entry points (whose class names its package in `requires`)."""
    found = dict(BUILTIN)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINTS):
        module, _, cls = ep.value.partition(":")
        if ep.name not in found and _importable(module):
            requires = getattr(importlib.import_module(module), cls).requires
            found[ep.name] = (module, cls, requires)
    return found
# "auto": TensorRT only pays off on a GPU; onnxruntime is the portable CPU default (the SDK puts
# native first for continual mode, where it measured faster: sdk/recognizer._open_backend); native
# runs any bundle with a layer program without a runtime package; torch is a development fallback.
AUTO_ORDER = ("tensorrt", "onnxruntime", "native", "torch")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _wants_gpu(device: str | None) -> bool:
    return device is not None and str(device).startswith("cuda")


def available_backends() -> list[str]:
    """Backends whose runtime package is installed (it may still refuse a given model/device)."""
    return [n for n, (mod, _, dep) in registered().items() if _importable(dep) and _importable(mod)]


def _load(name: str, bundle, device: str | None, threads: int | None = None) -> Backend:
    mod_name, cls_name, dep = registered()[name]
    if not _importable(dep):
        extra = _EXTRAS.get(name, "")
        if name == "native":
            raise BackendUnavailable("backend 'native' needs the compiled extension bharnet._C, "
                                     "which this install lacks")
        raise BackendUnavailable(
            f"backend {name!r} needs the {dep!r} package, which is not installed"
            + (f" (pip install 'bharnet{extra}')" if extra else ""))
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        raise BackendUnavailable(f"backend {name!r} is not part of this install ({e})") from None
    cls = getattr(mod, cls_name)
    if threads is not None and "threads" in inspect.signature(cls).parameters:
        return cls(bundle, device=device, threads=threads)
    return cls(bundle, device=device)


def get_backend(name: str, bundle, device: str | None = None, threads: int | None = None
                ) -> Backend:
    """A backend instance for `bundle` (a bharnet.bundle.Bundle or an object with the same API).

    name: "auto" | "onnxruntime" | "native" | "tensorrt" | "torch". "auto" tries TensorRT only when a CUDA
    device is asked for, then onnxruntime, native and torch (AUTO_ORDER); it raises BackendUnavailable listing why
    each one failed. threads: CPU threads for backends that take the option (None: theirs).
    """
    if isinstance(name, str) and name == "auto":
        errors = []
        for cand in AUTO_ORDER:
            if cand == "tensorrt" and not _wants_gpu(device):
                continue
            try:
                return _load(cand, bundle, device, threads)
            except BackendUnavailable as e:
                errors.append(f"{cand}: {e}")
        raise BackendUnavailable("no backend can run this model here: " + "; ".join(errors))
    if name not in registered():
        raise BackendUnavailable(f"unknown backend {name!r}; choose auto or one of "
                                 f"{', '.join(registered())}")
    return _load(name, bundle, device, threads)
