"""The x86-side checks of the aarch64 test tools (tests/aarch64): the torch-free list is not stale,
and the parity comparison accepts what it should and refuses what it should."""
from __future__ import annotations

import copy
import importlib.util
import json
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / "aarch64" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


parity = _load("parity")
torch_free = _load("run_torch_free")


def test_torch_free_list_names_existing_tests():
    selected, deselected = torch_free.read_list(HERE / "aarch64/torch_free_tests.txt")
    for path in selected:
        assert (REPO / path.split("::")[0]).is_file(), path
    for node in deselected:
        file, func = node.split("::")
        assert file in selected, f"{node}: its file is not selected"
        assert re.search(rf"^def {re.escape(func)}\(", (REPO / file).read_text(), re.M), node


def _recs():
    top = [["a", 0.6], ["b", 0.3], ["c", 0.1]]
    return [{"label": "a", "score": 0.6, "top_k": top, "track_id": 0, "start_ms": 0.0,
             "end_ms": 100.0, "body_label": "a", "body_score": 0.5, "hand_label": "b",
             "hand_score": 0.4, "hand_presence": [1.0, 0.5], "frames": 4}]


def test_parity_accepts_small_differences_and_ties():
    a, b = _recs(), _recs()
    b[0]["score"] += 3e-6
    b[0]["top_k"][0][1] += 3e-6
    worst, ties, problems = parity._diff_recs(a, b, 1e-5)
    assert not problems and abs(worst - 3e-6) < 1e-9 and ties == 0
    # a tie within the tolerance may break either way
    a[0]["top_k"] = [["a", 0.450001], ["b", 0.449999], ["c", 0.1]]
    b[0]["top_k"] = [["b", 0.449999], ["a", 0.450001], ["c", 0.1]]
    b[0]["label"] = "b"
    worst, ties, problems = parity._diff_recs(a, b, 1e-5)
    assert not problems and ties == 1


def test_parity_refuses_label_order_score_and_count_differences():
    a = _recs()
    swapped = copy.deepcopy(a)
    swapped[0]["top_k"] = [["b", 0.3], ["a", 0.6], ["c", 0.1]]
    assert any("ranked differently" in p for p in parity._diff_recs(a, swapped, 1e-5)[2])
    drift = copy.deepcopy(a)
    drift[0]["hand_score"] += 2e-5
    assert any("score difference" in p for p in parity._diff_recs(a, drift, 1e-5)[2])
    expert = copy.deepcopy(a)
    expert[0]["body_label"] = "c"
    assert any("body_label" in p for p in parity._diff_recs(a, expert, 1e-5)[2])
    assert parity._diff_recs(a, a + a, 1e-5)[2] == ["1 vs 2 recognitions"]
    assert parity._diff_recs([], [], 1e-5)[2] == ["no recognitions"]


def test_parity_compare_end_to_end(tmp_path, capsys):
    """Two JSON runs: identical passes; a backend unavailable on one side only fails."""
    base = {"machine": "x", "python": "3.11", "versions": {"numpy": "1", "onnxruntime": "1"},
            "args": {"bundles": ["default"], "streams": ["s"], "backends": ["native"], "modes": ["window"]},
            "results": {"default|native|window|s|stream": _recs()}}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(base))
    b.write_text(json.dumps({**base, "machine": "y"}))
    assert parity.main(["compare", str(a), str(b)]) == 0
    other = {**base, "results": {"default|native|window": {"unavailable": "no kernels"}}}
    b.write_text(json.dumps(other))
    assert parity.main(["compare", str(a), str(b)]) == 1
    assert "PARITY FAILED" in capsys.readouterr().out


def test_noisy_stream_is_deterministic_and_broken():
    import numpy as np

    kp = np.random.default_rng(1).uniform(0, 1, (40, 75, 4)).astype(np.float32)
    n1, n2 = parity.noisy(kp), parity.noisy(kp)
    assert np.array_equal(n1, n2, equal_nan=True)
    assert np.isnan(n1).any() and np.isinf(n1).any() and (n1[0:20:2, 54:75] == 0).all()
    assert np.isnan(n1[20]).all()                       # the broken middle frame
