"""BHaRNet against its baselines on real MediaPipe Holistic recordings of three signs (issue 23).

    python bench/holistic_signs.py select  [--seeds 0]          # recipe candidates, vanilla
    python bench/holistic_signs.py table   [--seeds 0 1 2]      # every variant, the shipped recipe
    python bench/holistic_signs.py people                       # per-person errors and signing habits
    python bench/holistic_signs.py cv      [--seeds 0]          # person-wise 4-fold CV, all 16 people
    python bench/holistic_signs.py streaming [--seeds 0 1 2]    # the streaming recipe
    python bench/holistic_signs.py streaming-sdk                # its bundles in the SDK's two modes
    python bench/holistic_signs.py report                       # JSON summary + PNG from the runs

Data: ../shared/data/holistic_signs/holistic_signs.pkl (16 people; its split `train` is 11 people,
`test` 5 others). Every number here is measured on that `test` split, which is a **validation**
split (the recipe was chosen on it): people the model never saw in training, but not the held-out
test of the issue (other people's recordings, kept outside the project).

Each run trains in this process with 1 thread (a few minutes on a shared CPU), then scores the
validation clips: as they are; mirrored (hands swapped, x negated: a left-handed signer), with the
recipe's own views and with one plain view; and under the robustness conditions below. Runs are
stored one by one in bench/results/holistic_signs_runs.json (a rerun skips those already there,
--force redoes them); `report` writes bench/results/holistic_signs.json (mean and std over seeds)
and holistic_signs.png (accuracy per variant, per class, the confusion of BHaRNet, the curves).

`people` explains the plateau: it scores every stored run per validation person (from the run's
final.pt where the run predates per-person scoring) and measures each person's signing habits
(hand presence, finger extension and hand height per sign) into holistic_signs_people.json.
`cv` trains on 12 people and tests on the other 4, four times (person p in fold p % 4), so every one
of the 16 people is scored once by a model that never saw them: a less noisy comparison of the
models than the file's 5 validation people.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIG = REPO / "training/configs/holistic_signs.yaml"
STREAMING = REPO / "training/configs/holistic_signs_streaming.yaml"
DATA = REPO.parent / "shared/data/holistic_signs/holistic_signs.pkl"
RESULTS = REPO / "bench/results"
RUNS = RESULTS / "holistic_signs_runs.json"
PEOPLE = RESULTS / "holistic_signs_people.json"
WORK = REPO / "work_dirs/bench_holistic_signs"
# in the order they run (seed-major): the claim first (BHaRNet against body_only, unified)
VARIANTS = ("vanilla", "unified", "body_only", "hand_only", "late_fusion", "noisy_or", "pam", "expertized")
ROBUST_VARIANTS = ("vanilla", "unified", "body_only")   # robustness curves (about 1 min each)
# people who sign `thanks` or `iloveyou` unlike the other 14 (measured: `habits` in
# holistic_signs_people.json, checked in tests/test_holistic_signs.py); results are also given without them
OUTLIERS = ("2", "7")
CV_FOLDS = 4                                             # person p is tested in fold p % CV_FOLDS
CV_VARIANTS = ("vanilla", "unified")

# Recipe candidates for `select`: overrides of holistic_signs.yaml (the recipe the selection ran:
# window 30, multi-scale TCN, 12 epochs, one view; the shipped recipe was then made cheaper). "wrist" is the hand expert in
# its own wrist-centred frame (the project's default); "body" places the hands in the body's frame
# (the hypothesis of the issue: where the hand is relative to face and chest matters).
CANDIDATES = {
    "wrist": {"data": {"hand_frame": "wrist", "window": 30}, "train": {"epochs": 12, "warmup_epochs": 2, "test_flip": False},
              "model": {"backbone": {"tcn": "mstcn"}}},
    "body": {"data": {"hand_frame": "body", "window": 30}, "train": {"epochs": 12, "warmup_epochs": 2, "test_flip": False},
             "model": {"backbone": {"tcn": "mstcn"}}},
    # the shipped recipe with the hands in their own wrist frame: the hypothesis at that recipe
    "shipped_wrist": {"data": {"hand_frame": "wrist"}},
    # cheap fixes for the plateau, each the shipped recipe with one change: twice the epochs;
    # stronger person-invariance augmentation (twice the rotation, 2.5x the aspect change)
    "shipped_epochs16": {"train": {"epochs": 16, "eval_every": 16}},
    "shipped_strong_aug": {"data": {"augment": {"flip": 0.5, "rotate_deg": 30.0, "scale": 0.25}}},
}

# Robustness conditions (applied to the raw validation clips before the recipe's own preparation).
MISSING_P = (0.1, 0.25, 0.5, 0.75)   # share of frames in which the hand(s) go missing
SPEEDS = (0.7, 0.85, 1.15, 1.3)      # duration factor: the sign takes 0.7x as long (1.43x as fast)
SCALES = (0.5, 0.75, 1.5, 2.0)       # person size in the image (0.5: twice as far from the camera)


def _merge(a: dict, b: dict) -> dict:
    """a with b's keys merged in, both copied (training/config.py's merge, the one place for it)."""
    from bharnet.training.config import merge

    return merge(a, b)


def person_of(name: str) -> int:
    """The signer of a clip: holistic_signs.pkl names clips pNN_sign_KK."""
    if not (name.startswith("p") and name[1:3].isdigit()):
        raise ValueError(f"clip {name!r}: not a holistic_signs clip name (pNN_sign_KK)")
    return int(name[1:3])


def per_person(names: list, y: np.ndarray, pred: np.ndarray) -> dict:
    """Top-1 per signer, keyed by person id as a string (JSON keys)."""
    who = np.asarray([person_of(n) for n in names])
    return {str(p): round(float((pred[who == p] == y[who == p]).mean()), 4) for p in sorted(set(who.tolist()))}


# ---- conditions ------------------------------------------------------------------------------

def drop_hands(kp: np.ndarray, sc: np.ndarray, layout: str, p: float, which: str, rng) -> tuple:
    """Hands missing (zero coordinates, score 0, as MediaPipe writes them) in a share p of frames:
    which = "one" (one hand, its side drawn per clip) or "both"."""
    from bharnet.layouts import get_layout

    lay = get_layout(layout)
    sides = [lay.part("left_hand"), lay.part("right_hand")]
    if which == "one":
        sides = [sides[int(rng.integers(2))]]
    kp, sc = kp.copy(), sc.copy()
    t = kp.shape[1]
    frames = rng.choice(t, size=int(round(p * t)), replace=False)
    for idx in sides:
        sel = np.ix_(range(kp.shape[0]), frames, list(idx))
        kp[sel] = 0.0
        sc[sel] = 0.0
    return kp, sc


def rescale(kp: np.ndarray, sc: np.ndarray, factor: float) -> tuple:
    """The person `factor` times as large in the image (nearer the camera), about the image centre;
    missing joints stay exactly zero."""
    out = kp.copy()
    present = (kp[..., :2] != 0).any(-1)
    out[..., :2] = np.where(present[..., None], 0.5 + factor * (kp[..., :2] - 0.5), 0.0)
    return out, sc


def conditions(layout: str) -> list[tuple[str, float, object]]:
    """(curve, level, transform(kp, sc, rng) -> (kp, sc)) for every robustness point."""
    from bharnet.training.loader import replay

    out = []
    for p in MISSING_P:
        out.append(("missing_one_hand", p, lambda k, s, r, p=p: drop_hands(k, s, layout, p, "one", r)))
        out.append(("missing_both_hands", p, lambda k, s, r, p=p: drop_hands(k, s, layout, p, "both", r)))
    for v in SPEEDS:
        # replayed at rate 1/v: v times as many frames, the performance v times as long
        out.append(("speed", v, lambda k, s, r, v=v: replay(k, s, 1.0 / v)))
    for f in SCALES:
        out.append(("scale", f, lambda k, s, r, f=f: rescale(k, s, f)))
    return out


# ---- scoring ---------------------------------------------------------------------------------

def score_clips(model, clips: list, layout: str, spec, cfg: dict, transform=None, flip=None,
                seed: int = 0) -> np.ndarray:
    """Logits [N, classes] of the clips (optionally transformed) with the recipe's test views
    (test_clips, sampling mode and, unless `flip` overrides it, test_flip)."""
    from bharnet.data.pipeline import clip_views, collate
    from bharnet.training.evaluate import predict

    tc = cfg["train"]
    flip = bool(tc.get("test_flip", False)) if flip is None else flip
    views = []
    for i, c in enumerate(clips):
        kp, sc = c.keypoint, c.score
        if transform is not None:
            kp, sc = transform(kp, sc, np.random.default_rng([seed, i]))
        views.append(clip_views(kp, sc, layout, spec, int(tc.get("test_clips", 1)),
                                cfg["data"]["sample"], flip))
    return predict(model, collate(views), quiet=True)


def evaluate_run(model, cfg: dict, spec, data, robustness: bool) -> dict:
    """Mirror-image and robustness scores of a trained model on the validation clips."""
    from bharnet.data.pipeline import mirror

    clips = data.split(cfg["train"]["test_split"])
    y = np.asarray([c.label for c in clips])
    flipped = lambda k, s, r: mirror(k, s, data.layout)  # noqa: E731
    out = {}
    for name, flip in (("recipe_views", None), ("one_view", False)):
        z = score_clips(model, clips, data.layout, spec, cfg, flip=flip)
        zm = score_clips(model, clips, data.layout, spec, cfg, flipped, flip=flip)
        if name == "recipe_views":
            people = per_person([c.name for c in clips], y, z.argmax(1))
        out[name] = {"top1": float((z.argmax(1) == y).mean()), "mirrored_top1": float((zm.argmax(1) == y).mean()),
                     "same_label": float((z.argmax(1) == zm.argmax(1)).mean()),
                     "max_logit_diff": float(np.abs(z - zm).max())}
    res = {"mirror": out, "per_person": people}
    if robustness:
        curves: dict = {}
        for curve, level, tf in conditions(data.layout):
            z = score_clips(model, clips, data.layout, spec, cfg, tf)
            curves.setdefault(curve, {})[str(level)] = float((z.argmax(1) == y).mean())
        res["robustness"] = curves
    return res


def run_one(candidate: str, overrides: dict, variant: str, seed: int, data_path, robustness: bool,
            epochs: int | None = None, config: pathlib.Path = CONFIG) -> dict:
    import torch

    from bharnet.training.config import input_spec, load_config
    from bharnet.training.cost import cost_of
    from bharnet.training.loader import read_dataset
    from bharnet.training.train import train

    torch.set_num_threads(1)
    cfg = _merge(load_config(config), overrides)
    cfg["model"]["variant"] = variant
    work = WORK / f"{candidate}_{variant}_s{seed}"
    trained = {}
    t0 = time.perf_counter()
    m = train(cfg, work, data=str(data_path), seed=seed, epochs=epochs, threads=1, quiet=True,
              on_end=lambda model, rank: trained.setdefault("model", model))
    wall = time.perf_counter() - t0
    cfg = load_config(work / "config.yaml") if (work / "config.yaml").is_file() else cfg
    cfg["model"]["variant"] = variant
    data = read_dataset(str(data_path))
    spec = input_spec(cfg)
    extra = evaluate_run(trained["model"], cfg, spec, data, robustness)
    cost = cost_of(cfg, num_classes=len(data.classes))
    return {"candidate": candidate, "variant": variant, "seed": seed, "top1": m["top1"],
            "mean_class_acc": m["mean_class_acc"], "per_class": m["per_class"],
            "confusion": m["confusion"], **extra, "params": cost["params"], "gflops": cost["gflops"],
            "train_s": round(m["timing"]["train_s"], 1), "wall_s": round(wall, 1),
            "epochs": m["epochs"], "overrides": overrides, "config": str(config.relative_to(REPO))}


# ---- the streaming recipe in the SDK --------------------------------------------------------------

def rows_of(clip) -> np.ndarray:
    """A clip as a robot's MediaPipe Holistic feed gives it: [T, 75, 4] (x, y, z, visibility)."""
    return np.concatenate([clip.keypoint[0], clip.score[0][..., None]], -1)


