"""The recognizer node's ROS parameters, written once: the node declares them, `bharnet ros`
offers each as a flag, and recognizer_kwargs() turns their values into Recognizer arguments.

Every parameter has a typed default (ROS parameters are typed by their default); the "not set"
values ("" and 0, or a negative time) mean "the SDK's own default" and are not passed on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    name: str
    default: object          # str | int | float | bool: also the parameter's ROS type
    help: str


NODE_PARAMS: tuple[Param, ...] = (
    Param("model", "", "model bundle (.bharnet) path; empty: the embedded demo model"),
    Param("backend", "auto", "auto | onnxruntime | native | tensorrt | torch (auto: native for "
                             "continual mode where installed, else onnxruntime)"),
    Param("device", "", "backend device (e.g. cuda:0); empty: the backend's default"),
    Param("layout", "", "keypoint layout of the input (e.g. mediapipe_holistic); empty: told by "
                        "the first frame's number of keypoints"),
    Param("window", 0, "frames per recognition; 0: the model's window"),
    Param("stride", 0, "frames between recognitions; 0: the bundle's stride"),
    Param("mode", "", "Recognizer mode: window or continual; empty: the SDK's default (continual "
                      "where the bundle has a step graph)"),
    Param("top_k", 5, "classes listed in each recognition's top_k"),
    Param("threads", 0, "CPU threads for the backend; 0: the backend's default"),
    Param("max_gap_ms", 0.0, "a longer gap between two frames of a track resets it; 0: 10 observed "
                             "frame periods (the SDK's default); <0: never"),
    Param("idle_timeout_ms", 10000.0, "a track idle this long is forgotten; <0: never"),
    Param("max_tracks", 16, "live tracks at most; a new id waits (its frames dropped) until one is idle"),
    Param("input_depth", 30, "input queue depth (best effort): frames buffered while a "
                             "recognition runs; a frame lost breaks its track's window"),
    Param("diagnostics_period_s", 1.0, "seconds between /diagnostics messages"),
)
DEFAULTS = {p.name: p.default for p in NODE_PARAMS}

# parameters that configure the node itself, not the Recognizer
_NODE_ONLY = {"input_depth", "diagnostics_period_s"}


def recognizer_kwargs(values: dict) -> dict:
    """Parameter values -> Recognizer(**kwargs); "not set" values are left out, so the SDK's own
    defaults apply."""
    out = {}
    for name, value in values.items():
        if name in _NODE_ONLY:
            continue
        if name not in DEFAULTS:
            raise KeyError(f"unknown parameter {name!r}")
        if name == "max_gap_ms":   # the SDK: None = automatic, math.inf = never
            if value:
                out[name] = math.inf if value < 0 else float(value)
        elif name == "idle_timeout_ms":
            out[name] = None if value < 0 else float(value)
        elif value in ("", 0):
            continue
        else:
            out[name] = value
    if "model" in out:
        out["model"] = str(out["model"])
    return out
