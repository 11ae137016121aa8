"""'No person' is an answer: empty or garbage input never gets a confident label."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bharnet import sdk

pytestmark = pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")


class CountingBackend:
    def __init__(self, inner):
        self.inner, self.name, self.thread_safe, self.calls = inner, inner.name, True, 0

    def run(self, inputs):
        self.calls += 1
        return self.inner.run(inputs)


@pytest.fixture
def rec():
    r = sdk.Recognizer(layout="mediapipe_holistic", backend="onnxruntime")
    r.backend = CountingBackend(r.backend)
    return r


def _garbage(stream):
    return {"all_nan": np.full_like(stream, np.nan), "all_zero": np.zeros_like(stream),
            "no_person": stream[:, None][:0].reshape((0,) + stream.shape),   # [M=0, T, V, C]
            "inf": np.full_like(stream, np.inf)}


def _assert_no_person(r):
    assert r.outcome == sdk.NO_PERSON and r.label is None and r.score is None
    assert r.top_k == [] and r.body_label is None and r.hand_label is None
    assert r.body_presence == 0.0 and r.latency_ms == 0.0
    json.dumps(r.to_dict())


@pytest.mark.parametrize("kind", ["all_nan", "all_zero", "no_person", "inf"])
def test_clip_mode_garbage_is_no_person_and_model_not_run(rec, holistic_stream, kind):
    r = rec.run(_garbage(holistic_stream)[kind])
    _assert_no_person(r)
    assert rec.backend.calls == 0


def test_stream_and_push_modes_say_no_person_where_the_person_left(rec, holistic_stream):
    a = holistic_stream.copy()
    a[36:] = np.nan                                # the person leaves half way
    recs = list(rec.run(list(a)))
    outcomes = [r.outcome for r in recs]
    assert outcomes[0] == sdk.ACTION
    assert outcomes[-1] == sdk.NO_PERSON
    for r in recs:
        assert (r.label is None) == (r.body_presence < 0.5)
        assert 0.0 <= r.body_presence <= 1.0
    pushed = [x for i, f in enumerate(a) if (x := rec.push(f, i * 33.0, track_id="p")) is not None]
    assert [x.outcome for x in pushed] == outcomes
    assert rec.stats()["no_person"] == 2 * outcomes.count(sdk.NO_PERSON)


def test_real_stream_has_a_body_and_a_label(rec, holistic_stream):
    r = rec.run(holistic_stream)
    assert r.outcome == "action" and r.label in rec.classes and r.body_presence > 0.9


def test_min_body_presence_zero_restores_the_old_answer(holistic_stream):
    r = sdk.Recognizer(layout="mediapipe_holistic", min_body_presence=0.0)
    assert r.run(np.full_like(holistic_stream, np.nan)).label in r.classes


def test_min_score_turns_unsure_windows_into_no_label(holistic_stream):
    sure = sdk.Recognizer(layout="mediapipe_holistic").run(holistic_stream)
    r = sdk.Recognizer(layout="mediapipe_holistic", min_score=min(1.0, sure.score + 1e-3))
    x = r.run(holistic_stream)
    assert x.outcome == sdk.LOW_CONFIDENCE and x.label is None and x.score is None
    assert x.top_k and x.top_k[0][0] == sure.label      # candidates are still listed
    y = sdk.Recognizer(layout="mediapipe_holistic", min_score=sure.score - 1e-3).run(holistic_stream)
    assert y.label == sure.label


def test_cli_run_on_an_all_nan_file_says_so(tmp_path, holistic_stream, capsys):
    from bharnet.cli import main

    f = tmp_path / "nan.npy"
    np.save(f, np.full_like(holistic_stream, np.nan))
    assert main(["run", "--keypoints", str(f), "--layout", "mediapipe_holistic"]) == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert len(out.err.strip().splitlines()) == 1 and "no person" in out.err


def test_cli_run_prints_no_person_windows_as_null_labels(tmp_path, holistic_stream, capsys):
    from bharnet.cli import main

    a = holistic_stream.copy()
    a[36:] = np.nan
    f = tmp_path / "half.npy"
    np.save(f, a)
    assert main(["run", "--keypoints", str(f), "--layout", "mediapipe_holistic"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["label"] is not None and lines[-1]["label"] is None
    assert lines[-1]["outcome"] == "no_person" and lines[-1]["score"] is None
