"""End to end (slow): train `variant: rgb` briefly on rendered synthetic data, export the bundle with
rgb.onnx, and run the SDK on the real video's frames plus its MediaPipe Holistic keypoints."""
import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_train_export_sdk_with_real_video(tmp_path, shared_dir, holistic_stream):
    torch = pytest.importorskip("torch")
    pytest.importorskip("cv2")
    from bharnet import sdk
    from bharnet.bundle import open_bundle
    from bharnet.data import synth
    from bharnet.data.dataset import save
    from bharnet.export.builder import export_checkpoint
    from bharnet.rgb.video import read_frames
    from bharnet.training.config import load_config
    from bharnet.training.rgb_train import train_rgb

    torch.set_num_threads(1)
    save(synth.generate(clips_per_class=3, seed=2), tmp_path / "d.pkl")
    cfg = load_config(pathlib_path("training/configs/synth_rgb.yaml"))
    cfg["model"]["rgb"].update(epochs=1, train_views=1)
    m = train_rgb(cfg, tmp_path / "w", data=tmp_path / "d.pkl", epochs=1, quiet=True)
    assert {"skeleton", "rgb", "fused"} <= set(m)
    bundle = export_checkpoint(tmp_path / "w/final.pt", tmp_path / "m.bharnet", fp16=False)
    assert {"model.onnx", "rgb.onnx", "rgb_guide.onnx"} <= set(open_bundle(bundle).member_names)

    frames = read_frames(shared_dir / "data/streams/demo_skeleton.mp4")
    with_rgb, without = [], []
    rec = sdk.Recognizer(bundle, layout="mediapipe_holistic")
    ref = sdk.Recognizer(bundle, layout="mediapipe_holistic")
    for i, (kp, img) in enumerate(zip(holistic_stream, frames)):
        r = rec.push(kp, i * 1000 / 28, image=img)
        s = ref.push(kp, i * 1000 / 28)          # no images: skeleton only
        if r is not None:
            with_rgb.append(r)
            without.append(s)
    assert len(with_rgb) >= 4
    assert all(np.isfinite(r.score) and r.label in rec.classes for r in with_rgb)
    # the RGB scores changed the fused probabilities
    assert any(abs(a.score - b.score) > 1e-6 for a, b in zip(with_rgb, without))


def pathlib_path(rel):
    import pathlib

    return pathlib.Path(__file__).resolve().parents[1] / rel
