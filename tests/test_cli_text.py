"""What the commands say: the demo (progress, --quiet, its streams, its plot), help texts that match
behaviour, readable rendered labels, and the class count `bharnet info CONFIG` assumes."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from bharnet import progress
from bharnet.cli import main


@pytest.fixture(autouse=True)
def _progress_lines(monkeypatch):
    monkeypatch.setenv("BHARNET_PROGRESS", "lines")
    monkeypatch.setenv("BHARNET_PROGRESS_INTERVAL", "0.01")
    progress.reset()
    yield
    progress.reset()


def _demo(capsys, tmp_path, *extra):
    rc = main(["demo", "--actions", "2", "--plot", str(tmp_path / "t.png"), *extra])
    return rc, capsys.readouterr()


def test_demo_progress_is_lines_in_a_log_and_quiet_silences_it(tmp_path, capsys, monkeypatch):
    # The native frame path runs the 2-action stream in a few ms, less than one progress interval
    # on a fast machine (this failed in CI): a pause per frame makes the stream outlast the interval.
    from bharnet.sdk import Recognizer

    push = Recognizer.push

    def slow_push(self, *a, **k):
        time.sleep(0.001)
        return push(self, *a, **k)

    monkeypatch.setattr(Recognizer, "push", slow_push)
    rc, cap = _demo(capsys, tmp_path)
    assert rc == 0 and "\r" not in cap.err
    assert any(ln.startswith("synthetic stream: ") and "frames" in ln for ln in cap.err.splitlines())
    rc, cap = _demo(capsys, tmp_path, "--quiet")
    assert rc == 0 and cap.err == ""
    assert "timeline plot: " + str(tmp_path / "t.png") in cap.out


def test_demo_describes_only_the_bundled_stream_and_takes_fps(tmp_path, capsys, holistic_stream):
    rc, cap = _demo(capsys, tmp_path, "--quiet")
    if "real stream: not found" not in cap.out:  # the bundled stream is beside the repository
        assert "at 28 fps" in cap.out and "hugging" in cap.out
    mine = tmp_path / "mine.npy"
    np.save(mine, holistic_stream)
    rc, cap = _demo(capsys, tmp_path, "--quiet", "--stream", str(mine))
    assert rc == 0 and "hug" not in cap.out and "at 30 fps (assumed: pass --fps)" in cap.out
    rc, cap = _demo(capsys, tmp_path, "--quiet", "--stream", str(mine), "--fps", "12.5")
    assert rc == 0 and "at 12.5 fps (MediaPipe" in cap.out
    rc, cap = _demo(capsys, tmp_path, "--stream", str(tmp_path / "none.npy"))
    assert rc == 2 and "stream not found" in cap.err


def test_demo_says_why_there_is_no_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    rc, cap = _demo(capsys, tmp_path, "--quiet")
    assert rc == 0 and "timeline plot: none (matplotlib is not installed" in cap.out
    assert not (tmp_path / "t.png").exists()


def test_run_layout_help_lists_what_is_inferred():
    from bharnet.sdk.recognizer import _LAYOUT_BY_JOINTS

    r = subprocess.run([sys.executable, "-m", "bharnet.cli", "run", "--help"], capture_output=True,
                       text=True, check=True)
    text = " ".join(r.stdout.split())
    assert "inferred from the keypoint count" in text
    for joints, name in _LAYOUT_BY_JOINTS.items():
        assert f"{joints} {name}" in text, (joints, name)


@pytest.mark.parametrize("background", [255, 0, 128])
def test_rendered_labels_sit_on_a_filled_box(background):
    cv2 = pytest.importorskip("cv2")
    from bharnet.sdk.video import draw_labels

    img = np.full((360, 640, 3), background, np.uint8)
    draw_labels(cv2, img, ["raise_hand_thumb_up 0.93", "body: idle  hand: thumb_up"], 0.6)
    box = img[5:80, 5:330]
    dark = (box.max(axis=2) < 60).mean()
    light = (box.min(axis=2) > 200).mean()
    assert dark > 0.4 and light > 0.02, (background, dark, light)  # white text on a dark box
    assert (img[200:, 400:] == background).all()  # nothing drawn elsewhere


def test_info_config_says_which_class_count_it_assumed(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  variant: body_only\n  backbone: {base_channels: 8, num_stages: 3,"
                   " inflate_stages: [2], down_stages: [2]}\ndata:\n  window: 16\n")
    r = subprocess.run([sys.executable, "-m", "bharnet.cli", "info", str(cfg), "--json"],
                       capture_output=True, text=True, check=True)
    info = json.loads(r.stdout)
    assert info["num_classes"] == 60 and "60 classes" in info["note"] and "model.num_classes" in info["note"]
    cfg.write_text(cfg.read_text().replace("variant: body_only", "variant: body_only\n  num_classes: 5"))
    r = subprocess.run([sys.executable, "-m", "bharnet.cli", "info", str(cfg), "--json"],
                       capture_output=True, text=True, check=True)
    assert "note" not in json.loads(r.stdout)
