"""The output payloads: a Recognition and an Event as JSON (no ROS import).

Recognition.to_dict() and Event.to_dict() as they are: fields the SDK adds later reach subscribers
without a change here.
"""
from __future__ import annotations

import json

import numpy as np


def _jsonable(obj):
    """json.dumps fallback for what a Recognition field may hold besides plain Python values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def recognition_json(rec) -> str:
    return json.dumps(rec.to_dict(), default=_jsonable)


def event_json(event) -> str:
    """An sdk.Event (track_id, event_id, kind start|end, label, start_ms, end_ms, peak_score,
    emitted_ms, emitted_frame, latency_start_ms, latency_end_ms, reason) as JSON."""
    return json.dumps(event.to_dict(), default=_jsonable)
