"""Run folders (`bharnet train`): the refuse / --resume / --force policy, nothing left by a failed
start, what a folder holds, and the one-line notices a run prints instead of surprising."""
import json
import os
import re

import pytest
import torch
import yaml

from bharnet import progress
from bharnet.cli import main

from train_helpers import tiny_config, tiny_synth


@pytest.fixture(scope="module")
def synth_path(tmp_path_factory):
    # 3 classes x 4 clips, half test: 6 training clips; batch 4 drops 2 per epoch
    return tiny_synth(tmp_path_factory.mktemp("data") / "tiny.npz")


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("BHARNET_PROGRESS", "lines")
    progress.reset()
    yield
    progress.reset()
    torch.set_num_threads(n)


def _config(tmp_path, name="c.yaml", **over):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(tiny_config("body_only", **over)))
    return path


def _train(cfg, data, work, *extra):
    return main(["train", str(cfg), "--data", str(data), "--work-dir", str(work), "--threads", "1",
                 *extra])


def test_run_folder_holds_config_command_versions_and_log(tmp_path, synth_path, capsys, monkeypatch):
    monkeypatch.setenv("BHARNET_PROGRESS_INTERVAL", "0.01")  # progress lines even in a short run
    cfg = _config(tmp_path, train={"epochs": 2, "warmup_epochs": 1})
    work = tmp_path / "w"
    assert _train(cfg, synth_path, work) == 0
    out = capsys.readouterr()
    saved = yaml.safe_load((work / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 2 and saved["data"]["path"] == str(synth_path)
    assert saved["train"]["momentum"] == 0.9  # the defaults are resolved in
    run = json.loads((work / "run.json").read_text())
    assert run["status"] == "finished" and run["versions"]["bharnet"] and run["versions"]["torch"]
    assert run["cwd"] == os.getcwd() and run["command"]
    log = (work / "train.log").read_text()
    for text in ("body_only on", "epoch 2/2  loss", "top1 ", "time: train"):
        assert text in log and text in out.out, text
    assert re.search(r"epoch 1/2: [01]/1 step \(\d+%\)", log) and "epoch 2/2: 1 step in" in log, log
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", ln) for ln in log.splitlines())
    for png in ("curves.png", "confusion.png"):
        assert (work / png).stat().st_size > 10_000


def test_existing_run_is_refused_then_resumed_or_replaced(tmp_path, synth_path, capsys):
    cfg = _config(tmp_path, train={"epochs": 2, "warmup_epochs": 1})
    work = tmp_path / "w"
    assert _train(cfg, synth_path, work, "--stop-after", "1") == 0
    before = {p.name: p.stat().st_mtime_ns for p in work.iterdir()}
    capsys.readouterr()
    assert _train(cfg, synth_path, work) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert {p.name: p.stat().st_mtime_ns for p in work.iterdir()} == before

    assert _train(cfg, synth_path, work, "--resume") == 0
    assert "resumed from" in capsys.readouterr().out
    log = (work / "train.log").read_text()
    assert log.count("body_only on") == 2 and "epoch 2/2" in log  # appended, not overwritten
    assert len(json.loads((work / "run.json").read_text())["previous"]) == 1

    assert _train(cfg, synth_path, work, "--force", "--stop-after", "1") == 0
    assert "deleted the earlier run" in capsys.readouterr().err
    assert not (work / "metrics.json").exists()  # nothing of the replaced run is left
    assert (work / "train.log").read_text().count("body_only on") == 1


def test_resume_without_a_run_and_force_on_foreign_files_are_refused(tmp_path, synth_path, capsys):
    cfg = _config(tmp_path)
    assert _train(cfg, synth_path, tmp_path / "none", "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert _train(cfg, synth_path, mine, "--force") == 2
    assert "no bharnet run wrote" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me"


def test_a_failed_start_leaves_nothing_behind(tmp_path, synth_path, shared_dir, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: ten\n")
    assert _train(bad, synth_path, tmp_path / "a") == 2
    assert "train.epochs: expected an integer, got 'ten'" in capsys.readouterr().err
    assert _train(_config(tmp_path), tmp_path / "missing.npz", tmp_path / "b") == 2
    assert "dataset file not found" in capsys.readouterr().err
    # refused only once the data is read (a hand variant on body-only JHMDB): the folder goes too
    jh = shared_dir / "data/jhmdb14/jhmdb14_split1.pkl"
    hand = tmp_path / "hand.yaml"
    hand.write_text(yaml.safe_dump(tiny_config("vanilla", data={"body_layout": "jhmdb15"})))
    assert _train(hand, jh, tmp_path / "c") == 2
    assert "no hands" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _train(hand, jh, empty) == 2
    assert not any((tmp_path / n).exists() for n in "abc") and list(empty.iterdir()) == []


def test_surprises_are_announced_in_one_line_each(tmp_path, synth_path, capsys):
    cfg = _config(tmp_path, train={"epochs": 1, "warmup_epochs": 3, "batch_size": 4})
    assert _train(cfg, synth_path, tmp_path / "w") == 0
    out = capsys.readouterr().out
    drop = [ln for ln in out.splitlines() if "drop_last" in ln]
    assert len(drop) == 1 and drop[0].startswith("note: 2 of 6 training clips"), out
    warm = [ln for ln in out.splitlines() if "warm-up" in ln]
    assert len(warm) == 1 and "train.warmup_epochs 3" in warm[0] and "never decays" in warm[0]


def test_quiet_keeps_notices_and_the_result_only(tmp_path, synth_path, capsys, monkeypatch):
    monkeypatch.setenv("BHARNET_PROGRESS_INTERVAL", "0.01")
    cfg = _config(tmp_path, train={"epochs": 1, "warmup_epochs": 1})
    assert _train(cfg, synth_path, tmp_path / "w", "--quiet") == 0
    cap = capsys.readouterr()
    assert cap.err == ""
    lines = cap.out.splitlines()
    assert [ln for ln in lines if not ln.startswith("note:")] == [lines[-1]]
    assert lines[-1].startswith("top1 ")


def test_eval_finds_the_data_relative_to_where_training_ran(tmp_path, synth_path, capsys, monkeypatch):
    run_dir = tmp_path / "project"
    run_dir.mkdir()
    (run_dir / "tiny.npz").write_bytes(synth_path.read_bytes())
    cfg = _config(tmp_path, train={"epochs": 1, "warmup_epochs": 1})
    monkeypatch.chdir(run_dir)
    assert main(["train", str(cfg), "--data", "tiny.npz", "--work-dir", "work_dirs/t"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    ckpt = run_dir / "work_dirs/t/final.pt"
    assert main(["eval", str(ckpt)]) == 0
    out = capsys.readouterr().out
    note = [ln for ln in out.splitlines() if ln.startswith("note: dataset tiny.npz")]
    assert len(note) == 1 and str(run_dir / "tiny.npz") in note[0]
    (run_dir / "tiny.npz").unlink()
    assert main(["eval", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "dataset file not found: tiny.npz" in err and "--data" in err


def test_curves_are_rewritten_after_every_epoch(tmp_path, synth_path):
    from bharnet.training.train import train

    cfg = tiny_config("body_only", train={"epochs": 3, "warmup_epochs": 1, "eval_every": 2})
    train(cfg, tmp_path, data=synth_path, quiet=True, stop_after=1)
    assert (tmp_path / "curves.png").is_file() and not (tmp_path / "metrics.json").exists()
    first = (tmp_path / "curves.png").read_bytes()
    train(cfg, tmp_path, data=synth_path, quiet=True, resume=True)
    assert (tmp_path / "curves.png").read_bytes() != first
    hist = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in hist if "test_top1" in h] == [2, 3]  # eval_every 2, and the last
