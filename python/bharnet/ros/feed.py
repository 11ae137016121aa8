"""One keypoint cloud's frames into the Recognizer (ROS-free, so it is tested without ROS 2).

A cloud carries one frame per tracked person (a crowd in front of the robot); they go in as one
Recognizer.push_many call, which steps every track in one native call on the native frame path.
push_many takes all or nothing: when it refuses the cloud (a malformed frame, a timestamp that
steps back), each frame is pushed alone so the good ones still count and the bad one is dropped
with the reason push() gives it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..sdk import TimestampError
from .session import first_line


@dataclass
class Pushed:
    """What became of one frame of a cloud: its recognition (or None), or why it was dropped."""

    track_id: object
    frame: object
    recognition: object = None
    push_ms: float = 0.0
    drop: str | None = None        # "timestamp" | "bad_frame" | "error"
    error: str | None = None       # the line that says why


def _one(rec, track_id, frame, ts: float) -> Pushed:
    t0 = time.perf_counter()
    try:
        r = rec.push(frame, ts, track_id)
    except TimestampError as e:
        return Pushed(track_id, frame, drop="timestamp", error=f"dropped a frame: {e}")
    except ValueError as e:   # the SDK names what is wrong with the frame
        return Pushed(track_id, frame, drop="bad_frame",
                      error=f"dropped a frame of track {track_id} at {ts} ms: {e}")
    except Exception as e:    # keep serving the other tracks; the line says what broke
        return Pushed(track_id, frame, drop="error",
                      error=f"dropped a frame of track {track_id} at {ts} ms: "
                            f"{type(e).__name__}: {first_line(e)}")
    return Pushed(track_id, frame, r, (time.perf_counter() - t0) * 1000.0)


def push_cloud(rec, frames: list[tuple[object, object]], ts: float) -> list[Pushed]:
    """frames: [(track_id, frame)] of one cloud, all at time ts (ms)."""
    if len(frames) == 1:
        return [_one(rec, frames[0][0], frames[0][1], ts)]
    t0 = time.perf_counter()
    try:
        recs = rec.push_many([f for _, f in frames], [ts] * len(frames), [t for t, _ in frames])
    except Exception:   # noqa: BLE001 - refused as a whole: find the frame at fault, keep the rest
        return [_one(rec, t, f, ts) for t, f in frames]
    each = (time.perf_counter() - t0) * 1000.0 / len(frames)
    return [Pushed(t, f, r, each) for (t, f), r in zip(frames, recs)]


__all__ = ["Pushed", "push_cloud"]
