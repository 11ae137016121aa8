"""Per-window latency of `prepare()` (what the SDK pays per recognition), as min / median / p90."""
from __future__ import annotations

import time

import numpy as np

from .pipeline import prepare
from .spec import InputSpec

CASES = {
    "j (body+hands)": {},
    "bm (body+hands)": {"stream": "bm"},
    "unified": {"unified": True},
    "body only": {"hands": False},
}


def run(window: int = 64, persons: int = 1, repeats: int = 2000, seed: int = 0) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0, 500, (persons, window, 133, 2)).astype(np.float32)
    sc = rng.uniform(0.2, 1.0, (persons, window, 133)).astype(np.float32)
    results = {}
    for name, kw in CASES.items():
        spec = InputSpec(window=window, num_person=persons, **kw)
        prepare(kp, sc, "coco_wholebody", spec)  # warm the layout plan cache
        ts = np.empty(repeats)
        for i in range(repeats):
            t0 = time.perf_counter()
            prepare(kp, sc, "coco_wholebody", spec)
            ts[i] = time.perf_counter() - t0
        ts *= 1e6
        results[name] = {"min_us": float(ts.min()), "p50_us": float(np.median(ts)),
                         "p90_us": float(np.percentile(ts, 90))}
    return results