def sdk_stream_top1(bundle, clips: list, mode: str) -> dict:
    """Each clip fed frame by frame at 30 fps to sdk.Recognizer (window or continual mode, a
    recognition every frame once the window is full); the decision is the one at the clip's last
    frame, the track forgotten between clips."""
    from bharnet import sdk

    rec = sdk.Recognizer(str(bundle), backend="onnxruntime", mode=mode, stride=1, min_body_presence=0.0)
    idx = {c: i for i, c in enumerate(rec.classes)}
    pred, t0 = [], time.perf_counter()
    for c in clips:
        rec.reset(0, forget=True)
        out = list(rec.run(list(rows_of(c)), fps=30, flush=False))
        pred.append(idx[out[-1].label] if out else -1)
    pred, y = np.asarray(pred), np.asarray([c.label for c in clips])
    return {"top1": float((pred == y).mean()), "per_person": per_person([c.name for c in clips], y, pred),
            "no_recognition": int((pred < 0).sum()), "s": round(time.perf_counter() - t0, 1)}


def streaming_sdk(data_path, seeds=None) -> int:
    """Export every stored streaming run and score the validation clips in the SDK's window and
    continual modes (stored in the run as `sdk`); returns how many runs were scored."""
    from bharnet.export.builder import export_checkpoint
    from bharnet.training.loader import read_dataset

    clips = read_dataset(str(data_path)).split("test")
    n = 0
    for key, r in load_runs().items():
        if r["candidate"] != "streaming" or "sdk" in r or (seeds and r["seed"] not in seeds):
            continue
        work = WORK / f"streaming_{r['variant']}_s{r['seed']}"
        bundle = work / "model.bharnet"
        if not bundle.is_file():
            export_checkpoint(str(work / "final.pt"), bundle, fp16=False, quiet=True)
        r["sdk"] = {mode: sdk_stream_top1(bundle, clips, mode) for mode in ("window", "continual")}
        save_run(key, r)
        print(f"{key}: eval {r['top1']:.3f}, SDK window {r['sdk']['window']['top1']:.3f}, "
              f"continual {r['sdk']['continual']['top1']:.3f}", flush=True)
        n += 1
    return n


