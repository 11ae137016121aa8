"""Synthetic fine-grained action data in COCO-WholeBody 2D (PYSKL format), made to need the hands.

A 2D stick figure faces the camera: arms and legs are placed by two-link inverse kinematics from
wrist/ankle targets that follow each class's trajectory; each hand is a 21-joint model whose
fingers are chains with per-finger flexion (flexed segments fore-shorten, as seen from the front,
so a fist folds onto the palm). Persons vary in size, position, limb proportions, speed, handedness
(a whole-body mirror) and noise; hands are small in image scale, as in real footage.

Classes come in two groups:
- *hand-intensive*: the same body motion (raise one arm, hold, lower) with different hand shapes or
  finger motion (thumb up / thumb down / OK / victory / counting 1-2-3 / open palm / fist / wiggle);
- *body*: different body motions (wave, clap, reach sideways, squat, both arms up, kick).
Every action starts and ends in the rest pose, so actions can be chained into a continuous stream.

Hands are sometimes lost like a detector loses them: whole clips and bursts of frames, with low
scores and drifting garbage coordinates where lost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layouts import get_layout
from .dataset import Clip, SkeletonDataset

LAYOUT = "coco_wholebody"
IMAGE_W, IMAGE_H = 1280, 720

# hand shapes: flexion of (thumb, index, middle, ring, pinky) in 0..1, thumb abduction (rad),
# finger spread (rad between neighbours)
SHAPES = {
    "relaxed": ((0.3, 0.3, 0.35, 0.4, 0.45), 0.5, 0.10),
    "open": ((0.0, 0.0, 0.0, 0.0, 0.0), 0.9, 0.22),
    "fist": ((0.85, 1.0, 1.0, 1.0, 1.0), 0.1, 0.0),
    "thumb": ((0.0, 1.0, 1.0, 1.0, 1.0), 1.3, 0.0),
    "ok": ((0.55, 0.65, 0.0, 0.05, 0.1), 0.45, 0.15),
    "victory": ((0.8, 0.0, 0.0, 1.0, 1.0), 0.2, 0.35),
    "one": ((0.8, 0.0, 1.0, 1.0, 1.0), 0.2, 0.05),
    "two": ((0.8, 0.0, 0.0, 1.0, 1.0), 0.2, 0.08),
    "three": ((0.8, 0.0, 0.0, 0.0, 1.0), 0.2, 0.08),
}

HAND_CLASSES = ("raise_hand_thumb_up", "raise_hand_thumb_down", "raise_hand_ok_sign",
                "raise_hand_victory_sign", "raise_hand_count_one_two_three", "raise_hand_open_palm",
                "raise_hand_fist", "raise_hand_wiggle_fingers")
BODY_CLASSES = ("wave_hand", "clap_hands", "reach_sideways", "squat_down", "both_arms_up",
                "kick_leg")
DEFAULT_CLASSES = HAND_CLASSES + BODY_CLASSES

# hand-frame geometry, in units of hand length (wrist to middle tip)
_MCP = np.array([[0.45, 0.10], [0.47, 0.02], [0.45, -0.06], [0.40, -0.13]])   # along d, along n
_FINGER_LEN = np.array([[0.22, 0.13, 0.10], [0.25, 0.15, 0.11], [0.23, 0.14, 0.10],
                        [0.18, 0.10, 0.09]])
_THUMB_CMC = np.array([0.10, 0.12])
_THUMB_LEN = np.array([0.18, 0.15, 0.13])
_SPREAD_SIDE = np.array([1.0, 0.0, -1.0, -2.0])  # spread multiples for index..pinky
_FLEX_MAX = np.array([np.pi / 2, np.pi / 2, np.pi / 3])


@dataclass
class Person:
    height: float        # pixels, head to feet
    x: float             # pelvis x
    ground: float        # ankle y
    arm: float           # limb-length factors
    leg: float
    mirror: bool         # act with the left side (whole-body mirror about the pelvis)
    noise: float         # pixel noise std (as a fraction of height)
    hand_score: float    # typical hand detector confidence

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Person":
        h = rng.uniform(180, 480)
        ground = float(np.clip(rng.uniform(0.78, 0.97) * IMAGE_H, h * 1.08, IMAGE_H))  # head in view
        return cls(h, rng.uniform(0.25, 0.75) * IMAGE_W, ground,
                   rng.uniform(0.93, 1.07), rng.uniform(0.93, 1.07), bool(rng.random() < 0.25),
                   rng.uniform(0.002, 0.006), rng.uniform(0.55, 0.92))


def _smooth(s: np.ndarray, a: float, b: float) -> np.ndarray:
    u = np.clip((s - a) / (b - a), 0, 1)
    return u * u * (3 - 2 * u)


def envelope(s: np.ndarray) -> np.ndarray:
    """0 at rest, 1 while the action is held: rise over 0..0.22, fall over 0.82..1."""
    return _smooth(s, 0.0, 0.22) * (1 - _smooth(s, 0.82, 1.0))


def _ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float, bend: float) -> np.ndarray:
    """Middle joint of a two-link chain from root towards target; bend=+-1 picks the side."""
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    reach = np.clip(dist, abs(l1 - l2) + 1e-3, l1 + l2 - 1e-3)
    u = d / np.maximum(dist, 1e-6)
    cos_a = (l1 ** 2 + reach ** 2 - l2 ** 2) / (2 * l1 * reach)
    a = np.arccos(np.clip(cos_a, -1, 1)) * bend
    rot = np.stack([u[..., 0] * np.cos(a[..., 0]) - u[..., 1] * np.sin(a[..., 0]),
                    u[..., 0] * np.sin(a[..., 0]) + u[..., 1] * np.cos(a[..., 0])], -1)
    return root + rot * l1


def _rot(v: np.ndarray, ang) -> np.ndarray:
    c, s = np.cos(ang), np.sin(ang)
    return np.stack([v[..., 0] * c - v[..., 1] * s, v[..., 0] * s + v[..., 1] * c], -1)


def hand_points(wrist, d_ang, chir, flex, abd, spread, length) -> np.ndarray:
    """21 hand joints [T,21,2] from the wrist [T,2], hand direction angle [T] (wrist->fingers),
    chirality [T] (+1: thumb on the left of d as seen, i.e. n = d rotated by -90 deg in image
    coords; -1 mirrored), flexion [T,5], thumb abduction [T], spread [T] and hand length."""
    t = wrist.shape[0]
    d = np.stack([np.cos(d_ang), np.sin(d_ang)], -1)                       # [T,2]
    n = _rot(d, -np.pi / 2) * chir[:, None]
    out = np.zeros((t, 21, 2))
    out[:, 0] = wrist

    # four fingers
    for f in range(4):
        base = wrist + (_MCP[f, 0] * d + _MCP[f, 1] * n) * length
        # finger direction in hand frame: along d, fanned by spread towards n
        fan = spread * _SPREAD_SIDE[f]
        fd = np.cos(fan)[:, None] * d + np.sin(fan)[:, None] * n
        pts = [base]
        phi = np.zeros(t)
        for k in range(3):
            phi = phi + flex[:, f + 1] * _FLEX_MAX[k]
            # seen from the front, a flexed segment is fore-shortened (and folds back past 90 deg)
            pts.append(pts[-1] + fd * (np.cos(phi) * _FINGER_LEN[f, k] * length)[:, None])
        out[:, 1 + 4 * (f + 1): 5 + 4 * (f + 1)] = np.stack(pts, 1)
    # thumb: abduction fans it out towards n; flexion swings it across the palm
    cmc = wrist + (_THUMB_CMC[0] * d + _THUMB_CMC[1] * n) * length
    ang = abd - flex[:, 0] * 1.2
    td = np.cos(ang)[:, None] * d + np.sin(ang)[:, None] * n
    pts = [cmc]
    phi = np.zeros(t)
    for k in range(3):
        phi = phi + flex[:, 0] * 0.5
        pts.append(pts[-1] + td * (np.cos(phi) * _THUMB_LEN[k] * length)[:, None])
    out[:, 1:5] = np.stack(pts, 1)
    return out


def _shape_arrays(name: str, t: int):
    f, a, s = SHAPES[name]
    return np.tile(np.asarray(f, float), (t, 1)), np.full(t, a), np.full(t, s)


def _blend(e, x0, x1):
    e = e.reshape(e.shape + (1,) * (np.ndim(x0) - 1))
    return x0 * (1 - e) + x1 * e


def _action(cls: str, t: int, p: Person, rng: np.random.Generator) -> dict:
    """Trajectories for one action over t frames: wrist and ankle targets, pelvis drop, hand shapes
    and hand orientations, all for the *acting* side = person's right (mirrored later if needed)."""
    s = np.linspace(0, 1, t)
    e = envelope(s)
    H = p.height
    speed = rng.uniform(0.8, 1.25)
    ph = rng.uniform(0, 2 * np.pi)
    # rest pose targets (relative to pelvis; image coords, x right, y down; person's right = -x)
    rest_r = np.array([-0.13, 0.05]) * H
    rest_l = np.array([0.13, 0.05]) * H
    tr = np.tile(rest_r, (t, 1))
    tl = np.tile(rest_l, (t, 1))
    drop = np.zeros(t)
    kick = np.zeros((t, 2))
    # hand orientation: angle of d (wrist->fingers) in image coords; down = +pi/2
    dr = np.full(t, np.pi / 2 + 0.1)
    dl = np.full(t, np.pi / 2 - 0.1)
    chr_r = -np.ones(t)
    chr_l = np.ones(t)  # thumbs point inwards on both sides when palms face the camera
    fr, ar, sr = _shape_arrays("relaxed", t)
    fl, al, sl = _shape_arrays("relaxed", t)
    raise_target = np.array([-0.2, -0.42]) * H + rng.normal(0, 0.015 * H, 2)

    if cls.startswith("raise_hand"):
        tr = _blend(e, tr, np.tile(raise_target, (t, 1)))
        dr = _blend(e, dr, np.full(t, -np.pi / 2 + rng.normal(0, 0.1)))   # fingers up
        shape = cls[len("raise_hand_"):]
        held = _smooth(s, 0.12, 0.25) * (1 - _smooth(s, 0.85, 0.95))
        if shape in ("thumb_up", "thumb_down"):
            f1, a1, s1 = _shape_arrays("thumb", t)
            # fingers point inwards (towards the body midline); the thumb's side is up or down
            dr = _blend(e, np.full(t, np.pi / 2 + 0.1), np.full(t, 0.0 + rng.normal(0, 0.1)))
            chr_r = np.where(held > 0.5, 1.0 if shape == "thumb_up" else -1.0, -1.0)
        elif shape == "count_one_two_three":
            k = np.clip(((s - 0.25) / 0.55 * 3).astype(int), 0, 2)
            f1 = np.stack([np.asarray(SHAPES[n][0]) for n in ("one", "two", "three")])[k]
            a1, s1 = np.full(t, 0.2), np.full(t, 0.08)
        elif shape == "wiggle_fingers":
            f1, a1, s1 = _shape_arrays("open", t)
            w = 2 * np.pi * speed * 2.5 * s * (t / 60)
            f1 = f1 + 0.45 * (1 + np.sin(w[:, None] * 3 + ph + np.arange(5) * 1.1)) / 2
        else:
            f1, a1, s1 = _shape_arrays({"ok_sign": "ok", "victory_sign": "victory",
                                        "open_palm": "open", "fist": "fist"}[shape], t)
        fr, ar, sr = _blend(held, fr, f1), _blend(held, ar, a1), _blend(held, sr, s1)
    elif cls == "wave_hand":
        osc = np.sin(2 * np.pi * speed * 2.0 * s * (t / 60) * 1.5 + ph)
        tgt = raise_target + np.stack([osc * 0.08 * H, np.abs(osc) * 0.02 * H], -1)
        tr = _blend(e, tr, tgt)
        dr = _blend(e, dr, -np.pi / 2 + osc * 0.35)
        f1, a1, s1 = _shape_arrays("open", t)
        fr, ar, sr = _blend(e, fr, f1), _blend(e, ar, a1), _blend(e, sr, s1)
    elif cls == "clap_hands":
        osc = (1 + np.cos(2 * np.pi * speed * 2.2 * s * (t / 60) * 1.5 + ph)) / 2   # 1 = apart
        gap = (0.012 + 0.09 * osc) * H
        y = -0.28 * H
        tr = _blend(e, tr, np.stack([-gap, np.full(t, y)], -1))
        tl = _blend(e, tl, np.stack([gap, np.full(t, y)], -1))
        dr = _blend(e, dr, np.full(t, -np.pi / 2 - 0.3))
        dl = _blend(e, dl, np.full(t, -np.pi / 2 + 0.3))
        f1, a1, s1 = _shape_arrays("open", t)
        fr, ar, sr = _blend(e, fr, f1), _blend(e, ar, a1), _blend(e, sr, s1)
        fl, al, sl = _blend(e, fl, f1), _blend(e, al, a1), _blend(e, sl, s1)
    elif cls == "reach_sideways":
        tr = _blend(e, tr, np.tile(np.array([-0.5, -0.3]) * H, (t, 1)))
        dr = _blend(e, dr, np.full(t, np.pi + rng.normal(0, 0.1)))
        f1, a1, s1 = _shape_arrays("open", t)
        fr, ar, sr = _blend(e, fr, f1), _blend(e, ar, a1), _blend(e, sr, s1)
    elif cls == "squat_down":
        drop = e * 0.2 * H
        tr = _blend(e, tr, np.tile(np.array([-0.22, -0.2]) * H, (t, 1)))
        tl = _blend(e, tl, np.tile(np.array([0.22, -0.2]) * H, (t, 1)))
    elif cls == "both_arms_up":
        tr = _blend(e, tr, np.tile(np.array([-0.16, -0.75]) * H, (t, 1)))
        tl = _blend(e, tl, np.tile(np.array([0.16, -0.75]) * H, (t, 1)))
        dr = _blend(e, dr, np.full(t, -np.pi / 2 - 0.2))
        dl = _blend(e, dl, np.full(t, -np.pi / 2 + 0.2))
        f1, a1, s1 = _shape_arrays("open", t)
        fr, ar, sr = _blend(e, fr, f1), _blend(e, ar, a1), _blend(e, sr, s1)
        fl, al, sl = _blend(e, fl, f1), _blend(e, al, a1), _blend(e, sl, s1)
    elif cls == "idle":  # the rest pose (used between actions in a stream)
        pass
    elif cls == "kick_leg":
        kick = e[:, None] * np.array([-0.25, -0.3]) * H
    else:
        raise ValueError(f"synthetic class {cls!r} unknown; known: {DEFAULT_CLASSES}")
    # individual style: how far each finger flexes, how the wrist is rolled
    fr = fr + rng.normal(0, 0.08, 5)
    fl = fl + rng.normal(0, 0.08, 5)
    dr = dr + rng.normal(0, 0.15)
    dl = dl + rng.normal(0, 0.15)
    return dict(tr=tr, tl=tl, drop=drop, kick=kick, dr=dr, dl=dl, chr_r=chr_r, chr_l=chr_l,
                fr=np.clip(fr, 0, 1.2), ar=ar, sr=sr, fl=np.clip(fl, 0, 1.2), al=al, sl=sl)


