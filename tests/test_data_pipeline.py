import numpy as np
import pytest

from bharnet.data import Augment, InputSpec, adapt, prepare, prepare_clip, sample_indices
from bharnet.layouts import get_layout

WB = get_layout("coco_wholebody")


def _wholebody_clip(t=64, m=1, seed=0):
    """Random but plausible-ish coco_wholebody clip in pixel units, all joints present."""
    rng = np.random.default_rng(seed)
    kp = rng.uniform(100, 500, size=(m, t, 133, 2)).astype(np.float32)
    sc = rng.uniform(0.6, 1.0, size=(m, t, 133)).astype(np.float32)
    return kp, sc


@pytest.mark.parametrize("kw,names", [
    ({}, ("body", "hand", "hand_mask")),
    ({"hands": False}, ("body",)),
    ({"body": False}, ("hand", "hand_mask")),
    ({"unified": True}, ("joints",)),
])
def test_spec_names_and_shapes_match_prepare(kw, names):
    spec = InputSpec(window=32, num_person=2, **kw)
    assert spec.input_names == names
    kp, sc = _wholebody_clip(t=32, m=2)
    out = prepare(kp, sc, "coco_wholebody", spec)
    assert tuple(out) == names
    for k, shape in spec.input_shapes().items():
        assert out[k].shape == shape and out[k].dtype == np.float32
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_spec_validation_names_the_problem():
    with pytest.raises(ValueError, match="stream"):
        InputSpec(stream="x")
    with pytest.raises(ValueError, match="unknown keys.*bogus"):
        InputSpec.from_dict({"bogus": 1})
    with pytest.raises(KeyError, match="unknown layout"):
        InputSpec(body_layout="nope")
    assert InputSpec(coords=3, with_score=False).channels == 3


def test_hands_needed_but_source_has_none():
    with pytest.raises(ValueError, match="jhmdb15"):
        prepare(np.ones((1, 64, 15, 2)), None, "jhmdb15", InputSpec())
    with pytest.raises(ValueError, match="ntu25.*no left_hand/right_hand"):
        prepare(np.ones((1, 64, 25, 3)), None, "ntu25", InputSpec(unified=True, coords=3))
    out = prepare(np.random.rand(1, 64, 15, 2), None, "jhmdb15",
                  InputSpec(body_layout="jhmdb15", hands=False))
    assert out["body"].shape == (3, 64, 15, 1)


@pytest.mark.parametrize("stream", ["j", "b", "jm", "bm"])
def test_nan_inf_never_reach_outputs(stream):
    kp, sc = _wholebody_clip()
    kp[0, 3, 5] = np.nan          # left shoulder
    kp[0, 10, 9] = np.inf         # left wrist
    kp[0, 20, 100] = -np.inf      # left hand joint
    kp[0, 30, 120] = 1e30         # absurd value
    sc[0, 40, 0] = np.nan
    spec = InputSpec(stream=stream)
    out = prepare(kp, sc, "coco_wholebody", spec)
    for v in out.values():
        assert np.isfinite(v).all()
    if stream == "j":
        assert np.all(out["body"][:, 3, 5, 0] == 0)   # coords and score zeroed
        assert np.all(out["body"][:, 10, 9, 0] == 0)
        assert np.all(out["body"][:, 40, 0, 0] == 0)
        assert np.all(out["hand"][:, 20, 100 - 91, 0] == 0)


def test_missing_by_threshold_zero_coords_and_person_padding():
    kp, sc = _wholebody_clip(m=1)
    sc[0, :, 7] = 0.1                       # below threshold
    kp[0, :, 8] = 0.0                       # all-zero coords = not detected
    out = prepare(kp, sc, "coco_wholebody", InputSpec(num_person=2))
    body = out["body"]
    assert np.all(body[:, :, 7] == 0) and np.all(body[:, :, 8] == 0)
    assert np.all(body[..., 1] == 0)         # padded person is entirely missing
    assert np.all(out["hand_mask"][:, 2:] == 0)
    # cropping persons keeps the first
    kp3 = np.concatenate([kp, kp + 5, kp + 9]); sc3 = np.concatenate([sc] * 3)
    out3 = prepare(kp3, sc3, "coco_wholebody", InputSpec(num_person=1))
    np.testing.assert_allclose(out3["body"], body[..., :1], atol=1e-5)


def test_missing_hand_frames_masked():
    kp, sc = _wholebody_clip()
    sc[0, 10:20, 91:112] = 0.0               # left hand lost for 10 frames
    kp[0, :, 112:133] = 0.0                  # right hand never detected
    out = prepare(kp, sc, "coco_wholebody", InputSpec())
    mask, hand = out["hand_mask"], out["hand"]
    assert mask[10:20, 0].sum() == 0 and mask[:10, 0].all() and mask[20:, 0].all()
    assert mask[:, 1].sum() == 0
    assert np.all(hand[:, 10:20, :, 0] == 0) and np.all(hand[..., 1] == 0)


