"""Inference backends for the SDK: one `Backend` protocol, several engines.

- onnxruntime: CPU default (CUDA provider where the GPU build is installed);
- native: the bundle's layer program on bharnet._C's kernels;
- tensorrt: on NVIDIA devices, the engine `bharnet build-engine` cached for the bundle;
- torch: registered by the training side (the "bharnet.backends" entry point), needs [train].

Importing this package imports none of the engines: each is loaded only when asked for.
"""
from __future__ import annotations

from .base import (AUTO_ORDER, Backend, BackendUnavailable, available_backends,
                   get_backend, registered)

__all__ = ["Backend", "BackendUnavailable", "AUTO_ORDER", "available_backends",
           "get_backend", "registered"]
