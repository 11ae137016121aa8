import numpy as np

from bharnet.data import InputSpec, prepare_clip, synth
from bharnet.data.cli import register  # noqa: F401  (the CLI module imports without torch)


def test_generate_small_dataset_properties():
    ds = synth.generate(clips_per_class=8, seed=1)
    assert ds.layout == "coco_wholebody" and ds.classes == list(synth.DEFAULT_CLASSES)
    assert ds.hand_intensive == list(range(len(synth.HAND_CLASSES)))
    assert len(ds.subset("train")) == 6 * len(ds.classes) and len(ds.subset("test")) == 2 * len(ds.classes)
    assert not set(ds.splits["train"]) & set(ds.splits["test"])
    for c in ds.clips:
        assert c.keypoint.shape[0] == 1 and c.keypoint.shape[2:] == (133, 2)
        assert np.isfinite(c.keypoint).all() and 0 <= c.score.min() and c.score.max() <= 1
    # hands are small relative to the body, and sometimes lost (low scores)
    c = ds.clips[0]
    body_h = np.ptp(c.keypoint[0, :, :17, 1], axis=1).mean()
    hand_h = np.ptp(c.keypoint[0, :, 112:133, 1], axis=1).mean()
    assert hand_h < 0.2 * body_h
    scores = np.concatenate([c.score[0, :, 91:] for c in ds.clips])
    assert 0.0 < (scores < 0.3).mean() < 0.3
    # same seed -> same data
    again = synth.generate(clips_per_class=8, seed=1)
    np.testing.assert_array_equal(again.clips[5].keypoint, ds.clips[5].keypoint)


def test_hand_classes_share_body_motion_but_differ_in_hands():
    """Thumb up vs thumb down: same arm motion, mirrored thumb position relative to the wrist."""
    p = synth.Person(300, 640, 650, 1, 1, False, 0.0, 0.9)
    up = synth._render(synth._action("raise_hand_thumb_up", 60, p, np.random.default_rng(0)), p,
                       np.random.default_rng(0))
    down = synth._render(synth._action("raise_hand_thumb_down", 60, p, np.random.default_rng(0)), p,
                         np.random.default_rng(0))
    np.testing.assert_allclose(up[:, :17], down[:, :17], atol=1e-6)
    t = 30
    assert up[t, 112 + 4, 1] < up[t, 112, 1] - 10      # thumb tip above the wrist
    assert down[t, 112 + 4, 1] > down[t, 112, 1] + 10  # and below it


def test_stream_timeline_and_pipeline_ready():
    kp, timeline = synth.generate_stream(num_actions=3, seed=2)
    assert kp.ndim == 3 and kp.shape[1:] == (133, 3)
    assert len(timeline) == 3
    ends = 0
    for start, end, cls in timeline:
        assert start >= ends and end > start and cls in synth.DEFAULT_CLASSES
        ends = end
    assert ends == kp.shape[0]
    out = prepare_clip(kp[:, :, :2], kp[:, :, 2], "coco_wholebody", InputSpec(window=64))
    assert all(np.isfinite(v).all() for v in out.values())