def _posed_person(t=64):
    """A left/right mirror-symmetric person (about x=300): the hands are mirror images."""
    rng = np.random.default_rng(1)
    kp = np.zeros((1, t, 133, 2), np.float32)
    for i, n in enumerate(WB.joints):
        if n.startswith("right") or n.startswith("left"):
            continue
        kp[0, :, i] = [300, rng.uniform(100, 500)]
    for a, b in WB.flip_pairs:               # a = left joint, b = right joint
        p = rng.uniform(200, 280, size=(t, 1)) * [1, 0] + rng.uniform(100, 500, size=(t, 1)) * [0, 1]
        kp[0, :, b] = p
        kp[0, :, a] = p * [-1, 1] + [600, 0]
    return kp


def test_left_hand_mirrored_to_look_like_right():
    kp = _posed_person()
    out = prepare(kp, None, "coco_wholebody", InputSpec(with_score=False))
    np.testing.assert_allclose(out["hand"][..., 0], out["hand"][..., 1], atol=1e-4)
    # without mirroring, x would be negated: make sure the test would notice
    assert np.abs(out["hand"][0, ..., 0]).max() > 0.1


def test_body_normalisation_is_translation_and_scale_invariant_and_hands_wrist_centred():
    kp, sc = _wholebody_clip()
    a = prepare(kp, sc, "coco_wholebody", InputSpec())
    b = prepare(kp * 3.0 + 77.0, sc, "coco_wholebody", InputSpec())
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-4)
    assert np.all(a["hand"][:2, :, 0] == 0)            # wrist at the origin
    # unified: hands are in body units, no own frame (the wrist is not at the origin)
    u = prepare(kp, sc, "coco_wholebody", InputSpec(unified=True))
    assert np.abs(u["joints"][:2, :, 23]).max() > 0


def test_stream_definitions():
    kp, sc = _wholebody_clip(t=8)
    sc[0, 3, 7] = 0.0                                   # left elbow missing in frame 3
    base = dict(window=8, with_score=True)
    j = prepare(kp, sc, "coco_wholebody", InputSpec(stream="j", **base))["body"]
    b = prepare(kp, sc, "coco_wholebody", InputSpec(stream="b", **base))["body"]
    jm = prepare(kp, sc, "coco_wholebody", InputSpec(stream="jm", **base))["body"]
    bm = prepare(kp, sc, "coco_wholebody", InputSpec(stream="bm", **base))["body"]
    coco = get_layout("coco17")
    for child, parent in coco.bone_pairs:
        want = j[:2, :, child] - j[:2, :, parent]
        ok = (j[2, :, child] > 0) & (j[2, :, parent] > 0)
        np.testing.assert_allclose(b[:2, :, child], want * ok, atol=1e-6)
    ok = (j[2, 1:] > 0) & (j[2, :-1] > 0)
    np.testing.assert_allclose(jm[:2, :-1], (j[:2, 1:] - j[:2, :-1]) * ok, atol=1e-6)
    assert np.all(jm[:2, -1] == 0) and np.all(bm[:2, -1] == 0)
    assert np.all(jm[:2, 2:4, 7] == 0)                  # no jump into/out of the missing joint
    np.testing.assert_array_equal(jm[2], j[2])          # scores unchanged
    # the elbow->wrist bone (wrist's parent is the elbow) vanishes with the elbow
    wrist_parent = dict(coco.bone_pairs)[9]
    assert wrist_parent == 7 and np.all(b[:2, 3, 9] == 0)


def test_holistic_real_stream(holistic_stream):
    x = holistic_stream[:64]
    out = prepare(x[..., :3], None, "mediapipe_holistic", InputSpec(coords=3))
    present = (np.abs(x[:, 33:54, :3]).sum((1, 2)) > 0)
    np.testing.assert_array_equal(out["hand_mask"][:, 0] > 0, present)
    assert all(np.isfinite(v).all() for v in out.values())


def test_augmentation_seeded_and_effective():
    kp, sc = _wholebody_clip()
    spec = InputSpec()
    a = prepare(kp, sc, "coco_wholebody", spec, rng=np.random.default_rng(3), augment=True)
    b = prepare(kp, sc, "coco_wholebody", spec, rng=np.random.default_rng(3), augment=True)
    c = prepare(kp, sc, "coco_wholebody", spec, rng=np.random.default_rng(4), augment=True)
    plain = prepare(kp, sc, "coco_wholebody", spec)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert np.isfinite(a[k]).all()
    assert not np.allclose(a["body"], c["body"]) and not np.allclose(a["body"], plain["body"])
    drop = Augment(rotate_deg=0, scale=0, noise=0, hand_drop_p=1.0, frame_drop_p=0)
    d = prepare(kp, sc, "coco_wholebody", spec, rng=np.random.default_rng(0), augment=drop)
    assert d["hand_mask"].sum() == 0 and np.all(d["hand"] == 0)
    np.testing.assert_allclose(d["body"], plain["body"], atol=1e-5)
    fd = Augment(rotate_deg=0, scale=0, noise=0, hand_drop_p=0, hand_span_p=0, frame_drop_p=1.0,
                 frame_drop_frac=0.25)
    e = prepare(kp, sc, "coco_wholebody", spec, rng=np.random.default_rng(0), augment=fd)
    dropped = np.all(e["body"][-1] == 0, axis=(1, 2))
    assert dropped.sum() == 16 and np.all(e["hand_mask"][dropped] == 0)
    u = prepare(kp, sc, "coco_wholebody", InputSpec(unified=True), rng=np.random.default_rng(0),
                augment=drop)
    assert np.all(u["joints"][:, :, 23:] == 0) and np.abs(u["joints"][:, :, :23]).sum() > 0


