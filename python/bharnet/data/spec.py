"""InputSpec: what one model consumes, per sample (no batch dimension).

This is the contract between the data pipeline, training, export and the SDK; it is stored in the
model bundle as `spec.to_dict()`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

STREAMS = ("j", "b", "jm", "bm")
HAND_JOINTS = 21
UNIFIED_LAYOUT = "unified"
# "window": statistics of the whole window, forward motion (today's windowed models).
# "causal-v1": frame t is normalised once, with statistics of frames [t-K+1, t] of its own stream,
# and motion is the backward difference, so a prepared frame never changes (streaming models).
NORMALISATIONS = ("window", "causal-v1")
# where each hand is placed: "wrist" (own frame: centred on its wrist, scaled by its own size; the
# shape only) or "body" (the body's centre and scale, as the body joints: shape *and* where the
# hand is relative to the face and chest, which signs need). "body" needs the body joints even
# for a hand-only model (they give the frame, not an input).
HAND_FRAMES = ("wrist", "body")
# How tracked hands enter the hand expert (adapt.py):
# "both": the left hand in slot 0 (mirrored by the normalisation), the right hand in slot 1.
# "one":  one hand per person (SHREC'17, a single tracked hand): per frame the hand with more present
#         joints (the right one on a tie, or the source's only, side-less hand) goes to slot 1; a left
#         hand is first mirrored about its own wrist, so its shape becomes a right hand's while its
#         path through space is kept; slot 0 stays empty (masked). The body expert, if any, gets the
#         same routed hand on the hand21 graph, in camera space: the hand's path (swipes, shakes).
HAND_ROUTINGS = ("both", "one")
# fields added after the first bundles: written only when they differ from the default, so a
# windowed model's spec dict stays what older readers expect
_CAUSAL_FIELDS = ("normalisation", "norm_horizon")
# fields written only when not their default, so older bundles keep their meaning: name -> default
_OPTIONAL_FIELDS = {"hand_frame": "wrist", "hand_routing": "both"}


@dataclass(frozen=True)
class InputSpec:
    body_layout: str = "coco17"   # the model's body graph layout
    hands: bool = True            # model has a hand expert (hand21 per hand, 2 hands per person)
    body: bool = True             # model has a body expert (False for the hand_only baseline)
    unified: bool = False         # model consumes one unified whole-body graph instead
    stream: str = "j"             # "j" | "b" | "jm" | "bm"
    coords: int = 2               # coordinate channels used (2 or 3)
    with_score: bool = True       # append the keypoint score as a last channel
    window: int = 64              # T
    num_person: int = 1           # M
    score_threshold: float = 0.3  # below this a keypoint counts as missing
    normalisation: str = "window"  # see NORMALISATIONS
    norm_horizon: int = 32        # K: frames of trailing statistics (causal normalisation only)
    hand_frame: str = "wrist"     # see HAND_FRAMES
    hand_routing: str = "both"    # see HAND_ROUTINGS

    def __post_init__(self):
        from ..layouts import get_layout

        if self.stream not in STREAMS:
            raise ValueError(f"InputSpec.stream must be one of {STREAMS}, got {self.stream!r}")
        if self.coords not in (2, 3):
            raise ValueError(f"InputSpec.coords must be 2 or 3, got {self.coords!r}")
        if int(self.window) < 1 or int(self.num_person) < 1:
            raise ValueError(f"InputSpec.window and num_person must be >= 1, got "
                             f"{self.window!r}, {self.num_person!r}")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"InputSpec.normalisation must be one of {NORMALISATIONS}, got "
                             f"{self.normalisation!r}")
        if not isinstance(self.norm_horizon, int) or self.norm_horizon < 1:
            raise ValueError(f"InputSpec.norm_horizon must be an integer >= 1, got {self.norm_horizon!r}")
        if self.hand_routing not in HAND_ROUTINGS:
            raise ValueError(f"InputSpec.hand_routing must be one of {HAND_ROUTINGS}, got "
                             f"{self.hand_routing!r}")
        if self.hand_routing == "one" and (self.unified or (self.body and self.body_layout != "hand21")):
            raise ValueError("InputSpec.hand_routing 'one' feeds the body expert the routed hand: it "
                             "needs body_layout 'hand21' (or no body expert) and no unified graph")
        if self.hand_frame not in HAND_FRAMES:
            raise ValueError(f"InputSpec.hand_frame must be one of {HAND_FRAMES}, got {self.hand_frame!r}")
        if self.hand_routing == "one" and self.hand_frame != "wrist":
            raise ValueError("InputSpec.hand_routing 'one' places the hand in its own (wrist) frame; "
                             "its path goes to the body expert: hand_frame must be 'wrist'")
        if not (self.unified or self.body or self.hands):
            raise ValueError("InputSpec: body, hands and unified are all off; the model has no input")
        get_layout(self.body_layout)  # KeyError naming the known layouts

    # ---- serialisation (bundle metadata) ---------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.causal:  # a windowed spec has no use for the causal fields
            for k in _CAUSAL_FIELDS:
                d.pop(k)
        for k, default in _OPTIONAL_FIELDS.items():
            if d[k] == default:
                d.pop(k)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "InputSpec":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"InputSpec.from_dict: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**d)

    @property
    def causal(self) -> bool:
        """Frames are prepared once, from the current and past frames only (streaming models)."""
        return self.normalisation != "window"

    @property
    def hands_in_body_frame(self) -> bool:
        """The hands are normalised with the body's centre and scale (hand_frame "body")."""
        return self.hands and not self.unified and self.hand_frame == "body"

    @property
    def needs_body_joints(self) -> bool:
        """The adapter must pick the body joints: a body input, or the hands' body frame."""
        return not self.unified and (self.body or self.hands_in_body_frame)

    # ---- shapes --------------------------------------------------------------
    @property
    def channels(self) -> int:
        return self.coords + int(self.with_score)

    @property
    def input_names(self) -> tuple[str, ...]:
        if self.unified:
            return ("joints",)
        names: tuple[str, ...] = ()
        if self.body:
            names += ("body",)
        if self.hands:
            names += ("hand", "hand_mask")
        return names

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        from ..layouts import get_layout

        c, t, m = self.channels, self.window, self.num_person
        shapes = {
            "body": (c, t, get_layout(self.body_layout).num_joints, m),
            "hand": (c, t, HAND_JOINTS, 2 * m),
            "hand_mask": (t, 2 * m),
            "joints": (c, t, get_layout(UNIFIED_LAYOUT).num_joints, m),
        }
        return {k: shapes[k] for k in self.input_names}
