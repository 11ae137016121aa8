"""The Recognizer: frames in, recognitions out. NumPy + a backend; no torch import.

    rec = Recognizer()                       # the embedded demo model, best backend available
    rec.run(clip)                            # [T,V,C] or [M,T,V,C] -> one Recognition
    for r in rec.run(frames): ...            # any iterable of frames -> a Recognition per stride
    rec.push(frame, timestamp, track_id)     # live feeds; Recognition (also to on_result) or None
    rec.push_many(frames, timestamps, ids)   # frames of several tracks at once (a crowd)
    rec.stats()                              # frames, results, drops, evictions, latency, per track
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import Callable, Iterable, Iterator

import numpy as np

from ..bundle import DEFAULT_STRIDE
from ..data.adapt import hands_problem
from ..data.pipeline import clip_views, prepare
from ..data.sampling import sample_indices, take_frames
from ..data.spec import InputSpec
from ..layouts import get_layout
from .adapters import RowSplitter, _columns, frame_to_rows
from .events import END_OF_STREAM, RESET, Event, EventDetector
from .model import default_model_path, load_model
from .options import RecognizerOptions
from .presence import body_presence
from .results import LOW_CONFIDENCE, NO_PERSON, Recognition
from .rgb import RGBBranch, has_rgb
from .streaming import StreamState, frame_plan
from .tracks import Ring, TimestampError, Track, TrackTable, percentiles

log = logging.getLogger("bharnet.sdk")

_LATENCIES = 4096   # recent window latencies kept for stats() percentiles
# layouts a Recognizer(layout=None) recognises by their number of keypoints per frame
_LAYOUT_BY_JOINTS = {get_layout(n).num_joints: n for n in
                     ("mediapipe_holistic", "coco_wholebody", "ntu25", "jhmdb15", "coco17",
                      "hand21", "shrec22")}


_SCORED = ("logits", "body_logits", "hand_logits")   # outputs a Recognition reports on


def _softmax(z) -> list[float]:
    """Softmax of one row of logits, in float64 with the largest subtracted, as a list (the
    native frame path computes the same in C++: csrc/runtime/frame_runtime.cpp softmax)."""
    z = z.tolist() if isinstance(z, np.ndarray) else [float(v) for v in z]
    m = max(z)
    e = [math.exp(v - m) for v in z]
    total = math.fsum(e)
    return [v / total for v in e]


def _open(model, trusted_keys):
    """The bundle: load_model's rules, and with trusted_keys a signature check on the file."""
    if trusted_keys is None:
        return load_model(model)
    from ..bundle import open_bundle

    path = default_model_path() if model is None else getattr(model, "path", model)
    return open_bundle(path, trusted_keys=trusted_keys)


def _open_backend(name, bundle, device, opts: RecognizerOptions):
    """backend="auto" for a streaming bundle that will run continually on the CPU tries the native
    step runtime first: through the SDK on the real stream it needs 1.8x (demo width) and 2.3x
    (default width) less CPU per frame than ONNX Runtime running the same step program
    (bench/streaming.py, "SDK streaming continual native s4" rows). Everywhere else (window mode,
    where the two tie at the default width; a GPU; the RGB branch) backends.AUTO_ORDER decides."""
    from ..backends import BackendUnavailable, get_backend

    on_cpu = device is None or str(device).startswith("cpu")
    if (name == "auto" and on_cpu and bundle.meta.continual and opts.mode != "window"
            and not has_rgb(bundle)):
        try:
            return get_backend("native", bundle, device, threads=opts.threads)
        except BackendUnavailable:
            pass   # no bharnet._C in this install: the usual order
    return get_backend(name, bundle, device, threads=opts.threads)


def _spec(bundle) -> InputSpec:
    from ..container import BundleError

    try:
        return InputSpec.from_dict(bundle.meta.spec)
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{getattr(bundle, 'path', 'bundle')}: metadata 'spec' is invalid ({e})") from None


