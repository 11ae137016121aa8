"""Serving equals evaluation: `Recognizer.run(clip)` gives the scores `bharnet eval` computes for
the same clip (its sampling mode, test views and mirrored views), on real JHMDB clips with the
JHMDB recipe (stretch sampling, 2 views, flip) and on synthetic clips with a streaming model
(causal preparation, the prediction at the clip's last frame)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bharnet import sdk  # noqa: E402
from bharnet.variants import softmax  # noqa: E402

REPO_CONFIGS = "training/configs"


def _eval_scores(ckpt_path, clips, layout):
    """What `bharnet eval` scores: the test views of each clip, logits averaged (training.evaluate)."""
    from bharnet.data import InputSpec
    from bharnet.training.checkpoint import load_checkpoint, model_from_checkpoint
    from bharnet.training.evaluate import predict
    from bharnet.training.loader import prepare_test

    ck = load_checkpoint(ckpt_path)
    cfg = ck["config"]
    x, _ = prepare_test(clips, layout, InputSpec.from_dict(ck["spec"]), int(cfg["train"]["test_clips"]),
                        cfg["data"]["sample"], bool(cfg["train"]["test_flip"]))
    return softmax(predict(model_from_checkpoint(ck, use_kernels=False), x, quiet=True))


def _check(bundle, ckpt, clips, layout, backend="onnxruntime"):
    ref = _eval_scores(ckpt, clips, layout)
    rec = sdk.Recognizer(bundle, backend=backend, layout=layout, min_body_presence=0.0)
    for c, p in zip(clips, ref):
        kp = c.keypoint if c.score is None else np.concatenate([c.keypoint, c.score[..., None]], -1)
        r = rec.run(kp)
        assert r.label == rec.classes[int(p.argmax())]
        got = dict(r.top_k)
        for cls, prob in zip(rec.classes, p):
            if cls in got:
                assert abs(got[cls] - prob) <= 1e-4, (c.frame_dir if hasattr(c, "frame_dir") else "", cls)


def _random_checkpoint(path, cfg_path, data_layout, classes, **data):
    from continual_helpers import random_model

    from bharnet.training.checkpoint import save_checkpoint
    from bharnet.training.config import input_spec, load_config

    cfg = load_config(cfg_path)
    cfg["data"].update(data)
    cfg["model"]["backbone"].update(base_channels=8)
    model = random_model(cfg, seed=2, classes=len(classes))
    return save_checkpoint(path, config=cfg, num_classes=len(classes), classes=list(classes),
                           hand_intensive=[], source_layout=data_layout, spec=input_spec(cfg).to_dict(),
                           model=model.state_dict())


def test_jhmdb_clips_with_the_jhmdb_recipe(shared_dir, tmp_path):
    """Real 2D poses, the shipped recipe's preprocessing: stretch sampling, 2 test clips, mirrored
    views (the weights are random: the check is that serving repeats evaluation exactly)."""
    import pathlib

    from bharnet.export.builder import export_checkpoint
    from bharnet.training.loader import read_dataset

    ds = read_dataset(shared_dir / "data/jhmdb14/jhmdb14_split1.pkl")
    cfg = pathlib.Path(__file__).resolve().parents[1] / REPO_CONFIGS / "jhmdb14.yaml"
    ckpt = _random_checkpoint(tmp_path / "j.pt", cfg, ds.layout, ds.classes)
    bundle = export_checkpoint(str(ckpt), tmp_path / "j.bharnet", fp16=False, quiet=True)
    meta = sdk.load_model(bundle).meta.preprocessing
    assert (meta["sampling"], meta["test_clips"], meta["test_flip"]) == ("stretch", 2, True)
    clips = ds.split("test")[::8]        # 22 clips across every class
    _check(bundle, ckpt, clips, ds.layout)
    _check(bundle, ckpt, clips[:6], ds.layout, backend="native")


def test_synthetic_clips_with_a_streaming_model(streaming_bundle, tmp_path):
    """Causal preparation, the prediction at each clip's last frame (left-padded when the clip is
    shorter than the window): the same numbers as evaluation's stream sampling."""
    from bharnet.data import synth

    ds = synth.generate(clips_per_class=1, seed=4)
    ckpt = streaming_bundle.with_name("s.pt")
    clips = [c for c in ds.clips][:10]
    _check(streaming_bundle, ckpt, clips, ds.layout)
