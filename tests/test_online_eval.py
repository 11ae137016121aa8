"""Ground truth files, scoring, and `bharnet detect` / `bharnet eval-online` end to end."""
import json
import subprocess
import sys

import numpy as np
import pytest

from bharnet import sdk
from bharnet.cli import main
from bharnet.online.annotations import (Action, AnnotationError, load_annotations, read_csv,
                                        read_json, write_csv, write_json)
from bharnet.online.detect import detect_sequence
from bharnet.online.scoring import score


# ---- annotation files --------------------------------------------------------------------------
def test_csv_shrec22_lines(tmp_path):
    f = tmp_path / "gt.csv"
    f.write_text("1,2,ONE,10,40,TWO,60,90\n\n2,0\n3,1,PINCH,5,7,,\n")
    gt = read_csv(f)
    assert gt == {"1": [Action("ONE", 10, 40), Action("TWO", 60, 90)], "2": [],
                  "3": [Action("PINCH", 5, 7)]}
    f.write_text("1;1;ONE;10;40\n")
    assert read_csv(f) == {"1": [Action("ONE", 10, 40)]}
    assert read_csv(f, frame_base=1) == {"1": [Action("ONE", 9, 39)]}


@pytest.mark.parametrize("text, words", [
    ("1,2,ONE,10,40\n", ":1: sequence '1' says 2 actions"),
    ("1,1,ONE,10,40\n2,x,ONE,1,2\n", ":2: the second field must be the number of actions"),
    ("1,1,ONE,10,4a\n", ":1: end of 'ONE' must be a frame number"),
    ("1,1,ONE,40,10\n", ":1: action 'ONE' ends (frame 10) before it starts (frame 40)"),
    ("1,1,ONE,1,2\n1,1,ONE,3,4\n", ":2: sequence '1' appears twice"),
    ("1,1,,1,2\n", ":1: an action has an empty label"),
    ("1,1,ONE,-1,2\n", ":1: start of 'ONE' must be a whole frame number >= 0"),
    ("7\n", ":1: expected seq,n,label,start,end"),
])
def test_csv_errors_name_the_line(tmp_path, text, words):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(AnnotationError) as e:
        read_csv(f)
    msg = str(e.value)
    assert str(f) in msg and words in msg and "\n" not in msg


