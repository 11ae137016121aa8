"""Inference backends for the SDK: one `Backend` protocol, several engines.

- onnxruntime: CPU default (CUDA provider where the GPU build is installed);
- tensorrt: on NVIDIA devices, through the export engineer's engine builder (bharnet.backends.tensorrt);
- torch: rebuilds the model from the bundle's weights.safetensors (needs the [train] extra).

Importing this package imports none of the engines: each is loaded only when asked for.
"""
from __future__ import annotations

from .base import (AUTO_ORDER, BACKENDS, Backend, BackendUnavailable, available_backends,
                   get_backend)

__all__ = ["Backend", "BackendUnavailable", "BACKENDS", "AUTO_ORDER", "available_backends",
           "get_backend"]
