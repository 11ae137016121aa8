"""`bharnet detect` (keypoints in, events out as JSON lines) and `bharnet eval-online` (events
against ground truth: detection rate, false positives, latency, confusion, timeline PNG).
Only argparse at import time."""
from __future__ import annotations

import json
import pathlib
import sys


def _rule_args(p) -> None:
    from ..sdk.events import EventRule

    d = EventRule()
    p.add_argument("--enter", type=float, default=d.enter, help=f"score that opens an event (default {d.enter})")
    p.add_argument("--exit", type=float, default=d.exit, help=f"score that keeps it open (default {d.exit})")
    p.add_argument("--min-ms", type=float, default=d.min_ms,
                   help=f"how long the label's run must last before it opens (default {d.min_ms:g})")
    p.add_argument("--gap-ms", type=float, default=d.gap_ms,
                   help=f"how long the label must stay below --exit before it closes (default {d.gap_ms:g})")
    p.add_argument("--background", nargs="+", default=list(d.background),
                   help=f"class names that are never events (default: {' '.join(d.background)})")


def register(sub) -> None:
    from ..sdk.cli import _backends, _device

    p = sub.add_parser("detect", help="online detection: action events in continuous keypoint streams "
                                      "(JSON lines)",
                       description="Events as JSON lines: per sequence one line {kind: sequence, "
                                   "frames, fps}, then its events (kind start / end).")
    p.add_argument("keypoints", type=pathlib.Path,
                   help="a .npy [T,V,C]/[M,T,V,C], a .npz with 'keypoints' (bharnet data synth "
                        "--stream), or a folder of them (the sequence id is the file's stem)")
    p.add_argument("--model", default=None, help="a .bharnet bundle (default: the embedded demo model)")
    p.add_argument("--layout", default=None, help="layout of the keypoints (default: by keypoint count)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the streams (default 30)")
    p.add_argument("--stride", type=int, default=None, help="frames between recognitions")
    p.add_argument("--mode", default="auto", choices=["auto", "window", "continual"])
    p.add_argument("--backend", default="auto", choices=_backends())
    p.add_argument("--device", default=None, type=_device, help="cpu, cuda or cuda:N")
    _rule_args(p)
    p.add_argument("--out", type=pathlib.Path, default=None, help="write the events here, not stdout")
    p.add_argument("--recognitions", type=pathlib.Path, default=None,
                   help="also write every recognition (JSON lines with the sequence), for the "
                        "timeline's score curves")
    p.set_defaults(func=cmd_detect)

    e = sub.add_parser("eval-online", help="score events (bharnet detect) against ground truth",
                       description="Detection rate, false positives per minute and per action, "
                                   "latency from the action's start and end, label confusion.")
    e.add_argument("events", type=pathlib.Path, help="JSON lines of bharnet detect")
    e.add_argument("--annotations", "--gt", type=pathlib.Path, required=True,
                   help="ground truth: .json (bharnet-annotations-1), .csv (SHREC'22: "
                        "seq,n,label,start,end,...), a synthetic stream .npz, or a folder of them")
    e.add_argument("--frame-base", type=int, default=0, choices=[0, 1],
                   help="the CSV's first frame number (default 0)")
    e.add_argument("--fps", type=float, default=None,
                   help="frame rate of the annotations' frames (default: the events' sequences, the "
                        "JSON's fps, else 30)")
    e.add_argument("--margin-ms", type=float, default=1000.0,
                   help="an event may start this early and still detect an action (default 1000)")
    e.add_argument("--json", type=pathlib.Path, default=None, help="write the metrics here")
    e.add_argument("--plot", type=pathlib.Path, default=None, help="timeline PNG")
    e.add_argument("--recognitions", type=pathlib.Path, default=None,
                   help="recognitions of bharnet detect --recognitions, for the plot's scores")
    e.set_defaults(func=cmd_eval)

    w = sub.add_parser("stream-windows", help="cut annotated continuous streams into training clips "
                                              "with a learned background class",
                       description="Clips labelled by where their decision frame lies: an action "
                                   "once `--onset` of it is seen, \"background\" between and "
                                   "around actions (docs/guides/events.md). Train on the result "
                                   "with a streaming recipe (bharnet train).")
    w.add_argument("keypoints", type=pathlib.Path, help="a keypoint file or a folder (as bharnet detect)")
    w.add_argument("--annotations", "--gt", type=pathlib.Path, required=True,
                   help="ground truth (as bharnet eval-online)")
    w.add_argument("--frame-base", type=int, default=0, choices=[0, 1])
    w.add_argument("--out", type=pathlib.Path, required=True, help="dataset (.npz)")
    w.add_argument("--window", type=int, default=31,
                   help="the model's window (frames); default 31, the streaming demo recipe's")
    w.add_argument("--onset", type=float, default=0.3,
                   help="fraction of an action seen before a decision is labelled with it (0.3)")
    w.add_argument("--guard", type=int, default=3,
                   help="frames after an action's end left untrained before background (3)")
    w.add_argument("--background-keep", type=float, default=1.0, metavar="F",
                   help="keep this fraction of the training streams' background clips (a random "
                        "subset, --seed; validation clips are all kept): rebalances the classes and "
                        "shortens an epoch (default 1)")
    w.add_argument("--seed", type=int, default=0, help="seed of --background-keep's subset (0)")
    w.add_argument("--val-every", type=int, default=0, metavar="K",
                   help="every K-th sequence (sorted) goes to the 'val' split (0: none)")
    w.add_argument("--val-keypoints", type=pathlib.Path, default=None,
                   help="other streams (file or folder) for the 'val' split")
    w.add_argument("--val-annotations", type=pathlib.Path, default=None,
                   help="their ground truth (default: --annotations)")
    w.add_argument("--classes", nargs="+", default=None,
                   help="the action classes in order (default: all labels, sorted); background last")
    w.add_argument("--layout", default=None,
                   help="layout of the keypoints (default: a .npz's 'layout', else by their shape)")
    w.add_argument("--fps", type=float, default=None,
                   help="the streams' frame rate, recorded in the dataset (default: a .npz's 'fps')")
    w.set_defaults(func=cmd_windows)

    h = sub.add_parser("shrec17-streams", help="continuous real-hand streams joined from SHREC'17 "
                                               "sequences, for online detection",
                       description="Per person of a split, their SHREC'17 sequences in a random "
                                   "order joined by synthetic transitions and idle stretches at "
                                   "rest (docs/guides/events.md says what this can and cannot "
                                   "show). Writes <id>.npz (keypoints [T,22,3], layout shrec22), "
                                   "annotations.csv (SHREC'22 form) and streams.json into --out.")
    h.add_argument("--root", type=pathlib.Path, required=True,
                   help="the SHREC'17 folder (train_gestures.txt, test_gestures.txt, gesture_*)")
    h.add_argument("--split", required=True, choices=["train", "val", "test"],
                   help="train: the training people but the validation four; val: those four; "
                        "test: the official test people")
    h.add_argument("--out", type=pathlib.Path, required=True, help="folder")
    h.add_argument("--labels", type=int, default=14, choices=[14, 28], help="label set (14)")
    h.add_argument("--per-stream", type=int, default=10, help="gestures per stream (10)")
    h.add_argument("--idle", type=int, nargs=2, default=(10, 60), metavar=("MIN", "MAX"),
                   help="frames at rest between two gestures (10 60)")
    h.add_argument("--seed", type=int, default=0, help="order and transitions (0)")
    h.set_defaults(func=cmd_shrec17_streams)

    g = sub.add_parser("synth-streams", help="synthetic continuous streams for online detection: "
                                             "gestures among unannotated distractor motion",
                       description="Writes seed<N>.npz keypoint streams (COCO-WholeBody, 30 fps) and "
                                   "annotations.csv (SHREC'22 style, the gestures only) into --out.")
    g.add_argument("--out", type=pathlib.Path, required=True, help="folder")
    g.add_argument("--seeds", type=int, nargs=2, required=True, metavar=("FIRST", "LAST"),
                   help="one stream (one new random person) per seed, FIRST..LAST inclusive")
    g.add_argument("--actions", type=int, default=8, help="gestures and distractors per stream")
    g.add_argument("--no-distractors", action="store_true", help="gestures and idle only")
    g.set_defaults(func=cmd_synth_streams)