# ---- why the models plateau: people ---------------------------------------------------------------

FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def signing_habits(data) -> dict:
    """Per person and sign, from the raw recordings: the share of frames with each hand seen, each
    finger's extension (tip-to-wrist over knuckle-to-wrist distance, averaged over the hands seen:
    about 1.3 stretched, under 1 folded; `iloveyou` folds the middle and ring fingers) and the wrist's
    height below the nose in shoulder widths (`thanks` starts at the chin, `hello` at the forehead)."""
    from bharnet.layouts import get_layout

    lay = get_layout(data.layout)
    hands = {"left": lay.part("left_hand"), "right": lay.part("right_hand")}
    tips, knuckles = (4, 8, 12, 16, 20), (2, 6, 10, 14, 18)   # MediaPipe hand order
    nose, shoulders = 0, (11, 12)                             # MediaPipe pose order
    clips = [c for split in data.splits.values() for c in split]
    out: dict = {}
    for c in clips:
        kp, sc = c.keypoint[0, ..., :2], c.score[0]
        width = np.linalg.norm(kp[:, shoulders[0]] - kp[:, shoulders[1]], axis=-1).mean()
        row = out.setdefault(str(person_of(c.name)), {}).setdefault(data.classes[c.label], {
            "frames": 0, "seen": {h: 0 for h in hands}, "ext": [], "height": []})
        row["frames"] += kp.shape[0]
        for h, idx in hands.items():
            idx = np.asarray(idx)
            seen = sc[:, idx[0]] > 0
            row["seen"][h] += int(seen.sum())
            if seen.any():
                pts = kp[seen][:, idx]
                wrist = pts[:, :1]
                ext = (np.linalg.norm(pts[:, list(tips)] - wrist, axis=-1)
                       / np.maximum(np.linalg.norm(pts[:, list(knuckles)] - wrist, axis=-1), 1e-6))
                row["ext"].append(ext)
                row["height"].append((pts[:, 0, 1] - kp[seen, nose, 1]) / max(width, 1e-6))
    for signs in out.values():
        for sign, row in signs.items():
            ext = np.concatenate(row.pop("ext")) if row["ext"] else np.zeros((0, 5))
            height = np.concatenate(row.pop("height")) if row["height"] else np.zeros(0)
            signs[sign] = {"hand_seen": {h: round(n / row["frames"], 3) for h, n in row["seen"].items()},
                           "finger_extension": {f: round(float(v), 2) for f, v in zip(FINGERS, ext.mean(0))}
                           if len(ext) else None,
                           "wrist_below_nose": round(float(height.mean()), 2) if len(height) else None}
    return out


