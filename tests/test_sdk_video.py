"""End to end from video: MediaPipe Holistic extraction -> keypoints -> recognitions -> render.

Runs where the [video] extra imports (mediapipe 0.10.14 needs protobuf<5); skipped elsewhere.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from bharnet import sdk
from prereq import machine

pytestmark = pytest.mark.video


def _mediapipe():
    from bharnet.sdk.video import _need_video

    try:
        _need_video()
    except RuntimeError as e:  # not installed, or a protobuf mediapipe cannot use
        machine("video", f"[video] extra not usable here: {e}")


@pytest.fixture(scope="module")
def video(shared_dir):
    _mediapipe()
    return shared_dir / "data/streams/demo_skeleton.mp4"


def test_extraction_matches_the_shared_stream(video, holistic_stream):
    from bharnet.sdk.video import extract_holistic

    kp, fps = extract_holistic(video)
    assert kp.shape == holistic_stream.shape and fps == pytest.approx(28, abs=0.5)
    # same MediaPipe version and settings as the stored stream: the pose is reproduced
    np.testing.assert_allclose(kp[:, :33], holistic_stream[:, :33], atol=1e-3)
    present = lambda a: a.any(axis=(1, 2)).mean()  # noqa: E731
    assert present(kp[:, 33:54]) == pytest.approx(present(holistic_stream[:, 33:54]), abs=0.05)


@pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")
def test_cli_video_to_recognitions_and_render(video, tmp_path, capsys):
    from bharnet.cli import main

    out = tmp_path / "r.mp4"
    assert main(["run", "--video", str(video), "--render", str(out)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert lines and all(x["label"] for x in lines)
    assert out.is_file() and out.stat().st_size > 10_000
