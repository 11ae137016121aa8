"""Normalised adapted arrays -> the model's channel-first per-sample inputs, and time-axis handling
of such inputs (shared by the windowed pipeline and the causal one).

    body [C,T,Vb,M]; hand [C,T,21,2M] (person m: left hand 2m, right hand 2m+1);
    hand_mask [T,2M] (1.0 where the hand is present); joints [C,T,65,M] (unified models).
"""
from __future__ import annotations

import numpy as np

from ..layouts import HAND21
from .adapt import Adapted
from .spec import UNIFIED_LAYOUT, InputSpec
from .streams import stream

# where time is in each model input (per sample, no batch dim)
TIME_AXIS = {"body": 1, "hand": 1, "joints": 1, "hand_mask": 0}


def _channels(x: np.ndarray, score: np.ndarray, layout_name: str, spec: InputSpec) -> np.ndarray:
    y = stream(x, score > 0, layout_name, spec.stream, backward=spec.causal)
    if spec.with_score:
        y = np.concatenate([y, score[..., None]], axis=-1)
    return y


def _finite(y: np.ndarray) -> np.ndarray:
    # Missing values were zeroed at the adapter; this is a last guard, never expected to fire.
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.isfinite(y).all():
        np.nan_to_num(y, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return y


def to_inputs(a: Adapted, hand_mask: np.ndarray | None, spec: InputSpec) -> dict[str, np.ndarray]:
    """Normalised adapted arrays -> the model's channel-first inputs (stream applied)."""
    out: dict[str, np.ndarray] = {}
    if a.body is not None:
        out["body"] = _finite(_channels(a.body, a.body_score, spec.body_layout, spec)
                              .transpose(3, 1, 2, 0))
    if a.hand is not None:
        y = _channels(a.hand, a.hand_score, HAND21.name, spec)          # [M,2,T,21,C]
        m, _, t = y.shape[:3]
        out["hand"] = _finite(y.reshape(2 * m, t, 21, -1).transpose(3, 1, 2, 0))
        out["hand_mask"] = np.ascontiguousarray(hand_mask.reshape(2 * m, t).T, dtype=np.float32)
    if a.joints is not None:
        out["joints"] = _finite(_channels(a.joints, a.joints_score, UNIFIED_LAYOUT, spec)
                                .transpose(3, 1, 2, 0))
    return out


def take_steps(inputs: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    """Frames idx [W] of prepared per-frame inputs; idx -1 is a missing frame: every input zero
    (no joint, score 0, hand absent), which is also what a missing frame prepares to."""
    idx = np.asarray(idx)
    safe = np.where(idx >= 0, idx, 0)
    out = {}
    for k, v in inputs.items():
        ax = TIME_AXIS[k]
        y = np.take(v, safe, axis=ax)
        if (idx < 0).any():
            sel = [slice(None)] * y.ndim
            sel[ax] = idx < 0
            y[tuple(sel)] = 0
        out[k] = y
    return out