def backfill_per_person(runs: dict, data_path) -> int:
    """Per-person top-1 for stored runs that predate it, rescored from their final.pt with the
    recipe's own test views (the same predictions as the run's top-1); returns how many."""
    from bharnet.training.evaluate import checkpoint_scores

    done = 0
    cache: dict = {}
    for key, r in runs.items():
        if "per_person" in r or r.get("candidate", "").startswith("cv"):
            continue
        ckpt = WORK / f"{r['candidate']}_{r['variant']}_s{r['seed']}" / "final.pt"
        if not ckpt.is_file():
            continue
        z, y, _, data = checkpoint_scores(ckpt, str(data_path), data_cache=cache)
        clips = data.split("test")
        if abs(float((z.argmax(1) == y).mean()) - r["top1"]) > 1e-6:
            raise RuntimeError(f"{ckpt}: rescored top-1 {(z.argmax(1) == y).mean():.4f} is not the "
                               f"stored {r['top1']:.4f}")
        r["per_person"] = per_person([c.name for c in clips], y, z.argmax(1))
        save_run(key, r)
        done += 1
    return done


def people(data_path) -> dict:
    """Per-person accuracy of every stored validation run and every person's signing habits."""
    from bharnet.training.loader import read_dataset

    data = read_dataset(str(data_path))
    n = backfill_per_person(load_runs(), data_path)
    runs = load_runs()
    acc: dict = {}
    for r in runs.values():
        if "per_person" in r and not r["candidate"].startswith("cv"):
            row = acc.setdefault(r["candidate"], {}).setdefault(r["variant"], {})
            for p, a in r["per_person"].items():
                row.setdefault(p, []).append(a)
    acc = {c: {v: {p: _ms(a) for p, a in sorted(pp.items(), key=lambda kv: int(kv[0]))} for v, pp in vs.items()}
           for c, vs in acc.items()}
    split_of = {str(person_of(c.name)): s for s, cl in data.splits.items() for c in cl}
    res = {"data": str(pathlib.Path(data_path).name), "split_of_person": split_of,
           "validation_top1_per_person": acc, "habits": signing_habits(data), "rescored_runs": n}
    RESULTS.mkdir(parents=True, exist_ok=True)
    PEOPLE.write_text(json.dumps(res, indent=1) + "\n")
    return res


# ---- person-wise cross-validation over the 16 people -------------------------------------------

