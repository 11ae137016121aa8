"""Slow: the shipped JHMDB config must learn real human motion (>= 0.80 top-1, above the MLP floor)."""
import json

import pytest

from bharnet.training.train import train

pytestmark = pytest.mark.slow


def test_jhmdb14_body_expert_clears_080_and_the_mlp_floor(tmp_path, shared_dir):
    from conftest import REPO

    m = train(REPO / "training/configs/jhmdb14.yaml", tmp_path,
              data=shared_dir / "data/jhmdb14/jhmdb14_split1.pkl", threads=1, quiet=True)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["top1"] == m["top1"]
    assert m["top1"] >= 0.80, m["top1"]
    assert m["top1"] > m["mlp_floor_top1"] + 0.05, (m["top1"], m["mlp_floor_top1"])
