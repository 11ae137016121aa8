"""The RGB branch (BHaRNet-M): a compact CNN over spatio-temporal ROI images, guided by the skeleton.

MMNet's idea, written here from its description: the skeleton network already knows *which joints
at which times* carry the action, as the magnitude of its features. That magnitude, averaged over
the joints of each ROI part (head, hands, feet) and read at the K sampled frames, becomes one weight
per ROI tile; the CNN's per-tile features are re-weighted by it before each part is pooled over
its frames, so the RGB model looks where the skeleton found activity.

- `RGBNet(roi [N,3,P*S,K*S], guidance [N,P,K]) -> logits`: the exported `rgb.onnx` graph. The
  guidance is an *input*, already multiplied by the tile mask (blank tiles weigh 0).
- `SkeletonGuide(body, hand, hand_mask) -> guidance [N,P,K]`: reads a trained BHaRNet's experts. Its
  `source` is the config switch: "body" (MMNet), "body+hand" (the hand expert guides the hand tiles),
  or "none" (uniform weights, an unguided baseline).
- `fuse(skeleton_logits, rgb_logits, how, weight)`: weighted logit sum, or Noisy-OR.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from bharnet.layouts import get_layout
from bharnet.rgb.roi import PARTS

from .bharnet import probability_fusion

GUIDE_SOURCES = ("body", "body+hand", "none")
FUSIONS = ("sum", "noisy_or")
STRIDE = 8  # the CNN's total stride: the tile side must be a multiple of it

# Body-layout joints whose skeleton features describe each ROI part (matched by name, so any body
# layout works; each part uses the names its layout has).
GUIDE_JOINTS = {
    "head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "head", "neck", "face"),
    "left_hand": ("left_wrist", "left_hand", "left_hand_tip", "left_thumb", "left_index",
                  "left_pinky"),
    "right_hand": ("right_wrist", "right_hand", "right_hand_tip", "right_thumb", "right_index",
                   "right_pinky"),
    "left_foot": ("left_ankle", "left_foot", "left_heel", "left_big_toe", "left_small_toe"),
    "right_foot": ("right_ankle", "right_foot", "right_heel", "right_big_toe", "right_small_toe"),
}


def _conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _ResBlock(nn.Module):
    """conv-BN-ReLU, conv-BN, plus a (strided 1x1) shortcut: a ResNet basic block, small."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = _conv_bn(cin, cout, stride)
        self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = (nn.Identity() if cin == cout and stride == 1 else
                      nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):
        return F.relu(self.b(self.a(x)) + self.short(x))


class RGBNet(nn.Module):
    """Compact ResNet-style CNN on the tiled ROI image with guidance-weighted pooling."""

    input_names = ("roi", "guidance")
    output_names = ("rgb_logits",)

    def __init__(self, num_classes: int, parts: int = len(PARTS), frames: int = 4, tile: int = 32,
                 width: int = 16, dropout: float = 0.0):
        super().__init__()
        if tile % STRIDE:
            raise ValueError(f"ROI tile {tile} must be a multiple of the CNN stride {STRIDE}")
        self.parts, self.frames, self.tile = parts, frames, tile
        w = width
        # a strided stem: the tiles are small and already centred, full-resolution convs are waste
        self.stem = _conv_bn(3, w, 2)
        self.stages = nn.Sequential(_ResBlock(w, 2 * w, 2), _ResBlock(2 * w, 4 * w, 2),
                                    _ResBlock(4 * w, 4 * w, 1))
        # one feature vector per part (tiles pooled over frames), concatenated: the classifier
        # knows which part a feature came from, which one guidance-weighted average over all
        # tiles would lose
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w * parts, num_classes))
        # fixed input standardisation (ImageNet-like statistics are as good as any here)
        self.register_buffer("mean", torch.tensor([0.45, 0.45, 0.45]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))

    def export_outputs(self, out) -> tuple:
        """The output tuple in `output_names` order (the exporter's convention)."""
        return (out,)

    def features(self, roi):
        return self.stages(self.stem((roi - self.mean) / self.std))

    def forward(self, roi, guidance):
        f = self.features(roi)                                   # [N, C, P*h, K*w]
        n, c = f.shape[:2]
        h, w = self.tile // STRIDE, self.tile // STRIDE
        tiles = f.reshape(n, c, self.parts, h, self.frames, w).mean((3, 5))   # [N, C, P, K]
        g = guidance.to(f.dtype)
        # re-weight the tiles by the guidance, relative to its mean (a blank tile weighs 0), then
        # pool each part over its frames
        g = g / g.mean((1, 2), keepdim=True).clamp_min(1e-6)
        parts = (tiles * g.unsqueeze(1)).mean(3)                                 # [N, C, P]
        return self.head(parts.flatten(1))