class Recognizer:
    """Skeleton action recognizer over a model bundle: keypoint frames in, recognitions out.

    Thread-safe: tracks may be fed from several threads. Usable as a context manager (`close()`
    on exit).

    Args:
        model: a bundle path (`.bharnet`), an opened Bundle, or None for the embedded demo model
            (trained on synthetic data only).
        backend: "auto", "onnxruntime", "native", "tensorrt" or "torch". "auto" runs a streaming
            bundle's continual mode on the native step runtime where this install has it, and
            otherwise tries tensorrt (GPU only), onnxruntime, native, torch.
        layout: keypoint layout of the frames you feed (see RecognizerOptions.layout).
        window: frames per recognition (see RecognizerOptions.window).
        stride: frames between two recognitions of a track (see RecognizerOptions.stride).
        device: None (the backend's choice), "cpu", "cuda" or "cuda:N".
        options: every setting in one validated RecognizerOptions; keyword arguments named after
            its fields (and layout, window, stride) override it. options.mode picks window or
            continual inference; `info` says which runs.
        on_result: called with every Recognition that push() completes; an exception it raises is
            logged and counted (stats()["callback_errors"]), and the feed goes on.
        on_event: with options.events, called with every Event of push() and stream() tracks (an
            action's start, then its end); its exceptions are handled as on_result's.
        trusted_keys: Ed25519 public keys (PEM paths, raw bytes or hex); when given, the bundle
            must be signed by one of them (`bharnet export --sign`).
        **overrides: any RecognizerOptions field by name (stride=4, timestamp_unit="ns", ...).

    Raises:
        OptionsError: an option with an invalid value.
        TypeError: an unknown option name, or options that is not a RecognizerOptions.
        FileNotFoundError: the bundle file (or the embedded default) is missing.
        BundleError: the file is not a valid, intact bundle (or of another format version).
        SignatureError: trusted_keys given and the bundle is unsigned, signed by another key, or
            modified after signing.
        BackendUnavailable: the backend (or device) cannot run here.
        ValueError: mode="continual" with a bundle or backend that cannot stream, or a layout
            the model cannot read.
    """

    def __init__(self, model=None, backend: str = "auto", layout: str | None = None,
                 window: int | None = None, stride: int | None = None, device: str | None = None,
                 *, options: RecognizerOptions | None = None,
                 on_result: Callable[[Recognition], None] | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 trusted_keys=None, **overrides):
        unknown = sorted(set(overrides) - set(RecognizerOptions.names()))
        if unknown:
            raise TypeError(f"Recognizer() got unknown option(s) {unknown}; options are "
                            f"{', '.join(RecognizerOptions.names())}")
        given = {k: v for k, v in (("layout", layout), ("window", window), ("stride", stride))
                 if v is not None}
        if options is not None and not isinstance(options, RecognizerOptions):
            raise TypeError(f"options must be a RecognizerOptions, got {type(options).__name__}")
        opts = dataclasses.replace(options or RecognizerOptions(), **given, **overrides)

        self.bundle = _open(model, trusted_keys)
        meta = self.bundle.meta
        self.spec = _spec(self.bundle)
        self.classes = list(meta.classes)
        self.model_layout = meta.layout
        self.window = opts.window or self.spec.window
        self.stride = opts.stride or meta.stride or DEFAULT_STRIDE
        if self.spec.causal and self.window != self.spec.window:
            raise ValueError(f"this streaming model prepares each frame once and runs its own window "
                             f"of {self.spec.window} frames; window={self.window} cannot be resampled")
        self.options = dataclasses.replace(opts, window=self.window, stride=self.stride)
        self.top_k = min(opts.top_k, len(self.classes))
        self.fps = opts.fps
        self.max_gap_ms = opts.max_gap_ms
        self.on_result = on_result
        self.on_event = on_event
        self._clock = opts.clock or time.monotonic

        self.backend = _open_backend(backend, self.bundle, device, opts)
        # BHaRNet-M: images are used only when the bundle carries the RGB graphs (sdk/rgb.py)
        self.rgb = (RGBBranch(self.bundle, opts.layout, threads=opts.threads)
                    if has_rgb(self.bundle) else None)
        self.mode, self.schedule, self._runner = self._choose_mode(opts)
        self.options = dataclasses.replace(self.options, mode=self.mode, schedule=self.schedule)
        self._run_lock = None if getattr(self.backend, "thread_safe", False) else threading.Lock()
        self._lock = threading.Lock()     # guards the track table (held for O(max_tracks) work)
        self._stats_lock = threading.Lock()
        self._latency = Ring(_LATENCIES)
        self._callback_errors = 0
        self._table_opts = {"max_tracks": opts.max_tracks, "idle_timeout_ms": opts.idle_timeout_ms}
        self.layout: str | None = None
        # continual mode on the native backend: the whole frame in one native call where it can
        self._native = None
        self.frame_path_reason = self._python_path_reason(opts)
        # "native" until a layout the native path cannot take says otherwise (_native_path)
        self.frame_path = "python" if self.frame_path_reason else "native"
        self._tracks = TrackTable(self.window, 1, 1, 1, **self._table_opts)  # until a layout
        if opts.layout is not None:
            self._set_layout(opts.layout)
        # the window is resampled to the model's fixed T only when the user asked for another one
        self._resample = (None if self.window == self.spec.window else
                          sample_indices(self.window, self.spec.window, "uniform")[0])
        self._closed = False

    # ---- public API ------------------------------------------------------------------------
    @property
    def info(self) -> dict:
        """What runs: a dict with classes, model_layout, layout (None until the first frame
        names it), window, model_window, stride, mode ("window" or "continual"), schedule,
        first_recognition_frames (a track's first recognition comes after this many frames, then
        one every stride frames), backend, variant, bundle (path) and bundle_sha256."""
        return {"classes": self.classes, "model_layout": self.model_layout, "layout": self.layout,
                "window": self.window, "model_window": self.spec.window, "stride": self.stride,
                "mode": self.mode, "schedule": self.schedule, "frame_path": self.frame_path,
                # a track's first recognition comes after this many frames (both modes), then one
                # every `stride` frames
                "first_recognition_frames": self.window,
                "backend": self.backend.name, "variant": self.bundle.meta.variant,
                "bundle": str(getattr(self.bundle, "path", "")),
                "bundle_sha256": getattr(self.bundle, "sha256", None)}

    def run(self, data, *, fps: float | None = None, timestamps=None, track_id=0, flush=True):
        """Recognize a whole clip, or a stream of frames.

        A clip, a NumPy array `[T, V, C]` (one person) or `[M, T, V, C]`, gets one Recognition,
        scored exactly as `bharnet eval` scores it (the bundle's sampling, test views and
        mirrored views). Anything else is iterated as frames: see stream().

        Args:
            data: a clip array, or an iterable of frames (arrays `[V, C]` / `[M, V, C]`,
                MediaPipe Holistic results, or (timestamp, frame) pairs).
            fps: frame rate of frames given without timestamps (None: options.fps).
            timestamps: one per frame, in options.timestamp_unit (streams only).
            track_id: the track id the stream's recognitions carry.
            flush: a stream that ends before one window filled still gets one recognition over
                what it had.

        Returns:
            One Recognition for a clip; an iterator of Recognitions for frames.

        Raises:
            ValueError: rows of an unknown layout, too few coordinates, or fewer timestamps than
                frames.
            TimestampError: timestamps that do not increase.
            RuntimeError: the Recognizer is closed.
        """
        self._check_open()
        if isinstance(data, np.ndarray) and data.ndim in (3, 4):
            return self._clip(data, self._fps(fps))
        return self.stream(data, fps=fps, timestamps=timestamps, track_id=track_id, flush=flush)

    def stream(self, frames: Iterable, *, fps: float | None = None, timestamps=None, track_id=0,
               flush: bool = True) -> Iterator[Recognition]:
        """Recognitions over a sequence of frames, one every `stride` frames once the window is
        full. The stream gets a track of its own, so concurrent streams and push() never mix.

        Args:
            frames: an iterable of frames (arrays `[V, C]` / `[M, V, C]`, MediaPipe Holistic
                results, or (timestamp, frame) pairs); an array is iterated along its first axis.
            fps: frame rate of frames given without timestamps: they are spaced 1000/fps ms
                (None: options.fps).
            timestamps: one per frame, in options.timestamp_unit.
            track_id: the track id the recognitions carry.
            flush: a stream that ends before one window filled still gets one recognition.

        Yields:
            Recognition: one per completed window.

        Raises:
            ValueError: fewer timestamps than frames, or rows the model cannot read.
            TimestampError: a timestamp that does not increase.
        """
        self._check_open()
        period = 1000.0 / self._fps(fps)
        track = None
        ts_iter = iter(timestamps) if timestamps is not None else None
        try:
            for i, frame in enumerate(frames):
                t0 = time.perf_counter()
                if isinstance(frame, tuple) and len(frame) == 2 and np.isscalar(frame[0]):
                    ts, frame = frame
                    ts = self._timestamp(ts)
                elif ts_iter is not None:
                    try:
                        ts = self._timestamp(next(ts_iter))
                    except StopIteration:
                        raise ValueError(f"timestamps= has {i} entries but there are more frames; "
                                         f"give one timestamp per frame") from None
                else:
                    ts = i * period
                kp, sc = self._rows(frame)
                if track is None:   # the first frame fixed the layout, and so the buffer's shape
                    track = self._tracks.new_track(track_id)
                rec = self._feed(track, kp, sc, ts, self._clock(), t0)
                if rec is not None:
                    yield rec
            if flush and track is not None and 0 < track.count < self.window \
                    and track.total_frames == track.count:
                yield self._recognize(track, time.perf_counter(), partial=True)
            if track is not None:
                self._close_events(track, END_OF_STREAM)
        finally:
            if track is not None:   # its counters join the totals of stats()
                with self._lock:
                    self._tracks.retire(track)

    def push(self, frame, timestamp: float, track_id=0, image=None) -> Recognition | None:
        """Feed one live frame of one track.

        A gap or a jump back longer than the gap limit (options.max_gap_ms, or gap_periods
        observed frame periods) restarts the track: its window empties.

        Args:
            frame: the frame's keypoints, `[V, C]` or `[M, V, C]` rows (columns
                `x, y[, z][, score]`), or a MediaPipe Holistic result.
            timestamp: the frame's time, in options.timestamp_unit (milliseconds by default);
                strictly increasing per track.
            track_id: which track (person) the frame belongs to: any hashable id.
            image: with a bundle that has an RGB branch, the frame's image (RGB uint8
                `[H, W, 3]`).

        Returns:
            The Recognition this frame completed (also passed to on_result), or None: no window
            completed yet, or the track was not admitted (max_tracks live; see stats()).

        Raises:
            TimestampError: a small step back in time on this track (frames out of order).
            ValueError: rows of an unknown layout or with too few coordinates.
            RuntimeError: the Recognizer is closed.
        """
        if self._native is not None:   # continual mode, native backend (set with the layout)
            return self._push_native(frame, timestamp, track_id)
        self._check_open()
        if self.layout is None:   # the first frame names the layout, and so the frame path
            self._layout_for(frame_to_rows(frame, "mediapipe_holistic"))
            if self._native is not None:
                return self._push_native(frame, timestamp, track_id)
        t0 = time.perf_counter()
        ts = self._timestamp(timestamp)
        kp, sc = self._rows(frame)
        now = self._clock()
        with self._lock:
            tr = self._tracks.get(track_id, now)
        if tr is None:
            return None
        if image is not None and self.rgb is not None:   # image: RGB uint8 [H, W, 3] of this frame
            self.rgb.add_frame(track_id, ts, image, frame, self.layout)
        rec = self._feed(tr, kp, sc, ts, now, t0)
        if rec is not None and self.on_result is not None:
            self._callback(rec)
        return rec

    def push_many(self, frames, timestamps, track_ids) -> list[Recognition | None]:
        """Feed the frames of several tracks that arrived together (a crowd in one camera frame).

        The same as push() on each frame, in one native call on the native frame path
        (stats()["frame_path"]). Every frame and timestamp is checked before any track changes:
        a bad one raises and no frame of the call is taken.

        Args:
            frames: one frame per track, each as push() takes it.
            timestamps: one per frame, in options.timestamp_unit.
            track_ids: one per frame, all different.

        Returns:
            push()'s result for each frame, in order (each Recognition also goes to on_result).

        Raises:
            TimestampError: a small step back in time on one of the tracks.
            ValueError: a malformed frame, lists of different lengths, or a repeated track id.
            RuntimeError: the Recognizer is closed.
        """
        self._check_open()
        frames, timestamps, track_ids = list(frames), list(timestamps), list(track_ids)
        if not len(frames) == len(timestamps) == len(track_ids):
            raise ValueError(f"push_many needs one timestamp and one track id per frame, got "
                             f"{len(frames)} frames, {len(timestamps)} timestamps, "
                             f"{len(track_ids)} track ids")
        if len(set(track_ids)) != len(track_ids):
            raise ValueError("push_many got one track id twice; push a track's frames in order, "
                             "one call per camera frame")
        if frames and self.layout is None:
            self._layout_for(frame_to_rows(frames[0], "mediapipe_holistic"))
        if self._native is None:
            return [self.push(f, t, i) for f, t, i in zip(frames, timestamps, track_ids)]
        return self._push_many_native(frames, timestamps, track_ids)

    def reset(self, track_id=None, *, forget: bool = False) -> None:
        """Restart one track, or forget every track.

        Args:
            track_id: the track to restart: its window empties and its clock is forgotten, so
                its next frame may carry any timestamp (a camera whose clock restarted). None:
                forget every track.
            forget: also free the track's slot (it counts against max_tracks no more).
        """
        if track_id is None:
            with self._lock:
                live = self._tracks.tracks()
                self._tracks.clear()
            for tr in live:
                self._close_events(tr, RESET)
        else:
            with self._lock:
                tr = self._tracks.get_live(track_id)
            if tr is not None:
                self._close_events(tr, RESET)
            with self._lock:
                if forget:
                    self._tracks.drop(track_id)
            if tr is not None and not forget:
                with tr.lock:
                    tr.restart(forget_clock=True)
        if self.rgb is not None:
            self.rgb.reset(track_id)

    def stats(self) -> dict:
        """Counters since construction, in total and per live track.

        Returns:
            A dict: frames, results, no_person, resets, evictions, dropped_frames, refused_ids,
                active_tracks, max_tracks, callback_errors, latency_ms ({"p50", "p95", "p99",
                "n"}: milliseconds from a frame entering push/stream to its Recognition, over
                recent windows) and tracks ({track_id: that track's counters}).
        """
        now = self._clock()
        with self._lock:
            tracks = self._tracks.tracks()
            table = self._tracks
            totals = dict(table.retired)
            out = {"evictions": table.evicted, "dropped_frames": table.dropped_frames,
                   "refused_ids": table.refused_ids, "active_tracks": len(tracks),
                   "max_tracks": table.max_tracks}
        per = {}
        for tr in tracks:
            with tr.lock:
                per[tr.track_id] = tr.stats(now)
            for k in totals:
                totals[k] += per[tr.track_id][k]
        with self._stats_lock:
            out["callback_errors"] = self._callback_errors
            out["latency_ms"] = percentiles(self._latency.values())
        out["frame_path"] = {"path": self.frame_path, "reason": self.frame_path_reason}
        return {**totals, **out, "tracks": per}

    def body_presence(self, clip: np.ndarray) -> float:
        """The fraction of a clip's frames that show a body, by the rule that decides
        "no_person" (bharnet.sdk.presence).

        Args:
            clip: keypoint rows `[T, V, C]` or `[M, T, V, C]`.

        Returns:
            A fraction in [0, 1].
        """
        clip = np.asarray(clip)
        self._layout_for(clip)
        kp, sc = self._split(clip)
        return self._presence(kp[None] if kp.ndim == 3 else kp, sc[None] if sc.ndim == 2 else sc)

    @property
    def tracks(self) -> list:
        """The ids of the live tracks."""
        with self._lock:
            return self._tracks.ids()

    def buffered_bytes(self) -> int:
        """Bytes held by the live tracks' buffers (and streaming state)."""
        with self._lock:
            return self._tracks.nbytes()

    def close(self) -> None:
        """Forget every track and release the backend; later calls raise RuntimeError."""
        with self._lock:
            self._tracks.clear()
            self._closed = True
            self._native = None
        self.backend = _Closed()

    def __enter__(self) -> "Recognizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- internals ---------------------------------------------------------------------------
    def _choose_mode(self, opts: RecognizerOptions):
        """(mode, schedule, step runner or None) from the options, the bundle and the backend."""
        cont = self.bundle.meta.continual
        why = None
        if not cont:
            why = "this bundle has no step graph (only streaming models, trained with " \
                  "temporal_padding: valid and causal preprocessing, have one)"
        elif not hasattr(self.backend, "step_runner"):
            why = f"backend {self.backend.name!r} has no step runtime (use onnxruntime or native)"
        elif self.rgb is not None:
            why = "the RGB branch (BHaRNet-M) recognises whole windows"
        if opts.mode == "window" or (opts.mode == "auto" and why is not None):
            return "window", None, None
        if why is not None:
            raise ValueError(f"mode='continual': {why}")
        every = int(cont["total_stride"])
        schedule = opts.schedule or ("native" if self.stride % every == 0 else "atrous")
        if schedule not in cont["schedules"]:
            raise ValueError(f"mode='continual': this bundle has no {schedule!r} step graph (it has "
                             f"{', '.join(cont['schedules'])})")
        if schedule == "native" and self.stride % every:
            raise ValueError(f"the native schedule predicts every {every} frames: stride must be a "
                             f"multiple of {every} (got {self.stride}); schedule='atrous' predicts "
                             f"every frame")
        return "continual", schedule, self.backend.step_runner(schedule)

    def _set_layout(self, layout: str) -> None:
        """Fix the input layout: its row splitter and track buffers; refuse a hand model fed a
        layout without hands."""
        lay = get_layout(layout)
        why = hands_problem(lay, self.spec)
        if why:
            raise ValueError(f"this model cannot read layout {lay.name!r}: {why}")
        self._split = RowSplitter(lay.name)
        stream = None
        if self.spec.causal:   # frames prepared once each, kept per track (sdk/streaming.py)
            def stream(name=lay.name):
                return StreamState(name, self.spec, self._runner)
        self._native = self._native_path(lay.name)
        self._native_cols: dict[tuple, int] = {}   # rows shape -> score column (_native_rows)
        self._tracks = TrackTable(self.window, self.spec.num_person, lay.num_joints,
                                  self.spec.coords, stream=stream, **self._table_opts,
                                  native=self._native.new_stream if self._native else None)
        self.layout = lay.name

    def _python_path_reason(self, opts: RecognizerOptions) -> str | None:
        """Why frames cannot take the native frame path whatever the layout (None: they may)."""
        if opts.frame_path == "python":
            return "frame_path='python' was asked for"
        why = None
        if self.mode != "continual":
            why = f"{self.mode} mode runs the window graph on prepared windows"
        elif self.backend.name != "native":
            why = f"backend {self.backend.name!r} has no native frame path (backend 'native' has)"
        if why is not None and opts.frame_path == "native":
            raise ValueError(f"frame_path='native': {why}")
        return why

    def _native_path(self, layout: str):
        """The native frame path for this layout, or None (the reason kept for stats())."""
        from ..backends.native_frame import NativeFramePath, unsupported

        if self.frame_path_reason is not None:
            return None
        why = unsupported(layout, self.spec, self._runner)
        if why is not None:
            if self.options.frame_path == "native":
                raise ValueError(f"frame_path='native': {why}")
            self.frame_path, self.frame_path_reason = "python", why
            log.info("continual frames take the Python path: %s", why)
            return None
        return NativeFramePath(layout, self.spec, self._runner, frame_plan(layout, self.spec),
                               _columns)

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

    def _timestamp(self, t) -> float:
        """A caller's timestamp in options.timestamp_unit -> ms (finite, or TimestampError)."""
        try:
            ms = float(t) * self.options.ms_per_unit
        except (TypeError, ValueError):
            raise TimestampError(f"timestamp must be a number, got {t!r}") from None
        if not math.isfinite(ms):
            raise TimestampError(f"timestamp must be a finite number ({self.options.timestamp_unit}), "
                                 f"got {t}")
        return ms

    def _fps(self, fps) -> float:
        if fps is None:
            return self.fps
        f = float(fps)
        if not f > 0 or not math.isfinite(f):
            raise ValueError(f"fps must be a number > 0, got {fps!r}")
        return f

    def _feed(self, tr: Track, kp, sc, ts: float, now: float, t0: float) -> Recognition | None:
        """One frame into a track; the Recognition it completes, or None. The track's lock is held
        for the append (and, in continual mode, the model step); window inference runs outside."""
        with tr.lock:
            due, out = self._append(tr, kp, sc, ts, now)
            if not due:
                return None
            kp, sc, ts = tr.ordered()
            stream = tr.stream
            inputs = stream.window_inputs() if stream is not None and (
                out is None or self.rgb is not None) else None
            hand = stream.hand_mask() if stream is not None else None
        return self._infer(kp, sc, ts, track=tr, t0=t0, inputs=inputs, outputs=out, hand_mask=hand)

    # ---- the native frame path (continual mode on the native backend) ---------------------------
    def _native_rows(self, frame) -> tuple[np.ndarray, int]:
        """A frame's raw rows, validated as _rows validates them, for the native frame path:
        (float32 C-contiguous [V, cols] or [M, V, cols], the score column or -1). A shape is
        checked once, then looked up (this runs for every frame of every track)."""
        rows = frame_to_rows(frame, self.layout)
        if type(rows) is not np.ndarray or rows.dtype != np.float32 or not rows.flags.c_contiguous:
            rows = np.ascontiguousarray(rows, dtype=np.float32)
        col = self._native_cols.get(rows.shape)
        if col is None:
            col = self._native_shape(rows.shape)
            if len(self._native_cols) < 64:   # shapes differ in persons and columns only
                self._native_cols[rows.shape] = col
        return rows, col

    def _native_shape(self, shape: tuple) -> int:
        """The score column (or -1) of native-path rows of this shape; ValueError if they are not
        this layout's rows or carry fewer coordinates than the model uses."""
        if len(shape) not in (2, 3) or shape[-2] != self._split.num_joints:
            raise ValueError(f"layout {self.layout!r} has {self._split.num_joints} keypoints per "
                             f"frame, got an array of shape {shape}")
        ncoord, col = self._native.columns(shape[-1])
        if ncoord < self.spec.coords:
            raise ValueError(f"the model uses {self.spec.coords} coordinates but the frames carry "
                             f"{ncoord} (layout {self.layout!r})")
        return col

    def _push_native(self, frame, timestamp, track_id) -> Recognition | None:
        """push() on the native frame path: validation and the track's clock here, the rest in
        one native call (NativeStream.push; called through its bound method: this runs per frame)."""
        self._check_open()
        t0 = time.perf_counter()
        ts = self._timestamp(timestamp)
        rows, col = self._native_rows(frame)
        now = self._clock()
        with self._lock:
            tr = self._tracks.get(track_id, now)
        if tr is None:
            return None
        with tr.lock:
            tr.check_time(ts, self.options.max_gap_ms, self.options.gap_periods)
            tr.tick(ts, now)
            due = tr.completes_window(self.stride)
            if not due:   # most frames: nothing to time or assemble
                self._native.push(tr.stream.track, rows, ts, col)
                return None
            t1 = time.perf_counter()
            out = self._native.push(tr.stream.track, rows, ts, col)
            step_ms = (time.perf_counter() - t1) * 1000.0
        rec = self._native_recognition(tr, out, step_ms, t0)
        if self.on_result is not None:
            self._callback(rec)
        return rec

    def _push_many_native(self, frames, timestamps, track_ids) -> list[Recognition | None]:
        """push_many on the native frame path: every frame validated and every clock checked
        before any track changes, then one native call (which steps the tracks' models together:
        FrameRuntime.push_many). Runs per camera frame for every track: kept to plain loops."""
        t0 = time.perf_counter()
        ts = [self._timestamp(t) for t in timestamps]
        rows = [self._native_rows(f) for f in frames]
        now = self._clock()
        with self._lock:
            get = self._tracks.get
            tracks = [get(i, now) for i in track_ids]
        live = [k for k, tr in enumerate(tracks) if tr is not None]
        held = [tracks[k] for k in live]
        # one lock per track, always taken in the same order (no deadlock with another push_many)
        locks = [tr.lock for tr in sorted(held, key=id)]
        for lk in locks:
            lk.acquire()
        try:
            opts = self.options
            gap, periods = opts.max_gap_ms, opts.gap_periods
            verdicts = [tr.time_verdict(ts[k], gap, periods) for k, tr in zip(live, held)]
            for k, tr, v in zip(live, held, verdicts):
                tr.apply_time(ts[k], v)
                tr.tick(ts[k], now)
            t1 = time.perf_counter()
            outs = self._native.push_many([tr.stream for tr in held], [rows[k][0] for k in live],
                                          [ts[k] for k in live], [rows[k][1] for k in live])
            step_ms = (time.perf_counter() - t1) * 1000.0 / max(1, len(live))
            stride = self.stride
            due = [tr.completes_window(stride) for tr in held]
        finally:
            for lk in locks:
                lk.release()
        result: list[Recognition | None] = [None] * len(frames)
        for k, tr, out, d in zip(live, held, outs, due):
            if d:
                result[k] = self._native_recognition(tr, out, step_ms, t0)
        if self.on_result is not None:
            for rec in result:
                if rec is not None:
                    self._callback(rec)
        return result

    def _native_recognition(self, tr: Track, out, step_ms: float, t0: float) -> Recognition:
        """The Recognition of a native frame-path prediction (see NativeStream.push)."""
        if out is None:   # the schedule's phase is wrong
            raise RuntimeError(f"track {tr.track_id!r}: the step runner did not predict at frame "
                               f"{tr.count} (stride {self.stride}, schedule {self.schedule})")
        probs, presence, hands, start_ms, end_ms, frames = out
        if presence < self.options.min_body_presence:
            rec = self._no_person(tr.track_id, start_ms, end_ms, frames, presence)
        else:
            rec = self._recognition({"_latency_ms": step_ms}, None, tr.track_id, start_ms, end_ms,
                                    frames, presence, probs)
            if self.spec.hands and not self.spec.unified:
                rec.hand_presence = hands
        self._record(tr, rec, t0)
        return rec

    def _callback(self, rec: Recognition) -> None:
        try:
            self.on_result(rec)
        except Exception:   # noqa: BLE001 - a callback bug must not stop the feed
            with self._stats_lock:
                self._callback_errors += 1
            log.exception("on_result raised on a recognition of track %r; the stream goes on",
                          rec.track_id)

    def _append(self, tr: Track, kp, sc, ts: float, now: float):
        """(whether this frame completes a window, the model's outputs in continual mode)."""
        tr.check_time(ts, self.options.max_gap_ms, self.options.gap_periods)
        tr.append(kp, sc, ts, now)
        out = tr.stream.push(kp, sc) if tr.stream is not None else None
        due = tr.completes_window(self.stride)
        if due and self.mode == "continual" and out is None:   # the schedule's phase is wrong
            raise RuntimeError(f"track {tr.track_id!r}: the step runner did not predict at frame "
                               f"{tr.count} (stride {self.stride}, schedule {self.schedule})")
        return due, out

    def _recognize(self, tr: Track, t0: float, partial: bool = False) -> Recognition:
        with tr.lock:
            kp, sc, ts = tr.ordered()
            stream = tr.stream
            inputs = stream.window_inputs() if stream is not None else None
            hand = stream.hand_mask() if stream is not None else None
        return self._infer(kp, sc, ts, track=tr, t0=t0, partial=partial, inputs=inputs,
                           hand_mask=hand)

    def _infer(self, kp, sc, ts, track: Track, t0: float, partial: bool = False, inputs=None,
               outputs=None, hand_mask=None) -> Recognition:
        """The Recognition of one window: raw frames kp/sc/ts (for presence and times), and either
        the model's outputs (continual), its prepared inputs (streaming bundles), or neither
        (prepared here from the raw frames)."""
        frames = kp.shape[1]
        presence = self._presence(kp, sc)
        if presence < self.options.min_body_presence:
            rec = self._no_person(track.track_id, float(ts[0]), float(ts[-1]), frames, presence)
        else:
            if inputs is None and outputs is None:
                inputs = self._window_inputs(kp, sc, partial)
            if inputs is not None:
                hand_mask = inputs.get("hand_mask") if hand_mask is None else hand_mask
                inputs = {k: v[None] for k, v in inputs.items()}
            out = self._outputs(inputs, outputs, track.track_id, float(ts[0]), float(ts[-1]), frames)
            rec = self._recognition(out, hand_mask, track.track_id, float(ts[0]), float(ts[-1]),
                                    frames, presence)
        self._record(track, rec, t0)
        return rec

    def _window_inputs(self, kp, sc, partial: bool) -> dict[str, np.ndarray]:
        """A windowed bundle's inputs from raw frames, prepared over the window as a whole."""
        if partial:   # a stream that just started: the pipeline's padding for missing frames
            idx = sample_indices(kp.shape[1], self.spec.window, "crop", short="pad")[0]
            return prepare(*take_frames(kp, sc, idx), self.layout, self.spec)
        if self._resample is not None:
            kp, sc = take_frames(kp, sc, self._resample)
        return prepare(kp, sc, self.layout, self.spec)

    def _record(self, track: Track, rec: Recognition, t0: float) -> None:
        latency = (time.perf_counter() - t0) * 1000.0
        with track.lock:
            track.record(latency, rec.outcome == NO_PERSON)
            events = self._observe_events(track, rec)
        with self._stats_lock:
            self._latency.add(latency)
        self._emit(events)

    # ---- online detection (options.events; the rule is sdk/events.py) ------------------------
    def _observe_events(self, track: Track, rec: Recognition) -> list:
        """The events this recognition of `track` completes (track.lock held). A track restart
        (gap, clock jump, reset) changes track.resets, which closes the open event."""
        if not self.options.events:
            return []
        if track.events is None:
            track.events = EventDetector(self.options.events, track.track_id)
        return track.events.observe(rec, track.total_frames - 1, track.resets)

    def _close_events(self, track: Track, reason: str) -> None:
        with track.lock:
            events = track.events.close(reason) if track.events is not None else []
        self._emit(events)

    def _emit(self, events: list) -> None:
        if self.on_event is None:
            return
        for ev in events:
            try:
                self.on_event(ev)
            except Exception:   # noqa: BLE001 - a callback bug must not stop the feed
                with self._stats_lock:
                    self._callback_errors += 1
                log.exception("on_event raised on an event of track %r; the stream goes on",
                              ev.track_id)

    def _presence(self, kp, sc) -> float:
        return body_presence(kp, sc, self.layout, self.spec.coords, self.spec.score_threshold,
                             hands=self.spec.hand_routing == "one")

    def _no_person(self, track_id, start_ms, end_ms, frames, presence) -> Recognition:
        return Recognition(label=None, score=None, track_id=track_id, start_ms=start_ms,
                           end_ms=end_ms, body_presence=presence, frames=int(frames),
                           outcome=NO_PERSON)

    def _clip(self, clip: np.ndarray, fps: float) -> Recognition:
        """One Recognition for a whole clip, scored as `bharnet eval` scores it: the bundle's
        sampling mode and test views (bharnet.data.pipeline.clip_views), logits averaged."""
        t0 = time.perf_counter()
        self._layout_for(clip)
        kp, sc = self._split(clip)
        if kp.ndim == 3:
            kp, sc = kp[None], sc[None]
        t = kp.shape[1]
        end_ms = (t - 1) * 1000.0 / fps if t else 0.0
        presence = self._presence(kp, sc)
        if presence < self.options.min_body_presence:
            rec = self._no_person(0, 0.0, end_ms, t, presence)
        else:
            pre = self.bundle.meta.preprocessing
            views = clip_views(kp, sc, self.layout, self.spec, int(pre.get("test_clips", 1)),
                               pre.get("sampling", "uniform"), bool(pre.get("test_flip", False)))
            out = self._outputs(views, None, 0, 0.0, end_ms, t)
            out = {k: v.mean(0, keepdims=True) if isinstance(v, np.ndarray) else v
                   for k, v in out.items()}            # logits averaged over the views
            rec = self._recognition(out, views.get("hand_mask", [None])[0], 0, 0.0, end_ms, t,
                                    presence)
        with self._stats_lock:
            self._latency.add((time.perf_counter() - t0) * 1000.0)
        return rec

    def _outputs(self, batch, outputs, track_id, start_ms, end_ms, frames) -> dict:
        """The model's outputs: given (continual), or the backend on a batch of window inputs; the
        RGB branch fused in where the bundle has one."""
        t0 = time.perf_counter()
        stepped = 0.0 if outputs is None else float(outputs.get("_latency_ms", 0.0))
        if outputs is None:
            if self._run_lock is None:
                outputs = self.backend.run(batch)
            else:
                with self._run_lock:
                    outputs = self.backend.run(batch)
        if self.rgb is not None:
            fused = self.rgb.score(outputs["logits"], batch, track_id, start_ms, end_ms, frames)
            if fused is not None:
                outputs = {**outputs, "logits": fused[0], "rgb_logits": fused[1]}
        return {**outputs, "_latency_ms": stepped + (time.perf_counter() - t0) * 1000.0}

    def _recognition(self, out: dict, hand_mask, track_id, start_ms, end_ms, frames,
                     presence: float, probs: dict | None = None) -> Recognition:
        """probs: {output: softmax probabilities} where already computed (native frame path);
        else from out's logits."""
        if probs is None:
            probs = {k: _softmax(out[k][0]) for k in _SCORED if out.get(k) is not None}
        p = probs["logits"]
        order = sorted(range(len(p)), key=p.__getitem__, reverse=True)[: self.top_k]
        rec = Recognition(label=self.classes[order[0]], score=p[order[0]],
                          top_k=[(self.classes[i], p[i]) for i in order],
                          track_id=track_id, start_ms=start_ms, end_ms=end_ms,
                          latency_ms=float(out.get("_latency_ms", 0.0)), frames=int(frames),
                          body_presence=presence)
        for expert in ("body", "hand"):
            pe = probs.get(f"{expert}_logits")
            if pe is not None:
                k = pe.index(max(pe))   # the first largest, as max(range, key=...) picks it
                setattr(rec, f"{expert}_label", self.classes[k])
                setattr(rec, f"{expert}_score", pe[k])
        if hand_mask is not None and len(hand_mask):  # [T, 2M]: person 0's left and right hand
            rec.hand_presence = (float(hand_mask[:, 0].mean()), float(hand_mask[:, 1].mean()))
        if rec.score < self.options.min_score:   # not sure enough to name a class
            rec.label, rec.score, rec.outcome = None, None, LOW_CONFIDENCE
        return rec


class _Closed:
    name = "closed"
    thread_safe = True

    def run(self, inputs):
        raise RuntimeError("this Recognizer is closed")


__all__ = ["Recognizer", "RecognizerOptions", "TimestampError", "DEFAULT_STRIDE"]
