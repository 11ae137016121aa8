"""Warm start: a run's weights begin from another run's checkpoint (train.init).

Config: `train.init: work_dirs/online17_base/final.pt` (null = a fresh start).

Why: a detection model (issue 20) learns its gestures from a few thousand windows of continuous
streams, far fewer gesture examples than the segmented recipe it shares its structure with sees.
Starting from that recipe's trained weights lets a short run spend its steps on what is new (the
background class, gestures seen mid-stream) instead of relearning hand motion from nothing.

What is copied: every parameter and buffer whose name and shape match. When the class lists
differ, the class-score layers (the Linear of each ClassifierHead) are copied row by row, by class
name: a class the checkpoint knows starts from its row, a new one (e.g. `background`) keeps its
fresh initialisation. The checkpoint must have the same model structure and input preparation
(the model config but for its class count, dropout and kernel choice, none of which are weights;
and the InputSpec): weights of another structure or another input layout would mean something
else, so they are refused rather than half-loaded.
A resumed run ignores train.init (its weights come from its own last.pt).
"""
from __future__ import annotations

import pathlib

import torch

from .checkpoint import load_checkpoint


def _structure(model_cfg: dict) -> dict:
    # the class count may differ (that is the point); dropout and the kernel choice have no weights
    return {k: v for k, v in model_cfg.items() if k not in ("num_classes", "dropout", "use_kernels")}


def _differing(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def load_init(path, model_cfg: dict, spec: dict) -> dict:
    """The checkpoint named by train.init, checked against this run's model structure and spec."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"train.init: checkpoint not found: {p} (train the run it names first)")
    try:
        ck = load_checkpoint(p)
    except ValueError as e:
        raise ValueError(f"train.init: {e}") from None
    diff = _differing(_structure(model_cfg), _structure(ck["config"]["model"]))
    if diff:
        raise ValueError(f"train.init {p}: another model structure (differs in model.{', model.'.join(diff)}); "
                         f"a warm start needs the same structure")
    diff = _differing(spec, ck.get("spec") or {})
    if diff:
        raise ValueError(f"train.init {p}: another input preparation (differs in {', '.join(diff)}); "
                         f"a warm start needs the same data options")
    return ck


def _classifier_tensors(model: torch.nn.Module) -> set[str]:
    """State-dict names of the class-score layers (the Linear inside each ClassifierHead)."""
    from .models.heads import ClassifierHead

    return {f"{m}.{p}" for m, mod in model.named_modules() if isinstance(mod, ClassifierHead)
            for p, _ in mod.named_parameters()}


def warm_start(model: torch.nn.Module, ck: dict, classes: list[str]) -> dict:
    """Copy the checkpoint's weights into `model`, in place (state_dict()'s tensors share the
    model's storage). Returns what was done:
    {copied: n tensors, class_rows: {tensor: rows copied}, new_classes: [...], fresh: [names]}."""
    src, dst = ck["model"], model.state_dict()
    old = list(ck["classes"])
    rows = [(i, old.index(c)) for i, c in enumerate(classes) if c in old]
    heads = _classifier_tensors(model)
    copied, class_rows, fresh = 0, {}, []
    with torch.no_grad():
        for name, t in dst.items():
            s = src.get(name)
            if s is None:
                fresh.append(name)
            elif name in heads and old != list(classes) and s.shape[1:] == t.shape[1:]:
                for i, j in rows:  # class by class, by name
                    t[i].copy_(s[j])
                class_rows[name] = len(rows)
            elif s.shape == t.shape:
                t.copy_(s)
                copied += 1
            else:
                fresh.append(name)
    if not copied:
        raise ValueError("train.init: no weight of the checkpoint fits this model")
    return {"copied": copied, "class_rows": class_rows,
            "new_classes": [c for c in classes if c not in old], "fresh": fresh}
