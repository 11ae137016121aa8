"""`bharnet data ...`: synthetic data, format conversion, dataset converters and a summary."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("data", help="datasets: synthesise, convert, inspect")
    dsub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    s = dsub.add_parser("synth", help="write a synthetic fine-grained body/hand dataset (PYSKL .pkl or .npz)")
    s.add_argument("--out", required=True, help="output file (.pkl or .npz)")
    s.add_argument("--classes", nargs="+", default=None,
                   help="class names (default: all); see bharnet.data.synth.DEFAULT_CLASSES")
    s.add_argument("--with-idle", action="store_true",
                   help="add an 'idle' class (the rest pose between actions), as the demo model has")
    s.add_argument("--clips-per-class", type=int, default=60, help="clips generated per class")
    s.add_argument("--seed", type=int, default=0, help="random seed (the same seed, the same data)")
    s.add_argument("--min-frames", type=int, default=48, help="shortest clip, in frames")
    s.add_argument("--max-frames", type=int, default=72, help="longest clip, in frames")
    s.add_argument("--stream", type=int, default=0, metavar="N",
                   help="instead write a continuous stream of N actions (.npz with keypoints, timeline)")
    s.set_defaults(func=_synth)

    c = dsub.add_parser("convert", help="convert a dataset between PYSKL .pkl and safe .npz")
    c.add_argument("src", help="dataset to read (.pkl, read by the restricted unpickler, or .npz)")
    c.add_argument("dst", help="dataset to write (.npz: the safe format, or .pkl)")
    c.add_argument("--layout", default=None, help="layout name when the source does not say")
    c.set_defaults(func=_convert)

    i = dsub.add_parser("info", help="summarise a dataset file")
    i.add_argument("path", help="dataset file (.npz or .pkl)")
    i.add_argument("--layout", default=None, help="layout name when the file does not say")
    i.set_defaults(func=_info)

    n = dsub.add_parser("ntu", help="convert a directory of NTU RGB+D .skeleton files")
    n.add_argument("skeletons", help="directory with *.skeleton files")
    n.add_argument("--out", required=True, help="output .npz (or .pkl)")
    n.add_argument("--benchmark", default="xsub",
                   choices=["xsub", "xview", "xset"], help="split (xview: NTU-60, xset: NTU-120)")
    n.add_argument("--dataset", default=None, choices=["ntu60", "ntu120"],
                   help="default: ntu120 if any action > 60 is present")
    n.add_argument("--missing", default=None, help="file listing samples to skip (official list)")
    n.add_argument("--max-persons", type=int, default=2, help="persons kept per sample")
    n.set_defaults(func=_ntu)

    k = dsub.add_parser("pkummd", help="cut PKU-MMD skeleton videos into labelled clips")
    k.add_argument("skeletons", help="directory with <video>.txt skeleton files")
    k.add_argument("labels", help="directory with <video>.txt label files")
    k.add_argument("--split", required=True, help="split file (official cross-subject/view text or JSON)")
    k.add_argument("--out", required=True, help="output .npz (or .pkl)")
    k.add_argument("--classes", default=None,
                   help="text file with the 51 class names, one per line (default action_01..51)")
    k.set_defaults(func=_pku)

    u = dsub.add_parser("nwucla", help="convert Northwestern-UCLA samples (JSON or text) to a dataset")
    u.add_argument("root", help="directory with aXX_sYY_eZZ_vWW.json / .txt samples")
    u.add_argument("--out", required=True, help="output .npz (or .pkl)")
    u.set_defaults(func=_ucla)

    h = dsub.add_parser("shrec17", help="convert SHREC'17 hand-gesture skeletons (official split, "
                                         "plus a validation split of training people)")
    h.add_argument("root", help="folder with train_gestures.txt, test_gestures.txt and gesture_*/")
    h.add_argument("--out", required=True, help="output .npz (or .pkl)")
    h.add_argument("--labels", type=int, default=14, choices=[14, 28],
                   help="label set: 14 gestures, or 28 (gesture x one finger / whole hand)")
    h.set_defaults(func=_shrec17)

    b = dsub.add_parser("bench", help="time prepare() per window (coco_wholebody input)")
    b.add_argument("--window", type=int, default=64, help="frames per window")
    b.add_argument("--persons", type=int, default=1, help="persons per frame")
    b.add_argument("--repeats", type=int, default=2000, help="windows timed")
    b.add_argument("--json", action="store_true", help="print the timings as JSON")
    b.set_defaults(func=_bench)

    w = dsub.add_parser("keypoints", help="cut a keypoint array (.npy: MediaPipe Holistic [T,75,4] or "
                                          "COCO-WholeBody [T,133,2|3] / [M,T,133,3]) into labelled windows")
    w.add_argument("arrays", nargs="+", help=".npy files; label from --label or the parent folder name")
    w.add_argument("--out", required=True, help="output dataset (.npz); every fifth recording of a "
                                                "class goes to the test split")
    w.add_argument("--label", default=None, help="class name for all inputs (default: parent folder)")
    w.add_argument("--window", type=int, default=64, help="frames per clip cut from a recording")
    w.add_argument("--stride", type=int, default=32, help="frames between two clips' starts")
    w.set_defaults(func=_keypoints)


def _save(ds, out) -> None:
    from ..progress import stage
    from .dataset import save

    with stage(f"writing {out}", announce=False):
        save(ds, out)
    print(f"wrote {out}: {len(ds)} clips, {ds.num_classes} classes, layout {ds.layout}, "
          f"splits {{{', '.join(f'{k}: {len(v)}' for k, v in ds.splits.items())}}}")


def _synth(args) -> int:
    from . import synth

    classes = tuple(args.classes) if args.classes else synth.DEFAULT_CLASSES
    if args.with_idle and "idle" not in classes:
        classes += ("idle",)
    frames = (args.min_frames, args.max_frames)
    if args.stream:
        import numpy as np

        kp, timeline = synth.generate_stream(num_actions=args.stream, classes=classes,
                                             seed=args.seed, frames=frames)
        np.savez_compressed(args.out, keypoints=kp, layout=np.array(synth.LAYOUT),
                            timeline_start=np.array([t[0] for t in timeline]),
                            timeline_end=np.array([t[1] for t in timeline]),
                            timeline_class=np.array([t[2] for t in timeline], dtype=str))
        print(f"wrote {args.out}: stream of {kp.shape[0]} frames, {len(timeline)} actions")
        return 0
    _save(synth.generate(classes, args.clips_per_class, args.seed, frames), args.out)
    return 0


def _convert(args) -> int:
    from ..progress import stage
    from .dataset import load

    with stage(f"reading {args.src}", announce=False):
        ds = load(args.src, args.layout)
    _save(ds, args.dst)
    return 0


def _info(args) -> int:
    import numpy as np

    from .dataset import load

    ds = load(args.path, args.layout)
    lengths = np.array([c.num_frames for c in ds.clips])
    persons = np.array([c.keypoint.shape[0] for c in ds.clips])
    print(f"{args.path}: {len(ds)} clips, layout {ds.layout}, C={ds.clips[0].keypoint.shape[3]}"
          + (f", {ds.fps:g} fps" if ds.fps else ""))
    print(f"  frames: min {lengths.min()}, median {int(np.median(lengths))}, max {lengths.max()}; "
          f"persons: max {persons.max()}")
    for k, v in ds.splits.items():
        print(f"  split {k}: {len(v)} clips")
    counts = np.bincount([c.label for c in ds.clips], minlength=ds.num_classes)
    for i, name in enumerate(ds.classes):
        mark = " (hand-intensive)" if i in ds.hand_intensive else ""
        print(f"  {i:3d} {name}: {counts[i]}{mark}")
    return 0


def _ntu(args) -> int:
    from .ntu import convert_ntu

    _save(convert_ntu(args.skeletons, benchmark=args.benchmark, dataset=args.dataset,
                      missing_file=args.missing, max_persons=args.max_persons), args.out)
    return 0


def _pku(args) -> int:
    from .pkummd import convert_pkummd

    names = None
    if args.classes:
        import pathlib

        names = [ln.strip() for ln in pathlib.Path(args.classes).read_text().splitlines() if ln.strip()]
    _save(convert_pkummd(args.skeletons, args.labels, args.split, names), args.out)
    return 0


def _ucla(args) -> int:
    from .nwucla import convert_nwucla

    _save(convert_nwucla(args.root), args.out)
    return 0


def _shrec17(args) -> int:
    from ..progress import stage
    from .shrec17 import convert_shrec17

    with stage(f"reading {args.root}", announce=False):
        ds = convert_shrec17(args.root, labels=args.labels)
    _save(ds, args.out)
    return 0


def _keypoints(args) -> int:
    from .wholebody import dataset_from_arrays

    _save(dataset_from_arrays(args.arrays, label=args.label, window=args.window,
                              stride=args.stride), args.out)
    return 0


def _bench(args) -> int:
    import json

    from .bench import run

    res = run(args.window, args.persons, args.repeats)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"prepare() per window, T={args.window}, M={args.persons}, coco_wholebody input:")
        for k, v in res.items():
            print(f"  {k:>16}: min {v['min_us']:.0f} us, median {v['p50_us']:.0f} us, "
                  f"p90 {v['p90_us']:.0f} us")
    return 0
