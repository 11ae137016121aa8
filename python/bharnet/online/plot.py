"""The timeline PNG of `bharnet eval-online`: per sequence, the ground truth, the events (matched
or not) and, when the recognitions were saved, the scores of the labels involved."""
from __future__ import annotations

import pathlib

from .scoring import Scored


def timeline(path, scored: Scored, fps: float, recognitions: dict | None = None,
             sequences: list[str] | None = None, max_sequences: int = 4) -> bool:
    """Write the PNG; False when matplotlib is not installed. recognitions: {sequence: [dicts of
    Recognition.to_dict()]} (from `bharnet detect --recognitions`)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    period = 1000.0 / fps
    seqs = sequences or list(dict.fromkeys(
        [m.sequence for m in scored.matches] + [str(e.get("sequence", "")) for e in scored.false_positives]))
    seqs = seqs[:max_sequences]
    if not seqs:
        return False
    recognitions = recognitions or {}
    fig, axes = plt.subplots(2 * len(seqs), 1, figsize=(13, 4.2 * len(seqs)), squeeze=False,
                             gridspec_kw={"height_ratios": [2, 1] * len(seqs)})
    for k, seq in enumerate(seqs):
        ax, sx = axes[2 * k, 0], axes[2 * k + 1, 0]
        ms = [m for m in scored.matches if m.sequence == seq]
        fps_ = [e for e in scored.false_positives if str(e.get("sequence", "")) == seq]
        labels = sorted({m.action.label for m in ms} | {e["label"] for e in fps_}
                        | {m.start_event["label"] for m in ms if m.start_event})
        row = {lbl: i for i, lbl in enumerate(labels)}
        for m in ms:
            a = m.action
            ax.barh(row[a.label] + 0.18, (a.end - a.start + 1) * period / 1000, left=a.start * period / 1000,
                    height=0.3, color="tab:green", alpha=0.55)
        for ev, ok in [(m.start_event, True) for m in ms if m.start_event] + [(e, False) for e in fps_]:
            end = scored.end_of(ev)
            stop = (end["end_ms"] if end else ev["emitted_ms"])
            color = "tab:blue" if ok else "tab:red"
            y = row[ev["label"]] - 0.18
            ax.barh(y, max(stop - ev["start_ms"], period) / 1000, left=ev["start_ms"] / 1000,
                    height=0.3, color=color, alpha=0.7)
            ax.plot([ev["emitted_ms"] / 1000], [y], marker="v", color="black", ms=5)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(f"{seq}: ground truth (green), detected events (blue), false positives (red); "
                     f"v = when the start event was emitted", fontsize=9)
        recs = recognitions.get(seq, [])
        for lbl in labels:
            pts = [(r["end_ms"] / 1000, dict(r.get("top_k") or []).get(lbl, 0.0)) for r in recs]
            if pts:
                sx.plot(*zip(*pts), lw=1, label=lbl)
        if recs:
            sx.legend(fontsize=6, ncol=4, loc="upper right")
        sx.set_ylim(0, 1.02)
        sx.set_ylabel("score", fontsize=8)
        sx.set_xlabel("time (s)", fontsize=8)
        sx.set_xlim(ax.get_xlim())
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