def _render(a: dict, p: Person, rng: np.random.Generator) -> np.ndarray:
    """Keypoints [T,133,2] in pixels for one action's trajectories."""
    t = a["tr"].shape[0]
    H = p.height
    sway = np.cumsum(rng.normal(0, 0.0015 * H, (t, 2)), 0)
    sway -= sway.mean(0)
    pelvis = np.stack([np.full(t, p.x), np.full(t, p.ground - 0.47 * H * p.leg)], -1) + sway
    pelvis[:, 1] += a["drop"]
    lean = rng.normal(0, 0.03) + 0.02 * np.sin(np.linspace(0, 2, t) + rng.uniform(0, 6))
    up = np.stack([np.sin(lean), -np.cos(lean)], -1)
    side = np.stack([np.cos(lean), np.sin(lean)], -1)              # towards image +x (person's left)
    neck = pelvis + up * 0.3 * H
    kp = np.zeros((t, 133, 2))
    sh_r, sh_l = neck - side * 0.11 * H, neck + side * 0.11 * H
    hip_r, hip_l = pelvis - side * 0.07 * H, pelvis + side * 0.07 * H
    ua, fa = 0.17 * H * p.arm, 0.15 * H * p.arm
    wr = pelvis + a["tr"]
    wl = pelvis + a["tl"]
    el_r = _ik(sh_r, wr, ua, fa, -1.0)   # elbows bend outwards
    el_l = _ik(sh_l, wl, ua, fa, 1.0)
    wr = el_r + (wr - el_r) / np.maximum(np.linalg.norm(wr - el_r, axis=-1, keepdims=True), 1e-6) * fa
    wl = el_l + (wl - el_l) / np.maximum(np.linalg.norm(wl - el_l, axis=-1, keepdims=True), 1e-6) * fa
    th, sh = 0.245 * H * p.leg, 0.235 * H * p.leg
    an_r = np.stack([hip_r[:, 0] - 0.01 * H, np.full(t, p.ground)], -1) + a["kick"]
    an_l = np.stack([hip_l[:, 0] + 0.01 * H, np.full(t, p.ground)], -1)
    kn_r = _ik(hip_r, an_r, th, sh, 1.0)   # knees bend outwards in a frontal squat
    kn_l = _ik(hip_l, an_l, th, sh, -1.0)
    nose = neck + up * 0.1 * H
    kp[:, 0] = nose
    kp[:, 1], kp[:, 2] = nose + up * 0.02 * H + side * 0.02 * H, nose + up * 0.02 * H - side * 0.02 * H
    kp[:, 3], kp[:, 4] = nose + side * 0.05 * H, nose - side * 0.05 * H
    kp[:, 5], kp[:, 6], kp[:, 7], kp[:, 8] = sh_l, sh_r, el_l, el_r
    kp[:, 9], kp[:, 10], kp[:, 11], kp[:, 12] = wl, wr, hip_l, hip_r
    kp[:, 13], kp[:, 14], kp[:, 15], kp[:, 16] = kn_l, kn_r, an_l, an_r
    for k, (an, sgn) in enumerate(((an_l, 1.0), (an_r, -1.0))):
        kp[:, 17 + 3 * k] = an + np.array([-sgn * 0.01, 0.04]) * H   # big toe
        kp[:, 18 + 3 * k] = an + np.array([sgn * 0.03, 0.035]) * H   # small toe
        kp[:, 19 + 3 * k] = an + np.array([0.0, 0.015]) * H          # heel
    ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    face = np.stack([np.cos(ang) * 0.035, np.sin(ang) * 0.045], -1) * H
    kp[:, 23:91] = nose[:, None] + face[None] + rng.normal(0, 0.002 * H, (1, 68, 2))
    hl = 0.105 * H * p.arm
    kp[:, 91:112] = hand_points(wl, a["dl"], a["chr_l"], a["fl"], a["al"], a["sl"], hl)
    kp[:, 112:133] = hand_points(wr, a["dr"], a["chr_r"], a["fr"], a["ar"], a["sr"], hl)
    return kp


