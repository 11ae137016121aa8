"""Models on the native kernels against the same models on plain PyTorch.

One training step (loss, every parameter's gradient) and an eval forward agree, on CPU and (under
make gpu-check) on CUDA, and a spy on the launcher proves the kernels ran on the kernel side and
not on the plain side. On CUDA a short run of the real training loop (bf16 autocast) trains.
"""
import json

import pytest
import torch
import torch.nn.functional as F

from bharnet.ops import _native
from bharnet.training.config import build_model, example_inputs, load_config

from train_helpers import tiny_config, tiny_synth

pytestmark = pytest.mark.usefixtures("native_kernels")
CLASSES = 3


@pytest.fixture
def launches(monkeypatch):
    """Counts native launches per device type."""
    seen = {"cpu": 0, "cuda": 0}
    real = _native.launch

    def spy(fn, device, *args):
        seen[device.type] += 1
        return real(fn, device, *args)

    monkeypatch.setattr(_native, "launch", spy)
    return seen


def pair(variant, device):
    cfg = load_config(tiny_config(variant, model={"dropout": 0.0}))
    torch.manual_seed(0)
    on = build_model(cfg, num_classes=CLASSES, use_kernels=True, device=device.type)
    off = build_model(cfg, num_classes=CLASSES, use_kernels=False)
    off.load_state_dict(on.state_dict())
    batch = {k: v.double().to(device) for k, v in example_inputs(cfg, batch=4, seed=1).items()}
    labels = torch.tensor([0, 1, 2, 1], device=device)
    return on.double().to(device), off.double().to(device), batch, labels


def step(model, batch, labels):
    model.train()
    loss = F.cross_entropy(model(**batch)["logits"], labels)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    return loss, {n: g for (n, _), g in zip(named, grads)}


def check_step(variant, device, launches):
    on, off, batch, labels = pair(variant, device)
    loss_on, g_on = step(on, batch, labels)
    used = launches[device.type]
    assert used > 0, "the kernel model launched no native kernel"
    loss_off, g_off = step(off, batch, labels)
    assert launches[device.type] == used, "the plain-PyTorch model launched a native kernel"
    torch.testing.assert_close(loss_on, loss_off, rtol=1e-9, atol=1e-9)
    assert g_on.keys() == g_off.keys()
    for name in g_on:
        if g_on[name] is None or g_off[name] is None:
            assert g_on[name] is None and g_off[name] is None, name
            continue
        torch.testing.assert_close(g_on[name], g_off[name], rtol=1e-7, atol=1e-9, msg=name)
    on.eval(), off.eval()
    with torch.no_grad():  # the no-grad path also runs the pooling-attention kernel
        torch.testing.assert_close(on(**batch)["logits"], off(**batch)["logits"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("variant", ["vanilla", "pam", "expertized"])
def test_training_step_matches_plain_pytorch(variant, launches):
    check_step(variant, torch.device("cpu"), launches)


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["vanilla", "pam"])
def test_cuda_training_step_matches_plain_pytorch(cuda_kernels, variant, launches):
    check_step(variant, torch.device("cuda"), launches)


@pytest.mark.gpu
def test_cuda_training_run_on_the_kernels(cuda_kernels, tmp_path, launches):
    """The real loop on CUDA (amp auto: bf16 autocast, which hands the kernels float32)."""
    from bharnet.training.train import train

    data = tiny_synth(tmp_path / "tiny.pkl")
    cfg = tiny_config("pam", model={"use_kernels": True}, train={"epochs": 4})
    m = train(cfg, tmp_path / "run", data=data, device="cuda", quiet=True)
    assert launches["cuda"] > 0 and launches["cpu"] == 0
    history = json.loads((tmp_path / "run/metrics.json").read_text())["history"]
    losses = [h["train_loss"] for h in history]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    assert min(losses[1:]) < losses[0], losses  # it learns (on CPU: 3.35 -> 2.85 by epoch 3)
    assert 0.0 <= m["top1"] <= 1.0
