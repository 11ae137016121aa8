"""The recognizer node's ROS parameters, written once: the node declares them, `bharnet ros`
offers each as a flag, and recognizer_kwargs() turns their values into Recognizer arguments.

Every parameter has a typed default (ROS parameters are typed by their default); the "not set"
values ("" and 0, or a negative time) mean "the SDK's own default" and are not passed on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..sdk.events import EventRule

_RULE = EventRule()   # the event parameters' defaults are the SDK's rule


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
    Param("events", True, "online detection: publish each action's start and end (sdk.Event as "
                          "JSON) on `events`; false: recognitions only"),
    Param("event_enter", _RULE.enter, "EventRule.enter: a label's score that opens an event"),
    Param("event_exit", _RULE.exit, "EventRule.exit: an open event's label stays open while its "
                                     "score is at least this"),
    Param("event_min_ms", _RULE.min_ms, "EventRule.min_ms: how long the label's run must last "
                                        "before its event opens"),
    Param("event_gap_ms", _RULE.gap_ms, "EventRule.gap_ms: how long the label may stay below "
                                        "exit before its event closes"),
    Param("event_background", ",".join(_RULE.background),
          "EventRule.background: comma-separated class names that are never events (the "
          "model's background class)"),
)
DEFAULTS = {p.name: p.default for p in NODE_PARAMS}

# parameters that configure the node itself, not the Recognizer
_NODE_ONLY = {"input_depth", "diagnostics_period_s"}
# event_enter, ... -> the fields of the SDK's EventRule
_EVENT_PREFIX = "event_"


def recognizer_kwargs(values: dict) -> dict:
    """Parameter values -> Recognizer(**kwargs); "not set" values are left out, so the SDK's own
    defaults apply. events -> an EventRule of the event_* values (or events=False)."""
    out = {}
    rule = {}
    for name, value in values.items():
        if name not in DEFAULTS:
            raise KeyError(f"unknown parameter {name!r}")
        if name in _NODE_ONLY:
            continue
        elif name == "event_background":
            rule["background"] = tuple(c.strip() for c in str(value).split(",") if c.strip())
        elif name.startswith(_EVENT_PREFIX):   # every value is meaningful, 0 included
            rule[name[len(_EVENT_PREFIX):]] = float(value)
        elif name == "events":
            out[name] = bool(value)
        elif name == "max_gap_ms":   # the SDK: None = automatic, math.inf = never
            if value:
                out[name] = math.inf if value < 0 else float(value)
        elif name == "idle_timeout_ms":
            out[name] = None if value < 0 else float(value)
        elif value in ("", 0):
            continue
        else:
            out[name] = value
    if out.get("events"):
        out["events"] = EventRule(**rule)   # EventRuleError names a bad value
    if "model" in out:
        out["model"] = str(out["model"])
    return out