def _mirror(kp: np.ndarray, x0: float) -> np.ndarray:
    perm = get_layout(LAYOUT).flip_permutation
    out = kp[:, perm].copy()
    out[..., 0] = 2 * x0 - out[..., 0]
    return out


def _detector(kp: np.ndarray, p: Person, rng: np.random.Generator,
              hand_clip_drop: float, hand_burst: float) -> tuple[np.ndarray, np.ndarray]:
    """Add noise, scores and detector-like hand losses; returns keypoint [T,133,2], score [T,133]."""
    t = kp.shape[0]
    H = p.height
    kp = kp + rng.normal(0, p.noise * H, kp.shape)
    # hand detectors are noisier relative to the hand's few-pixel size than body detectors
    kp[:, 91:] += rng.normal(0, p.noise * H * 0.7, kp[:, 91:].shape)
    score = np.empty((t, 133))
    score[:, :23] = np.clip(rng.normal(0.88, 0.06, (t, 23)), 0.35, 1.0)
    score[:, 23:91] = np.clip(rng.normal(0.8, 0.08, (t, 68)), 0.3, 1.0)
    score[:, 91:] = np.clip(rng.normal(p.hand_score, 0.08, (t, 42)), 0.3, 1.0)
    for sl in (slice(91, 112), slice(112, 133)):
        lost = np.zeros(t, bool)
        if rng.random() < hand_clip_drop:
            lost[:] = True
        else:  # bursts: a two-state Markov chain (found <-> lost)
            state = False
            u = rng.random(t)
            for i in range(t):  # t <= a few hundred; once per clip, not per window
                state = (u[i] < hand_burst) if not state else (u[i] > 0.35)
                lost[i] = state
        n = int(lost.sum())
        if n:
            centre = kp[lost, sl][:, :1]
            kp[lost, sl] = centre + rng.normal(0, 0.05 * H, (n, 21, 2))   # drifting garbage
            score[lost, sl] = rng.uniform(0.0, 0.25, (n, 21))
    return kp.astype(np.float32), score.astype(np.float32)


