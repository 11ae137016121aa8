"""Streaming models through `bharnet train` / `bharnet eval`: every variant trains with a valid
backbone and causal preparation, the window follows pool_steps, and evaluation scores each clip at
its last frame."""
import json

import numpy as np
import pytest
import torch

from bharnet.data.causal import prepare_stream
from bharnet.data.inputs import take_steps
from bharnet.training.checkpoint import load_checkpoint
from bharnet.training.config import load_config
from bharnet.training.evaluate import evaluate_checkpoints
from bharnet.training.loader import prepare_test, read_dataset
from bharnet.training.models import VARIANTS
from bharnet.training.train import train

from train_helpers import one_thread, synth_path, TINY_BACKBONE, tiny_config, tiny_synth  # noqa: F401 (fixtures)

# mstcn with one dilation: half-span 1, strides (1, 1, 2): receptive field 7, total stride 2
VALID = {**TINY_BACKBONE, "temporal_padding": "valid", "dilations": [1]}
STREAM_DATA = {"normalisation": "causal-v1", "norm_horizon": 8, "sample": "stream", "pool_steps": 3}


def streaming_config(variant: str, **over) -> dict:
    cfg = tiny_config(variant, model={"backbone": VALID}, train={"epochs": 1})
    cfg["data"] = {k: v for k, v in cfg["data"].items() if k != "window"}
    cfg["data"].update(STREAM_DATA)
    for section, vals in over.items():
        cfg[section] = {**cfg[section], **vals}
    return cfg


