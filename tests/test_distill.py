"""Distillation from a windowed teacher (training/distill.py, train.distill): the loss's soft term
and its scale, the trainer's use of it, and the refusals of bad config input."""
import numpy as np
import pytest
import torch

from bharnet.training import distill
from bharnet.training.loader import read_dataset
from bharnet.training.train import train

from test_streaming_train import streaming_config
from train_helpers import one_thread, synth_path, tiny_config, tiny_synth  # noqa: F401 (fixtures)


def _kl_by_hand(s: np.ndarray, t: np.ndarray, T: float) -> float:
    def log_softmax(z):
        z = z / T
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))
    lt, ls = log_softmax(t), log_softmax(s)
    return float((np.exp(lt) * (lt - ls)).sum(1).mean())


@pytest.mark.parametrize("alpha,T", [(0.5, 4.0), (0.7, 2.0), (1.0, 1.0)])
def test_loss_is_the_mixture_with_the_t_squared_soft_term(alpha, T):
    g = np.random.default_rng(0)
    s, t = g.normal(size=(5, 7)) * 3, g.normal(size=(5, 7)) * 3
    kd = distill.Distill("unused.pt", alpha, T)
    own = torch.tensor(1.25)
    got = float(kd.loss(own, torch.tensor(s), torch.tensor(t)))
    want = (1 - alpha) * 1.25 + alpha * T * T * _kl_by_hand(s, t, T)
    assert got == pytest.approx(want, rel=1e-5)
    # the soft term is there and large enough to matter (dropping it, or its T^2, is seen above)
    assert abs(got - (1 - alpha) * 1.25) > 0.1


def test_soft_term_vanishes_when_the_student_matches_and_pulls_towards_the_teacher():
    t = torch.tensor([[3.0, 0.0, -1.0]])
    assert float(distill.soft_loss(t.clone(), t, 4.0)) == pytest.approx(0.0, abs=1e-6)
    s = torch.zeros(1, 3, requires_grad=True)
    distill.soft_loss(s, t, 2.0).backward()
    assert s.grad[0, 0] < 0 < s.grad[0, 2]  # descent raises the teacher's class, lowers its last


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, synth_path):
    """A tiny windowed body_only model (stretch sampling, mirrored test views) on the synthetic data."""
    work = tmp_path_factory.mktemp("teacher")
    torch.set_num_threads(1)
    train(tiny_config("body_only", data={"sample": "stretch"}, train={"epochs": 1, "test_flip": True}),
          work, data=synth_path, quiet=True)
    return work / "final.pt"


def _student(teacher_path, **kd):
    cfg = streaming_config("body_only", train={"epochs": 1})
    if teacher_path is not None:
        cfg["train"]["distill"] = {"teacher": str(teacher_path), **kd}
    return cfg


def test_trainer_uses_the_soft_targets(tmp_path, synth_path, teacher):
    base = train(_student(None), tmp_path / "base", data=synth_path, quiet=True)["history"]
    # alpha 0: the teacher is consulted but weighs nothing -> the very same run (same random stream)
    zero = train(_student(teacher, alpha=0.0), tmp_path / "zero", data=synth_path, quiet=True)["history"]
    assert [h["train_loss"] for h in zero] == pytest.approx([h["train_loss"] for h in base], rel=1e-6)
    # alpha 1: only the soft term; the first step's loss is T^2 KL to the teacher, not the CE
    full = train(_student(teacher, alpha=1.0, temperature=2.0), tmp_path / "full", data=synth_path,
                 quiet=True)["history"]
    assert full[0]["train_loss"] != pytest.approx(base[0]["train_loss"], rel=1e-3)


def test_teacher_logits_are_the_teachers_own_clip_protocol(synth_path, teacher):
    from bharnet.training.evaluate import checkpoint_scores

    data = read_dataset(synth_path)
    got = distill.Distill(teacher).teacher_logits(data, "train")
    want, _, ck, _ = checkpoint_scores(teacher, str(synth_path), "train")
    assert ck["config"]["data"]["sample"] == "stretch" and ck["config"]["train"]["test_flip"]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got.shape == (len(data.split("train")), len(data.classes))
    # each training sample carries its own clip's row
    ds = distill.WithTeacher([(None, c.label) for c in data.split("train")], got)
    _, (label, row) = ds[3]
    assert label == data.split("train")[3].label and np.array_equal(row, got[3])


