"""A deliberately plain floor: an MLP on resampled, centred joint positions and velocities.

Any graph network worth shipping must clear it on the same split; `bharnet train` reports it next
to the model's own top-1 (train.mlp_floor: true) so the comparison is made in one run.
"""
from __future__ import annotations

import numpy as np

from bharnet.layouts import get_layout


def _centre_joint(layout: str) -> int:
    lay = get_layout(layout)
    return lay.index("neck") if "neck" in lay.joints else lay.center


def features(clips, layout: str, frames: int = 32) -> np.ndarray:
    """[N, F]: the first person's joints linearly resampled to `frames`, centred on the neck (or the
    layout's centre) per frame, scaled by the clip's spread, plus frame-to-frame velocities."""
    c0 = _centre_joint(layout)
    out = []
    for c in clips:
        kp = np.asarray(c.keypoint, np.float32)[0, :, :, :2]           # [T, V, 2]
        t = kp.shape[0]
        pos = np.linspace(0, t - 1, frames)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, t - 1)
        w = (pos - lo)[:, None, None]
        x = kp[lo] * (1 - w) + kp[hi] * w
        x = x - x[:, c0:c0 + 1]
        x = x / (np.abs(x).max() + 1e-6)
        v = np.diff(x, axis=0, append=x[-1:])
        out.append(np.concatenate([x.ravel(), v.ravel()]))
    return np.stack(out).astype(np.float32)


def mlp_floor_top1(train_clips, test_clips, layout: str, num_classes: int, seed: int = 0,
                   epochs: int = 300, hidden: int = 256, quiet: bool = False) -> float:
    """Top-1 of a 2-hidden-layer MLP (Adam, dropout, full batch) trained on train, tested on test."""
    import torch
    import torch.nn as nn

    from bharnet.progress import Progress

    g = torch.Generator().manual_seed(seed)
    xtr = torch.from_numpy(features(train_clips, layout))
    xte = torch.from_numpy(features(test_clips, layout))
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    ytr = torch.as_tensor([c.label for c in train_clips])
    yte = torch.as_tensor([c.label for c in test_clips])
    with torch.random.fork_rng():  # the floor must not perturb the main run's RNG stream
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(xtr.shape[1], hidden), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(hidden, num_classes))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        steps = Progress(range(epochs), desc="MLP floor (train.mlp_floor)",
                         unit="epoch", quiet=quiet, announce=True)
        for _ in steps:
            net.train()
            noise = torch.randn(xtr.shape, generator=g) * 0.1
            loss = nn.functional.cross_entropy(net(xtr + noise), ytr)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            return float((net(xte).argmax(1) == yte).float().mean())
