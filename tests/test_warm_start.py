"""Warm starts (training/warm_start.py, train.init): weights copied from a checkpoint, classifier
rows matched by class name, and the refusals of a checkpoint that would mean something else."""
import pytest
import torch

from bharnet.data import dataset, synth
from bharnet.training import warm_start
from bharnet.training.checkpoint import load_checkpoint
from bharnet.training.config import build_model, input_spec, load_config
from bharnet.training.train import train

from train_helpers import one_thread, synth_path, tiny_config  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def source(tmp_path_factory, synth_path):
    """A tiny two-expert model trained one epoch on the 3-class synthetic data."""
    work = tmp_path_factory.mktemp("source")
    torch.set_num_threads(1)
    train(tiny_config("vanilla", train={"epochs": 1}), work, data=synth_path, quiet=True)
    return work / "final.pt"


def _fresh(classes, seed=3, **over):
    cfg = load_config(tiny_config("vanilla", **over))
    torch.manual_seed(seed)
    return cfg, build_model(cfg, num_classes=len(classes))


def test_same_classes_copy_every_tensor(source):
    ck = load_checkpoint(source)
    cfg, model = _fresh(ck["classes"])
    done = warm_start.warm_start(model, warm_start.load_init(source, cfg["model"], input_spec(cfg).to_dict()),
                                 ck["classes"])
    assert done["fresh"] == [] and done["class_rows"] == {} and done["new_classes"] == []
    for name, t in model.state_dict().items():
        assert torch.equal(t, ck["model"][name]), name


def test_classifier_rows_follow_the_class_names_and_a_new_class_stays_fresh(source):
    ck = load_checkpoint(source)
    old = ck["classes"]
    classes = [old[2], "background", old[0], old[1]]  # reordered, one new
    cfg, model = _fresh(classes)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    done = warm_start.warm_start(model, ck, classes)
    heads = warm_start._classifier_tensors(model)
    assert {n.split(".")[0] for n in heads} >= {"body_head", "hand_head"}  # both experts' heads
    assert set(done["class_rows"]) == heads and done["new_classes"] == ["background"]
    after = model.state_dict()
    for name in heads:
        for i, c in enumerate(classes):
            want = before[name][i] if c == "background" else ck["model"][name][old.index(c)]
            assert torch.equal(after[name][i], want), (name, c)
    for name in set(after) - heads:
        assert torch.equal(after[name], ck["model"][name]), name


def test_a_checkpoint_of_another_structure_or_preparation_is_refused(source, tmp_path):
    cfg, _ = _fresh([0, 1, 2], model={**tiny_config()["model"], "backbone": {
        **tiny_config()["model"]["backbone"], "base_channels": 12}})
    with pytest.raises(ValueError, match=r"another model structure \(differs in model.backbone\)"):
        warm_start.load_init(source, cfg["model"], input_spec(cfg).to_dict())
    cfg, _ = _fresh([0, 1, 2], data={"window": 12, "augment": {"flip": 0.5}})
    with pytest.raises(ValueError, match=r"another input preparation \(differs in .*window"):
        warm_start.load_init(source, cfg["model"], input_spec(cfg).to_dict())
    # the kernel choice and dropout are not weights: a run may differ from its source in them
    cfg, _ = _fresh([0, 1, 2], model={**tiny_config()["model"], "use_kernels": True, "dropout": 0.3})
    assert warm_start.load_init(source, cfg["model"], input_spec(cfg).to_dict())["classes"]
    with pytest.raises(FileNotFoundError, match="train.init: checkpoint not found"):
        warm_start.load_init(tmp_path / "none.pt", cfg["model"], input_spec(cfg).to_dict())
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="train.init: .*bad.pt"):
        warm_start.load_init(tmp_path / "bad.pt", cfg["model"], input_spec(cfg).to_dict())


def test_the_trainer_starts_from_the_checkpoint(source, synth_path, tmp_path, capsys):
    # learning rate 0: the run cannot move its weights (batch-norm statistics still move), so its
    # final parameters are the source's own
    ck = load_checkpoint(source)
    params = [n for n in ck["model"] if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    cfg = tiny_config("vanilla", train={"epochs": 1, "lr": 0.0, "init": str(source)})
    train(cfg, tmp_path / "warm", data=synth_path, quiet=True)
    assert f"weights start from {source}" in capsys.readouterr().out
    got = load_checkpoint(tmp_path / "warm" / "final.pt")["model"]
    for name in params:
        assert torch.equal(got[name], ck["model"][name]), name
    # and without train.init the same run starts elsewhere
    train(tiny_config("vanilla", train={"epochs": 1, "lr": 0.0}), tmp_path / "cold", data=synth_path,
          quiet=True)
    cold = load_checkpoint(tmp_path / "cold" / "final.pt")["model"]
    assert not all(torch.equal(cold[n], ck["model"][n]) for n in params)


def test_a_new_class_set_trains_from_the_checkpoint(source, tmp_path):
    """A dataset with one class more (the detection case: the gestures plus background)."""
    ck = load_checkpoint(source)
    path = tmp_path / "four.pkl"
    extra = next(c for c in synth.BODY_CLASSES if c not in ck["classes"])
    dataset.save(synth.generate((*ck["classes"], extra), clips_per_class=4, seed=1, frames=(12, 16),
                                test_fraction=0.5), path)
    train(tiny_config("vanilla", train={"epochs": 1, "init": str(source)}), tmp_path / "w",
              data=path, quiet=True)
    out = load_checkpoint(tmp_path / "w" / "final.pt")
    assert out["classes"] == [*ck["classes"], extra] and out["model"]["body_head.1.weight"].shape[0] == 4
