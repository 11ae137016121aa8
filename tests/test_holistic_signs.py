"""Real MediaPipe Holistic signs (../shared/data/holistic_signs, issue 23): the hands placed in the
body's frame (InputSpec.hand_frame "body"), handedness invariance, and serving equal to evaluation
on the 75-point clips of people held out of training, windowed and streaming."""
import pathlib

import numpy as np
import pytest

from bharnet.data.pipeline import InputSpec, clip_views, mirror, prepare_clip
from prereq import missing

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = REPO / "training/configs"


@pytest.fixture(scope="module")
def signs(shared_dir):
    path = shared_dir / "data/holistic_signs/holistic_signs.pkl"
    if not path.is_file():
        missing(f"{path} is absent (the real holistic signs data)")
    from bharnet.data import dataset

    return dataset.load(path)


def _with_hands(ds, n=6):
    """Validation clips (people held out of training) in which both hands are seen at least once,
    spread over the classes."""
    clips = [ds.clips[i] for i in ds.split_indices("test")]
    both = [c for c in clips if (c.score[0, :, 33] > 0).any() and (c.score[0, :, 54] > 0).any()]
    return both[:: max(1, len(both) // n)][:n]


def test_hand_frame_is_a_new_contract_field_off_by_default():
    d = InputSpec().to_dict()
    assert "hand_frame" not in d                      # older bundles keep their exact spec dict
    body = InputSpec(hand_frame="body")
    assert body.to_dict()["hand_frame"] == "body"
    assert InputSpec.from_dict(body.to_dict()) == body
    with pytest.raises(ValueError, match="hand_frame"):
        InputSpec(hand_frame="elbow")


def test_body_frame_keeps_where_the_hand_is(signs):
    """A hand moved in the image (the body still) leaves the wrist-centred input unchanged but moves
    the body-frame input; the whole person moved and scaled changes neither (no calibration)."""
    c = _with_hands(signs, 1)[0]
    kp, sc = c.keypoint, c.score
    moved = kp.copy()
    right = slice(54, 75)
    present = (moved[:, :, right, :2] != 0).any(-1, keepdims=True)
    moved[:, :, right, :2] += np.where(present, np.float32(0.1), np.float32(0))
    person = kp.copy()
    person[..., :2] = np.where((kp[..., :2] != 0).any(-1, keepdims=True), 0.2 + 0.6 * kp[..., :2], 0)
    views = {}
    for frame in ("wrist", "body"):
        spec = InputSpec(window=30, hand_frame=frame)
        views[frame] = [prepare_clip(k, sc, signs.layout, spec, mode="stretch")["hand"]
                        for k in (kp, moved, person)]
    w, b = views["wrist"], views["body"]
    assert np.allclose(w[0], w[1], atol=1e-5)
    assert not np.allclose(b[0], b[1], atol=1e-2)
    assert np.allclose(b[0], b[2], atol=1e-4) and np.allclose(w[0], w[2], atol=1e-4)


@pytest.mark.parametrize("config", ["holistic_signs.yaml", "holistic_signs_streaming.yaml"])
def test_a_mirrored_signer_is_prepared_as_the_same_sign(signs, config):
    """With mirrored views, a clip and its mirror image (a left-handed signer) give the same set of
    views, so their scores are equal by construction. And within one view, mirroring only swaps the
    two hand instances (left, right), which the shared hand expert pools symmetrically: the hand
    expert alone is handedness-invariant even without mirrored views."""
    from bharnet.training.config import input_spec, load_config

    cfg = load_config(CONFIGS / config)
    spec = input_spec(cfg)
    for c in _with_hands(signs, 3):
        a = clip_views(c.keypoint, c.score, signs.layout, spec, 1, cfg["data"]["sample"], flip=True)
        m = clip_views(*mirror(c.keypoint, c.score, signs.layout), signs.layout, spec, 1,
                       cfg["data"]["sample"], flip=True)
        for k in a:
            assert np.allclose(a[k][0], m[k][1], atol=1e-5) and np.allclose(a[k][1], m[k][0], atol=1e-5)
        assert np.allclose(a["hand"][0], a["hand"][1][..., ::-1], atol=1e-5)
        assert np.array_equal(a["hand_mask"][0], a["hand_mask"][1][..., ::-1])
        assert not np.allclose(a["body"][0], a["body"][1], atol=1e-2)   # the body view does change


def _random_checkpoint(path, config, ds):
    """A checkpoint of the shipped recipe (narrowed to 8 channels: export is the slow part) with
    random weights: the checks are that serving repeats evaluation, not accuracy."""
    from continual_helpers import random_model

    from bharnet.training.checkpoint import save_checkpoint
    from bharnet.training.config import input_spec, load_config

    cfg = load_config(CONFIGS / config)
    cfg["model"]["use_kernels"] = False
    cfg["model"]["backbone"]["base_channels"] = 8
    model = random_model(cfg, seed=3, classes=len(ds.classes))
    return save_checkpoint(path, config=cfg, num_classes=len(ds.classes), classes=list(ds.classes),
                           hand_intensive=[], source_layout=ds.layout, spec=input_spec(cfg).to_dict(),
                           model=model.state_dict())


@pytest.fixture(scope="module")
def bundles(signs, tmp_path_factory):
    """config name -> (bundle, checkpoint), each exported once for the module."""
    pytest.importorskip("torch")
    from bharnet.export.builder import export_checkpoint

    d = tmp_path_factory.mktemp("holistic_bundles")
    made = {}

    def get(config):
        if config not in made:
            ckpt = _random_checkpoint(d / f"{config}.pt", config, signs)
            made[config] = (export_checkpoint(str(ckpt), d / f"{config}.bharnet", fp16=False, quiet=True), ckpt)
        return made[config]
    return get


def _rows(c):
    """A clip as the SDK takes MediaPipe Holistic input: [T, 75, 4] (x, y, z, visibility)."""
    return np.concatenate([c.keypoint[0], c.score[0][..., None]], -1)


@pytest.mark.parametrize("config", [
    "holistic_signs.yaml",
    pytest.param("holistic_signs_streaming.yaml", marks=pytest.mark.slow)])  # step-graph export: minutes
def test_recognizer_run_equals_eval_on_held_out_people(signs, bundles, config):
    """`Recognizer.run(clip)` on the raw 75-point rows gives `bharnet eval`'s scores (the recipe's
    hand frame, sampling and views), on clips of people the recipe never trains on."""
    from test_serving_equals_eval import _eval_scores

    from bharnet import sdk

    bundle, ckpt = bundles(config)
    assert sdk.load_model(bundle).meta.spec.get("hand_frame") == "body"
    clips = _with_hands(signs, 6)
    ref = _eval_scores(ckpt, clips, signs.layout)
    rec = sdk.Recognizer(bundle, backend="onnxruntime", min_body_presence=0.0)
    for c, p in zip(clips, ref):
        r = rec.run(_rows(c))
        assert r.label == rec.classes[int(p.argmax())]
        got = dict(r.top_k)
        assert all(abs(got[k] - q) <= 1e-4 for k, q in zip(rec.classes, p) if k in got)
    assert rec.layout == "mediapipe_holistic"   # told by the 75 rows, as a robot's feed gives it


@pytest.mark.slow   # the streaming bundle's step-graph export takes minutes on a shared CPU
def test_continual_mode_equals_window_mode_on_the_75_points(signs, bundles):
    """The streaming recipe's bundle in continual mode (each frame prepared once, state in the
    track) gives the window mode's recognitions at the same frames, on real signs."""
    from bharnet import sdk

    bundle, _ = bundles("holistic_signs_streaming.yaml")
    feed = np.concatenate([_rows(c) for c in _with_hands(signs, 3)])   # three signs back to back
    out = {}
    for mode in ("window", "continual"):
        rec = sdk.Recognizer(bundle, backend="onnxruntime", mode=mode, stride=4, min_body_presence=0.0)
        out[mode] = list(rec.run(list(feed), fps=30, flush=False))
    assert len(out["window"]) == len(out["continual"]) >= 10
    for w, c in zip(out["window"], out["continual"]):
        assert (w.end_ms, w.label) == (c.end_ms, c.label)
        assert abs(w.score - c.score) <= 1e-4


def _bench():
    import importlib.util

    spec = importlib.util.spec_from_file_location("holistic_signs_bench", REPO / "bench/holistic_signs.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_the_docs_page_shows_the_measured_table():
    """docs/results/holistic_signs.md holds the tables that bench/holistic_signs.py renders from
    bench/results/holistic_signs.json and holistic_signs_people.json, digit for digit."""
    import json

    bench = _bench()
    res = json.loads((REPO / "bench/results/holistic_signs.json").read_text())
    people = json.loads((REPO / "bench/results/holistic_signs_people.json").read_text())
    page = (REPO / "docs/results/holistic_signs.md").read_text()
    for table in (bench.table_md(res), bench.candidates_md(res), bench.cv_md(res), bench.streaming_md(res),
                  bench.people_md(people), bench.habits_md(people)):
        assert table in page
    assert (REPO / "bench/results/holistic_signs.png").is_file()


def test_signing_habits_measure_what_tells_the_signs_apart(signs):
    """The per-person habits that explain the plateau are measured, not assumed: for a typical
    signer `iloveyou` folds the middle finger and `thanks` is signed low (chin, chest), while
    person 7 (validation) signs `thanks` with a fist at nose height and `iloveyou` with open hands."""
    from types import SimpleNamespace

    hb = _bench().signing_habits(SimpleNamespace(splits={"all": signs.clips}, classes=signs.classes,
                                                 layout=signs.layout))
    assert len(hb) == 16
    typical = hb["13"]
    assert typical["iloveyou"]["finger_extension"]["middle"] < 1.0 < typical["hello"]["finger_extension"]["middle"]
    assert typical["thanks"]["wrist_below_nose"] > typical["hello"]["wrist_below_nose"] + 0.5
    odd = hb["7"]
    assert odd["thanks"]["finger_extension"]["middle"] < 1.0 < odd["iloveyou"]["finger_extension"]["middle"]
    # the people the results are also given without are exactly those whose `iloveyou` keeps the
    # middle finger stretched or whose `thanks` folds it
    atypical = {p for p, h in hb.items() if h["iloveyou"]["finger_extension"]["middle"] > 1.0
                or h["thanks"]["finger_extension"]["middle"] < 1.0}
    assert atypical == set(_bench().OUTLIERS)


def _toy_people(tmp_path, people=16):
    from bharnet.data import dataset

    rng = np.random.default_rng(0)
    clips = [dataset.Clip(rng.random((1, 4, 75, 3), dtype=np.float32), np.ones((1, 4, 75), np.float32),
                          k % 3, f"p{p:02d}_sign_{k:02d}") for p in range(people) for k in range(3)]
    ds = dataset.Dataset(clips, ["a", "b", "c"], "mediapipe_holistic",
                         splits={"train": [c.name for c in clips[:30]], "test": [c.name for c in clips[30:]]})
    path = tmp_path / "toy.pkl"
    dataset.save(ds, path)
    return path


def test_cross_validation_holds_every_person_out_exactly_once(tmp_path, monkeypatch):
    from bharnet.data import dataset

    bench = _bench()
    monkeypatch.setattr(bench, "WORK", tmp_path / "work")
    path = _toy_people(tmp_path)
    seen = []
    for k in range(bench.CV_FOLDS):
        ds = dataset.load(bench.cv_fold_file(path, k))
        test = {bench.person_of(n) for n in ds.splits["test"]}
        train = {bench.person_of(n) for n in ds.splits["train"]}
        assert test and not test & train and len(test | train) == 16
        assert len(ds.splits["test"]) + len(ds.splits["train"]) == len(ds.clips)
        seen += sorted(test)
    assert sorted(seen) == list(range(16))
    with pytest.raises(ValueError, match="pNN_sign_KK"):
        bench.person_of("take3")


def test_cross_validation_summary_pools_people_and_pairs_them():
    """Pooled top-1 is the mean over all 16 people (each once, from the fold that held it out), and
    the comparison against unified is per person; a seed with a fold missing is not reported."""
    bench = _bench()
    runs = {}
    for v, acc in (("vanilla", 0.9), ("unified", 0.8)):
        for k in range(bench.CV_FOLDS):
            pp = {str(p): acc + (0.1 if (v == "vanilla" and p == 0) else 0.0)
                  for p in range(16) if p % bench.CV_FOLDS == k}
            runs[f"cv{k}/{v}/s0"] = {"candidate": f"cv{k}", "variant": v, "seed": 0, "per_person": pp}
    runs["cv0/vanilla/s1"] = {"candidate": "cv0", "variant": "vanilla", "seed": 1, "per_person": {"0": 0.0}}
    out = bench.summarise_cv(runs)
    assert out["vanilla"]["seeds"] == [0]
    assert out["vanilla"]["pooled_top1"]["mean"] == pytest.approx(0.9 + 0.1 / 16, abs=1e-4)
    assert out["unified"]["pooled_top1"]["mean"] == pytest.approx(0.8)
    assert out["vanilla"]["minus_unified_per_person"]["wins"] == 16
    assert len(out["vanilla"]["per_person"]) == 16