def test_json_round_trip_and_errors(tmp_path):
    gt = {"a": [Action("x", 1, 5), Action("y", 9, 12)], "b": []}
    write_json(gt, tmp_path / "gt.json", fps=25)
    assert read_json(tmp_path / "gt.json") == (gt, 25.0)
    write_csv(gt, tmp_path / "gt.csv")
    assert read_csv(tmp_path / "gt.csv") == gt
    (tmp_path / "bad.json").write_text('{"sequences": {"a": [{"label": "x", "start": 3}]}}')
    with pytest.raises(AnnotationError, match="sequence 'a', action 0"):
        read_json(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text('{"sequences":\n {"a": [}')
    with pytest.raises(AnnotationError, match=r"broken.json:2: not valid JSON"):
        read_json(tmp_path / "broken.json")
    with pytest.raises(AnnotationError, match="unknown annotation format"):
        (tmp_path / "gt.yaml").write_text("x")
        load_annotations(tmp_path / "gt.yaml")


# ---- scoring -----------------------------------------------------------------------------------
def ev(seq, eid, kind, label, start_ms, emitted_ms, end_ms=None):
    return {"sequence": seq, "track_id": seq, "event_id": eid, "kind": kind, "label": label,
            "start_ms": start_ms, "emitted_ms": emitted_ms, "end_ms": end_ms}


def test_scoring_by_hand():
    # 10 fps: frame f is at f * 100 ms
    gt = {"s": [Action("a", 10, 30), Action("b", 50, 70), Action("a", 90, 95)]}
    events = [
        ev("s", 0, "start", "a", 1200, 1500), ev("s", 0, "end", "a", 1200, 3400, 3200),
        ev("s", 1, "start", "a", 2000, 2100),                   # a repeat inside the first action
        ev("s", 2, "start", "a", 5500, 5600),                   # wrong label inside "b"
        ev("s", 3, "start", "b", 6000, 6200),                   # "b" found after a wrong one
        ev("s", 4, "start", "a", 7900, 8000),                   # 1.1 s before "a": too early
        ev("s", 5, "start", "b", 10500, 10600),                 # nothing there: background
    ]
    m, scored = score(gt, events, fps=10, duration_ms={"s": 12_000}, margin_ms=1000)
    assert (m["actions"], m["detected"]) == (3, 2)
    assert m["detection_rate"] == pytest.approx(2 / 3)
    assert m["false_positives"] == 4
    assert m["false_positive_kinds"] == {"background": 2, "wrong_label": 1, "duplicate": 1}
    assert m["fp_per_minute"] == pytest.approx(4 / 0.2) and m["fp_per_action"] == pytest.approx(4 / 3)
    # latency: a emitted 1500 (start 1000, end 3000), b emitted 6200 (start 5000, end 7000)
    assert m["latency_from_start_ms"] == {"mean": 850.0, "median": 850.0, "n": 2}
    assert m["latency_from_end_ms"]["mean"] == pytest.approx((-1500 - 800) / 2)
    assert m["closing_latency_ms"] == {"mean": 400.0, "median": 400.0, "n": 1}
    assert m["confusion"]["a"] == {"a": 1, "(missed)": 1}
    assert m["confusion"]["b"] == {"b": 1}
    assert m["confusion"]["(background)"] == {"a": 1, "b": 1}
    # a margin of 1.2 s lets the early "a" count
    assert score(gt, events, fps=10, margin_ms=1200)[0]["detected"] == 3


# ---- the CLI, against the SDK ------------------------------------------------------------------
@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    d = tmp_path_factory.mktemp("streams")
    from bharnet.data import synth

    classes = [c for c in synth.DEFAULT_CLASSES]
    for seed in (21, 22):
        assert main(["data", "synth", "--stream", "4", "--seed", str(seed), "--out",
                     str(d / f"s{seed}.npz"), "--classes", *classes]) == 0
    return d


def test_detect_and_eval_online(streams, tmp_path, capsys):
    out, recs = tmp_path / "events.jsonl", tmp_path / "recs.jsonl"
    assert main(["detect", str(streams), "--out", str(out), "--recognitions", str(recs),
                 "--min-ms", "150"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["sequence"] for x in lines if x["kind"] == "sequence"] == ["s21", "s22"]

    # the CLI's events are the SDK's, frame for frame
    rule = sdk.EventRule(min_ms=150)
    rec = sdk.Recognizer(events=rule, max_gap_ms=None)
    kp = np.load(streams / "s21.npz")["keypoints"]
    mine, _ = detect_sequence(rec, kp, 30.0, "s21")
    cli = [x for x in lines if x["sequence"] == "s21" and x["kind"] != "sequence"]
    assert [{"sequence": "s21", **e.to_dict()} for e in mine] == cli

    metrics = tmp_path / "m.json"
    png = tmp_path / "t.png"
    assert main(["eval-online", str(out), "--gt", str(streams), "--json", str(metrics),
                 "--plot", str(png), "--recognitions", str(recs)]) == 0
    m = json.loads(metrics.read_text())
    assert m["actions"] == 8 and m["sequences"] == 2
    # the embedded model finds these actions; a model or a matcher that was broken would not
    assert m["detection_rate"] >= 0.75
    assert m["minutes"] == pytest.approx(sum(x["duration_ms"] for x in lines
                                             if x["kind"] == "sequence") / 60_000)
    assert png.stat().st_size > 10_000
    text = capsys.readouterr().out
    assert "detection rate" in text and "latency from end" in text

    # the same events scored against the wrong labels detect nothing
    gt, _ = load_annotations(streams)
    shuffled = {k: [Action("kick_leg" if a.label != "kick_leg" else "clap_hands", a.start, a.end)
                    for a in v] for k, v in gt.items()}
    write_json(shuffled, tmp_path / "wrong.json", fps=30)
    assert main(["eval-online", str(out), "--gt", str(tmp_path / "wrong.json"),
                 "--json", str(metrics)]) == 0
    assert json.loads(metrics.read_text())["detected"] <= 1


def test_cli_errors_are_one_line(tmp_path, streams):
    out = tmp_path / "events.jsonl"
    out.write_text(json.dumps({"kind": "sequence", "sequence": "s21", "frames": 10, "fps": 30,
                               "duration_ms": 333}) + "\n")
    bad = tmp_path / "gt.csv"
    bad.write_text("s21,1,wave_hand,10,20\ns22,2,wave_hand,1,2\n")
    r = subprocess.run([sys.executable, "-m", "bharnet.cli", "eval-online", str(out), "--gt", str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and f"{bad}:2:" in r.stderr
    r = subprocess.run([sys.executable, "-m", "bharnet.cli", "detect", str(tmp_path / "none.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not found" in r.stderr


# ---- training data: streams cut into clips with a background class ---------------------------
def test_regions_label_decision_frames():
    from bharnet.online.windows import regions

    acts = [Action("a", 10, 19), Action("b", 30, 39)]
    # a: decisions from 10 + ceil(0.3 * 10) = 13 to 19; nothing in 20..22 (guard 3) nor 10..12
    assert regions(acts, 45, onset=0.3, guard=3) == [
        (0, 9, "background"), (13, 19, "a"), (23, 29, "background"), (33, 39, "b"),
        (43, 44, "background")]
    assert regions([Action("a", 0, 9)], 10, onset=0.0, guard=0) == [(0, 9, "a")]
    with pytest.raises(ValueError, match="after the stream's last frame"):
        regions([Action("a", 50, 60)], 45)


def test_stream_windows_and_synth_streams(tmp_path):
    from bharnet.data.dataset import load
    from bharnet.online.synthetic import DISTRACTORS, stream

    kp, acts = stream(5, actions=6)
    assert acts and not {a.label for a in acts} & set(DISTRACTORS)
    assert main(["synth-streams", "--out", str(tmp_path / "s"), "--seeds", "1", "3", "--actions", "4"]) == 0
    gt = read_csv(tmp_path / "s/annotations.csv")
    assert sorted(gt) == ["seed1", "seed2", "seed3"]
    assert main(["stream-windows", str(tmp_path / "s"), "--gt", str(tmp_path / "s/annotations.csv"),
                 "--val-every", "3", "--window", "31", "--out", str(tmp_path / "w.npz")]) == 0
    ds = load(tmp_path / "w.npz")
    assert ds.classes[-1] == "background"
    assert set(ds.splits) == {"train", "val"} and all(n.startswith("seed3_") for n in ds.splits["val"])
    from bharnet.online.windows import regions

    # every clip ends at its region's last decision frame and starts window - 1 frames before its
    # first one (or at the stream's start)
    n_regions = sum(len(regions(gt[s], len(np.load(tmp_path / f"s/{s}.npz")["keypoints"]))) for s in gt)
    assert len(ds) == n_regions
    for c in ds.clips:
        seq, first = c.name.split("_")[:2]
        last = int(first) + c.num_frames - 1 - min(int(first), 30)
        lbl = ds.classes[c.label]
        assert (int(first), last, lbl) in regions(gt[seq], len(np.load(tmp_path / f"s/{seq}.npz")["keypoints"]))


def test_background_keep_thins_training_background_only():
    from bharnet.online.windows import build

    rng = np.random.default_rng(0)
    acts = [Action("a", 20 + 30 * k, 35 + 30 * k) for k in range(10)]
    seqs = [(f"s{i}", rng.normal(size=(340, 17, 2)).astype(np.float32), acts) for i in range(4)]

    def counts(ds, split):
        labels = [ds.clips[i].label for i in ds.split_indices(split)]
        return labels.count(len(ds.classes) - 1), len(labels) - labels.count(len(ds.classes) - 1)

    full = build(seqs, 9, val={"s3"}, layout="coco17")
    half = build(seqs, 9, val={"s3"}, layout="coco17", background_keep=0.5)
    (bg, act), (bg2, act2) = counts(full, "train"), counts(half, "train")
    assert act2 == act == 30 and bg == 33 and 8 <= bg2 <= 25      # only background clips go
    assert counts(half, "val") == counts(full, "val")              # validation untouched
    again = build(seqs, 9, val={"s3"}, layout="coco17", background_keep=0.5)
    assert [c.name for c in again.clips] == [c.name for c in half.clips]   # seeded
    with pytest.raises(ValueError, match="background_keep"):
        build(seqs, 9, background_keep=0.0, layout="coco17")


# ---- real-hand streams joined from SHREC'17 sequences ------------------------------------------
def _fake_shrec17(root, people=(1, 2, 8), per_person=4):
    """A SHREC'17-shaped folder: people 1 and 2 train, 8 a validation person, 1 test person (5)."""
    rng = np.random.default_rng(0)
    lines = {"train_gestures.txt": [], "test_gestures.txt": []}
    for s in (*people, 5):
        for k in range(per_person):
            g, f, e = 1 + (k * 3 + s) % 14, 1 + k % 2, 1 + k
            n = int(rng.integers(9, 30))
            seq = (rng.normal(0, 0.05, (n, 22, 3)) + np.array([s, k, 0.5])).astype(np.float32)
            d = root / f"gesture_{g}" / f"finger_{f}" / f"subject_{s}" / f"essai_{e}"
            d.mkdir(parents=True)
            np.savetxt(d / "skeletons_world.txt", seq.reshape(n, -1), fmt="%.6f")
            lines["test_gestures.txt" if s == 5 else "train_gestures.txt"].append(
                f"{g} {f} {s} {e} {g} {(g - 1) * 2 + f} {n}")
    for name, ls in lines.items():
        (root / name).write_text("\n".join(ls) + "\n")


def test_shrec17_streams_hold_each_sequence_once_with_its_frames(tmp_path):
    from bharnet.data import shrec17
    from bharnet.online.shrec17_streams import build_streams

    root = tmp_path / "shrec17"
    _fake_shrec17(root)
    streams = build_streams(root, "train", per_stream=3, idle=(5, 9))
    assert {i["subject"] for *_, i in streams} == {1, 2}          # val person 8 and test 5 left out
    assert [i["subject"] for *_, i in build_streams(root, "val")] == [8]
    assert [i["subject"] for *_, i in build_streams(root, "test")] == [5]
    used = [c for *_, i in streams for c in i["sequences"]]
    assert len(used) == len(set(used)) == 8
    for sid, kp, acts, info in streams:
        assert kp.shape[1:] == (22, 3) and kp.dtype == np.float32 and len(acts) == len(info["sequences"])
        assert acts[0].start >= 5 and kp.shape[0] - 1 - acts[-1].end >= 5   # idle before and after
        for a, clip in zip(acts, info["sequences"]):
            g, f, s, e = (int(x[1:]) for x in clip.split("_"))
            real = shrec17.read_sequence(root / f"gesture_{g}" / f"finger_{f}" / f"subject_{s}"
                                         / f"essai_{e}" / "skeletons_world.txt")
            np.testing.assert_array_equal(kp[a.start:a.end + 1], real)   # the real frames, untouched
            assert a.label == shrec17.GESTURES[g - 1]
        # the joins: no jump between consecutive frames beyond the people's own motion + jitter
        step = np.abs(np.diff(kp, axis=0)).max()
        assert step < 0.6, (sid, step)
        gaps = [b.start - a.end - 1 for a, b in zip(acts, acts[1:])]
        assert all(g >= 5 + 2 * 8 for g in gaps), gaps                  # move, rest, move
    # seeded: the same streams again, another seed another order
    again = build_streams(root, "train", per_stream=3, idle=(5, 9))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(streams, again))
    other = build_streams(root, "train", per_stream=3, idle=(5, 9), seed=1)
    assert [i["sequences"] for *_, i in other] != [i["sequences"] for *_, i in streams]


def test_shrec17_streams_cli_feeds_stream_windows(tmp_path, capsys):
    root = tmp_path / "shrec17"
    _fake_shrec17(root)
    out = tmp_path / "streams"
    assert main(["shrec17-streams", "--root", str(root), "--split", "train", "--out", str(out),
                 "--per-stream", "4", "--idle", "5", "9"]) == 0
    gt = read_csv(out / "annotations.csv")
    assert sorted(gt) == ["s01_00", "s02_00"] and all(len(a) == 4 for a in gt.values())
    info = json.loads((out / "streams.json").read_text())
    assert info["split"] == "train" and set(info["streams"]) == set(gt)
    ds_path = tmp_path / "w.npz"
    assert main(["stream-windows", str(out), "--gt", str(out / "annotations.csv"), "--window", "9",
                 "--val-every", "2", "--out", str(ds_path)]) == 0
    from bharnet.data.dataset import load

    ds = load(ds_path)
    assert ds.layout == "shrec22" and ds.fps == 30.0 and ds.classes[-1] == "background"
    assert {ds.classes[c.label] for c in ds.clips} >= {"background"} and len(ds.splits["val"]) > 0
    with pytest.raises(SystemExit):
        main(["shrec17-streams", "--root", str(root), "--split", "nope", "--out", str(out)])
    capsys.readouterr()
    assert main(["shrec17-streams", "--root", str(tmp_path), "--split", "test", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "test_gestures.txt: file not found" in err[0]


def test_shrec17_streams_on_the_real_validation_people(shared_dir):
    """The real construction: the four held-out training people, each of their 410 sequences once,
    annotated with its listed length and label, and between the gestures what is not one."""
    from bharnet.data import shrec17
    from bharnet.online.shrec17_streams import build_streams, split_rows

    root = shared_dir / "data/shrec17"
    streams = build_streams(root, "val")
    rows = {shrec17.clip_name(*r[:4]): r for r in split_rows(root, "val")}
    assert {i["subject"] for *_, i in streams} == set(shrec17.VAL_SUBJECTS)
    used = [c for *_, i in streams for c in i["sequences"]]
    assert sorted(used) == sorted(rows) and len(used) == 410
    for _, kp, acts, info in streams:
        assert info["jitter_m"] < 0.01 and info["synthetic_frames"] == len(kp) - sum(
            a.end - a.start + 1 for a in acts)
        for a, clip in zip(acts, info["sequences"]):
            assert a.end - a.start + 1 == rows[clip][6] and a.label == shrec17.GESTURES[rows[clip][0] - 1]


def test_shipped_real_hand_recipe_is_the_one_chosen_on_validation():
    """training/configs/online_shrec17.yaml is the candidate that bench/online.py --select ranked
    first on the validation people's streams (bench/results/online_shrec17.json, `selection`)."""
    import pathlib

    from bharnet.training.config import load_config

    repo = pathlib.Path(__file__).resolve().parents[1]
    sel = json.loads((repo / "bench/results/online_shrec17.json").read_text())["selection"]
    cands = sel["candidates"]
    objective = {n: c["validation"]["objective"] for n, c in cands.items()}
    assert len(cands) >= 2 and objective[sel["chosen"]] == max(objective.values())
    chosen = cands[sel["chosen"]]["recipe"]
    cfg = load_config(repo / "training/configs/online_shrec17.yaml")
    for sec, keys in chosen.items():
        for k, v in keys.items():
            if k == "init":          # a warm start's checkpoint: its own run folder, named by path
                assert (cfg[sec][k] is None) == (v is None), (sec, k)
            elif k != "path":        # the windows file is named by the command, not the recipe
                assert cfg[sec][k] == v, (sec, k)


def _bench_online():
    """bench/online.py as a module (it is a script, not a package member)."""
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location(
        "bench_online", pathlib.Path(__file__).resolve().parents[1] / "bench/online.py")
    online = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(online)
    return online


def test_a_replaced_recipes_test_runs_are_kept():
    """bench/online.py: when --select picks a new recipe, the runs measured for the old one move to
    `previous` (with the grid they were tuned on) and the block they displace to `earlier`."""
    online = _bench_online()
    runs = lambda tag: {"grid": {"min_ms": [tag]}, "runs": [{"bundle": f"/nowhere/{tag}.bharnet"}],
                        "summary": {"tag": tag}}
    # the bundle's run folder is gone (another machine): the recipe comes from the selection
    out = {"streams": "s", "selection": {"candidates": {"a": {"recipe": {"train": {"epochs": 6}}}}},
           **runs("a")}
    online._retire_runs(out, "a")
    assert "runs" not in out and "grid" not in out and out["streams"] == "s"
    assert out["previous"]["recipe"] == {"train": {"epochs": 6}}
    assert out["previous"]["name"] == "a" and out["previous"]["summary"] == {"tag": "a"}
    assert out["previous"]["grid"] == {"min_ms": ["a"]}
    out.update(runs("b"))
    online._retire_runs(out, "b")
    assert out["previous"]["name"] == "b" and [e["name"] for e in out["earlier"]] == ["a"]


def test_the_rule_choice_ranks_latency_as_measured():
    """bench/online.py best_rule: ties on detected minus false positives go to the lower median
    latency from the end, 0 ms and early (negative) latencies included; a rule past the latency
    limit, or with no latency at all (nothing detected), is never preferred to one within it."""
    online = _bench_online()
    row = lambda name, obj, lat: {"name": name, "objective": obj, "median_latency_from_end_ms": lat}
    rows = [row("late", 10, 250.0), row("zero", 10, 0.0), row("none", 10, None), row("early", 9, -500.0)]
    assert online.best_rule(rows)["name"] == "zero"
    assert online.best_rule(rows + [row("earlier", 10, -100.0)])["name"] == "earlier"
    assert online.best_rule([row("over", 12, 400.0), row("within", 10, 250.0)], 300)["name"] == "within"
    assert online.best_rule([row("over", 12, 400.0), row("within", 10, 250.0)])["name"] == "over"
    assert online.best_rule([row("none", 12, None), row("within", 10, 250.0)], 300)["name"] == "within"
    with pytest.raises(SystemExit, match="within 300"):
        online.best_rule([row("over", 12, 400.0)], 300)
