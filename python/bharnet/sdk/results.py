"""What the SDK hands back: one Recognition per window."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ACTION = "action"
NO_PERSON = "no_person"
LOW_CONFIDENCE = "low_confidence"


@dataclass
class Recognition:
    """One window's answer. Check `r.label is not None` (or `r.outcome`) before using a label.

    `outcome` says which of three answers it is:

    - "action": label is the top class and score its fused softmax probability;
    - "no_person": fewer than min_body_presence of the window's frames showed a body
      (body_presence says how many did): label, score, the expert labels, hand_presence and
      top_k are None/empty, and the model was not run on this window (latency_ms 0);
    - "low_confidence": the top class scored below min_score: label and score are None, top_k
      still lists the candidates with their (low) scores.

    Attributes:
        label: the top class, or None (outcome "no_person" or "low_confidence").
        score: the fused softmax probability of label (0-1), or None with label.
        top_k: up to top_k (class, probability) pairs, best first.
        track_id: the track (person) the window belongs to.
        start_ms: timestamp of the window's first frame, in milliseconds.
        end_ms: timestamp of the window's last frame (the one that completed it), in ms.
        body_label: the body expert's own top class (None: the model has no body expert).
        body_score: its probability.
        hand_label: the hand expert's own top class (None: the model has no hand expert).
        hand_score: its probability.
        hand_presence: fraction of the window's frames with the (left, right) hand.
        body_presence: fraction of the window's frames with a valid body.
        latency_ms: backend time for this window in milliseconds (0: the model was not run).
        frames: real frames in the window (fewer at the end of a short clip).
        outcome: "action", "no_person" or "low_confidence" (sdk.ACTION, NO_PERSON,
            LOW_CONFIDENCE).
    """

    label: str | None
    score: float | None                            # fused softmax probability of `label`
    top_k: list[tuple[str, float]] = field(default_factory=list)
    track_id: int | str = 0
    start_ms: float | None = None                  # first and last timestamps of the window
    end_ms: float | None = None
    body_label: str | None = None                  # the body expert's own top class (None: no expert)
    body_score: float | None = None
    hand_label: str | None = None                  # the hand expert's own top class (None: no expert)
    hand_score: float | None = None
    hand_presence: tuple[float, float] | None = None  # fraction of frames with (left, right) hand
    body_presence: float | None = None             # fraction of frames with a valid body
    latency_ms: float = 0.0                        # backend time for this window (0: not run)
    frames: int = 0                                # real frames in the window (fewer at a clip's end)
    outcome: str = ACTION                          # "action" | "no_person" | "low_confidence"

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (what `bharnet run` prints and the ROS 2 node
        publishes): top_k as [[label, score], ...], hand_presence as {"left": f, "right": f}."""
        d = asdict(self)
        d["top_k"] = [[lbl, float(s)] for lbl, s in self.top_k]
        if self.hand_presence is not None:
            d["hand_presence"] = {"left": self.hand_presence[0], "right": self.hand_presence[1]}
        return d
