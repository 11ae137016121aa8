"""Tiny datasets, configs and fixtures shared by the training and evaluation tests (a test module
uses the fixtures by importing them: `from train_helpers import synth_path, one_thread`)."""
from __future__ import annotations

import pytest

TINY_BACKBONE = {"base_channels": 8, "num_stages": 3, "inflate_stages": [3], "down_stages": [3]}


def tiny_synth(path, clips_per_class: int = 4, seed: int = 0):
    """A few short synthetic whole-body clips of 3 classes (1 hand-intensive) saved to `path`."""
    from bharnet.data import dataset, synth

    classes = (synth.HAND_CLASSES[0], synth.HAND_CLASSES[6], synth.BODY_CLASSES[3])
    ds = synth.generate(classes, clips_per_class=clips_per_class, seed=seed, frames=(12, 16),
                        test_fraction=0.5)
    dataset.save(ds, path)
    return path


def tiny_config(variant: str = "vanilla", **over) -> dict:
    cfg = {
        "model": {"variant": variant, "backbone": TINY_BACKBONE, "pam": {"dim": 8, "heads": 2},
                  "branch_stages": 1, "use_kernels": False, "dropout": 0.1},
        "data": {"window": 8, "augment": {"flip": 0.5}},
        "train": {"epochs": 2, "batch_size": 4, "warmup_epochs": 1, "eval_every": 1},
    }
    for section, vals in over.items():
        cfg[section] = {**cfg.get(section, {}), **vals}
    return cfg


@pytest.fixture(scope="module")
def synth_path(tmp_path_factory):
    return tiny_synth(tmp_path_factory.mktemp("data") / "tiny.pkl")


@pytest.fixture(autouse=True)
def one_thread():
    """Training tests on one torch thread (results independent of the machine's cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
