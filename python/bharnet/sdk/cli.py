"""`bharnet run` and `bharnet demo`. Only argparse at import time: everything else is lazy.

`bharnet run` prints one JSON line per window; a window without a person is a line with
"label": null and "outcome": "no_person". Input in which no frame shows a person (all NaN, all
zero, no person) gives no lines, one message on stderr, and exit code 0: the run worked and its
answer is "nobody there". Errors (bad files, options, backends) exit with code 2.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys


def _device(text: str) -> str:
    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"invalid device {text!r}: cpu, cuda or cuda:N")
    return text


def _backends() -> list[str]:
    """"auto" and every backend name, built-in or registered (without importing any of them)."""
    import importlib.metadata

    from ..backends.base import BUILTIN, ENTRY_POINTS

    eps = [ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)]
    return ["auto", *BUILTIN, *[n for n in eps if n not in BUILTIN]]


def register(sub) -> None:
    from ..layouts import available_layouts

    backends = _backends()
    p = sub.add_parser("run", help="recognize actions in a keypoint file or a video (JSON lines)",
                       description="Recognitions as one JSON object per line.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--keypoints", type=pathlib.Path, help=".npy of [T,V,C] or [M,T,V,C] rows")
    src.add_argument("--video", type=pathlib.Path,
                     help="a video; keypoints by MediaPipe Holistic (needs the [video] extra)")
    p.add_argument("--model", default=None, help="a .bharnet bundle (default: the embedded demo model)")
    p.add_argument("--layout", default=None, choices=available_layouts(),
                   help="layout of the keypoints (default: inferred from the keypoint count: 75 "
                        "mediapipe_holistic, 133 coco_wholebody, 25 ntu25, 15 jhmdb15, 17 coco17, 21 hand21, "
                        "22 shrec22; "
                        "mediapipe_holistic for --video)")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default: the video's, or 30)")
    p.add_argument("--window", type=int, default=None,
                   help="frames per recognition (default: the model's; another value is resampled)")
    p.add_argument("--stride", type=int, default=None,
                   help="frames between two recognitions (default: the bundle's)")
    p.add_argument("--backend", default="auto", choices=backends)
    p.add_argument("--device", default=None, type=_device, help="cpu, cuda or cuda:N")
    p.add_argument("--clip", action="store_true", help="one recognition over the whole input")
    p.add_argument("--out", type=pathlib.Path, default=None, help="write JSON lines here, not stdout")
    p.add_argument("--save-keypoints", type=pathlib.Path, default=None,
                   help="with --video: also save the extracted [T,75,4] keypoints (.npy)")
    p.add_argument("--render", type=pathlib.Path, default=None,
                   help="with --video: write a copy with the skeleton and the labels drawn")
    p.set_defaults(func=cmd_run)

    d = sub.add_parser("demo", help="the embedded model on a synthetic stream and a real one")
    d.add_argument("--model", default=None, help="a .bharnet bundle (default: the embedded demo model)")
    d.add_argument("--backend", default="auto", choices=backends)
    d.add_argument("--stream", type=pathlib.Path, default=None,
                   help="your own [T,75,4] MediaPipe Holistic .npy (default: the bundled real stream "
                        "from shared/data/streams)")
    d.add_argument("--fps", type=float, default=None,
                   help="frame rate of --stream (default: 30; the bundled stream is 28)")
    d.add_argument("--actions", type=int, default=10, help="actions in the synthetic stream")
    d.add_argument("--seed", type=int, default=1, help="seed of the synthetic stream")
    d.add_argument("--plot", type=pathlib.Path, default=pathlib.Path("work_dirs/demo/timeline.png"),
                   help="timeline PNG of predicted vs true labels (needs matplotlib)")
    d.add_argument("--no-plot", dest="plot", action="store_const", const=None, help="no timeline PNG")
    d.add_argument("--quiet", action="store_true", help="summary only: no progress, no per-window lines")
    d.set_defaults(func=cmd_demo)


def _frames(kp):
    """[T,V,C] -> frames [V,C]; [M,T,V,C] -> frames [M,V,C]."""
    return list(kp) if kp.ndim == 3 else list(kp.transpose(1, 0, 2, 3))


def cmd_run(args) -> int:
    import numpy as np

    from . import Recognizer

    fps = args.fps
    layout = args.layout
    if args.video is not None:
        from ..cli import UserError
        from .video import extract_holistic

        try:
            kp, vfps = extract_holistic(args.video, progress=True)
        except RuntimeError as e:   # the [video] extra missing or unusable here
            raise UserError(str(e)) from None
        fps = fps or vfps
        layout = layout or "mediapipe_holistic"
        if args.save_keypoints:
            np.save(args.save_keypoints, kp)
    else:
        if args.render:
            raise ValueError("--render needs --video")
        if args.keypoints.is_dir():
            raise ValueError(f"--keypoints {args.keypoints} is a directory; give a .npy file")
        try:
            kp = np.load(args.keypoints, allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise ValueError(f"{args.keypoints}: not a .npy array file ({e})") from None
        if not isinstance(kp, np.ndarray) or kp.ndim not in (3, 4):
            raise ValueError(f"{args.keypoints}: expected one [T,V,C] or [M,T,V,C] array, got "
                             f"{getattr(kp, 'shape', type(kp).__name__)}")
    fps = fps or 30.0
    rec = Recognizer(args.model, backend=args.backend, layout=layout, window=args.window,
                     stride=args.stride, device=args.device, fps=fps)
    source = args.video if args.video is not None else args.keypoints
    n = kp.shape[-3]
    if n == 0 or rec.body_presence(kp) == 0.0:
        print(f"bharnet run: no person in {source}: none of its {n} frames shows a body "
              f"(NaN, zero or missing keypoints); no recognitions", file=sys.stderr)
        return 0
    results = [rec.run(kp, fps=fps)] if args.clip else rec.run(_frames(kp), fps=fps)
    out = open(args.out, "w") if args.out else sys.stdout
    kept = []
    try:
        for r in results:
            out.write(json.dumps(r.to_dict()) + "\n")
            out.flush()
            kept.append(r)
    finally:
        if args.out:
            out.close()
    if args.render:
        from .video import render

        render(args.video, kp, [r for r in kept if r.label is not None], args.render, fps=fps)
        print(f"rendered {args.render}", file=sys.stderr)
    return 0


def cmd_demo(args) -> int:
    from .. import progress
    from .demo import run_demo

    progress.configure(quiet=args.quiet)
    return run_demo(model=args.model, backend=args.backend, stream=args.stream,
                    actions=args.actions, seed=args.seed, plot=args.plot, quiet=args.quiet,
                    fps=args.fps)
