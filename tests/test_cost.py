import json
import subprocess
import sys

from bharnet.training.cost import cost_of

SMALL = {"base_channels": 16, "num_stages": 6, "inflate_stages": [3, 5], "down_stages": [3, 5]}


def test_bharnet_vanilla_costs_fewer_flops_than_unified_at_equal_width():
    # the paper's cost claim, measured: two experts on 17 + 2x21 joints vs one graph of 65 joints
    data = {"window": 32}
    van = cost_of({"model": {"variant": "vanilla", "backbone": SMALL}, "data": data}, 10)
    uni = cost_of({"model": {"variant": "unified", "backbone": SMALL}, "data": data}, 10)
    assert van["gflops"] < uni["gflops"]


def test_info_cli_prints_cost(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  variant: pam\n  num_classes: 5\n  backbone: {base_channels: 8, num_stages: 3,"
                   " inflate_stages: [2], down_stages: [2]}\ndata:\n  window: 16\n")
    r = subprocess.run([sys.executable, "-m", "bharnet.cli", "info", str(cfg), "--json"],
                       capture_output=True, text=True, check=True)
    info = json.loads(r.stdout)
    assert info["variant"] == "pam" and info["params"] > 0 and info["gflops"] > 0
    r = subprocess.run([sys.executable, "-m", "bharnet.cli", "info", str(tmp_path / "missing.yaml")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not found" in r.stderr