def test_pool_steps_sets_the_window():
    cfg = load_config(streaming_config("vanilla"))
    assert cfg["data"]["window"] == 7 + 2 * (3 - 1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_trains_and_evaluates_streaming(variant, tmp_path, synth_path):
    m = train(streaming_config(variant), tmp_path, data=synth_path, quiet=True)
    ck = load_checkpoint(tmp_path / "final.pt")
    assert ck["spec"]["normalisation"] == "causal-v1" and ck["spec"]["window"] == 11
    assert ck["config"]["model"]["backbone"]["temporal_padding"] == "valid"
    assert 0.0 <= m["top1"] <= 1.0
    # `bharnet eval` scores the same per-clip decisions as the end of training
    e = evaluate_checkpoints([tmp_path / "final.pt"], synth_path)
    assert e["top1"] == pytest.approx(m["top1"]) and e["num_samples"] == m["num_samples"]


def test_test_inputs_are_the_window_ending_at_the_last_frame(synth_path):
    from bharnet.training.config import input_spec

    cfg = load_config(streaming_config("vanilla"))
    spec = input_spec(cfg)
    data = read_dataset(synth_path)
    clips = data.split("test")
    x, labels = prepare_test(clips, data.layout, spec, 1, "stream")
    w = spec.window
    for i, c in enumerate(clips):
        t = c.keypoint.shape[1]
        whole = prepare_stream(c.keypoint, c.score, data.layout, spec)
        ref = take_steps(whole, np.arange(t - w, t))  # 12-16 frame clips, window 11: no padding
        for k in ref:
            np.testing.assert_array_equal(x[k][i, 0], ref[k])
        assert labels[i] == c.label


def test_short_clips_are_left_padded_in_training(synth_path):
    from bharnet.training.config import input_spec
    from bharnet.training.loader import AugmentOptions, TrainSet

    cfg = load_config(streaming_config("body_only", data={"pool_steps": 6}))   # window 17 > clips
    spec = input_spec(cfg)
    data = read_dataset(synth_path)
    ts = TrainSet(data.split("train"), data.layout, spec, AugmentOptions.from_config(False), "stream", 0)
    for i in range(len(ts)):
        x, _ = ts[i]
        t = data.split("train")[i].keypoint.shape[1]
        assert x["body"].shape[1] == 17
        assert not x["body"][:, :17 - t].any() and x["body"][2, 17 - t:].any()


@pytest.mark.parametrize("over,match", [
    ({"data": {"window": 12}}, "does not match data.pool_steps"),
    ({"data": {"pool_steps": None, "window": 12}}, "does not suit the valid backbone"),
    ({"data": {"sample": "crop"}}, "needs data.sample: stream"),
    ({"model": {"backbone": TINY_BACKBONE}}, "pool_steps needs model.backbone.temporal_padding"),
    ({"model": {"backbone": {**VALID, "gcn": "ctrgcn"}}}, "averages over the whole window"),
    ({"model": {"hand_backbone": {"dilations": [1, 2]}}}, "a window must suit both"),
    ({"model": {"variant": "rgb"}}, "stays windowed"),
])
def test_bad_streaming_configs_are_refused(over, match):
    with pytest.raises(ValueError, match=match):
        load_config(streaming_config("vanilla", **over))


def test_windowed_configs_are_unchanged():
    cfg = load_config(tiny_config("vanilla"))
    assert cfg["data"]["window"] == 8 and cfg["data"]["pool_steps"] is None
    from bharnet.training.config import input_spec

    assert "normalisation" not in input_spec(cfg).to_dict()


def test_streaming_metrics_file_has_the_per_clip_scores(tmp_path, synth_path):
    train(streaming_config("body_only"), tmp_path, data=synth_path, quiet=True)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["num_samples"] == len(read_dataset(synth_path).split("test"))


@pytest.mark.parametrize("name,window", [("jhmdb14_streaming", None), ("synth_streaming", None),
                                         ("demo_streaming", None), ("demo", 32)])
def test_shipped_recipes_load(name, window):
    import pathlib

    from bharnet.training.config import input_spec, temporal_plan

    cfg = load_config(pathlib.Path(__file__).resolve().parents[1] / f"training/configs/{name}.yaml")
    spec = input_spec(cfg)
    if window is not None:
        assert spec.window == window and not spec.causal
        return
    padding, rf, stride = temporal_plan(cfg)
    assert padding == "valid" and spec.causal and cfg["data"]["sample"] == "stream"
    assert spec.window == rf + stride * (cfg["data"]["pool_steps"] - 1)


def test_synth_cli_adds_the_idle_class(tmp_path):
    from bharnet.cli import main
    from bharnet.data import dataset, synth

    out = tmp_path / "d.npz"
    assert main(["data", "synth", "--out", str(out), "--with-idle", "--clips-per-class", "2",
                 "--min-frames", "12", "--max-frames", "14"]) == 0
    ds = dataset.load(out)
    assert ds.classes == list(synth.DEFAULT_CLASSES) + ["idle"]
    assert ds.classes.index("idle") not in ds.hand_intensive


def test_replay_and_truncate_augmentations():
    from bharnet.training.loader import AugmentOptions, replay

    kp = np.arange(20, dtype=np.float32).reshape(1, 20, 1, 1)
    fast, _ = replay(kp, None, 2.0)
    slow, sc = replay(kp, np.ones((1, 20, 1), np.float32), 0.5)
    assert fast[0, :, 0, 0].tolist() == list(range(0, 20, 2))
    assert slow.shape[1] == 40 and slow[0, :4, 0, 0].tolist() == [0, 0, 1, 1] and sc.shape == (1, 40, 1)
    opts = AugmentOptions.from_config({"speed": 0.2, "truncate": 0.25, "flip": 0.5})
    assert (opts.speed, opts.truncate, opts.flip) == (0.2, 0.25, 0.5)
    with pytest.raises(ValueError, match="speed"):
        AugmentOptions.from_config({"speed": 1.5})


def test_truncated_training_windows_end_before_the_clip_end(synth_path):
    from bharnet.training.config import input_spec
    from bharnet.training.loader import AugmentOptions, TrainSet

    cfg = load_config(streaming_config("body_only", data={"pool_steps": 6}))   # window 17 > clips
    spec = input_spec(cfg)
    data = read_dataset(synth_path)
    plain = TrainSet(data.split("train"), data.layout, spec, AugmentOptions.from_config(False), "stream", 0)
    cut = TrainSet(data.split("train"), data.layout, spec,
                   AugmentOptions(False, truncate=0.5), "stream", 0)
    pads = [(17 - (np.abs(ts[i][0]["body"][2]).sum((1, 2)) > 0).sum()) for ts in (plain, cut)
            for i in range(len(plain))]
    n = len(plain)
    assert sum(pads[n:]) > sum(pads[:n])  # shorter clips: more missing frames before them