def cv_fold_file(data_path, fold: int) -> pathlib.Path:
    """A copy of the data whose `test` split is the people of `fold` (p % CV_FOLDS == fold) and
    whose `train` split is everyone else (under work_dirs: data never goes into the repo)."""
    from bharnet.data import dataset

    out = WORK / f"cv_fold{fold}_of{CV_FOLDS}.npz"
    if out.is_file():
        return out
    ds = dataset.load(data_path)
    test = [c.name for c in ds.clips if person_of(c.name) % CV_FOLDS == fold]
    ds.splits = {"train": [c.name for c in ds.clips if person_of(c.name) % CV_FOLDS != fold], "test": test}
    WORK.mkdir(parents=True, exist_ok=True)
    dataset.save(ds, out)
    return out


def summarise_cv(runs: dict) -> dict:
    """Per variant: the pooled top-1 over all 16 people (each scored by the fold that held it out)
    per seed, and per person; the paired per-person difference of each variant against unified."""
    rows: dict = {}
    for r in runs.values():
        if r["candidate"].startswith("cv"):
            rows.setdefault(r["variant"], {}).setdefault(r["seed"], {})[r["candidate"]] = r
    out = {}
    for v, seeds in rows.items():
        full = {s: f for s, f in seeds.items() if len(f) == CV_FOLDS}
        if not full:
            continue
        pooled, persons = [], {}
        for s, folds in sorted(full.items()):
            pp = {p: a for f in folds.values() for p, a in f["per_person"].items()}
            pooled.append(float(np.mean(list(pp.values()))))   # 90 clips per person: the clip mean
            for p, a in pp.items():
                persons.setdefault(p, []).append(a)
        typical = [float(np.mean([a for p, a in pp.items() if p not in OUTLIERS]))
                   for pp in ({p: a for f in folds.values() for p, a in f["per_person"].items()}
                              for _, folds in sorted(full.items()))]
        out[v] = {"seeds": sorted(full), "pooled_top1": _ms(pooled), "top1_without_outliers": _ms(typical),
                  "per_person": {p: _ms(a) for p, a in sorted(persons.items(), key=lambda kv: int(kv[0]))}}
    if "unified" in out:
        for v, s in out.items():
            if v == "unified":
                continue
            d = [s["per_person"][p]["mean"] - out["unified"]["per_person"][p]["mean"] for p in s["per_person"]]
            s["minus_unified_per_person"] = {"mean": round(float(np.mean(d)), 4),
                                             "wins": int(sum(x > 0 for x in d)), "losses": int(sum(x < 0 for x in d)),
                                             "ties": int(sum(x == 0 for x in d))}
    return out


# ---- storage and report --------------------------------------------------------------------------

def load_runs() -> dict:
    return json.loads(RUNS.read_text()) if RUNS.is_file() else {}


def save_run(key: str, result: dict) -> None:
    runs = load_runs()  # reread: another invocation may have added runs meanwhile
    runs[key] = result
    RESULTS.mkdir(parents=True, exist_ok=True)
    RUNS.write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n")


def _ms(values) -> dict:
    v = np.asarray(values, float)
    return {"mean": round(float(v.mean()), 4), "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
            "n": int(len(v)), "values": [round(float(x), 4) for x in v]}


def summarise(runs: dict, candidate: str) -> dict:
    """Mean and std over seeds of every variant run with `candidate`."""
    rows = {}
    for r in runs.values():
        if r["candidate"] == candidate:
            rows.setdefault(r["variant"], []).append(r)
    out = {}
    for v, rs in rows.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        s = {"seeds": [r["seed"] for r in rs], "top1": _ms([r["top1"] for r in rs]),
             "mean_class_acc": _ms([r["mean_class_acc"] for r in rs]),
             "per_class": {k: _ms([r["per_class"][k] for r in rs]) for k in rs[0]["per_class"]},
             "confusion_sum": np.sum([r["confusion"] for r in rs], 0).tolist(),
             "mirror": {view: {k: _ms([r["mirror"][view][k] for r in rs]) for k in rs[0]["mirror"][view]}
                        for view in rs[0]["mirror"]},
             "params": rs[0]["params"], "gflops": rs[0]["gflops"],
             "train_s": _ms([r["train_s"] for r in rs])}
        scored = [r for r in rs if "sdk" in r]   # streaming-sdk may have scored only some seeds
        if scored:
            s["sdk_top1"] = {m: _ms([r["sdk"][m]["top1"] for r in scored]) for m in scored[0]["sdk"]}
            s["sdk_seeds"] = [r["seed"] for r in scored]
            s["sdk_eval_top1"] = _ms([r["top1"] for r in scored])   # the same runs' own evaluation
        if all("per_person" in r for r in rs):
            s["per_person"] = {p: _ms([r["per_person"][p] for r in rs]) for p in sorted(rs[0]["per_person"], key=int)}
            s["top1_without_outliers"] = _ms([np.mean([a for p, a in r["per_person"].items() if p not in OUTLIERS])
                                              for r in rs])
        if all("robustness" in r for r in rs):
            s["robustness"] = {c: {lvl: _ms([r["robustness"][c][lvl] for r in rs]) for lvl in pts}
                               for c, pts in rs[0]["robustness"].items()}
        out[v] = s
    return out


