import json
import os
import socket

import numpy as np
import pytest
import torch

from bharnet.training.checkpoint import load_checkpoint
from bharnet.training.train import lr_lambda, train

from train_helpers import one_thread, synth_path, tiny_config, tiny_synth  # noqa: F401 (fixtures)


def _weights(path):
    return load_checkpoint(path)["model"]


def test_schedule_warms_up_then_decays_to_zero():
    f = lr_lambda(100, 10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5, abs=0.02)
    assert f(100) == pytest.approx(0.0, abs=1e-9)


def test_train_writes_metrics_plots_and_checkpoints(tmp_path, synth_path):
    m = train(tiny_config("vanilla"), tmp_path, data=synth_path, quiet=True)
    for f in ("metrics.json", "confusion.png", "curves.png", "last.pt", "final.pt"):
        assert (tmp_path / f).is_file(), f
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for k in ("top1", "top5", "mean_class_acc", "per_class", "hand_intensive_top1"):
        assert k in saved
    assert saved["top1"] == m["top1"] and len(saved["history"]) == 2
    assert set(saved["per_class"]) == set(load_checkpoint(tmp_path / "final.pt")["classes"])
    ck = load_checkpoint(tmp_path / "final.pt")
    assert ck["epoch"] == 2 and "optimizer" not in ck and ck["spec"]["hands"]


def test_two_epochs_equal_one_plus_resume(tmp_path, synth_path):
    cfg = tiny_config("pam")
    train(cfg, tmp_path / "full", data=synth_path, quiet=True)
    train(cfg, tmp_path / "split", data=synth_path, quiet=True, stop_after=1)
    assert load_checkpoint(tmp_path / "split/last.pt")["epoch"] == 1
    assert not (tmp_path / "split/metrics.json").exists()
    torch.manual_seed(1234)  # a resumed run must restore its own RNG state, not use the caller's
    np.random.seed(99)
    train(cfg, tmp_path / "split", data=synth_path, quiet=True, resume=True)
    a, b = _weights(tmp_path / "full/last.pt"), _weights(tmp_path / "split/last.pt")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    ma = json.loads((tmp_path / "full/metrics.json").read_text())
    mb = json.loads((tmp_path / "split/metrics.json").read_text())
    assert ma["top1"] == mb["top1"]
    assert [h["train_loss"] for h in ma["history"]] == pytest.approx([h["train_loss"] for h in mb["history"]])


def test_hand_variant_on_body_only_layout_is_refused(tmp_path, shared_dir):
    jh = shared_dir / "data/jhmdb14/jhmdb14_split1.pkl"
    cfg = tiny_config("vanilla", data={"body_layout": "jhmdb15"})
    with pytest.raises(ValueError, match="no hands"):
        train(cfg, tmp_path, data=jh, quiet=True)


def test_cli_train_and_bad_config_errors(tmp_path, synth_path, capsys):
    import yaml

    from bharnet.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config("body_only", train={"epochs": 1})))
    assert main(["train", str(cfg), "--data", str(synth_path), "--work-dir", str(tmp_path / "w"),
                 "--threads", "1"]) == 0
    assert (tmp_path / "w/metrics.json").is_file()
    assert "top1" in capsys.readouterr().out
    assert main(["train", str(cfg), "--data", str(tmp_path / "missing.pkl"),
                 "--work-dir", str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err


# ---- distributed: two CPU processes on gloo -----------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, cfg, data, work, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)

    def keep(model, r):
        torch.save(model.state_dict(), os.path.join(out, f"rank{r}.pt"))

    train(cfg, work, data=data, quiet=True, on_end=keep)


def test_ddp_two_cpu_ranks_end_with_identical_weights(tmp_path, synth_path):
    import torch.multiprocessing as mp

    cfg = tiny_config("vanilla", train={"epochs": 1})
    mp.spawn(_ddp_worker, args=(2, _free_port(), cfg, str(synth_path), str(tmp_path / "w"),
                                str(tmp_path)), nprocs=2, join=True)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    # only rank 0 writes the outputs; the checkpoint holds the same weights
    assert (tmp_path / "w/metrics.json").is_file()
    ck = _weights(tmp_path / "w/final.pt")
    for k in a:
        torch.testing.assert_close(ck[k], a[k], rtol=0, atol=0, msg=k)


def test_stretch_sampling_covers_the_whole_clip_without_looping():
    from bharnet.data.sampling import sample_indices

    for n in (15, 32, 40):
        idx = sample_indices(n, 32, "stretch")[0]
        assert idx[0] == 0 and idx[-1] == n - 1 and (np.diff(idx) >= 0).all()
    rand = sample_indices(20, 8, "stretch", np.random.default_rng(0), num_clips=3)
    assert rand.shape == (3, 8) and (np.diff(rand, axis=1) >= 0).all()
