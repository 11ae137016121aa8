"""Causal ("causal-v1") preparation: the clip-level and the incremental entry points agree, frames
depend only on their own past, missing frames equal the left padding, and stream sampling."""
import numpy as np
import pytest

from bharnet.data import synth
from bharnet.data.causal import CausalPreparer, prepare_stream
from bharnet.data.inputs import TIME_AXIS, take_steps
from bharnet.data.normalise import normalisation_metadata
from bharnet.data.pipeline import InputSpec, prepare, prepare_clip
from bharnet.data.sampling import sample_indices

LAYOUT = synth.LAYOUT  # coco_wholebody


def _clip(seed=0, persons=1, t=40):
    """A synthetic whole-body clip with realistic gaps: a fully missing frame, a hand missing for a
    span, a person that leaves (when there are two)."""
    ds = synth.generate(synth.DEFAULT_CLASSES[:1], clips_per_class=1, seed=seed, frames=(t, t))
    kp = np.repeat(ds.clips[0].keypoint, persons, axis=0).copy()
    sc = np.repeat(ds.clips[0].score, persons, axis=0).copy()
    if persons > 1:
        kp[1] += 40.0
        sc[1, t // 2:] = 0                  # the second person leaves
    sc[:, 7] = 0                            # a dropped frame
    left = np.asarray(synth.get_layout(LAYOUT).part("left_hand"))
    sc[:, 12:18, left] = 0                  # the left hand unseen for a while
    return kp, sc


def _stack(frames: list[dict]) -> dict:
    return {k: np.concatenate([f[k] for f in frames], axis=TIME_AXIS[k]) for k in frames[0]}


def _steps(x: dict, lo: int, hi: int) -> dict:
    return take_steps(x, np.arange(lo, hi))


SPECS = [
    dict(stream="j"), dict(stream="jm"), dict(stream="b"), dict(stream="bm"),
    dict(stream="jm", num_person=2), dict(unified=True, stream="bm"),
    dict(hands=False, stream="jm"), dict(body=False, stream="j"),
]


@pytest.mark.parametrize("kw", SPECS)
def test_clip_and_incremental_preparation_agree_bitwise(kw):
    spec = InputSpec(normalisation="causal-v1", norm_horizon=6, **kw)
    kp, sc = _clip(persons=kw.get("num_person", 1))
    whole = prepare_stream(kp, sc, LAYOUT, spec)
    prep = CausalPreparer(LAYOUT, spec)
    inc = _stack([prep.push(kp[:, t], sc[:, t]) for t in range(kp.shape[1])])
    assert set(whole) == set(spec.input_names)
    for k in whole:
        assert whole[k].shape[TIME_AXIS[k]] == kp.shape[1]
        np.testing.assert_array_equal(inc[k], whole[k], err_msg=k)
    assert np.abs(whole[spec.input_names[0]]).max() > 0.1


def test_frames_range_equals_the_slice_of_the_whole_clip():
    spec = InputSpec(normalisation="causal-v1", norm_horizon=8, stream="bm")
    kp, sc = _clip()
    whole = prepare_stream(kp, sc, LAYOUT, spec)
    for lo, hi in ((0, 5), (1, 20), (13, 40), (39, 40)):
        part = prepare_stream(kp, sc, LAYOUT, spec, frames=(lo, hi))
        for k in whole:
            np.testing.assert_array_equal(part[k], _steps(whole, lo, hi)[k], err_msg=f"{k} {lo}:{hi}")
    with pytest.raises(ValueError, match="frames"):
        prepare_stream(kp, sc, LAYOUT, spec, frames=(5, 41))


def test_a_frame_depends_only_on_its_horizon():
    k = 5
    spec = InputSpec(normalisation="causal-v1", norm_horizon=k, stream="j")
    kp, sc = _clip()
    base = prepare_stream(kp, sc, LAYOUT, spec)
    t = 33                                  # both hands seen in frames 29..33
    later = kp.copy()
    later[:, t + 1:] *= 1.7                 # the future
    early = kp.copy()
    early[:, :t - k + 1] += 33.0            # older than the horizon
    inside = kp.copy()
    inside[:, t - k + 1] *= 1.3             # the horizon's oldest frame
    for name, moved, same in (("future", later, True), ("old", early, True), ("horizon", inside, False)):
        x = prepare_stream(moved, sc, LAYOUT, spec)
        for key in ("body", "hand"):
            eq = np.array_equal(_steps(x, t, t + 1)[key], _steps(base, t, t + 1)[key])
            assert eq == same, (name, key)
    # motion looks back one frame, never forward
    mspec = InputSpec(normalisation="causal-v1", norm_horizon=k, stream="jm")
    short = prepare_stream(kp[:, :t + 1], sc[:, :t + 1], LAYOUT, mspec)
    full = prepare_stream(kp, sc, LAYOUT, mspec)
    for key in full:
        np.testing.assert_array_equal(short[key], _steps(full, 0, t + 1)[key])


def test_backward_motion_is_the_difference_of_prepared_frames():
    kp, sc = _clip()
    j = prepare_stream(kp, sc, LAYOUT, InputSpec(normalisation="causal-v1", stream="j", with_score=False))
    jm = prepare_stream(kp, sc, LAYOUT, InputSpec(normalisation="causal-v1", stream="jm", with_score=False))
    body, motion = j["body"], jm["body"]
    both = (body[:, 1:] != 0).any(0) & (body[:, :-1] != 0).any(0)         # [T-1, V, M]
    np.testing.assert_allclose(motion[:, 1:][:, both], (body[:, 1:] - body[:, :-1])[:, both], atol=1e-6)
    assert (motion[:, 0] == 0).all() and (motion[:, 1:][:, ~both] == 0).all()
    assert (motion[:, 8] == 0).all()      # the frame after the dropped frame 7 has no motion


def test_long_horizon_last_frame_equals_the_window_normalisation():
    """With K covering the clip, the last frame sees the statistics of the whole clip: exactly
    what the windowed normalisation gives every frame of that window (same functions reused)."""
    kp, sc = _clip(t=30)
    causal = prepare_stream(kp, sc, LAYOUT, InputSpec(normalisation="causal-v1", norm_horizon=64,
                                                      window=30, stream="b"))
    window = prepare(kp, sc, LAYOUT, InputSpec(window=30, stream="b"))
    for k in window:
        np.testing.assert_array_equal(_steps(causal, 29, 30)[k], _steps(window, 29, 30)[k], err_msg=k)


@pytest.mark.parametrize("stream", ["j", "bm"])
def test_missing_frame_prepares_like_the_left_padding(stream):
    spec = InputSpec(normalisation="causal-v1", norm_horizon=6, stream=stream, window=8)
    kp, sc = _clip()
    prep = CausalPreparer(LAYOUT, spec)
    first = prep.push(None)                        # a stream that starts with a missing frame
    for t in range(5):
        prep.push(kp[:, t], sc[:, t])
    gap = prep.push(None)
    after = prep.push(kp[:, 5], sc[:, 5])
    pad = take_steps(prepare_stream(kp, sc, LAYOUT, spec), [-1])
    for k in pad:
        assert not pad[k].any()
        np.testing.assert_array_equal(first[k], pad[k], err_msg=k)
        np.testing.assert_array_equal(gap[k], pad[k], err_msg=k)
    # all-absent keypoints are the same missing frame as None
    np.testing.assert_array_equal(prep.push(np.zeros_like(kp[:, 0]), np.zeros_like(sc[:, 0]))["body"],
                                  pad["body"])
    if stream == "bm":  # the frame after a gap has no motion (its scores are there)
        assert not after["body"][:2].any() and not after["hand"][:2].any()
        assert after["body"][2].any()
    whole = prepare_stream(kp, sc, LAYOUT, spec)
    np.testing.assert_array_equal(_steps(whole, 7, 8)["body"], pad["body"])  # dropped frame 7


def test_reset_starts_a_new_stream():
    spec = InputSpec(normalisation="causal-v1", norm_horizon=6, stream="jm")
    kp, sc = _clip()
    prep = CausalPreparer(LAYOUT, spec)
    for t in range(10):
        prep.push(kp[:, t], sc[:, t])
    prep.reset()
    again = _stack([prep.push(kp[:, t], sc[:, t]) for t in range(10, 20)])
    fresh = prepare_stream(kp[:, 10:20], sc[:, 10:20], LAYOUT, spec)
    for k in fresh:
        np.testing.assert_array_equal(again[k], fresh[k])


def test_stream_sampling_windows_end_at_a_frame_with_left_padding():
    assert sample_indices(5, 8, "stream").tolist() == [[-1, -1, -1, 0, 1, 2, 3, 4]]
    assert sample_indices(20, 8, "stream").tolist() == [list(range(12, 20))]
    ends = sample_indices(20, 8, "stream", num_clips=3)[:, -1]
    assert ends.tolist() == [7, 13, 19]
    rng = np.random.default_rng(0)
    drawn = np.concatenate([sample_indices(20, 8, "stream", rng, num_clips=50)[:, -1] for _ in range(4)])
    assert drawn.min() == 7 and drawn.max() == 19          # the window stays inside the clip
    assert (sample_indices(5, 8, "stream", rng, num_clips=10)[:, -1] == 4).all()


def test_causal_prepare_clip_windows_the_prepared_stream():
    spec = InputSpec(normalisation="causal-v1", norm_horizon=6, stream="jm", window=16)
    kp, sc = _clip()
    whole = prepare_stream(kp, sc, LAYOUT, spec)
    x = prepare_clip(kp, sc, LAYOUT, spec, mode="stream", num_clips=2)
    for k in whole:
        assert x[k].shape[0] == 2
        np.testing.assert_array_equal(x[k][1], _steps(whole, 24, 40)[k])      # ends at the last frame
        np.testing.assert_array_equal(x[k][0], _steps(whole, 0, 16)[k])
    short = prepare_clip(kp[:, :10], sc[:, :10], LAYOUT, spec, mode="stream")
    head = prepare_stream(kp[:, :10], sc[:, :10], LAYOUT, spec)
    for k in head:
        np.testing.assert_array_equal(short[k][0], take_steps(head, [-1] * 6 + list(range(10)))[k])
    train = prepare_clip(kp, sc, LAYOUT, spec, train=True, rng=np.random.default_rng(1), mode="stream")
    assert train["body"].shape == (1,) + spec.input_shapes()["body"]
    with pytest.raises(ValueError, match="mode 'stream'"):
        prepare_clip(kp, sc, LAYOUT, spec, mode="crop")


def test_spec_dict_is_backwards_compatible():
    old = {"body_layout": "coco17", "hands": True, "body": True, "unified": False, "stream": "j",
           "coords": 2, "with_score": True, "window": 64, "num_person": 1, "score_threshold": 0.3}
    spec = InputSpec.from_dict(old)
    assert spec.normalisation == "window" and not spec.causal
    assert spec.to_dict() == old  # a windowed spec writes what older readers know
    c = InputSpec(normalisation="causal-v1", norm_horizon=24)
    assert InputSpec.from_dict(c.to_dict()) == c and c.to_dict()["norm_horizon"] == 24
    assert normalisation_metadata(c)["version"] == "bharnet-norm-causal-1"
    assert normalisation_metadata(spec)["version"] == "bharnet-norm-1"
    with pytest.raises(ValueError, match="normalisation"):
        InputSpec(normalisation="ema")
    with pytest.raises(ValueError, match="norm_horizon"):
        InputSpec(normalisation="causal-v1", norm_horizon=0)
    with pytest.raises(ValueError, match="causal spec"):
        CausalPreparer(LAYOUT, spec)
