"""PyTorch backend: rebuilds the model from the bundle's weights.safetensors and its metadata.

For development installs (it needs torch and the training code). It lives on the training side
and registers itself with the SDK through the "bharnet.backends" entry point (pyproject.toml), so
the torch-free package never imports it. It unpickles nothing: weights come from safetensors and
the architecture from the metadata's training config.
"""
from __future__ import annotations

import numpy as np

from bharnet.backends.base import BackendUnavailable

# model.forward returns {"logits", "body", "hand"}; the bundle's outputs are named like the ONNX's
_OUT_KEYS = {"logits": "logits", "body_logits": "body", "hand_logits": "hand"}


class TorchBackend:
    name = "torch"
    requires = "torch"   # the package that must import (the SDK's registry checks it)
    thread_safe = True  # eval-mode forward under no_grad shares no mutable state

    def __init__(self, bundle, device: str | None = None, threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(int(threads))  # process-wide in torch: only when asked for
        from .config import build_model

        meta = bundle.meta
        cfg = meta.config
        if not isinstance(cfg, dict):
            raise BackendUnavailable("backend 'torch': the bundle records no training config to "
                                     "rebuild the model from")
        self.device = torch.device(device or "cpu")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable(f"backend 'torch': device {device!r} asked for, but this torch "
                                     f"has no usable CUDA")
        # plain PyTorch ops: the result must not depend on whether the native kernels were built
        model = build_model(cfg, num_classes=meta.num_classes, use_kernels=False)
        state = {k: torch.from_numpy(np.asarray(v).copy()) for k, v in bundle.weights().items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise BackendUnavailable(f"backend 'torch': weights do not fit the model "
                                     f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        self.model = model.eval().to(self.device)
        self.input_names = tuple(model.input_names)
        self.output_names = tuple(model.output_names)
        self._torch = torch

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            feed = {k: torch.from_numpy(np.ascontiguousarray(inputs[k], dtype=np.float32))
                    .to(self.device) for k in self.input_names}
            out = self.model(**feed)
        return {k: out[_OUT_KEYS[k]].float().cpu().numpy() for k in self.output_names}
