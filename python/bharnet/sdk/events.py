"""Online detection: a track's stream of recognitions turned into action events.

    rec = Recognizer(events=True, on_event=print)          # or events=EventRule(enter=0.7)
    for frame_ts, frame in feed: rec.push(frame, frame_ts)  # events arrive at on_event

    det = EventDetector(EventRule())                        # or standalone, on any Recognitions
    for r in rec.stream(frames): for ev in det.observe(r): ...

An action produces two Events with the same event_id: kind "start", emitted as soon as the
evidence allows (its label's score has reached `enter` and the run of recognitions showing it
has lasted `min_ms`), then kind "end", the closing update, once the label's score has stayed
below `exit` for `gap_ms` (or at once when another label takes over, nobody is there, the track
restarts, or the stream ends).

The rule reads only what every Recognition carries (outcome, top_k, end_ms), so it is the same
in window and continual modes and on every backend. Torch-free and NumPy-free.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# class names that mean "no action here": a background class is never an event
BACKGROUND = ("idle", "background")
START, END = "start", "end"
# why an event closed
EXIT, SWITCH, NO_PERSON, RESET, END_OF_STREAM = "exit", "switch", "no_person", "reset", "end_of_stream"


class EventRuleError(ValueError):
    """An EventRule parameter with an invalid value."""


@dataclass(frozen=True)
class EventRule:
    """The decision rule: few parameters, each with one meaning.

    enter: a label's score (fused softmax probability) must reach this to open an event.
    exit: an open event's label keeps it open while its score is at least this (exit <= enter:
        hysteresis, so a score wavering around one threshold does not flicker events).
    min_ms: the run of recognitions in which the label is the top non-background class with a
        score >= exit must have lasted this long (ms, from its first recognition) before the
        event opens; 0: a single recognition >= enter suffices.
    gap_ms: an event closes once its label has stayed below exit for this long, so a short dip
        does not split one action in two (the refractory gap); 0: it closes at the first dip.
    background: class names that are never events (the model's background / idle class).

    Defaults: the rule bench/online.py chose on validation streams for the embedded model
    (bench/results/online_rule.json; a grid of enter, exit, min_ms, gap_ms, the most detected
    actions minus false positives); retune them for your model (docs/guides/events.md).
    """

    enter: float = 0.7
    exit: float = 0.2
    min_ms: float = 200.0
    gap_ms: float = 0.0
    background: tuple[str, ...] = BACKGROUND

    def __post_init__(self):
        for name in ("enter", "exit"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v <= 1.0:
                raise EventRuleError(f"EventRule.{name} must be a number in (0, 1], got {v!r}")
        if self.exit > self.enter:
            raise EventRuleError(f"EventRule.exit ({self.exit}) must not exceed enter ({self.enter})")
        for name in ("min_ms", "gap_ms"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= 0 and math.isfinite(v)):
                raise EventRuleError(f"EventRule.{name} must be a finite number >= 0 (ms), got {v!r}")
        bg = self.background
        if isinstance(bg, str) or not all(isinstance(b, str) for b in bg):
            raise EventRuleError(f"EventRule.background must be a tuple of class names, got {bg!r}")
        object.__setattr__(self, "background", tuple(bg))

    @classmethod
    def coerce(cls, value) -> "EventRule | None":
        """RecognizerOptions.events: False/None -> None, True -> the defaults, an EventRule or a
        dict of its fields -> that rule."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(cls.__dataclass_fields__))
            if unknown:
                raise EventRuleError(f"unknown EventRule field(s) {unknown}; fields are "
                                     f"{', '.join(cls.__dataclass_fields__)}")
            return cls(**value)
        raise EventRuleError(f"events must be True, False, an EventRule or a dict of its fields, "
                             f"got {value!r}")


@dataclass
class Event:
    """One action on one track: kind "start" (the action was recognised) or "end" (its closing
    update, same event_id). Times are milliseconds on the track's clock.

    start_ms: where the evidence for the action began (the first recognition of its run);
    end_ms: the last recognition that still showed it (None in a "start" event);
    emitted_ms / emitted_frame: the timestamp and the track's frame index (0-based, frames since
        the track was created) of the frame whose recognition emitted this event;
    latency_start_ms: emitted_ms - start_ms; latency_end_ms: emitted_ms - end_ms ("end" only).
    reason: why it closed ("exit", "switch", "no_person", "reset", "end_of_stream"); None at start.
    """

    track_id: int | str
    event_id: int
    kind: str
    label: str
    start_ms: float
    end_ms: float | None
    peak_score: float
    emitted_ms: float
    emitted_frame: int | None
    latency_start_ms: float
    latency_end_ms: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Run:
    """The current run: the label that tops the non-background classes with score >= exit."""
    label: str
    start_ms: float
    peak: float


class EventDetector:
    """The rule's state for one track; feed it that track's Recognitions in order."""

    def __init__(self, rule: EventRule | None = None, track_id=0):
        self.rule = rule or EventRule()
        self.track_id = track_id
        self._bg = frozenset(self.rule.background)
        self._next_id = 0
        self._run: _Run | None = None
        self._open: Event | None = None
        self._last_above = 0.0     # end_ms of the open label's last recognition >= exit
        self._peak = 0.0
        self._epoch = None
        self._last_ms: float | None = None
        self._last_frame: int | None = None

    @property
    def open_event(self) -> Event | None:
        return self._open

    def observe(self, rec, frame: int | None = None, epoch=None) -> list[Event]:
        """The events this Recognition completes (usually none). frame: the track's index of the
        frame that completed it; epoch: anything that changes when the track restarts (a gap, a
        reset): a change closes the open event (reason "reset") before `rec` is read."""
        out: list[Event] = []
        t = float(rec.end_ms)
        if epoch != self._epoch:
            if self._epoch is not None and self._open is not None:
                out.append(self._close(RESET, t, frame))
            self._run = None
            self._epoch = epoch
        scores = {} if rec.outcome == "no_person" else dict(rec.top_k)
        best = next(((lbl, float(s)) for lbl, s in rec.top_k if lbl not in self._bg), None) \
            if scores else None
        r = self.rule
        if self._open is not None:
            s = float(scores.get(self._open.label, 0.0))
            if s >= r.exit:
                self._last_above = t
                self._peak = max(self._peak, s)
            elif not scores:
                out.append(self._close(NO_PERSON, t, frame))
            elif best is not None and best[0] != self._open.label and best[1] >= r.enter:
                out.append(self._close(SWITCH, t, frame))
            elif t - self._last_above >= r.gap_ms:
                out.append(self._close(EXIT, t, frame))
        # the run of the top non-background label, kept whether or not an event is open
        if best is None or best[1] < r.exit:
            self._run = None
        elif self._run is None or self._run.label != best[0]:
            self._run = _Run(best[0], t, best[1])
        else:
            self._run.peak = max(self._run.peak, best[1])
        run = self._run
        if (self._open is None and run is not None and best[1] >= r.enter
                and t - run.start_ms >= r.min_ms):
            self._open = Event(self.track_id, self._next_id, START, run.label, run.start_ms, None,
                               run.peak, t, frame, t - run.start_ms)
            self._next_id += 1
            self._last_above, self._peak = t, run.peak
            out.append(self._open)
        self._last_ms, self._last_frame = t, frame
        return out

    def close(self, reason: str = END_OF_STREAM) -> list[Event]:
        """Close the open event now (the stream ended, the track was reset); [] if none is open.
        It is emitted at the last recognition seen."""
        if self._open is None:
            return []
        self._run = None
        return [self._close(reason, self._last_ms, self._last_frame)]

    def _close(self, reason: str, t: float, frame) -> Event:
        ev = self._open
        self._open = None
        return Event(ev.track_id, ev.event_id, END, ev.label, ev.start_ms, self._last_above,
                     self._peak, t, frame, t - ev.start_ms, t - self._last_above, reason)


__all__ = ["Event", "EventRule", "EventDetector", "EventRuleError", "BACKGROUND", "START", "END"]
