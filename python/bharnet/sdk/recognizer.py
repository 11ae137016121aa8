"""The Recognizer: frames in, recognitions out. NumPy + a backend; no torch import.

    rec = Recognizer()                       # the embedded demo model, best backend available
    rec.run(clip)                            # [T,V,C] or [M,T,V,C] -> one Recognition
    for r in rec.run(frames): ...            # any iterable of frames -> a Recognition per stride
    rec.push(frame, timestamp_ms, track_id)  # live feeds; Recognition (also to on_result) or None
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterable, Iterator

import numpy as np

from ..data.adapt import source_has_hands
from ..data.pipeline import prepare, prepare_clip
from ..data.sampling import sample_indices, take_frames
from ..bundle import DEFAULT_STRIDE
from ..data.spec import InputSpec
from ..layouts import get_layout
from .adapters import RowSplitter, frame_to_rows
from .model import load_model
from .results import Recognition
from .rgb import RGBBranch, has_rgb
from .tracks import TimestampError, Track, TrackTable
# layouts a Recognizer(layout=None) recognises by their number of keypoints per frame
_LAYOUT_BY_JOINTS = {get_layout(n).num_joints: n for n in
                     ("mediapipe_holistic", "coco_wholebody", "ntu25", "jhmdb15", "coco17")}


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


class Recognizer:
    """Skeleton action recognizer over a model bundle.

    model: a bundle path, an opened Bundle, or None for the embedded demo model.
    backend: "auto" | "onnxruntime" | "tensorrt" | "torch".
    layout: the layout of the frames you feed (None: told by the first input's number of
        keypoints: 75 mediapipe_holistic, 133 coco_wholebody, 25 ntu25, 15 jhmdb15, 17 coco17);
        converted to the model's joints by bharnet.data.pipeline.
    window: frames per recognition in stream mode (default: the model's window; another value
        is resampled to it); stride: frames between recognitions (default: the bundle's).
    max_gap_ms: a longer gap between two frames of a track resets it; idle_timeout_ms and
        max_tracks bound the number of live tracks. threads: CPU threads for the backend.
    """

    def __init__(self, model=None, backend: str = "auto", layout: str | None = None,
                 window: int | None = None, stride: int | None = None, device: str | None = None,
                 *, top_k: int = 5, fps: float = 30.0, max_gap_ms: float | None = 1000.0,
                 idle_timeout_ms: float | None = 10_000.0, max_tracks: int = 16,
                 on_result: Callable[[Recognition], None] | None = None,
                 threads: int | None = None):
        from ..backends import get_backend

        self.bundle = load_model(model)
        meta = self.bundle.meta
        self.spec = InputSpec.from_dict(meta.spec)
        self.classes = list(meta.classes)
        self.model_layout = meta.layout
        self.window = int(window or self.spec.window)
        self.stride = int(stride or meta.stride)
        if self.window < 1 or self.stride < 1:
            raise ValueError(f"window and stride must be >= 1, got {self.window}, {self.stride}")
        self.top_k = max(1, min(int(top_k), len(self.classes)))
        self.fps = float(fps)
        self.max_gap_ms = max_gap_ms
        self.on_result = on_result

        self.backend = get_backend(backend, self.bundle, device, threads=threads)
        # BHaRNet-M: images are used only when the bundle carries the RGB graphs (sdk/rgb.py)
        self.rgb = RGBBranch(self.bundle, layout, threads=threads) if has_rgb(self.bundle) else None
        self._run_lock = None if getattr(self.backend, "thread_safe", False) else threading.Lock()
        self._lock = threading.Lock()     # guards the track table (held for O(1) work only)
        self._table_opts = {"max_tracks": max_tracks, "idle_timeout_ms": idle_timeout_ms}
        self.layout: str | None = None
        self._tracks = TrackTable(self.window, 1, 1, 1, **self._table_opts)  # until a layout
        if layout is not None:
            self._set_layout(layout)
        # the window is resampled to the model's fixed T only when the user asked for another one
        self._resample = (None if self.window == self.spec.window else
                          sample_indices(self.window, self.spec.window, "uniform")[0])
        self._closed = False

    # ---- public API ------------------------------------------------------------------------
    @property
    def info(self) -> dict:
        return {"classes": self.classes, "model_layout": self.model_layout, "layout": self.layout,
                "window": self.window, "model_window": self.spec.window, "stride": self.stride,
                "backend": self.backend.name, "variant": self.bundle.meta.variant,
                "bundle": str(getattr(self.bundle, "path", "")),
                "bundle_sha256": getattr(self.bundle, "sha256", None)}

    def run(self, data, *, fps: float | None = None, timestamps=None, track_id=0, flush=True):
        """A clip ([T,V,C] / [M,T,V,C] array) -> one Recognition; any other iterable of frames
        -> an iterator of Recognitions (one per stride once the window is full).

        Frames of an iterable may be arrays, MediaPipe Holistic results or (timestamp_ms, frame)
        pairs; without timestamps they are spaced 1000/fps ms. flush: a stream that ended before
        one window filled still gets one recognition over what it had.
        """
        self._check_open()
        if isinstance(data, np.ndarray) and data.ndim in (3, 4):
            return self._clip(data, fps or self.fps)
        return self.stream(data, fps=fps, timestamps=timestamps, track_id=track_id, flush=flush)

    def stream(self, frames: Iterable, *, fps: float | None = None, timestamps=None, track_id=0,
               flush: bool = True) -> Iterator[Recognition]:
        """Recognitions over a sequence of frames (an array is iterated along its first axis).

        The stream gets its own track, so concurrent streams and push() never mix.
        """
        self._check_open()
        period = 1000.0 / float(fps or self.fps)
        track = None
        ts_iter = iter(timestamps) if timestamps is not None else None
        for i, frame in enumerate(frames):
            if isinstance(frame, tuple) and len(frame) == 2 and np.isscalar(frame[0]):
                ts, frame = frame
            elif ts_iter is not None:
                ts = next(ts_iter)
            else:
                ts = i * period
            if track is None:   # the first frame fixes the layout, and so the buffer's shape
                self._layout_for(frame_to_rows(frame, self.layout or "mediapipe_holistic"))
                track = self._tracks.new_track(track_id)
            rec = self._feed(track, frame, float(ts), locked=False)
            if rec is not None:
                yield rec
        if flush and track is not None and 0 < track.count < self.window and track.total_frames == track.count:
            yield self._recognize(track, partial=True)

    def push(self, frame, timestamp_ms: float, track_id=0, image=None) -> Recognition | None:
        """Feed one live frame of track `track_id`. Returns the Recognition this frame completed
        (also passed to on_result), or None. Raises TimestampError if time goes back."""
        self._check_open()
        if image is not None and self.rgb is not None:   # image: RGB uint8 [H, W, 3] of this frame
            self.rgb.add_frame(track_id, float(timestamp_ms), image, frame, self.layout)
        rec = self._feed(track_id, frame, float(timestamp_ms), locked=True)
        if rec is not None and self.on_result is not None:
            self.on_result(rec)
        return rec

    def reset(self, track_id=None) -> None:
        """Forget one track (or all)."""
        with self._lock:
            if track_id is None:
                self._tracks.clear()
            else:
                self._tracks.drop(track_id)
        if self.rgb is not None:
            self.rgb.reset(track_id)

    @property
    def tracks(self) -> list:
        with self._lock:
            return self._tracks.ids()

    def buffered_bytes(self) -> int:
        with self._lock:
            return self._tracks.nbytes()

    def close(self) -> None:
        with self._lock:
            self._tracks.clear()
            self._closed = True
        self.backend = _Closed()

    def __enter__(self) -> "Recognizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- internals ---------------------------------------------------------------------------
    def _set_layout(self, layout: str) -> None:
        """Fix the input layout: its row splitter and track buffers; refuse a hand model fed a
        layout without hands."""
        lay = get_layout(layout)
        if (self.spec.hands or self.spec.unified) and not source_has_hands(lay):
            raise ValueError(
                f"this model has a hand expert, but layout {lay.name!r} has no hand keypoints; "
                f"feed a whole-body layout (mediapipe_holistic, coco_wholebody) or use a body-only "
                f"model")
        self._split = RowSplitter(lay.name)
        self._tracks = TrackTable(self.window, self.spec.num_person, lay.num_joints,
                                  self.spec.coords, **self._table_opts)
        self.layout = lay.name

    def _layout_for(self, rows: np.ndarray) -> None:
        """layout=None: the first input names it by its number of keypoints (all differ)."""
        if self.layout is not None:
            return
        with self._lock:
            if self.layout is not None:
                return
            v = rows.shape[-2] if rows.ndim >= 2 else -1
            name = _LAYOUT_BY_JOINTS.get(v)
            if name is None:
                raise ValueError(
                    f"cannot tell the keypoint layout of rows shaped {rows.shape}; pass layout= "
                    f"(one of {', '.join(sorted(_LAYOUT_BY_JOINTS.values()))})")
            self._set_layout(name)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Recognizer is closed")

    def _rows(self, frame) -> tuple[np.ndarray, np.ndarray]:
        rows = frame_to_rows(frame, self.layout or "mediapipe_holistic")
        self._layout_for(rows)
        kp, sc = self._split(rows)
        if kp.shape[-1] < self.spec.coords:
            raise ValueError(f"the model uses {self.spec.coords} coordinates but the frames carry "
                             f"{kp.shape[-1]} (layout {self.layout!r})")
        if kp.ndim == 2:
            kp, sc = kp[None], sc[None]
        return kp, sc

    def _feed(self, track, frame, ts: float, locked: bool) -> Recognition | None:
        kp, sc = self._rows(frame)
        if not np.isfinite(ts):
            raise TimestampError(f"timestamp must be a finite number of ms, got {ts}")
        if locked:
            with self._lock:
                tr = self._tracks.get(track, ts)
                due = self._append(tr, kp, sc, ts)
                window = tr.ordered() if due else None
            return self._infer(*window, track_id=track) if due else None
        due = self._append(track, kp, sc, ts)
        return self._recognize(track) if due else None

    def _append(self, tr: Track, kp, sc, ts) -> bool:
        tr.check_time(ts, self.max_gap_ms)
        tr.append(kp, sc, ts)
        return tr.full and (tr.count - tr.window) % self.stride == 0

    def _recognize(self, tr: Track, partial: bool = False) -> Recognition:
        kp, sc, ts = tr.ordered()
        return self._infer(kp, sc, ts, track_id=tr.track_id, partial=partial)

    def _infer(self, kp, sc, ts, track_id, partial: bool = False) -> Recognition:
        frames = kp.shape[1]
        if partial:   # a stream that just started: the pipeline's padding for the missing frames
            idx = sample_indices(frames, self.spec.window, "crop", short="pad")[0]
            inputs = prepare(*take_frames(kp, sc, idx), self.layout, self.spec)
        else:
            if self._resample is not None:
                kp, sc = take_frames(kp, sc, self._resample)
            inputs = prepare(kp, sc, self.layout, self.spec)
        return self._classify(inputs, track_id, float(ts[0]), float(ts[-1]), frames)

    def _clip(self, clip: np.ndarray, fps: float) -> Recognition:
        self._layout_for(clip)
        kp, sc = self._split(clip)
        if kp.ndim == 3:
            kp, sc = kp[None], sc[None]
        batch = prepare_clip(kp, sc, self.layout, self.spec, num_clips=1)
        inputs = {k: v[0] for k, v in batch.items()}
        t = kp.shape[1]
        return self._classify(inputs, 0, 0.0, (t - 1) * 1000.0 / fps, t)

    def _classify(self, inputs: dict[str, np.ndarray], track_id, start_ms, end_ms,
                  frames) -> Recognition:
        batch = {k: v[None] for k, v in inputs.items()}
        t0 = time.perf_counter()
        if self._run_lock is None:
            out = self.backend.run(batch)
        else:
            with self._run_lock:
                out = self.backend.run(batch)
        if self.rgb is not None:
            fused = self.rgb.score(out["logits"], batch, track_id, start_ms, end_ms, frames)
            if fused is not None:
                out = {**out, "logits": fused[0], "rgb_logits": fused[1]}
        latency = (time.perf_counter() - t0) * 1000.0

        p = _softmax(out["logits"][0])
        order = np.argsort(-p)[: self.top_k]
        rec = Recognition(label=self.classes[order[0]], score=float(p[order[0]]),
                          top_k=[(self.classes[i], float(p[i])) for i in order],
                          track_id=track_id, start_ms=start_ms, end_ms=end_ms,
                          latency_ms=latency, frames=int(frames))
        for expert in ("body", "hand"):
            z = out.get(f"{expert}_logits")
            if z is not None:
                pe = _softmax(z[0])
                k = int(np.argmax(pe))
                setattr(rec, f"{expert}_label", self.classes[k])
                setattr(rec, f"{expert}_score", float(pe[k]))
        mask = inputs.get("hand_mask")
        if mask is not None:  # [T, 2M]: person 0's left and right hand
            rec.hand_presence = (float(mask[:, 0].mean()), float(mask[:, 1].mean()))
        return rec


class _Closed:
    name = "closed"
    thread_safe = True

    def run(self, inputs):
        raise RuntimeError("this Recognizer is closed")


__all__ = ["Recognizer", "TimestampError", "DEFAULT_STRIDE"]