def _rule(args):
    from ..sdk.events import EventRule

    return EventRule(enter=args.enter, exit=args.exit, min_ms=args.min_ms, gap_ms=args.gap_ms,
                     background=tuple(args.background))


def cmd_detect(args) -> int:
    from ..sdk import Recognizer
    from .detect import detect_sequence, keypoint_files, load_keypoints, sequence_record

    files = keypoint_files(args.keypoints)
    rec = Recognizer(args.model, backend=args.backend, layout=args.layout, stride=args.stride,
                     device=args.device, mode=args.mode, fps=args.fps, max_gap_ms=None,
                     events=_rule(args))
    out = open(args.out, "w") if args.out else sys.stdout
    rout = open(args.recognitions, "w") if args.recognitions else None
    n_events = 0
    try:
        for f in files:
            kp = load_keypoints(f)
            seq = f.stem
            events, recs = detect_sequence(rec, kp, args.fps, seq)
            out.write(json.dumps(sequence_record(seq, kp.shape[-3], args.fps)) + "\n")
            for ev in events:
                out.write(json.dumps({"sequence": seq, **ev.to_dict()}) + "\n")
            out.flush()
            n_events += sum(ev.kind == "start" for ev in events)
            if rout is not None:
                for r in recs:
                    rout.write(json.dumps({"sequence": seq, **r.to_dict()}) + "\n")
    finally:
        if args.out:
            out.close()
        if rout is not None:
            rout.close()
    print(f"bharnet detect: {len(files)} sequence(s), {n_events} events ({rec.mode} mode, "
          f"backend {rec.backend.name})", file=sys.stderr)
    return 0