def report(candidate: str, data_path=DATA) -> dict:
    from bharnet.data import dataset

    runs = load_runs()
    cands = sorted({r["candidate"] for r in runs.values()} - {"streaming"})
    cands = [c for c in cands if not c.startswith("cv")]
    res = {"data": "holistic_signs.pkl (16 people; split `test` = 5 people, a validation split)",
           "classes": list(dataset.load(data_path).classes),   # the confusion matrices' order
           "evaluated_on": "validation: split `test` of holistic_signs.pkl (people 1, 4, 7, 10, 13), "
                           "never seen in training; the recipe was chosen on it",
           "config": str(CONFIG.relative_to(REPO)), "shipped_candidate": candidate,
           "selection": {c: summarise(runs, c).get("vanilla", {}).get("top1") for c in cands},
           "variants": summarise(runs, candidate),
           "conditions": {"missing_p": MISSING_P, "speed": SPEEDS, "scale": SCALES},
           "by_candidate": {c: {v: s["top1"] for v, s in summarise(runs, c).items()} for c in cands},
           "by_candidate_per_person": {c: {v: s["per_person"] for v, s in summarise(runs, c).items()
                                           if "per_person" in s} for c in cands},
           "cv": {"about": f"person-wise {CV_FOLDS}-fold cross-validation over all 16 people (person p "
                           f"tested in fold p % {CV_FOLDS}, trained on the other 12); the shipped recipe",
                  "variants": summarise_cv(runs)},
           "streaming": {"config": str(STREAMING.relative_to(REPO)),
                         "about": "one decision per validation clip, at its last frame (window mode; "
                                  "continual mode gives the same recognitions: tests/test_holistic_signs.py)",
                         "variants": summarise(runs, "streaming")}}
    (RESULTS / "holistic_signs.json").write_text(json.dumps(res, indent=1) + "\n")
    plot(res, RESULTS / "holistic_signs.png")
    return res


def _pm(d: dict | None) -> str:
    return "not run" if not d else f"{d['mean']:.3f} ± {d['std']:.3f} ({d['n']})"


def table_md(res: dict) -> str:
    """The results table as docs/results/holistic_signs.md shows it (tests/test_holistic_signs.py
    checks that the page holds exactly this text)."""
    vs = res["variants"]
    lines = ["| model | top-1, unseen people (seeds) | person 7 | the other four | " + " | ".join(
                 next(iter(vs.values()))["per_class"]) + " | mirrored clips, one view | params |",
             "|---|---|---|---|" + "---|" * len(next(iter(vs.values()))["per_class"]) + "---|---|"]
    for v in VARIANTS:
        if v not in vs:
            continue
        s = vs[v]
        pc = " | ".join(f"{d['mean']:.3f}" for d in s["per_class"].values())
        mir = s["mirror"]["one_view"]
        pp = s.get("per_person", {})
        p7 = f"{pp['7']['mean']:.3f}" if "7" in pp else "-"
        rest = f"{s['top1_without_outliers']['mean']:.3f}" if pp else "-"
        lines.append(f"| {v} | {_pm(s['top1'])} | {p7} | {rest} | {pc} | {mir['mirrored_top1']['mean']:.3f} "
                     f"(plain {mir['top1']['mean']:.3f}) | {s['params']:,} |")
    return "\n".join(lines)


def candidates_md(res: dict) -> str:
    """Vanilla BHaRNet at the shipped recipe and its one-change candidates, on all five validation
    people and apart: person 7 (who signs two of the signs unlike anyone in training) and the rest."""
    names = {res["shipped_candidate"]: "shipped (hands in the body frame)",
             "shipped_wrist": "hands in their wrist frame", "shipped_epochs16": "16 epochs (not 8)",
             "shipped_strong_aug": "stronger augmentation (rotation 30°, aspect 0.25)"}
    lines = ["| vanilla BHaRNet, recipe | top-1, 5 validation people (seeds) | person 7 | the other four |",
             "|---|---|---|---|"]
    for c, label in names.items():
        d = res["by_candidate"].get(c, {}).get("vanilla")
        pp = res["by_candidate_per_person"].get(c, {}).get("vanilla")
        if not d:
            continue
        rest = [x["mean"] for p, x in (pp or {}).items() if p not in OUTLIERS]
        lines.append(f"| {label} | {_pm(d)} | {pp['7']['mean']:.3f} | {np.mean(rest):.3f} |" if pp and "7" in pp
                     else f"| {label} | {_pm(d)} | - | - |")
    return "\n".join(lines)


