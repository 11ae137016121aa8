"""bench/streaming.py: the results' structure, rows and target ratios (computed from the rows), on
the committed bench/results/streaming.json and on a `--quick` run (slow: with an empty bundle cache
it exports four bundles, several minutes on this machine)."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "streaming.py"
COMMITTED = ROOT / "bench" / "results" / "streaming.json"
ROWS = {"today_window_s1", "today_window_s8", "stream_window_s1", "stream_window_s4",
        "ort_step_native", "ort_step_atrous", "native_step_native", "native_step_atrous"}
SDK = {f"{k}_{b}" for k in ("today_window_s8", "stream_window_s4", "continual_native_s4",
                            "continual_atrous_s1") for b in ("ort", "native")}
TIMED = ("cpu_us_per_frame", "wall_us_per_frame", "cpu_us_per_frame_min")


@pytest.fixture(scope="module")
def bench():
    """The script as a module (its import sets thread variables for itself: put them back)."""
    saved = dict(os.environ)
    spec = importlib.util.spec_from_file_location("bench_streaming", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    os.environ.clear()
    os.environ.update(saved)
    return mod


def _row(res, width, key):
    w = res["widths"][width]
    found = [r for r in w["rows"] + w["sdk"] if r["key"] == key]
    assert len(found) == 1, (width, key)
    return found[0]


def check_results(res: dict, widths: set) -> None:
    assert set(res["widths"]) == widths
    for width, w in res["widths"].items():
        rows = {r["key"]: r for r in w["rows"]}
        assert set(rows) == ROWS, width
        for r in w["rows"]:
            for k in (*TIMED, "mflop_per_frame", "mflop_per_prediction", "predictions_per_s",
                      "state_bytes", "first_prediction_frames", "first_prediction_s"):
                assert r[k] > 0, (width, r["key"], k)
            assert math.isclose(r["mflop_per_prediction"], r["mflop_per_frame"] * r["frames_per_prediction"])
            assert math.isclose(r["predictions_per_s"], res["settings"]["fps"] / r["frames_per_prediction"])
        # a window row's stride divides one measured window run
        for model, s in (("today", 8), ("stream", rows["stream_window_s4"]["frames_per_prediction"])):
            assert math.isclose(rows[f"{model}_window_s{s}"]["cpu_us_per_frame"] * s,
                                rows[f"{model}_window_s1"]["cpu_us_per_frame"])
        # continual computes each frame once: far fewer FLOPs per frame than recomputing windows
        for k in ("native_step_native", "native_step_atrous"):
            assert rows[k]["mflop_per_frame"] < rows["stream_window_s1"]["mflop_per_frame"] / 4
            ort = rows[k.replace("native_step", "ort_step")]
            assert ort["mflop_per_frame"] == rows[k]["mflop_per_frame"]
        # the FLOP counter agrees with training/cost.py on today's model
        assert 0.95 < w["flops_check"]["ratio"] < 1.05, w["flops_check"]
        sdk = {r["key"]: r for r in w["sdk"]}
        assert set(sdk) == SDK, width
        for r in w["sdk"]:
            for k in (*TIMED, "predictions_per_s", "first_prediction_frames", "buffered_bytes_per_track"):
                assert r[k] > 0, (width, r["key"], k)
        for backend, p in w["parity"]["sdk"].items():
            for sched, c in p.items():
                assert c["points"] > 0 and c["labels_equal"], (width, backend, sched)
        assert set(w["parity"]["export_checks"]) == {"native", "atrous"}
    ids = [t["id"] for t in res["targets"]]
    assert ids == ["default_continual_vs_window_s1", "default_continual_vs_today_s8",
                   "demo_native_vs_ort_step", "logits_parity"]
    for t in res["targets"]:
        if "parts" in t:
            ratios = []
            for p in t["parts"]:
                num, den = _row(res, p["width"], p["numerator"]), _row(res, p["width"], p["denominator"])
                assert math.isclose(p["ratio"], num["cpu_us_per_frame"] / den["cpu_us_per_frame"])
                ok = p["ratio"] >= t["threshold"]
                if "rate_min" in t:
                    assert math.isclose(p["prediction_rate_ratio"],
                                        den["predictions_per_s"] / num["predictions_per_s"])
                    ok = ok and p["prediction_rate_ratio"] >= t["rate_min"]
                ratios.append((p["ratio"], ok))
            assert t["ratio"] == min(r for r, _ in ratios)
            assert t["pass"] == all(ok for _, ok in ratios)
        else:
            assert t["value"] == max(s["max_abs"] for s in t["sources"])
            assert t["pass"] == (t["value"] <= t["threshold"])
    for r in res["accuracy"]["rows"]:
        for k in ("windowed", "streaming"):
            assert r[k] is None or 0.0 <= r[k] <= 1.0


def test_committed_results_are_consistent():
    check_results(json.loads(COMMITTED.read_text()), {"demo", "default"})
    assert (COMMITTED.with_suffix(".png")).stat().st_size > 10_000


def test_targets_need_their_widths(bench):
    res = json.loads(COMMITTED.read_text())
    del res["widths"]["default"]
    t = {x["id"]: x for x in bench.targets(res)}
    assert t["default_continual_vs_window_s1"]["ratio"] is None
    assert t["default_continual_vs_window_s1"]["pass"] is None
    assert t["demo_native_vs_ort_step"]["ratio"] > 0
    # a slower native runtime fails its target
    for r in res["widths"]["demo"]["rows"]:
        if r["key"].startswith("native_step"):
            r["cpu_us_per_frame"] = 1e9
    assert {x["id"]: x for x in bench.targets(res)}["demo_native_vs_ort_step"]["pass"] is False


def test_accuracy_is_read_never_invented(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    acc = bench.accuracy()
    assert all(r["windowed"] is None and r["streaming"] is None for r in acc["rows"])
    assert acc["gate_pass"] is None
    (tmp_path / "streaming_accuracy.json").write_text(json.dumps(
        {"jhmdb": {"streaming": {"top1": [0.81, 0.01]}, "windowed_reference": {"top1": [0.822, 0.005]}},
         "verdict": {"pass": True}}))
    rows = {r["what"]: r for r in bench.accuracy()["rows"]}
    jhmdb = rows["JHMDB split 1, body_only, top-1"]
    assert (jhmdb["windowed"], jhmdb["streaming"]) == (0.822, 0.81)
    assert math.isclose(jhmdb["difference"], 0.81 - 0.822)
    assert rows["synthetic fine-grained, vanilla, top-1"]["streaming"] is None
    assert "not measured" in bench._num(None, ".3f")


@pytest.mark.slow
def test_quick_run(tmp_path, shared_dir):
    out, png = tmp_path / "streaming.json", tmp_path / "streaming.png"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--repeats", "2", "--chunks", "1",
                           "--parity-frames", "4", "--quiet", "--out", str(out), "--png", str(png)],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["settings"]["quick"] and res["settings"]["repeats"] == 2
    check_results(res, {"demo", "default"})
    assert png.stat().st_size > 10_000
    assert "PASS" in proc.stdout or "MISS" in proc.stdout