def read_jsonl(path) -> list[dict]:
    """JSON lines; a bad line is a one-line error naming it."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{no}: not a JSON line ({e.msg})") from None
            if not isinstance(d, dict):
                raise ValueError(f"{path}:{no}: expected a JSON object")
            out.append(d)
    return out


def _events(path) -> tuple[list[dict], dict, float | None]:
    """(events, {sequence: duration ms}, fps of the sequences or None)."""
    events, dur, fps = [], {}, set()
    need = ("sequence", "kind", "label", "start_ms", "emitted_ms", "event_id")
    for no, d in enumerate(read_jsonl(path), 1):
        if d.get("kind") == "sequence":
            dur[str(d["sequence"])] = float(d["duration_ms"])
            fps.add(float(d["fps"]))
            continue
        missing = [k for k in need if k not in d]
        if missing or d["kind"] not in ("start", "end"):
            raise ValueError(f"{path}: record {no} is not an event of bharnet detect "
                             f"(missing {missing or 'a kind of start/end'})")
        d["sequence"] = str(d["sequence"])
        events.append(d)
    if len(fps) > 1:
        raise ValueError(f"{path}: sequences at different frame rates {sorted(fps)}; score them "
                         f"separately")
    return events, dur, (fps.pop() if fps else None)


def cmd_eval(args) -> int:
    from .annotations import load_annotations
    from .scoring import score

    events, dur, ev_fps = _events(args.events)
    gt, gt_fps = load_annotations(args.annotations, args.frame_base)
    fps = args.fps or ev_fps or gt_fps or 30.0
    unknown = sorted({e["sequence"] for e in events} - set(gt))
    if unknown and len(unknown) == len({e["sequence"] for e in events}):
        raise ValueError(f"none of the events' sequences {unknown[:3]} is in {args.annotations} "
                         f"(it has {sorted(gt)[:3]}...): the sequence ids must match")
    metrics, scored = score(gt, events, fps, dur, args.margin_ms)
    metrics["events_file"] = str(args.events)
    metrics["annotations"] = str(args.annotations)
    print(summary(metrics))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(metrics, indent=1) + "\n")
    if args.plot:
        from .plot import timeline

        recs = {}
        if args.recognitions:
            for r in read_jsonl(args.recognitions):
                recs.setdefault(str(r.get("sequence", "")), []).append(r)
        if timeline(args.plot, scored, fps, recs):
            print(f"timeline: {args.plot}")
        else:
            print("timeline: none (matplotlib is not installed)", file=sys.stderr)
    return 0


def cmd_synth_streams(args) -> int:
    from .synthetic import write_streams

    first, last = args.seeds
    if last < first:
        raise ValueError(f"--seeds {first} {last}: LAST must not be below FIRST")
    gt = write_streams(args.out, range(first, last + 1), actions=args.actions,
                       **({"distractors": ()} if args.no_distractors else {}))
    print(f"wrote {len(gt)} streams and {args.out / 'annotations.csv'} "
          f"({sum(map(len, gt.values()))} gestures)")
    return 0


def cmd_shrec17_streams(args) -> int:
    from .shrec17_streams import write_streams

    streams = write_streams(args.root, args.split, args.out, labels=args.labels,
                            per_stream=args.per_stream, seed=args.seed, idle=tuple(args.idle))
    frames = sum(len(kp) for _, kp, _, _ in streams)
    print(f"wrote {len(streams)} streams ({frames / 30 / 60:.1f} min, "
          f"{sum(len(a) for _, _, a, _ in streams)} gestures of "
          f"{len({i['subject'] for *_, i in streams})} people) and "
          f"{args.out / 'annotations.csv'}")
    return 0


def cmd_windows(args) -> int:
    import numpy as np

    from ..data.dataset import save
    from .annotations import load_annotations
    from .detect import keypoint_files, load_keypoints
    from .windows import build

    def sequences(path, annotations):
        gt, _ = load_annotations(annotations, args.frame_base)
        files = keypoint_files(path)
        missing = [f.stem for f in files if f.stem not in gt]
        if missing:
            raise ValueError(f"{annotations} has no ground truth for {missing[:3]}"
                             f"{' ...' if len(missing) > 3 else ''} (sequence ids are file stems)")
        return [(f.stem, f, gt[f.stem]) for f in files]

    seqs = sequences(args.keypoints, args.annotations)
    names = [n for n, _, _ in seqs]
    val = {n for i, n in enumerate(names) if args.val_every and i % args.val_every == args.val_every - 1}
    if args.val_keypoints is not None:
        more = sequences(args.val_keypoints, args.val_annotations or args.annotations)
        clash = set(names) & {n for n, _, _ in more}
        if clash:
            raise ValueError(f"sequence ids in both --keypoints and --val-keypoints: {sorted(clash)[:3]}")
        seqs += more
        val |= {n for n, _, _ in more}
    files = [f for _, f, _ in seqs]
    layout, fps = args.layout, args.fps
    if files[0].suffix.lower() == ".npz":   # what the stream writers record beside the keypoints
        with np.load(files[0], allow_pickle=False) as z:
            if layout is None and "layout" in z.files:
                layout = str(z["layout"])
            if fps is None and "fps" in z.files:
                fps = float(z["fps"])
    ds = build(((n, load_keypoints(f), acts) for n, f, acts in seqs), args.window, val, args.onset,
               args.guard, classes=args.classes, layout=layout, fps=fps,
               background_keep=args.background_keep, seed=args.seed)
    save(ds, args.out)
    counts = np.bincount([c.label for c in ds.clips], minlength=ds.num_classes)
    print(f"wrote {args.out}: {len(ds)} clips from {len(files)} sequences "
          f"({', '.join(f'{k} {len(v)}' for k, v in ds.splits.items())}); "
          f"background {counts[-1]}, actions {int(counts[:-1].sum())} in {ds.num_classes - 1} classes")
    return 0


def _ms(s: dict) -> str:
    if not s["n"]:
        return "-"
    return f"mean {s['mean']:.0f} ms, median {s['median']:.0f} ms"


def summary(m: dict) -> str:
    dr = "-" if m["detection_rate"] is None else f"{m['detection_rate']:.3f}"
    fpa = "-" if m["fp_per_action"] is None else f"{m['fp_per_action']:.3f}"
    lines = [f"sequences {m['sequences']}, actions {m['actions']}, {m['minutes']:.2f} min",
             f"detection rate      {dr} ({m['detected']}/{m['actions']})",
             f"false positives     {m['false_positives']}: {m['fp_per_minute']:.2f}/min, {fpa}/action",
             f"latency from start  {_ms(m['latency_from_start_ms'])}",
             f"latency from end    {_ms(m['latency_from_end_ms'])} (negative: before the action ended)",
             f"closing latency     {_ms(m['closing_latency_ms'])}"]
    return "\n".join(lines)
