"""What the SDK hands back: one Recognition per window."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Recognition:
    label: str
    score: float                                   # fused softmax probability of `label`
    top_k: list[tuple[str, float]] = field(default_factory=list)
    track_id: int | str = 0
    start_ms: float | None = None                  # first and last timestamps of the window
    end_ms: float | None = None
    body_label: str | None = None                  # the body expert's own top class (None: no expert)
    body_score: float | None = None
    hand_label: str | None = None                  # the hand expert's own top class (None: no expert)
    hand_score: float | None = None
    hand_presence: tuple[float, float] | None = None  # fraction of frames with (left, right) hand
    latency_ms: float = 0.0                        # backend time for this window
    frames: int = 0                                # real frames in the window (fewer at a clip's end)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["top_k"] = [[lbl, float(s)] for lbl, s in self.top_k]
        if self.hand_presence is not None:
            d["hand_presence"] = {"left": self.hand_presence[0], "right": self.hand_presence[1]}
        return d