def _person_clip(cls: str, t: int, p: Person, rng, hand_clip_drop, hand_burst):
    kp = _render(_action(cls, t, p, rng), p, rng)
    if p.mirror:
        kp = _mirror(kp, p.x)
    return _detector(kp, p, rng, hand_clip_drop, hand_burst)


def generate(classes=DEFAULT_CLASSES, clips_per_class: int = 60, seed: int = 0,
             frames: tuple[int, int] = (48, 72), test_fraction: float = 0.25,
             hand_clip_drop: float = 0.06, hand_burst: float = 0.03) -> SkeletonDataset:
    """A synthetic dataset: clips_per_class clips per class, a train/test split by clip."""
    classes = tuple(classes)
    rng = np.random.default_rng(seed)
    clips, train, test = [], [], []
    n_test = int(round(clips_per_class * test_fraction))
    for label, cls in enumerate(classes):
        for i in range(clips_per_class):
            p = Person.random(rng)
            t = int(rng.integers(frames[0], frames[1] + 1))
            kp, sc = _person_clip(cls, t, p, rng, hand_clip_drop, hand_burst)
            name = f"synth_{cls}_{i:04d}"
            clips.append(Clip(kp[None], sc[None], label, name))
            (test if i < n_test else train).append(name)
    hand = [k for k, c in enumerate(classes) if c in HAND_CLASSES]
    return SkeletonDataset(clips, list(classes), LAYOUT, hand, {"train": train, "test": test})


