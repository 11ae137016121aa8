"""A shortened soak (bench/soak.py): people coming and going, memory flat, nothing dropped."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

from bharnet import sdk

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")
def test_short_soak_keeps_memory_flat(shared_dir):
    spec = importlib.util.spec_from_file_location("soak", ROOT / "bench" / "soak.py")
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    # 3 simulated minutes, 4 slots at 30 fps (~20,000 frames); a long stride keeps it quick
    res = soak.soak(minutes=3, tracks=4, fps=30, stride=32, seed=1, progress=False)
    st = res["sdk_stats"]
    assert res["frames_pushed"] > 15_000 and st["dropped_frames"] == 0
    assert st["evictions"] >= 1                          # people left and were evicted
    assert res["outcomes"].get("no_person", 0) > 0 and res["outcomes"].get("action", 0) > 0
    assert max(m["live_tracks"] for m in res["per_minute"]) <= 2 * 4
    assert abs(res["rss"]["max_drift_mb"]) <= 10.0, res["per_minute"]
