"""The guided RGB model, its training data, the ONNX graphs (ORT vs torch) and the SDK branch."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bharnet.rgb import ROIConfig, frame_positions  # noqa: E402
from bharnet.training.config import build_model, example_inputs, load_config  # noqa: E402
from bharnet.training.models.rgb import RGBNet, SkeletonGuide, fuse  # noqa: E402
from bharnet.training.rgb_train import (rgb_metadata, rgb_settings, skeleton_config,  # noqa: E402
                                        train_rgb)

TINY = {"model": {"variant": "rgb", "backbone": {"base_channels": 8, "num_stages": 2,
                                                 "inflate_stages": [2], "down_stages": [2]},
                  "rgb": {"width": 8, "roi": {"tile": 16, "frames": 2}, "epochs": 1,
                          "train_views": 2, "render_scale": 0.25, "batch_size": 8}},
        "data": {"window": 16, "body_layout": "coco17"},
        "train": {"epochs": 1, "batch_size": 8, "warmup_epochs": 0}}


def _cfg(**rgb):
    cfg = load_config(TINY)
    cfg["model"]["rgb"].update(rgb)
    return cfg


def test_settings_and_skeleton_config():
    cfg = _cfg()
    s = rgb_settings(cfg)
    assert s["guide"] == "body" and s["roi"]["tile"] == 16 and s["roi"]["hand_fallback"] == "wrist"
    assert skeleton_config(cfg)["model"]["variant"] == "vanilla"
    with pytest.raises(ValueError, match="guide"):
        rgb_settings(_cfg(guide="feet"))
    with pytest.raises(ValueError, match="unknown model.rgb"):
        rgb_settings(_cfg(colour=1))


def test_rgbnet_guidance_is_a_normalised_tile_weighting():
    torch.manual_seed(0)
    net = RGBNet(5, parts=5, frames=2, tile=16, width=8).eval()
    x, g = torch.rand(3, 3, 80, 32), torch.rand(3, 5, 2) + 0.1
    z = net(x, g)
    assert z.shape == (3, 5)
    torch.testing.assert_close(net(x, 3 * g), z)              # only relative weights matter
    one = torch.zeros(3, 5, 2)
    one[:, 1, 0] = 1.0                                         # everything but one tile masked
    assert not torch.allclose(net(x, one), z) and torch.isfinite(net(x, one)).all()
    with pytest.raises(ValueError, match="multiple"):
        RGBNet(5, tile=20)


@pytest.mark.parametrize("source", ["body", "body+hand", "none"])
def test_skeleton_guide_shapes_and_mean(source):
    cfg = skeleton_config(_cfg())
    skel = build_model(cfg, num_classes=4, use_kernels=False).eval()
    pos = frame_positions(16, 2)
    guide = SkeletonGuide(skel, "coco17", 16, pos, source)
    x = example_inputs(cfg, batch=2)
    with torch.no_grad():
        g = guide(**{k: x[k] for k in guide.input_names})
    assert g.shape == (2, 5, 2) and (g >= 0).all()
    torch.testing.assert_close(g.mean((1, 2)), torch.ones(2), atol=1e-4, rtol=0)


def test_fusion_sum_and_noisy_or_match_the_numpy_twin():
    from bharnet.sdk.rgb import fuse_logits

    a, b = torch.randn(4, 6), torch.randn(4, 6)
    torch.testing.assert_close(fuse(a, b, "sum", 0.5), a + 0.5 * b)
    nor = fuse(a, b, "noisy_or")
    np.testing.assert_allclose(fuse_logits(a.numpy(), b.numpy(), "noisy_or", 1.0), nor.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.exp(nor.numpy()).sum(1), 1.0, atol=1e-5)


def test_build_views_render_and_precut_roi(tmp_path):
    from bharnet.data import synth
    from bharnet.data.pipeline import InputSpec
    from bharnet.training.rgb_data import build_views

    ds = synth.generate(classes=("raise_hand_fist", "kick_leg"), clips_per_class=2, seed=0)
    clips = ds.clips
    spec = InputSpec(window=16)
    cfg = ROIConfig(tile=16, frames=2)
    v = build_views(clips, ds.layout, spec, cfg, {}, views=3, train=True, render_scale=0.25)
    assert v.roi.shape == (12, 80, 32, 3) and v.mask.shape == (12, 5, 2)
    assert v.inputs["body"].shape[0] == 12 and list(v.clip[:3]) == [0, 0, 0]
    test = build_views(clips, ds.layout, spec, cfg, {}, render_scale=0.25)
    np.testing.assert_array_equal(test.roi, v.roi[::3])       # view 0 is the test window
    pre = {c.name: {"roi": test.roi[i], "roi_mask": test.mask[i]} for i, c in enumerate(clips)}
    cut = build_views(clips, ds.layout, spec, cfg, pre, views=3, train=True)
    assert len(cut.labels) == 4 and (cut.roi == test.roi).all()


@pytest.fixture(scope="module")
def rgb_checkpoint(tmp_path_factory):
    """A tiny BHaRNet-M trained for one epoch per stage on a few synthetic clips."""
    from bharnet.data import synth
    from bharnet.data.dataset import save

    work = tmp_path_factory.mktemp("rgb")
    save(synth.generate(classes=("raise_hand_fist", "raise_hand_open_palm", "kick_leg"),
                        clips_per_class=4, seed=1), work / "d.pkl")
    torch.set_num_threads(1)
    metrics = train_rgb(_cfg(), work, data=work / "d.pkl", quiet=True)
    return work / "final.pt", metrics


def test_train_rgb_reports_all_scores(rgb_checkpoint):
    path, m = rgb_checkpoint
    for k in ("skeleton", "rgb", "fused_sum", "fused_noisy_or", "fused"):
        assert 0.0 <= m[k]["top1"] <= 1.0 and "hand_intensive_top1" in m[k]
    from bharnet.training.checkpoint import load_checkpoint

    ck = load_checkpoint(path)   # weights_only
    meta = json.loads(ck["rgb"])
    assert meta["guide"] == "body" and meta["hand_missing"] == "wrist" and meta["roi_input_shape"] == [3, 80, 32]
    assert ck["config"]["model"]["variant"] == "vanilla"     # the skeleton exporter can read it


def test_export_parity_and_sdk_branch(rgb_checkpoint, tmp_path, holistic_stream):
    """rgb.onnx and rgb_guide.onnx agree with torch (<= 1e-4, checked by the exporter and here),
    and the SDK's branch scores a window of real keypoints with frames."""
    from bharnet.bundle import open_bundle
    from bharnet.export.ort_check import run_ort
    from bharnet.export.rgb_export import rgb_members
    from bharnet.sdk.rgb import RGBBranch, has_rgb
    from bharnet.training.checkpoint import load_checkpoint
    from bharnet.training.rgb_train import rgb_from_checkpoint

    ck = load_checkpoint(rgb_checkpoint[0])
    members, meta = rgb_members(ck)
    checks = meta["export_check"]["ort_vs_torch_max_abs"]
    assert max(checks["rgb.onnx"].values()) <= 1e-4 and max(checks["rgb_guide.onnx"].values()) <= 1e-4
    _, rgb, guide, _ = rgb_from_checkpoint(ck)
    rng = np.random.default_rng(5)
    roi, g = rng.random((2, 3, 80, 32), dtype=np.float32), rng.random((2, 5, 2), dtype=np.float32)
    with torch.no_grad():
        ref = rgb(torch.as_tensor(roi), torch.as_tensor(g)).numpy()
    np.testing.assert_allclose(run_ort(members["rgb.onnx"], {"roi": roi, "guidance": g})["rgb_logits"],
                               ref, atol=1e-4)

    # the bundle builder adds these members and metadata to the skeleton bundle it writes
    from bharnet.export.builder import export_checkpoint

    b = open_bundle(export_checkpoint(ck, tmp_path / "m.bharnet", fp16=False, quiet=True))
    assert {b.meta.graphs[n]["role"] for n in ("rgb.onnx", "rgb_guide.onnx")} == {"rgb", "rgb-guide"}
    assert has_rgb(b)
    branch = RGBBranch(b, "mediapipe_holistic")
    frame = np.full((108, 192, 3), 90, np.uint8)
    assert branch.roi_for(0, 0, 500, 16) is None                 # no images: skeleton only
    for i in range(16):
        branch.add_frame(0, i * 33.0, frame, holistic_stream[i])
    img, mask = branch.roi_for(0, 0, 15 * 33.0, 16)
    assert img.shape == (80, 32, 3) and mask[0].all()
    x = {k: v.numpy() for k, v in example_inputs(ck["config"], batch=1).items()}
    fused, z = branch.score(np.zeros((1, 3), np.float32), x, 0, 0, 15 * 33.0, 16)
    assert fused.shape == (1, 3) and np.isfinite(fused).all()
    np.testing.assert_allclose(fused, z, atol=1e-6)               # sum fusion with zero skeleton
