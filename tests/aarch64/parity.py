"""SDK parity between two platforms (x86-64 and aarch64): the same bundles and keypoint streams
through every backend and mode must give the same labels and top-k order, and scores within a
tolerance.

    python parity.py run --bundles default b.bharnet --streams s.npy \\
        --backends onnxruntime native --modes window --out x86.json      # once per platform
    python parity.py compare x86.json aarch64.json --tol 1e-5

`run` needs only the installed SDK (no torch). Each stream is fed twice: frame by frame (one
Recognition per stride) and as one clip; a derived noisy copy (NaN/inf coordinates, hands
dropped; seeded, so identical on both sides) is added per stream unless --no-noisy.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import sys
from importlib import metadata

import numpy as np

# Recognizer modes: name -> the keyword arguments that select it; a new mode is one more line.
# A bundle without step graphs refuses the continual ones, which must happen alike on both sides.
MODES: dict[str, dict] = {
    "window": {"mode": "window"},
    "continual": {"mode": "continual"},                          # its default (native) schedule
    "continual-atrous": {"mode": "continual", "schedule": "atrous"},
}
DEFAULT_BUNDLE = "default"          # the bundle embedded in the wheel
SCORE_FIELDS = ("score", "body_score", "hand_score")


def noisy(kp: np.ndarray) -> np.ndarray:
    """Broken input the SDK must survive the same way everywhere (like tests/smoke's)."""
    out = kp.copy()
    rng = np.random.default_rng(0)
    t, v = out.shape[0], out.shape[-2]
    out[rng.integers(0, t, 30), ..., rng.integers(0, v, 30), 0] = np.nan
    out[rng.integers(0, t, 5), ..., rng.integers(0, v, 5), 1] = np.inf
    if v == 75:                       # MediaPipe Holistic: rows 33-53 left, 54-74 right hand
        out[::2, ..., 54:75, :] = 0.0
        out[t // 7: t // 3, ..., 33:75, :] = 0.0
    out[t // 2] = np.nan
    return out


def load_streams(paths: list[str], with_noisy: bool) -> dict[str, np.ndarray]:
    streams = {}
    for p in paths:
        path = pathlib.Path(p)
        if not path.is_file():
            raise SystemExit(f"stream not found: {path}")
        kp = np.load(path)
        if kp.ndim not in (3, 4) or not np.issubdtype(kp.dtype, np.floating):
            raise SystemExit(f"{path}: expected a float [T,V,C] or [T,M,V,C] keypoint array, got "
                             f"{kp.dtype} {kp.shape}")
        streams[path.stem] = kp
        if with_noisy:
            streams[path.stem + "+noisy"] = noisy(kp)
    return streams


def _rec(r) -> dict:
    d = r.to_dict()
    d.pop("latency_ms", None)   # timing, not output
    return d


def run(args) -> int:
    from bharnet import sdk
    from bharnet.backends import BackendUnavailable

    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}; known: {sorted(MODES)}")
    streams = load_streams(args.streams, not args.no_noisy)
    results, names = {}, []
    for bundle in args.bundles:
        model = None if bundle == DEFAULT_BUNDLE else bundle
        bname = bundle if model is None else pathlib.Path(bundle).stem
        names.append(bname)
        for backend in args.backends:
            for mode in args.modes:
                try:
                    rec = sdk.Recognizer(model, backend=backend, **MODES[mode])
                except (BackendUnavailable, ValueError) as e:   # no such backend / mode here
                    results[f"{bname}|{backend}|{mode}"] = {"unavailable": str(e)}
                    print(f"  {bname} {backend} {mode}: unavailable ({str(e)[:70]}...)")
                    continue
                for sname, kp in streams.items():
                    key = f"{bname}|{backend}|{mode}|{sname}"
                    # 3-D: frames of [V,C]; 4-D [T,M,V,C]: frames of [M,V,C], the clip [M,T,V,C]
                    clip = kp if kp.ndim == 3 else kp.transpose(1, 0, 2, 3)
                    rec.reset()
                    results[key + "|stream"] = [_rec(r) for r in rec.run(list(kp))]
                    rec.reset()
                    results[key + "|clip"] = [_rec(rec.run(clip))]
                    last = results[key + "|stream"][-1] if results[key + "|stream"] else None
                    print(f"  {key}: {len(results[key + '|stream'])} recognitions"
                          + (f", last {last['label']} {last['score']:.4f}" if last else ""))
                rec.close()
    out = {"machine": platform.machine(), "python": platform.python_version(),
           "versions": {p: metadata.version(p) for p in ("bharnet", "numpy", "onnxruntime")},
           "args": {"bundles": names, "streams": sorted(streams), "backends": args.backends,
                    "modes": args.modes},
           "results": results}
    pathlib.Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"{len(results)} result sets on {out['machine']} -> {args.out}")
    return 0


def _order_conflicts(ka: list, kb: list, tol: float) -> list[str]:
    """Pairs of labels ranked differently by the two top-k lists, beyond a tie (scores within tol)."""
    sa, sb = dict(ka), dict(kb)
    if set(sa) != set(sb):
        return [f"top-k labels {sorted(sa)} vs {sorted(sb)}"]
    ra = {lbl: i for i, (lbl, _) in enumerate(ka)}
    rb = {lbl: i for i, (lbl, _) in enumerate(kb)}
    return [f"{x} / {y} ranked differently ({sa[x]:.6g} / {sa[y]:.6g})"
            for x in sa for y in sa
            if ra[x] < ra[y] and rb[x] > rb[y] and abs(sa[x] - sa[y]) > tol]


def _diff_recs(a: list[dict], b: list[dict], tol: float) -> tuple[float, int, list[str]]:
    """(max score difference, label ties, problems) between two lists of recognitions.

    Labels and the top-k order must agree, except between classes whose scores are within tol
    of each other (a tie may break either way); every score must agree within tol.
    """
    problems, worst, ties = [], 0.0, 0
    if len(a) != len(b):
        return math.inf, 0, [f"{len(a)} vs {len(b)} recognitions"]
    if not a:
        return math.inf, 0, ["no recognitions"]
    for i, (ra, rb) in enumerate(zip(a, b)):
        for f in ("start_ms", "end_ms", "frames", "track_id", "hand_presence"):
            if ra.get(f) != rb.get(f):
                problems.append(f"#{i} {f}: {ra.get(f)} vs {rb.get(f)}")
        for f in SCORE_FIELDS:
            if (ra.get(f) is None) != (rb.get(f) is None):
                problems.append(f"#{i} {f}: {ra.get(f)} vs {rb.get(f)}")
            elif ra.get(f) is not None:
                d = abs(ra[f] - rb[f])
                worst = max(worst, d) if d == d else math.inf
        for lf, sf in (("body_label", "body_score"), ("hand_label", "hand_score")):
            if ra.get(lf) != rb.get(lf):
                problems.append(f"#{i} {lf}: {ra.get(lf)} ({ra.get(sf)}) vs {rb.get(lf)} ({rb.get(sf)})")
        conflicts = _order_conflicts(ra["top_k"], rb["top_k"], tol)
        problems += [f"#{i} {c}" for c in conflicts]
        if not conflicts:
            sa, sb = dict(ra["top_k"]), dict(rb["top_k"])
            worst = max([worst] + [abs(sa[k] - sb[k]) for k in sa])
            ties += ra["label"] != rb["label"]
    if worst > tol:
        problems.append(f"score difference {worst:.3g} > {tol:g}")
    return worst, ties, problems


def compare(args) -> int:
    a, b = (json.loads(pathlib.Path(p).read_text()) for p in (args.a, args.b))
    ra, rb = a["results"], b["results"]
    if a["args"] != b["args"]:
        print(f"FAIL: the two runs had different inputs:\n  {a['args']}\n  {b['args']}")
        return 1
    failures, per_backend, counts, ties = [], {}, {}, {}
    for key in sorted(set(ra) | set(rb)):
        if key not in ra or key not in rb:
            failures.append(f"{key}: only on {a['machine'] if key in ra else b['machine']}")
            continue
        if isinstance(ra[key], dict) or isinstance(rb[key], dict):   # backend unavailable
            if ra[key] != rb[key]:
                failures.append(f"{key}: {ra[key]} vs {rb[key]}")
            continue
        backend = key.split("|")[1] + "/" + key.split("|")[2]
        worst, tie, problems = _diff_recs(ra[key], rb[key], args.tol)
        per_backend[backend] = max(per_backend.get(backend, 0.0), worst)
        counts[backend] = counts.get(backend, 0) + len(ra[key])
        ties[backend] = ties.get(backend, 0) + tie
        failures += [f"{key}: {p}" for p in problems]
    for backend in sorted(set(f"{be}/{m}" for be in a["args"]["backends"] for m in a["args"]["modes"])):
        if backend not in per_backend:
            failures.append(f"{backend}: ran on no bundle")
    print(f"parity {a['machine']} vs {b['machine']} (numpy {a['versions']['numpy']} / "
          f"{b['versions']['numpy']}, onnxruntime {a['versions']['onnxruntime']} / "
          f"{b['versions']['onnxruntime']}), tolerance {args.tol:g}:")
    for backend, worst in sorted(per_backend.items()):
        print(f"  {backend}: {counts[backend]} recognitions, labels and top-k order agree"
              f"{f' ({ties[backend]} ties within the tolerance broken differently)' if ties[backend] else ''}, "
              f"max score difference {worst:.3g}")
    for f in failures[:50]:
        print(f"  FAIL {f}")
    print("PARITY OK" if not failures else f"PARITY FAILED ({len(failures)} problems)")
    return 0 if not failures else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the SDK here and write the recognitions as JSON")
    r.add_argument("--bundles", nargs="+", default=[DEFAULT_BUNDLE],
                   help=f"bundle paths, or '{DEFAULT_BUNDLE}' for the embedded model")
    r.add_argument("--streams", nargs="+", required=True, help="keypoint arrays (.npy)")
    r.add_argument("--backends", nargs="+", default=["onnxruntime", "native"])
    r.add_argument("--modes", nargs="+", default=["window"], help=f"of {sorted(MODES)}")
    r.add_argument("--no-noisy", action="store_true", help="skip the derived noisy streams")
    r.add_argument("--out", required=True)
    c = sub.add_parser("compare", help="compare two runs' JSON")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--tol", type=float, default=1e-5, help="max score difference")
    args = ap.parse_args(argv)
    return run(args) if args.cmd == "run" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