def generate_stream(actions=None, num_actions: int = 6, classes=DEFAULT_CLASSES, seed: int = 0,
                    frames: tuple[int, int] = (48, 72), idle: tuple[int, int] = (8, 24),
                    hand_clip_drop: float = 0.0, hand_burst: float = 0.03):
    """A continuous stream of one person doing actions back to back with idle gaps.

    Returns (keypoints [T,133,3] with (x, y, score), timeline [(start, end_exclusive, class_name)]).
    `actions` is a list of class names (default: num_actions random ones).
    """
    classes = tuple(classes)
    rng = np.random.default_rng(seed)
    if actions is None:
        actions = [classes[i] for i in rng.integers(0, len(classes), size=num_actions)]
    p = Person.random(rng)
    parts, timeline, cursor = [], [], 0
    for cls in actions:
        gap = int(rng.integers(idle[0], idle[1] + 1))
        t = int(rng.integers(frames[0], frames[1] + 1))
        rest_kp, rest_sc = _person_clip("idle", gap, p, rng, 0.0, hand_burst)
        parts.append(np.concatenate([rest_kp, rest_sc[..., None]], -1))
        cursor += gap
        kp, sc = _person_clip(cls, t, p, rng, hand_clip_drop, hand_burst)
        parts.append(np.concatenate([kp, sc[..., None]], -1))
        timeline.append((cursor, cursor + t, cls))
        cursor += t
    return np.concatenate(parts).astype(np.float32), timeline