def _part_indices(layout_name: str, part: str) -> list[int]:
    lay = get_layout(layout_name)
    idx = [lay.index(n) for n in GUIDE_JOINTS[part] if n in lay.joints]
    return idx or list(range(lay.num_joints))  # a layout without the part: the whole body


class SkeletonGuide(nn.Module):
    """Per-tile guidance [N,P,K] from a trained BHaRNet's feature magnitudes (see module doc).

    `positions` are the K frame positions inside the skeleton window (bharnet.rgb.frame_positions).
    Each sample's guidance is divided by its mean, so it re-weights tiles without rescaling features.
    """

    def __init__(self, skeleton: nn.Module, body_layout: str, window: int, positions,
                 source: str = "body", parts=PARTS):
        super().__init__()
        if source not in GUIDE_SOURCES:
            raise ValueError(f"rgb guide must be one of {GUIDE_SOURCES}, got {source!r}")
        if source != "none" and not getattr(skeleton, "has_body", False):
            raise ValueError("skeleton guidance needs a model with a body expert")
        if source == "body+hand" and not getattr(skeleton, "has_hand", False):
            raise ValueError("guide 'body+hand' needs a model with a hand expert")
        self.skeleton, self.source, self.window = skeleton, source, window
        self.parts = tuple(parts)
        self.register_buffer("positions", torch.as_tensor(list(positions), dtype=torch.float32),
                             persistent=False)
        m = torch.zeros(len(self.parts), get_layout(body_layout).num_joints)
        for p, part in enumerate(self.parts):
            idx = _part_indices(body_layout, part)
            m[p, idx] = 1.0 / len(idx)
        self.register_buffer("part_matrix", m, persistent=False)   # [P, V] joint averaging

    output_names = ("guidance",)

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("body", "hand", "hand_mask") if self.source == "body+hand" else ("body",)

    def export_outputs(self, out) -> tuple:
        return (out,)

    def _at_frames(self, e):
        """[N, T', X] energies -> [N, K, X] at the ROI frames (nearest feature step)."""
        t_feat = e.shape[1]
        idx = torch.floor(self.positions * t_feat / self.window).long().clamp_(0, t_feat - 1)
        return e.index_select(1, idx)

    def forward(self, body, hand=None, hand_mask=None):
        n = body.shape[0]
        if self.source == "none":
            return body.new_ones(n, len(self.parts), len(self.positions))
        fb = self.skeleton.body(body)                                  # [N, C, T', V, M]
        e = fb.pow(2).sum(1).clamp_min(1e-12).sqrt()[..., 0]           # person 0: [N, T', V]
        g = self._at_frames(e) @ self.part_matrix.t()                  # [N, K, P]
        g = g / g.mean((1, 2), keepdim=True).clamp_min(1e-6)
        if self.source == "body+hand":
            fh = self.skeleton.hand(hand)                              # [N, C, T', 21, 2M]
            eh = fh.pow(2).sum(1).clamp_min(1e-12).sqrt().mean(2)[..., :2]   # [N, T', 2]
            seen = hand_mask[..., :2].amax(1, keepdim=True)            # [N, 1, 2]: hand ever seen
            eh = self._at_frames(eh) * seen
            eh = eh / eh.mean((1, 2), keepdim=True).clamp_min(1e-6)
            cols = []
            for p, part in enumerate(self.parts):
                side = {"left_hand": 0, "right_hand": 1}.get(part)
                # an unseen hand keeps the body expert's weight for its tile
                cols.append(g[..., p] if side is None else
                            torch.where(seen[..., side] > 0, eh[..., side], g[..., p]))
            g = torch.stack(cols, -1)
            g = g / g.mean((1, 2), keepdim=True).clamp_min(1e-6)
        return g.transpose(1, 2).contiguous()                           # [N, P, K]


def fuse(skeleton_logits, rgb_logits, how: str = "sum", weight: float = 1.0):
    """Fused scores: skeleton + weight * rgb logits ("sum") or Noisy-OR of their probabilities."""
    if how == "sum":
        return skeleton_logits + weight * rgb_logits
    if how == "noisy_or":
        return probability_fusion([skeleton_logits, rgb_logits], "noisy_or")
    raise ValueError(f"rgb fusion must be one of {FUSIONS}, got {how!r}")


__all__ = ["RGBNet", "SkeletonGuide", "fuse", "GUIDE_SOURCES", "FUSIONS", "GUIDE_JOINTS", "STRIDE"]