def test_bad_distill_config_is_refused(tmp_path, synth_path, teacher):
    with pytest.raises(FileNotFoundError, match="train.distill.teacher: checkpoint not found: .*nope.pt"):
        train(_student(tmp_path / "nope.pt"), tmp_path / "a", data=synth_path, quiet=True)
    for kd, msg in (({"alpha": 1.5}, r"train.distill.alpha: 1.5 is outside \[0, 1\]"),
                    ({"temperature": 0}, r"train.distill.temperature: 0 is outside"),
                    ({"alpha": "half"}, "train.distill.alpha: expected a number"),
                    ({"weight": 0.5}, r"unknown train.distill option\(s\) \['weight'\]")):
        with pytest.raises(ValueError, match=msg):
            train(_student(teacher, **kd), tmp_path / "b", data=synth_path, quiet=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_teacher_with_other_classes_is_refused(tmp_path, teacher):
    from bharnet.data import dataset

    other = tiny_synth(tmp_path / "other.pkl", seed=1)
    ds = dataset.load(other)
    ds.classes = list(reversed(ds.classes))  # same clips, other class names
    dataset.save(ds, tmp_path / "renamed.pkl")
    with pytest.raises(ValueError, match="train.distill.teacher: .*trained on classes"):
        train(_student(teacher), tmp_path / "c", data=tmp_path / "renamed.pkl", quiet=True)


# ---- the recorded results (bench/streaming_accuracy.py distill-select / distill-test) -------------

def _bench():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "bench/streaming_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_streaming_accuracy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_recorded_selection_follows_its_rule():
    import json

    b = _bench()
    doc = json.loads((b.RESULTS / "jhmdb14_distill_selection.json").read_text())
    assert doc["rule"] == b.DISTILL_RULE and doc["teacher"]["trained_on"] == "val_train"
    assert "test" not in doc["split"].split(";")[0]
    for name, c in doc["candidates"].items():
        assert c["overrides"] == b.DISTILL[name]
        vals = [r["top1"] for r in c["runs"]]
        assert c["top1"][0] == pytest.approx(np.mean(vals)) and c["top1"][1] == pytest.approx(np.std(vals))
    # the choice is the rule applied to the recorded rows (recomputed, not read back)
    assert doc["chosen"] == json.loads(json.dumps(b.choose(doc["candidates"])))


def test_shipped_distill_recipe_is_the_streaming_recipe_plus_the_chosen_distillation():
    import json

    import yaml

    b = _bench()
    ship = yaml.safe_load((b.CONFIGS / "jhmdb14_streaming_distill.yaml").read_text())
    base = yaml.safe_load((b.CONFIGS / "jhmdb14_streaming.yaml").read_text())
    kd = ship["train"].pop("distill")
    assert ship == base  # the same student; only its training differs
    chosen = json.loads((b.RESULTS / "jhmdb14_distill_selection.json").read_text())["chosen"]["name"]
    assert {k: kd[k] for k in ("alpha", "temperature")} == b.DISTILL[chosen]["train"]["distill"]


def test_recorded_test_results_match_their_runs_and_sources():
    import json

    b = _bench()
    doc = json.loads((b.RESULTS / "jhmdb14_distill.json").read_text())
    chosen = json.loads((b.RESULTS / "jhmdb14_distill_selection.json").read_text())["chosen"]["name"]
    assert doc["setting"] == chosen and doc["split"] == "test"  # the test split saw the chosen setting only
    vals = [r["top1"] for r in doc["runs"]]
    assert doc["top1"][0] == pytest.approx(np.mean(vals)) and doc["top1"][1] == pytest.approx(np.std(vals))
    assert doc["complete"] == ({r["seed"] for r in doc["runs"]} >= {0, 1, 2})
    # the references are today's numbers in their own files, and the differences are computed from them
    assert doc["reference"] == json.loads(json.dumps(b._reference()))
    for k, v in doc["reference"].items():
        assert doc["vs"][k] == pytest.approx(doc["top1"][0] - v["top1"][0])