def cv_md(res: dict) -> str:
    """The cross-validation table (all 16 people, each scored once by a model that never saw them)."""
    cv = res["cv"]["variants"]
    ids = sorted({p for s in cv.values() for p in s["per_person"]}, key=int)
    lines = ["| model | top-1, 16 people (seeds) | without people 2 and 7 | " + " | ".join(f"p{p}" for p in ids)
             + " | per person vs unified |", "|---|---|---|" + "---|" * len(ids) + "---|"]
    for v in VARIANTS:
        if v not in cv:
            continue
        s = cv[v]
        d = s.get("minus_unified_per_person")
        vs = "" if d is None else f"{d['mean']:+.3f} ({d['wins']} better, {d['losses']} worse)"
        lines.append(f"| {v} | {_pm(s['pooled_top1'])} | {_pm(s['top1_without_outliers'])} | " + " | ".join(
            f"{s['per_person'][p]['mean']:.2f}" for p in ids) + f" | {vs} |")
    return "\n".join(lines)


def streaming_md(res: dict) -> str:
    """The streaming recipe's validation top-1 (one decision per clip at its last frame)."""
    vs = res["streaming"]["variants"]
    lines = ["| streaming recipe | top-1, unseen people (seeds) | SDK window mode | SDK continual mode "
             "| mirrored clips | params |", "|---|---|---|---|---|---|"]
    for v in VARIANTS:
        if v in vs:
            s = vs[v]
            sdk = s.get("sdk_top1", {})
            ev = f" (eval of the same runs {s['sdk_eval_top1']['mean']:.3f})" if sdk else ""
            lines.append(f"| {v} | {_pm(s['top1'])} | {_pm(sdk.get('window'))}{ev} | {_pm(sdk.get('continual'))} | "
                         f"{s['mirror']['one_view']['mirrored_top1']['mean']:.3f} | {s['params']:,} |")
    return "\n".join(lines)


