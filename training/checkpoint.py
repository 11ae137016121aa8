"""Checkpoints: plain containers of tensors, numbers and strings, loadable with weights_only=True.

Layout of a checkpoint dict:
  format: "bharnet-ckpt-1"
  config: the merged training config (dict of plain values)
  num_classes, classes (list[str]), hand_intensive (list[int]), source_layout (str)
  spec: the InputSpec as a dict
  model: state_dict
  optimizer, scheduler: state dicts (absent in inference-only checkpoints)
  epoch: epochs completed; rng: {"torch": ByteTensor, "numpy": ..., "python": ...} for exact resume
  metrics: last evaluation metrics (optional)
"""
from __future__ import annotations

import pathlib

import torch

FORMAT = "bharnet-ckpt-1"


def save_checkpoint(path, **content) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, **content}, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # unpickling refused or a corrupt file
        raise ValueError(f"{path}: not a loadable bharnet checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a bharnet checkpoint (format {ckpt.get('format') if isinstance(ckpt, dict) else type(ckpt).__name__!r}, expected {FORMAT!r})")
    return ckpt


def model_from_checkpoint(ckpt: dict, use_kernels: bool | None = None):
    """Rebuild the model of a checkpoint (eval mode) with its weights."""
    from .config import build_model

    model = build_model(ckpt["config"], num_classes=ckpt["num_classes"], use_kernels=use_kernels)
    model.load_state_dict(ckpt["model"])
    return model.eval()