def test_rotation_3d_keeps_vertical_axis():
    rng = np.random.default_rng(0)
    kp = rng.uniform(-1, 1, size=(1, 16, 133, 3)).astype(np.float32)
    spec = InputSpec(coords=3, window=16, with_score=False, hands=False)
    aug = Augment(rotate_deg=40, scale=0, noise=0, hand_drop_p=0, hand_span_p=0, frame_drop_p=0)
    a = prepare(kp, None, "coco_wholebody", spec, rng=np.random.default_rng(1), augment=aug)["body"]
    p = prepare(kp, None, "coco_wholebody", spec)["body"]
    np.testing.assert_allclose(a[1], p[1], atol=1e-4)  # y untouched
    assert not np.allclose(a[0], p[0])


def test_sampling():
    idx = sample_indices(100, 16)
    assert idx.shape == (1, 16) and idx.min() >= 0 and idx.max() <= 99
    assert np.all(np.diff(idx[0]) > 0)
    multi = sample_indices(100, 16, num_clips=3)
    assert multi.shape == (3, 16) and len({tuple(r) for r in multi}) == 3
    np.testing.assert_array_equal(multi, sample_indices(100, 16, num_clips=3))  # deterministic
    r = sample_indices(100, 16, "crop", rng=np.random.default_rng(0), num_clips=4)
    assert np.all(np.diff(r, axis=1) == 1) and r.max() <= 99
    loop = sample_indices(5, 12)
    np.testing.assert_array_equal(loop[0], np.arange(12) % 5)
    pad = sample_indices(5, 8, short="pad")
    np.testing.assert_array_equal(pad[0], [0, 1, 2, 3, 4, -1, -1, -1])
    with pytest.raises(ValueError):
        sample_indices(0, 8)


def test_prepare_clip_any_length_and_pad_is_missing():
    kp, sc = _wholebody_clip(t=20)
    spec = InputSpec(window=32)
    out = prepare_clip(kp, sc, "coco_wholebody", spec, num_clips=2, short="pad")
    assert out["body"].shape == (2, 3, 32, 17, 1)
    assert np.all(out["body"][:, :, 20:] == 0) and np.all(out["hand_mask"][:, 20:] == 0)
    tr = prepare_clip(kp, sc, "coco_wholebody", spec, train=True, rng=np.random.default_rng(0))
    assert tr["hand"].shape == (1, 3, 32, 21, 2)
    with pytest.raises(ValueError, match="window"):
        prepare(kp, sc, "coco_wholebody", spec)


def test_fuzz_corrupted_inputs_always_finite_and_shaped():
    rng = np.random.default_rng(123)
    for case in range(40):
        layout = ["coco_wholebody", "mediapipe_holistic"][case % 2]
        v = get_layout(layout).num_joints
        spec = InputSpec(window=12, stream=["j", "b", "jm", "bm"][case % 4],
                         coords=int(rng.integers(2, 4)), num_person=int(rng.integers(1, 3)),
                         unified=bool(case % 5 == 0), body=bool(case % 7 != 1),
                         with_score=bool(case % 3))
        m_in = int(rng.integers(1, 4))
        kp = rng.normal(300, 100, size=(m_in, 12, v, 3)).astype(np.float32)
        sc = rng.uniform(0, 1, size=(m_in, 12, v)).astype(np.float32)
        for bad in (np.nan, np.inf, -np.inf, 0.0, 1e20):
            kp[rng.random(kp.shape) < 0.05] = bad
        sc[rng.random(sc.shape) < 0.05] = np.nan
        if case % 6 == 0:
            kp[:] = np.nan                                   # nothing at all
        out = prepare(kp, None if case % 4 == 3 else sc, layout, spec,
                      rng=rng, augment=bool(case % 2))
        assert set(out) == set(spec.input_names)
        for k, shape in spec.input_shapes().items():
            assert out[k].shape == shape and np.isfinite(out[k]).all(), (case, k)
            assert np.abs(out[k]).max() < 1e4, (case, k)


def test_body_layout_with_hands_takes_scale_from_body_part(holistic_stream):
    kp = holistic_stream[:64, :, :3]
    body17 = prepare(kp, None, "mediapipe_holistic", InputSpec(coords=3, hands=False))["body"]
    full = prepare(kp, None, "mediapipe_holistic",
                   InputSpec(body_layout="mediapipe_holistic", coords=3, hands=False))["body"]
    # the shared joints (shoulders, wrists) are normalised to a similar size either way
    assert np.abs(full[:2, :, 11]).max() < 3 * np.abs(body17[:2, :, 5]).max()
