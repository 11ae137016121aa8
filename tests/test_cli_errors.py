"""User errors on the command line: one line naming the problem, exit code 2, no traceback."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bharnet import sdk
from bharnet.cli import main


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def npy(tmp_path, holistic_stream):
    f = tmp_path / "kp.npy"
    np.save(f, holistic_stream)
    return f


@pytest.mark.parametrize("argv,words", [
    (["run", "--keypoints", "{npy}", "--backend", "bogus"], ["invalid choice", "bogus"]),
    (["run", "--keypoints", "{npy}", "--layout", "nope"], ["invalid choice", "nope"]),
    (["run", "--keypoints", "{npy}", "--device", "gpu7"], ["invalid device"]),
    (["run", "--keypoints", "{npy}", "--stride", "0"], ["stride"]),
    (["run", "--keypoints", "{npy}", "--fps", "-3"], ["fps"]),
    (["run", "--keypoints", "{tmp}"], ["is a directory"]),
    (["run", "--keypoints", "{tmp}/none.npy"], ["none.npy"]),
    (["run", "--keypoints", "{txt}"], ["not a .npy"]),
    (["run", "--keypoints", "{npy}", "--model", "{txt}"], ["not a bharnet bundle"]),
    (["info", "{tmp}/final.pt"], ["training checkpoint, not a bundle", "bharnet export"]),
    (["info", "{tmp}"], ["is a directory"]),
    (["info", "{txt}"], ["not a bharnet bundle"]),
    (["data", "info", "{tmp}"], []),
    (["keygen", "--out", "{txt}"], ["already exists"]),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path, npy, capsys, argv, words):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    (tmp_path / "final.pt").write_bytes(b"\x80\x02}q\x00.")    # a pickle, as torch.save writes
    argv = [a.format(npy=npy, tmp=tmp_path, txt=txt) for a in argv]
    assert _code(argv) == 2
    _one_line_error(capsys, *words)


def _code(argv) -> int:
    """main's exit code, whether returned or raised by argparse (SystemExit)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")
def test_backends_and_devices_that_cannot_run_here(npy, capsys):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is None:
        assert main(["run", "--keypoints", str(npy), "--backend", "tensorrt"]) == 2
        _one_line_error(capsys, "tensorrt")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert main(["run", "--keypoints", str(npy), "--device", "cuda"]) == 2
        _one_line_error(capsys, "cuda")


def test_video_without_the_extra(tmp_path, capsys, shared_dir):
    import importlib.util

    if importlib.util.find_spec("mediapipe") is not None:
        pytest.skip("the [video] extra is installed here")
    video = next((shared_dir / "data/streams").glob("*.mp4"))
    assert main(["run", "--video", str(video)]) == 2
    _one_line_error(capsys, "[video]")


def test_malformed_yaml(tmp_path, capsys):
    pytest.importorskip("yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n  x: {")
    code = main(["info", str(bad)])
    assert code == 2
    _one_line_error(capsys)


def test_version(capsys):
    assert _code(["--version"]) == 0 and capsys.readouterr().out.startswith("bharnet ")


@pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")
def test_output_piped_to_head_ends_quietly(npy):
    exe = shutil.which("bharnet", path=os.path.dirname(sys.executable))
    assert exe
    p = subprocess.run(f"'{exe}' run --keypoints '{npy}' --stride 1 | head -1", shell=True,
                       capture_output=True, text=True, timeout=300)
    assert p.stdout.count("\n") == 1 and p.stderr == "", p.stderr