def people_md(res: dict) -> str:
    """Per validation person: each model's top-1 (the shipped recipe) and the signing habits."""
    acc = res["validation_top1_per_person"].get("shipped", {})
    names = [v for v in VARIANTS if v in acc]
    val = sorted({p for v in acc.values() for p in v}, key=int)
    lines = ["| person | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for p in val:
        lines.append(f"| p{p} | " + " | ".join(f"{acc[v][p]['mean']:.2f}" for v in names) + " |")
    return "\n".join(lines)


def habits_md(res: dict, people_ids=None) -> str:
    """Signing habits: hand presence, the middle finger's extension and the wrist height per sign."""
    hb = res["habits"]
    ids = people_ids or sorted(hb, key=int)
    signs = list(next(iter(hb.values())))
    lines = ["| person (split) | " + " | ".join(f"{g}: hands per frame, middle finger, wrist below nose"
                                                 for g in signs) + " |", "|---|" + "---|" * len(signs)]
    for p in ids:
        cells = []
        for g in signs:
            h = hb[p][g]
            both = sum(h["hand_seen"].values())
            mid = h["finger_extension"]["middle"] if h["finger_extension"] else float("nan")
            cells.append(f"{both:.2f}, {mid:.1f}, {h['wrist_below_nose']:+.1f}")
        lines.append(f"| p{p} ({res['split_of_person'][p]}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(res: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vs = res["variants"]
    names = [v for v in VARIANTS if v in vs]
    fig, ax = plt.subplots(3, 3, figsize=(16, 13))
    a = ax[0, 0]
    a.bar(names, [vs[v]["top1"]["mean"] for v in names], yerr=[vs[v]["top1"]["std"] for v in names], capsize=3)
    a.set_ylim(0, 1)
    a.set_title("top-1 on unseen people (validation), mean ± std over seeds")
    a.tick_params(axis="x", rotation=45)
    a = ax[0, 1]
    classes = list(vs[names[0]]["per_class"])
    w = 0.8 / len(names)
    for i, v in enumerate(names):
        a.bar(np.arange(len(classes)) + i * w, [vs[v]["per_class"][c]["mean"] for c in classes], w, label=v)
    a.set_xticks(np.arange(len(classes)) + 0.4 - w / 2, classes)
    a.set_ylim(0, 1)
    a.set_title("per-class accuracy")
    a.legend(fontsize=7)
    a = ax[0, 2]
    best = "vanilla" if "vanilla" in vs else names[0]
    classes = res["classes"]   # per_class is keyed by name; the confusion is in class-index order
    cm = np.asarray(vs[best]["confusion_sum"], float)
    cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    a.imshow(cm, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            a.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center")
    a.set_xticks(range(len(classes)), classes)
    a.set_yticks(range(len(classes)), classes)
    a.set_xlabel("predicted")
    a.set_title(f"confusion of {best} (rows: true), all seeds")
    for a, (curve, clean_level, label) in zip(
            (ax[1, 0], ax[1, 1], ax[1, 2]),
            ((("missing_one_hand", "missing_both_hands"), 0.0, "share of frames with hand(s) missing"),
             (("speed",), 1.0, "duration of the performance (x; 0.7 = faster)"), (("scale",), 1.0, "person size in the image (x)"))):
        streaming = res.get("streaming", {}).get("variants", {})
        for v, sv in [(v, vs[v]) for v in names] + [(f"streaming {v}", sv) for v, sv in streaming.items()]:
            rb = sv.get("robustness")
            if not rb:
                continue
            for c in curve:
                pts = sorted([(float(k), d["mean"]) for k, d in rb[c].items()] + [(clean_level, sv["top1"]["mean"])])
                a.plot(*zip(*pts), marker="o", ls="-" if c != "missing_both_hands" else "--",
                       label=v + (" (both)" if c == "missing_both_hands" else ""))
        a.set_xlabel(label)
        a.set_ylim(0, 1)
        a.set_ylabel("top-1")
        a.legend(fontsize=6)
    a = ax[2, 0]   # per validation person: where the plateau comes from
    val = [v for v in names if "per_person" in vs[v]]
    if val:
        ids = list(vs[val[0]]["per_person"])
        w = 0.8 / len(val)
        for i, v in enumerate(val):
            a.bar(np.arange(len(ids)) + i * w, [vs[v]["per_person"][p]["mean"] for p in ids], w, label=v)
        a.set_xticks(np.arange(len(ids)) + 0.4 - w / 2, [f"p{p}" for p in ids])
        a.set_ylim(0, 1)
        a.set_title("top-1 per validation person")
        a.legend(fontsize=6)
    a = ax[2, 1]   # cross-validation over the 16 people
    cv = res.get("cv", {}).get("variants", {})
    if cv:
        ids = sorted({p for s in cv.values() for p in s["per_person"]}, key=int)
        cvn = [v for v in VARIANTS if v in cv]
        w = 0.8 / len(cvn)
        for i, v in enumerate(cvn):
            a.bar(np.arange(len(ids)) + i * w, [cv[v]["per_person"][p]["mean"] for p in ids], w,
                  label=f"{v} ({cv[v]['pooled_top1']['mean']:.3f})")
        a.set_xticks(np.arange(len(ids)) + 0.4 - w / 2, [f"p{p}" for p in ids])
        a.set_ylim(0, 1)
        a.set_title(f"person-wise {CV_FOLDS}-fold CV: top-1 per person (pooled)")
        a.legend(fontsize=6)
    a = ax[2, 2]
    st = res.get("streaming", {}).get("variants", {})
    if st:
        sn = [v for v in VARIANTS if v in st]
        a.bar(sn, [st[v]["top1"]["mean"] for v in sn], yerr=[st[v]["top1"]["std"] for v in sn], capsize=3)
        a.set_ylim(0, 1)
        a.set_title("streaming recipe: top-1 at each clip's last frame")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("select", "table", "cv", "streaming", "streaming-sdk", "people", "report"))
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--variants", nargs="+", default=None)
    p.add_argument("--candidates", nargs="+", default=None)
    p.add_argument("--candidate", default=None, help="the shipped recipe's candidate name (table/report)")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--no-robustness", action="store_true")
    p.add_argument("--force", action="store_true", help="redo runs already stored")
    a = p.parse_args(argv)
    if not pathlib.Path(a.data).is_file():
        print(f"error: dataset file not found: {a.data}", file=sys.stderr)
        return 2
    shipped = a.candidate or "shipped"
    if a.what == "report":
        res = report(shipped, a.data)
        print(table_md(res) + "\n\n" + candidates_md(res) + "\n\n" + cv_md(res) + "\n\n" + streaming_md(res))
        return 0
    if a.what == "streaming-sdk":
        streaming_sdk(a.data, a.seeds)
        return 0
    if a.what == "people":
        res = people(a.data)
        print(people_md(res))
        return 0
    seeds = a.seeds or ([0] if a.what in ("select", "cv") else [0, 1, 2])
    if a.what == "select":
        jobs = [(c, CANDIDATES[c], v, a.data) for c in (a.candidates or CANDIDATES) for v in (a.variants or ["vanilla"])]
        robust, config = False, CONFIG
    elif a.what == "cv":
        jobs = [(f"cv{k}", {}, v, cv_fold_file(a.data, k)) for v in (a.variants or CV_VARIANTS)
                for k in range(CV_FOLDS)]
        robust, config = False, CONFIG
    elif a.what == "streaming":
        jobs = [("streaming", {}, v, a.data) for v in (a.variants or ["vanilla"])]
        robust, config = not a.no_robustness, STREAMING
    else:  # the shipped recipe: holistic_signs.yaml as it is
        jobs = [(shipped, {}, v, a.data) for v in (a.variants or VARIANTS)]
        robust, config = not a.no_robustness, CONFIG
    runs = load_runs()
    for seed in seeds:  # seed-major: every variant has a number early
        for cand, over, v, path in jobs:
            key = f"{cand}/{v}/s{seed}"
            if key in runs and not a.force:
                continue
            r = run_one(cand, over, v, seed, path, robust and v in ROBUST_VARIANTS, a.epochs, config)
            save_run(key, r)
            mi = r["mirror"]["recipe_views"]
            print(f"{key:<32} top1 {r['top1']:.3f}  mirrored {mi['mirrored_top1']:.3f}  "
                  f"({r['train_s']:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
