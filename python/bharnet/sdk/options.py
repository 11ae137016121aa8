"""RecognizerOptions: every setting of a Recognizer in one validated dataclass.

    opts = RecognizerOptions(stride=4, timestamp_unit="ns", min_score=0.4)
    rec = Recognizer("model.bharnet", backend="onnxruntime", options=opts)
    rec = Recognizer("model.bharnet", stride=4)          # the same fields as keyword arguments

The model and where it runs (bundle, backend, device, trusted keys) are Recognizer arguments; how
frames are turned into recognitions is here. Every field is checked at construction, so a setting
that would silently yield nothing (stride 0, a negative gap, an unknown unit) is an error at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable

from ..program import SCHEDULES
from .events import EventRule

MODES = ("auto", "window", "continual")
FRAME_PATHS = ("auto", "native", "python")
# multiply a timestamp in this unit by the factor to get milliseconds
TIMESTAMP_UNITS = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "ns": 1e-6}


class OptionsError(ValueError):
    """A RecognizerOptions field with an invalid value; the message names the field and value."""


@dataclass(frozen=True)
class RecognizerOptions:
    """How a Recognizer turns frames into recognitions: every setting, validated at construction.

    Pass one as `Recognizer(options=...)`, or its fields as keyword arguments of Recognizer. The
    model and where it runs (bundle, backend, device, trusted keys) are Recognizer arguments.

    Attributes:
        layout: the keypoint layout of the frames you feed. None: told by the first frame's number
            of keypoints (75 mediapipe_holistic, 133 coco_wholebody, 25 ntu25, 15 jhmdb15,
            17 coco17).
        window: frames per recognition in stream mode (None: the model's; another value is
            resampled to it).
        stride: frames between two recognitions of a track (None: the bundle's, else 8).
        top_k: classes listed in Recognition.top_k (capped at the number of classes).
        fps: frame rate (frames per second) assumed for frames given without timestamps
            (run/stream).
        timestamp_unit: unit of the timestamps given to push/stream: "ms", "s", "us" or "ns"
            (ROS). Recognition times (start_ms, end_ms) are always milliseconds.
        max_gap_ms: a longer gap (ms) between two frames of a track restarts it (its window
            empties). None (default): gap_periods times the track's observed frame period, so a
            1 fps and a 60 fps feed both work; math.inf: never.
        gap_periods: with max_gap_ms=None, how many observed frame periods make a gap.
        idle_timeout_ms: a track that got no frame for this long (ms, on the process's monotonic
            clock, measured per track) may be evicted to admit a new track id; None: never.
        max_tracks: live tracks at most. A new id arriving while max_tracks are live and none is
            idle is not admitted: its frames are dropped and counted (stats()["dropped_frames"]),
            with one logged warning per id; live tracks are never pushed out by newcomers.
        min_body_presence: a window where fewer than this fraction (0-1) of frames show a body
            yields label=None (outcome "no_person"), with no class score; 0 disables.
        min_score: a window whose top class scores (fused probability, 0-1) below this yields
            label=None (outcome "low_confidence"); 0 disables.
        mode: "auto", "window" or "continual". window: every `stride` frames the model runs on
            the whole window. continual (streaming bundles: `bharnet export` adds step graphs to
            models trained with `temporal_padding: valid` and causal preprocessing): each frame
            is computed once and the model's state kept per track; its recognitions equal the
            window mode's at the same frames. auto: continual when the bundle and the backend
            can, else window.
        schedule: continual mode's step graph: "native" (the least work; strided layers fire
            every other frame, so predictions exist every total-stride frames: stride must be a
            multiple) or "atrous" (a prediction every frame); None: native when the stride
            allows, else atrous.
        frame_path: continual mode's per-frame work on the native backend: "native" (the whole
            frame, preparation to model step, in one native call: backends/native_frame.py),
            "python" (the reference preparation in NumPy, then the native step), or "auto"
            (native where this install and the bundle's preprocessing allow, else python;
            stats()["frame_path"] says which and why). Other backends and window mode always
            take the Python path.
        threads: CPU threads of the backend (None: the backend's default).
        clock: a function returning seconds on a monotonic clock (None: time.monotonic); for
            replays and tests.
        events: online detection: True for the default EventRule, an EventRule (or a dict of its
            fields: enter, exit, min_ms, gap_ms, background) for another; each track's
            recognitions then become Events passed to the Recognizer's on_event. False: none.

    Raises:
        OptionsError: a field with an invalid value (stride=0, max_gap_ms=-1,
            timestamp_unit="min", ...), naming the field and the value.
    """

    layout: str | None = None
    window: int | None = None
    stride: int | None = None
    top_k: int = 5
    fps: float = 30.0
    timestamp_unit: str = "ms"
    max_gap_ms: float | None = None
    gap_periods: float = 10.0
    idle_timeout_ms: float | None = 10_000.0
    max_tracks: int = 16
    min_body_presence: float = 0.5
    min_score: float = 0.0
    mode: str = "auto"
    schedule: str | None = None
    frame_path: str = "auto"
    threads: int | None = None
    clock: Callable[[], float] | None = None
    events: object = False

    def __post_init__(self):
        _int(self, "window", optional=True)
        _int(self, "stride", optional=True)
        _int(self, "top_k")
        _int(self, "max_tracks")
        _int(self, "threads", optional=True)
        _positive(self, "fps")
        _positive(self, "gap_periods")
        _positive(self, "max_gap_ms", optional=True, inf=True)
        _positive(self, "idle_timeout_ms", optional=True, inf=True)
        _fraction(self, "min_body_presence")
        _fraction(self, "min_score")
        _choice(self, "mode", MODES)
        _choice(self, "frame_path", FRAME_PATHS)
        if self.schedule is not None:
            _choice(self, "schedule", SCHEDULES)
        if self.timestamp_unit not in TIMESTAMP_UNITS:
            raise OptionsError(f"RecognizerOptions.timestamp_unit must be one of "
                               f"{', '.join(TIMESTAMP_UNITS)}, got {self.timestamp_unit!r}")
        if self.layout is not None and not isinstance(self.layout, str):
            raise OptionsError(f"RecognizerOptions.layout must be a layout name or None, got "
                               f"{self.layout!r}")
        try:   # a rule's own message names the bad parameter
            object.__setattr__(self, "events", EventRule.coerce(self.events) or False)
        except ValueError as e:
            raise OptionsError(f"RecognizerOptions.events: {e}") from None
        if self.clock is not None and not callable(self.clock):
            raise OptionsError(f"RecognizerOptions.clock must be callable, got {self.clock!r}")

    @property
    def ms_per_unit(self) -> float:
        """Milliseconds per unit of timestamp_unit."""
        return TIMESTAMP_UNITS[self.timestamp_unit]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names, in order."""
        return tuple(f.name for f in fields(cls))


def _bad(opts, name: str, want: str):
    raise OptionsError(f"RecognizerOptions.{name} must be {want}, got {getattr(opts, name)!r}")


def _int(opts, name: str, optional: bool = False) -> None:
    v = getattr(opts, name)
    if v is None and optional:
        return
    # __index__: int and NumPy integers, not floats (window=2.5 is a mistake, not 2)
    if isinstance(v, bool) or not hasattr(v, "__index__") or v.__index__() < 1:
        _bad(opts, name, "an integer >= 1" + (" or None" if optional else ""))
    object.__setattr__(opts, name, v.__index__())


def _number(v) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _positive(opts, name: str, optional: bool = False, inf: bool = False) -> None:
    v = getattr(opts, name)
    if v is None and optional:
        return
    x = _number(v)
    if x is None or math.isnan(x) or x <= 0 or (math.isinf(x) and not inf):
        _bad(opts, name, "a number > 0" + (" (math.inf allowed)" if inf else "")
             + (" or None" if optional else ""))
    object.__setattr__(opts, name, x)


def _choice(opts, name: str, allowed: tuple) -> None:
    if getattr(opts, name) not in allowed:
        _bad(opts, name, "one of " + ", ".join(allowed))


def _fraction(opts, name: str) -> None:
    x = _number(getattr(opts, name))
    if x is None or not 0.0 <= x <= 1.0:
        _bad(opts, name, "a number in [0, 1]")
    object.__setattr__(opts, name, x)


__all__ = ["RecognizerOptions", "OptionsError", "TIMESTAMP_UNITS", "MODES", "FRAME_PATHS"]
