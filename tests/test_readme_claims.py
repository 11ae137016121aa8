"""The measured numbers of the README and the docs' Results page against the files they come from
(bench/results/*.json and the embedded bundle's own export check).

Each claim is an explicit entry: a regex that must match its page (README.md or
docs/results/index.md, whitespace collapsed to single spaces) exactly once, so that a claim reworded or deleted fails here instead of silently
escaping the check; one capture group per number, and for each number where its value lives. A
number must equal its source as the README rounds it (half a unit of its last printed digit),
unless the entry gives a relative tolerance for a number the README itself calls approximate
("about 900").
"""
from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass, field

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench/results"
README = "README.md"
RESULTS_PAGE = "docs/results/index.md"   # every benchmark, in full
BUNDLE = REPO / "python/bharnet/sdk/default_model/default.bharnet"


def _json(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _bundle_check() -> dict:
    from bharnet.bundle import open_bundle

    return open_bundle(BUNDLE).meta.export_check


def _worst_step_check() -> dict:
    """The embedded bundle's step-graph export check with the largest difference."""
    from bharnet.bundle import open_bundle

    graphs = open_bundle(BUNDLE).meta.graphs.values()
    return max((g["check"] for g in graphs if g.get("role") == "step"), key=lambda c: c["max_abs"])


def _bundle_metric(key: str):
    def get():
        from bharnet.bundle import open_bundle

        return open_bundle(BUNDLE).meta.metrics[key]
    return get


def _row(rows: list, **match) -> dict:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one row with {match}, found {len(found)}"
    return found[0]


@dataclass
class Claim:
    name: str
    pattern: str                      # regex over the page with one group per number
    values: list                      # one callable () -> float per group
    rel_tol: list = field(default_factory=list)  # per group; None: the page's rounding
    page: str = RESULTS_PAGE          # the page that carries the claim


def _fine_grained(variant: str) -> Claim:
    def row():
        return _row(_json("fine_grained.json")["results"], variant=variant)

    return Claim(f"fine-grained table, {variant}",
                 rf"\| {variant} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d,]+) \| ([\d.]+) \|",
                 [lambda: row()["top1"], lambda: row()["hand_intensive_top1"],
                  lambda: row()["non_hand_intensive_top1"], lambda: row()["params"],
                  lambda: row()["gflops"]])


def _cost(file: str, variant: str, key: str):
    return lambda: _row(_json(file)["rows"], variant=variant)[key]


def _at(file: str, *path):
    """The value at path (keys, indices) in bench/results/<file>."""
    def get():
        v = _json(file)
        for p in path:
            v = v[p]
        return v
    return get


def _mean_std(file: str, *path):
    """The mean and the std of a 3-seed summary at path in bench/results/<file>."""
    return [_at(file, *path, "mean"), _at(file, *path, "std")]


def _gemm(which: str, fn):
    """min or max GFLOP/s over the inference shapes, two threads."""
    return lambda: fn(r[f"{which}_gflops"] for r in _json("kernels_cpu.json")["graph_conv_inference"])


def _pool(n: int):
    return lambda: next(r["ratio"] for r in _json("kernels_cpu_1t.json")["pool_attention"]
                        if r["kind"] == "inference" and r["shape"]["N"] == n)


def _flop_per_byte():
    r = next(r for r in _json("kernels_cpu.json")["graph_conv_inference"]
             if r["shape"] == {"N": 1, "C": 128, "O": 128, "T": 32, "V": 17, "K": 3})
    return r["gflop"] * 1e3 / r["min_mbytes"]


def _export_speedups():
    return [r["speedup_vs_torch_ref"] for f in ("export_cpu.json", "export_cpu_default.json")
            for r in _json(f)["rows"] if r["batch"] == 1]


def _rgb(file: str, model: str):
    return lambda: _row(_json(file)["table"], model=model)["top1"]


def _parity(key):
    return lambda: key(_bundle_check())


def _streaming_target(tid: str, *path):
    """A target of bench/results/streaming.json by id, then keys/indices into it."""
    def get():
        v = next(t for t in _json("streaming.json")["targets"] if t["id"] == tid)
        for p in path:
            v = v[p]
        return v
    return get


def _streaming_row(width: str, key: str, field: str = "cpu_us_per_frame"):
    def get():
        w = _json("streaming.json")["widths"][width]
        return _row(w["rows"] + w["sdk"], key=key)[field]
    return get


def _gate(variant: str, kind: str, key: str):
    """A synthetic-benchmark mean of bench/results/streaming_accuracy.json (streaming or windowed)."""
    return _at("streaming_accuracy.json", "synth", "variants", variant, kind, key, 0)


def _streaming_ratio(width: str, slower: str, faster: str):
    return lambda: _streaming_row(width, slower)() / _streaming_row(width, faster)()


def _frame_target(target_id: str, file: str = "frame_path.json"):
    """A target's measured value in a frame path bench (frame_path_aarch64.json: under qemu)."""
    return lambda: _row(_json(file)["targets"], id=target_id)["value"]


CLAIMS = [
    Claim("JHMDB body expert over 3 seeds, and the MLP floor",
          r"top-1 \*\*([\d.]+) ± ([\d.]+)\*\* over 3 seeds, against \*\*([\d.]+) ± ([\d.]+)\*\* for the "
          r"plain MLP floor",
          [_at("jhmdb14_seeds.json", "top1_mean"), _at("jhmdb14_seeds.json", "top1_std"),
           _at("jhmdb14_seeds.json", "mlp_floor_mean"), _at("jhmdb14_seeds.json", "mlp_floor_std")]),
    Claim("JHMDB seed runs' wall time",
          r"the three seed runs took (\d+)-(\d+) min each",
          [lambda: min(r["run_s"] for r in _json("jhmdb14_seeds.json")["runs"]) / 60,
           lambda: max(r["run_s"] for r in _json("jhmdb14_seeds.json")["runs"]) / 60]),
    *[_fine_grained(v) for v in ("body_only", "hand_only", "unified", "late_fusion", "vanilla", "pam",
                                 "expertized", "noisy_or")],
    Claim("cost at equal width",
          r"`vanilla` needs \*\*([\d.]+)×\*\* the GFLOPs of `unified` \(([\d.]+) vs ([\d.]+)\) but "
          r"\*\*([\d.]+)×\*\* its parameters \(([\d.]+)M vs ([\d.]+)M\)",
          [_cost("cost.json", "vanilla", "gflops_vs_unified"), _cost("cost.json", "vanilla", "gflops"),
           _cost("cost.json", "unified", "gflops"), _cost("cost.json", "vanilla", "params_vs_unified"),
           _cost("cost.json", "vanilla", "params_M"), _cost("cost.json", "unified", "params_M")]),
    Claim("cost with a half-width hand expert",
          r"With a hand expert of half width the ratios are ([\d.]+)× and ([\d.]+)×",
          [_cost("cost_narrow_hand.json", "vanilla", "gflops_vs_unified"),
           _cost("cost_narrow_hand.json", "vanilla", "params_vs_unified")]),
    Claim("kernels, one thread",
          r"On one thread, graph convolution is ([\d.]+)× for inference shapes \(geomean; "
          r"([\d.]+)-([\d.]+)×\) and ([\d.]+)× for training; pool-attention inference ([\d.]+)× \(N=1\) "
          r"and ([\d.]+)× \(N=8\)",
          [_at("kernels_cpu_1t.json", "summary", "graph_conv_inference", "geomean_ratio"),
           _at("kernels_cpu_1t.json", "summary", "graph_conv_inference", "min_ratio"),
           _at("kernels_cpu_1t.json", "summary", "graph_conv_inference", "max_ratio"),
           _at("kernels_cpu_1t.json", "summary", "graph_conv_training", "geomean_ratio"),
           _pool(1), _pool(8)]),
    Claim("kernels, two threads, and the training epoch",
          r"On two threads graph convolution is ([\d.]+)× \(([\d.]+)-([\d.]+)×\) for inference and "
          r"([\d.]+)× for training, and a small model's training epoch is ([\d.]+)× with kernels on "
          r"\(([\d.]+)× on one thread\)",
          [_at("kernels_cpu.json", "summary", "graph_conv_inference", "geomean_ratio"),
           _at("kernels_cpu.json", "summary", "graph_conv_inference", "min_ratio"),
           _at("kernels_cpu.json", "summary", "graph_conv_inference", "max_ratio"),
           _at("kernels_cpu.json", "summary", "graph_conv_training", "geomean_ratio"),
           _at("kernels_cpu.json", "model_epoch", "ratio"),
           _at("kernels_cpu_1t.json", "model_epoch", "ratio")]),
    Claim("training epoch with kernels, rerun",
          r"Rerun on 2026-12-03 \(one thread, CPU clock, a loaded machine\): the epoch is ([\d.]+)× with "
          r"kernels on \(`kernels_cpu_1t_epoch.json`\)",
          [_at("kernels_cpu_1t_epoch.json", "model_epoch", "ratio")]),
    Claim("arithmetic intensity", r"about (\d+) FLOP/byte at C=128, T=32, V=17", [_flop_per_byte],
          [0.05]),
    Claim("GEMM throughput",
          r"our GEMM reaches (\d+)-(\d+) GFLOP/s on the inference shapes against oneDNN's (\d+)-(\d+)",
          [_gemm("ours", min), _gemm("ours", max), _gemm("baseline", min), _gemm("baseline", max)]),
    Claim("export parity of the embedded bundle",
          r"bundle's own export check records \*\*([\d.e-]+) max-abs at a logit scale of (\d+)\*\*"
          r" \(([\d.e-]+) relative",
          [_parity(lambda c: max(c["ort_vs_torch_max_abs"].values())),
           _parity(lambda c: c["logit_scale"]),
           _parity(lambda c: max(c["ort_vs_torch_max_abs"].values()) / c["logit_scale"])]),
    Claim("embedded model accuracy, and both recipes side by side",
          r"it scores \*\*([\d.]+)\*\* top-1; trained side by side on the same data and schedule "
          r"\(`bench/streaming_accuracy.py demo`\), the streaming recipe scores \*\*([\d.]+)\*\* and the same "
          r"model windowed \(`training/configs/demo.yaml`\) \*\*([\d.]+)\*\*",
          [_bundle_metric("top1"), _at("streaming_demo.json", "streaming", "top1"),
           _at("streaming_demo.json", "windowed", "top1")]),
    Claim("export refusal threshold", r"refuses a bundle whose difference exceeds ([\d.e-]+) ×",
          [_parity(lambda c: c["tol"])]),
    Claim("ORT speed-up at batch 1", r"ORT on CPU is ([\d.]+)-([\d.]+)× faster than torch eager at batch 1",
          [lambda: min(_export_speedups()), lambda: max(_export_speedups())]),
    Claim("SDK window latency, one thread",
          r"a window takes ([\d.]+) ms on ONNX Runtime, ([\d.]+) ms on the native backend and "
          r"([\d.]+) ms on torch \(one thread\)",
          [_at("sdk_cpu.json", "backends", b, "window_latency_1thread", "median_ms")
           for b in ("onnxruntime", "native", "torch")]),
    Claim("SDK frames per second", r"one track sustains about (\d+) frames/s",
          [_at("sdk_cpu.json", "stream", "onnxruntime", "fps")], [0.05]),
    Claim("SDK work per frame and its share",
          r"about ([\d.]+)-([\d.]+) ms per frame: \*\*([\d.]+)%\*\* of the model's time for a "
          r"deployment-width model \(default backbone, window 64\), but (\d+)% for the tiny demo model",
          [_at("sdk_cpu_default_width.json", "stream", "onnxruntime", "sdk_ms_per_frame"),
           _at("sdk_cpu.json", "stream", "onnxruntime", "sdk_ms_per_frame"),
           _at("sdk_cpu_default_width.json", "stream", "onnxruntime", "sdk_overhead_pct_of_model"),
           _at("sdk_cpu.json", "stream", "onnxruntime", "sdk_overhead_pct_of_model")]),
    Claim("continual streaming, default-width targets",
          r"the native step runtime needs \*\*([\d.]+)×\*\* less CPU per frame than recomputing today's "
          r"window every frame while also predicting every frame \(atrous schedule; target ≥ (\d+)×: "
          r"met\), and \*\*([\d.]+)×\*\* less than today's stride 8 while predicting \*\*([\d.]+)×\*\* as "
          r"often \(native schedule, every 4 frames; target ≥ (\d+)×: met\)",
          [_streaming_target("default_continual_vs_window_s1", "ratio"),
           _streaming_target("default_continual_vs_window_s1", "threshold"),
           _streaming_target("default_continual_vs_today_s8", "ratio"),
           _streaming_target("default_continual_vs_today_s8", "parts", 0, "prediction_rate_ratio"),
           _streaming_target("default_continual_vs_today_s8", "threshold")]),
    Claim("continual streaming, native runtime vs ORT step graph at the demo width",
          r"At the demo width it is \*\*([\d.]+)×\*\* faster than ONNX Runtime running the same step "
          r"graph \(the lesser of the two schedules; target ≥ ([\d.]+)×: met\)",
          [_streaming_target("demo_native_vs_ort_step", "ratio"),
           _streaming_target("demo_native_vs_ort_step", "threshold")]),
    Claim("continual streaming, logits parity",
          r"Continual and windowed logits agree to \*\*([\d.e-]+)\*\* max-abs at every prediction point "
          r"\(.*?; target ≤ ([\d.e-]+): met\)",
          [_streaming_target("logits_parity", "value"), _streaming_target("logits_parity", "threshold")]),
    Claim("continual streaming, the embedded model's step-graph checks",
          r"the trained embedded model's own step-graph checks record up to ([\d.e-]+) at a logit scale "
          r"of (\d+) \(([\d.e-]+) relative\)",
          [lambda: _worst_step_check()["max_abs"], lambda: _worst_step_check()["logit_scale"],
           lambda: _worst_step_check()["max_abs"] / _worst_step_check()["logit_scale"]]),
    Claim("continual streaming, per-frame CPU against window recompute and through the SDK",
          r"the native runtime needs ([\d.]+)× \(default\) and ([\d.]+)× \(demo\) less CPU per frame; "
          r"through the SDK \(`Recognizer\.push` on the real stream, causal preparation included\) "
          r"continual mode needs ([\d.]+)× \(native\) and ([\d.]+)× \(ONNX Runtime\) less than window "
          r"mode for the same recognitions at the default width, but only ([\d.]+)× and ([\d.]+)× at the "
          r"demo width",
          [_streaming_ratio("default", "stream_window_s4", "native_step_native"),
           _streaming_ratio("demo", "stream_window_s4", "native_step_native"),
           _streaming_ratio("default", "stream_window_s4_native", "continual_native_s4_native"),
           _streaming_ratio("default", "stream_window_s4_ort", "continual_native_s4_ort"),
           _streaming_ratio("demo", "stream_window_s4_native", "continual_native_s4_native"),
           _streaming_ratio("demo", "stream_window_s4_ort", "continual_native_s4_ort")]),
    Claim("continual streaming, demo-width SDK against today's stride 8",
          r"the demo-width SDK in continual mode costs ([\d.]+)× less on the native backend but "
          r"([\d.]+)× more on ONNX Runtime \(([\d.]+)×\)",
          [_streaming_ratio("demo", "today_window_s8_native", "continual_native_s4_native"),
           lambda: 1.0 / _streaming_ratio("demo", "today_window_s8_ort", "continual_native_s4_ort")(),
           _streaming_ratio("demo", "today_window_s8_ort", "continual_native_s4_ort")]),
    Claim("streaming accuracy, synthetic benchmark",
          r"vanilla BHaRNet \*\*([\d.]+)\*\* against ([\d.]+) top-1, late_fusion ([\d.]+) against "
          r"([\d.]+), unified ([\d.]+) against ([\d.]+), body_only ([\d.]+) against ([\d.]+); and "
          r"BHaRNet keeps its hand-intensive lead when streaming \(vanilla ([\d.]+), unified ([\d.]+), "
          r"body_only ([\d.]+)\)",
          [_gate(v, kind, "top1") for v in ("vanilla", "late_fusion", "unified", "body_only")
           for kind in ("streaming", "windowed")]
          + [_gate(v, "streaming", "hand_intensive_top1") for v in ("vanilla", "unified", "body_only")]),
    Claim("streaming accuracy, JHMDB",
          r"On JHMDB split 1 it is not: ([\d.]+) against ([\d.]+)\*\* for the windowed recipe",
          [_at("streaming_accuracy.json", "jhmdb", "streaming", "top1", 0),
           _at("streaming_accuracy.json", "jhmdb", "windowed_reference", "top1", 0)]),
    Claim("streaming accuracy, JHMDB validation split",
          r"on the validation split it scores ([\d.]+) with one window per clip and ([\d.]+) with its "
          r"views, against ([\d.]+) for the streaming recipe\. .*?, (\d+) candidates, .*?and the better, "
          r"([\d.]+) ± ([\d.]+) against ([\d.]+) ± ([\d.]+), ships",
          [_at("streaming_selection.json", "tasks", "jhmdb", "windowed", "top1_one_view", 0),
           _at("streaming_selection.json", "tasks", "jhmdb", "windowed", "top1", 0),
           _at("streaming_selection.json", "tasks", "jhmdb", "d1_n7_k16_sp20", "top1", 0),
           lambda: len(_json("streaming_selection.json")["tasks"]["jhmdb"]) - 1,
           _at("streaming_selection.json", "tasks", "jhmdb", "d1_n7_k16_sp20", "top1", 0),
           _at("streaming_selection.json", "tasks", "jhmdb", "d1_n7_k16_sp20", "top1", 1),
           _at("streaming_selection.json", "tasks", "jhmdb", "d12_n3_k32_sp20", "top1", 0),
           _at("streaming_selection.json", "tasks", "jhmdb", "d12_n3_k32_sp20", "top1", 1)]),
    Claim("auto backend for continual mode",
          r"where through the SDK it needs ([\d.]+)× \(demo width\) and ([\d.]+)× \(default width\) "
          r"less CPU per frame than ONNX Runtime",
          [_streaming_ratio("demo", "continual_native_s4_ort", "continual_native_s4_native"),
           _streaming_ratio("default", "continual_native_s4_ort", "continual_native_s4_native")]),
    Claim("continual streaming, state per track",
          r"the native runtime keeps ([\d,]+) KiB of state per track at the default width \(([\d.]+) KiB "
          r"at the demo width\) where a window of inputs is ([\d.]+) KiB \(([\d.]+) KiB\)",
          [lambda: _streaming_row("default", "native_step_native", "state_bytes")() / 1024,
           lambda: _streaming_row("demo", "native_step_native", "state_bytes")() / 1024,
           lambda: _streaming_row("default", "today_window_s1", "state_bytes")() / 1024,
           lambda: _streaming_row("demo", "today_window_s1", "state_bytes")() / 1024]),
    Claim("continual streaming, first recognition",
          r"The first recognition still comes after one window: (\d+) frames \(([\d.]+) s at 30 fps\) at "
          r"the default width, (\d+) \(([\d.]+) s\) at the demo width",
          [_streaming_row("default", "native_step_native", "first_prediction_frames"),
           _streaming_row("default", "native_step_native", "first_prediction_s"),
           _streaming_row("demo", "native_step_native", "first_prediction_frames"),
           _streaming_row("demo", "native_step_native", "first_prediction_s")]),
    Claim("RGB branch",
          r"skeleton ([\d.]+) top-1, RGB alone ([\d.]+), fused ([\d.]+) \(sum\) / ([\d.]+) \(Noisy-OR\); "
          r"with twice the data, skeleton ([\d.]+), fused Noisy-OR ([\d.]+) with the body guide and "
          r"([\d.]+) with the body\+hand guide",
          [_rgb("rgb.json", "skeleton only (vanilla BHaRNet)"), _rgb("rgb.json", "RGB only, body-guided"),
           _rgb("rgb.json", "fused sum, body-guided"), _rgb("rgb.json", "fused Noisy-OR, body-guided"),
           _rgb("rgb_32clips.json", "skeleton only (vanilla BHaRNet)"),
           _rgb("rgb_32clips.json", "fused Noisy-OR, body-guided"),
           lambda: _json("rgb_32clips_bodyhand.json")["fused_noisy_or"]["top1"]]),
]


CLAIMS.append(
    Claim("soak: an hour of live tracks",
          r"([\d,]+) frames pushed and ([\d,]+) recognitions \(([\d,]+) of them \"no person\"\) in "
          r"([\d.]+) min\. RSS was ([\d.]+) MB after the first simulated minute and stayed within "
          r"\*\*\+([\d.]+) MB\*\* of it to the end; nothing was dropped, (\d+) idle tracks were evicted, "
          r".*?window latency p50 ([\d.]+) ms, p99 ([\d.]+) ms \(last ([\d,]+) windows\)",
          [_at("soak.json", "frames_pushed"), _at("soak.json", "sdk_stats", "results"),
           _at("soak.json", "sdk_stats", "no_person"), lambda: _json("soak.json")["wall_s"] / 60,
           _at("soak.json", "rss", "after_first_minute_mb"), _at("soak.json", "rss", "max_drift_mb"),
           _at("soak.json", "sdk_stats", "evictions"), _at("soak.json", "sdk_stats", "latency_ms", "p50"),
           _at("soak.json", "sdk_stats", "latency_ms", "p99"),
           _at("soak.json", "sdk_stats", "latency_ms", "n")]))


# The README's headline numbers: the same sources, worded for the landing page.
CLAIMS += [
    Claim("README: JHMDB over 3 seeds, and the MLP",
          r"top-1 \*\*([\d.]+) ± ([\d.]+)\*\* over 3 seeds \(`jhmdb14_seeds.json`\), against ([\d.]+) ± "
          r"([\d.]+) for a plain MLP",
          [_at("jhmdb14_seeds.json", "top1_mean"), _at("jhmdb14_seeds.json", "top1_std"),
           _at("jhmdb14_seeds.json", "mlp_floor_mean"), _at("jhmdb14_seeds.json", "mlp_floor_std")],
          page=README),
    Claim("README: hand-intensive classes",
          r"vanilla BHaRNet scores ([\d.]+) top-1 where a unified whole-body GCN scores ([\d.]+) and "
          r"the body expert alone ([\d.]+), at fewer FLOPs",
          [lambda v=v: _row(_json("fine_grained.json")["results"], variant=v)["hand_intensive_top1"]
           for v in ("vanilla", "unified", "body_only")], page=README),
    Claim("README: continual streaming",
          r"the native step runtime needs \*\*([\d.]+)×\*\* less CPU per frame than recomputing the "
          r"window every frame while predicting every frame; continual and windowed logits agree to "
          r"([\d.e-]+)\.",
          [_streaming_target("default_continual_vs_window_s1", "ratio"),
           _streaming_target("logits_parity", "value")], page=README),
    Claim("README: streaming accuracy",
          r"synthetic benchmark \(([\d.]+) vs ([\d.]+)\), but \*\*not on JHMDB: ([\d.]+) against "
          r"([\d.]+)\*\*",
          [_gate("vanilla", "streaming", "top1"), _gate("vanilla", "windowed", "top1"),
           _at("streaming_accuracy.json", "jhmdb", "streaming", "top1", 0),
           _at("streaming_accuracy.json", "jhmdb", "windowed_reference", "top1", 0)], page=README),
    Claim("README: SHREC'17",
          r"both experts score \*\*([\d.]+) ± ([\d.]+)\*\* top-1 on 14 classes and\s+"
          r"\*\*([\d.]+) ± ([\d.]+)\*\* on 28 with ([\d.]+) M parameters",
          _mean_std("shrec17_14.json", "top1") + _mean_std("shrec17_28.json", "top1")
          + [_at("shrec17_14.json", "cost", "params_M")], page=README),
    Claim("README: SHREC'17 streaming and the training budget",
          r"The streaming recipes \(`shrec17_streaming_gap.json`\) score\s+([\d.]+) ± ([\d.]+) on 14 "
          r"classes and ([\d.]+) ± ([\d.]+) on 28: ([\d.]+) and ([\d.]+) below the windowed ones,.*"
          r"fed a live window \(([\d.]+) and\s+([\d.]+)\)\. A full 14-class training run takes "
          r"([\d.]+) min on this machine's 2 cores",
          _mean_std("shrec17_14_streaming.json", "top1") + _mean_std("shrec17_28_streaming.json", "top1")
          + [lambda n=n: -_json("shrec17_streaming_gap.json")["labels"][n]["streaming_minus_windowed_clip"]
             for n in ("14", "28")]
          + [_at("shrec17_streaming_gap.json", "labels", n, "windowed_live", "mean") for n in ("14", "28")]
          + [lambda: _json("shrec17_14_budget.json")["wall_s"]["mean"] / 60], page=README),
    Claim("README: Holistic signs",
          r"BHaRNet \*\*([\d.]+) ± ([\d.]+)\*\*, body_only ([\d.]+) ± ([\d.]+), and the unified "
          r"whole-body graph \*\*([\d.]+) ± ([\d.]+)\*\*",
          [_at("holistic_signs.json", "variants", v, "top1", k)
           for v in ("vanilla", "body_only", "unified") for k in ("mean", "std")], page=README),
    Claim("README: Holistic signs without the person who signs differently, and CV",
          r"on the other four, BHaRNet ([\d.]+), unified ([\d.]+), body_only ([\d.]+)\. Person-wise\s+"
          r"cross-validation over all 16 people \(one seed\): BHaRNet ([\d.]+), unified ([\d.]+)",
          [_at("holistic_signs.json", "variants", v, "top1_without_outliers", "mean")
           for v in ("vanilla", "unified", "body_only")]
          + [_at("holistic_signs.json", "cv", "variants", v, "pooled_top1", "mean")
             for v in ("vanilla", "unified")], page=README),
    Claim("README: JHMDB live protocol",
          r"drop from ([\d.]+) ± ([\d.]+) to ([\d.]+) ± ([\d.]+), so about a third of\s+the gap to the "
          r"streaming recipe \(([\d.]+)\)",
          _mean_std("jhmdb14_live_protocol.json", "clip") + _mean_std("jhmdb14_live_protocol.json", "live")
          + [_at("streaming_accuracy.json", "jhmdb", "streaming", "top1", 0)], page=README),
    Claim("README: JHMDB distilled streaming recipe",
          r"raises it to \*\*([\d.]+) ± ([\d.]+)\*\* \(3 seeds, `jhmdb14_distill.json`\): still below\s+"
          r"the windowed models' ([\d.]+) under",
          [_at("jhmdb14_distill.json", "top1", 0), _at("jhmdb14_distill.json", "top1", 1),
           _at("jhmdb14_live_protocol.json", "live", "mean")], page=README),
    Claim("README: frame path on aarch64 under qemu",
          r"same shape as ratios \(`frame_path_aarch64.json`\): push ([\d.]+)× / ([\d.]+)× the bare step, "
          r"16 tracks\s+([\d.]+)×",
          [_frame_target(t, "frame_path_aarch64.json")
           for t in ("demo_push_vs_bare", "default_push_vs_bare", "many16_vs_sep16")],
          page=README),
    Claim("README: native frame path",
          r"costs \*\*([\d.]+)×\*\* the bare model step at the demo width and ([\d.]+)× at the "
          r"default width; 8 tracks at 30 fps take ([\d.]+)% of one core",
          [_frame_target("demo_push_vs_bare"), _frame_target("default_push_vs_bare"),
           lambda: 100 * _frame_target("share_8x30fps")()], page=README),
    Claim("README: 16 tracks through push_many",
          r"16 tracks through one `push_many` cost ([\d.]+)× of 16 pushes \(target\s+0.5, missed: the "
          r"16 bare model steps alone are ([\d.]+)×, and they run at (\d+) GFLOP/s, as fast as\s+"
          r"torch's (\d+) for a 512² matrix product on the same core\)",
          [_frame_target("many16_vs_sep16"),
           _at("frame_path.json", "tracks16", "bare16_vs_sep16_paired"),
           _at("frame_path.json", "flops", "step_gflops", "bare16"),
           _at("frame_path.json", "flops", "torch_mm_gflops")], page=README),
    Claim("README: online detection",
          r"events find (\d+) of (\d+) actions at ([\d.]+) false positives per action",
          [_at("online.json", "test", "detected"), _at("online.json", "test", "actions"),
           _at("online.json", "test", "fp_per_action")], page=README),
    Claim("README: learned background",
          r"learned background detects ([\d.]+) ± ([\d.]+) \(3 seeds",
          _mean_std("online_background.json", "summary", "learned_background", "detection_rate"),
          page=README),
    Claim("README: online detection on real-hand streams",
          r"recipe detects \*\*([\d.]+) ± ([\d.]+)\*\* at ([\d.]+) ± ([\d.]+) false positives per action "
          r"\(3 seeds,\s+`online_shrec17.json`\), against ([\d.]+) ± ([\d.]+) at ([\d.]+) ± ([\d.]+) "
          r"before[\s\S]*?a median\s+([\d.]+) s before they end",
          _mean_std("online_shrec17.json", "summary", "detection_rate")
          + _mean_std("online_shrec17.json", "summary", "fp_per_action")
          + _mean_std("online_shrec17.json", "previous", "summary", "detection_rate")
          + _mean_std("online_shrec17.json", "previous", "summary", "fp_per_action")
          + [lambda: -_at("online_shrec17.json", "summary", "latency_from_end_median_ms", "mean")() / 1000],
          page=README),
    Claim("README: kernels",
          r"our CPU graph convolution is ([\d.]+)× PyTorch's speed on one thread",
          [_at("kernels_cpu_1t.json", "summary", "graph_conv_inference", "geomean_ratio")],
          page=README),
]


def _rounding_tol(text: str) -> float:
    """Half a unit of the last digit printed: '0.822' -> 5e-4, '4.2e-7' -> 5e-8, '26' -> 0.5."""
    text = text.replace(",", "")
    mant, _, exp = text.lower().partition("e")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 0.5 * 10.0 ** (-decimals + (int(exp) if exp else 0))


def _page(name: str) -> str:
    return " ".join((REPO / name).read_text().split())  # line breaks do not matter


@pytest.fixture(scope="module")
def pages() -> dict:
    return {name: _page(name) for name in {c.page for c in CLAIMS}}


def check_claim(claim: Claim, text: str) -> None:
    found = list(re.finditer(claim.pattern, text))
    assert len(found) == 1, (f"{claim.page} claim '{claim.name}' found {len(found)} times (pattern "
                             f"{claim.pattern!r}); update the claim and this mapping together")
    groups = found[0].groups()
    assert len(groups) == len(claim.values), "one source per number"
    for i, (text, source) in enumerate(zip(groups, claim.values)):
        want = float(source())
        rel = claim.rel_tol[i] if i < len(claim.rel_tol) else None
        tol = rel * abs(want) if rel is not None else _rounding_tol(text) * (1 + 1e-9)
        got = float(text.replace(",", ""))
        assert abs(got - want) <= tol, (f"{claim.page} '{claim.name}': number {i + 1} says {text}, "
                                        f"its source says {want:.6g} (tolerance {tol:.2g})")


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c.page}: {c.name}")
def test_claim_matches_its_source(claim, pages):
    check_claim(claim, pages[claim.page])


def test_every_claimed_page_is_checked():
    """The README keeps headline numbers and the Results page the rest: both carry claims."""
    assert {c.page for c in CLAIMS} == {README, RESULTS_PAGE}


def test_the_check_itself_catches_a_wrong_number_and_a_missing_claim(pages):
    """The mapping must be able to fail: a changed number and a reworded claim are both caught."""
    for claim in (next(c for c in CLAIMS if c.page == p) for p in (README, RESULTS_PAGE)):
        text = pages[claim.page]
        m = re.search(claim.pattern, text)
        wrong = text[:m.start(1)] + "0.999" + text[m.end(1):]
        with pytest.raises(AssertionError, match="source says"):
            check_claim(claim, wrong)
        with pytest.raises(AssertionError, match="found 0 times"):
            check_claim(claim, text.replace(m.group(0), "a claim reworded"))
