"""Video in, keypoints out (MediaPipe Holistic), and a rendered copy with skeleton and labels.

Needs the [video] extra (mediapipe==0.10.14, which brings OpenCV). Imported only by `bharnet run
--video`, so the rest of the SDK never depends on it.
"""
from __future__ import annotations

import pathlib

import numpy as np

from ..progress import Progress
from ..rgb.video import open_capture
from .adapters import holistic_to_rows


def _need_video():
    try:
        import cv2
        import mediapipe as mp
        from google.protobuf import __version__ as pb_version
    except ImportError as e:
        raise RuntimeError(f"--video needs the [video] extra: pip install 'bharnet[video]' "
                           f"(mediapipe==0.10.14 with OpenCV); {e}") from None
    except Exception as e:   # e.g. a protobuf too new for mediapipe 0.10.14
        raise RuntimeError(f"mediapipe does not import here ({type(e).__name__}: {e}); it needs "
                           f"protobuf<5 (pip install 'protobuf>=4.25.3,<5')") from None
    if int(pb_version.split(".")[0]) >= 5:
        # mediapipe 0.10.14 imports with a newer protobuf but fails on the first frame
        raise RuntimeError(f"mediapipe 0.10.14 needs protobuf<5, this environment has {pb_version} "
                           f"(recent onnx needs protobuf>=6: use a separate environment for --video, "
                           f"e.g. pip install 'bharnet[video]' without the [train] extra)")
    return cv2, mp


def extract_holistic(path, model_complexity: int = 1, progress: bool = False
                     ) -> tuple[np.ndarray, float]:
    """Every frame of a video through MediaPipe Holistic -> ([T, 75, 4] float32, fps).

    Rows as in shared/data/streams: pose 33, left hand 21, right hand 21; (x, y, z, visibility)
    with x, y normalised to the image; an undetected part is all zeros.
    """
    cv2, mp = _need_video()
    cap = open_capture(cv2, path)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    rows = []
    bar = Progress(total=total or None, desc=f"MediaPipe Holistic on {pathlib.Path(path).name}",
                   unit="frame", quiet=not progress)
    with mp.solutions.holistic.Holistic(model_complexity=model_complexity,
                                        static_image_mode=False) as holistic, bar:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            res = holistic.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            rows.append(holistic_to_rows(res))
            bar.update()
    cap.release()
    if not rows:
        raise ValueError(f"{path}: no frames could be read")
    return np.stack(rows).astype(np.float32), fps


def _label_at(recs, t_ms: float):
    """The latest recognition whose window ended at or before t_ms."""
    best = None
    for r in recs:
        if r.end_ms is not None and r.end_ms <= t_ms + 1e-6:
            best = r
    return best


def draw_labels(cv2, img: np.ndarray, lines: list[str], scale: float) -> None:
    """White text on a filled dark box, top left: readable on any background, light or dark."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, int(round(2 * scale)))
    pad, x, y = int(8 * scale), int(20 * scale), int(20 * scale)
    for text in lines:
        (tw, th), base = cv2.getTextSize(text, font, scale, thick)
        cv2.rectangle(img, (x - pad, y - pad), (x + tw + pad, y + th + base + pad), (32, 32, 32), -1)
        cv2.putText(img, text, (x, y + th), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
        y += th + base + 2 * pad + int(4 * scale)


def render(video, keypoints: np.ndarray, recognitions, out, fps: float | None = None) -> None:
    """Draw the skeleton (layout edges) and the current label onto each frame of `video`."""
    cv2, _ = _need_video()
    from ..layouts import get_layout

    edges = get_layout("mediapipe_holistic").edges
    cap = cv2.VideoCapture(str(video))
    vfps = fps or float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), vfps, (w, h))
    i = 0
    bar = Progress(total=len(keypoints), desc=f"rendering {pathlib.Path(out).name}", unit="frame")
    while True:
        ok, img = cap.read()
        if not ok or i >= len(keypoints):
            break
        kp = keypoints[i]
        present = np.isfinite(kp[:, :2]).all(1) & (kp[:, :2] != 0).any(1)
        px = np.nan_to_num(kp[:, :2] * (w, h)).astype(int)
        for a, b in edges:
            if present[a] and present[b]:
                color = (0, 200, 0) if a < 33 and b < 33 else (0, 140, 255)
                cv2.line(img, tuple(px[a]), tuple(px[b]), color, 2)
        for j in np.flatnonzero(present):
            cv2.circle(img, tuple(px[j]), 3, (255, 255, 255), -1)
        r = _label_at(recognitions, i * 1000.0 / vfps)
        if r is not None:
            lines = [f"{r.label} {r.score:.2f}"]
            if r.hand_label is not None:
                lines.append(f"body: {r.body_label}  hand: {r.hand_label}")
            draw_labels(cv2, img, lines, max(0.6, h / 720.0))  # readable on 480p and 1080p
        writer.write(img)
        i += 1
        bar.update()
    bar.close()
    cap.release()
    writer.release()
