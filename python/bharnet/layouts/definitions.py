"""Every keypoint layout the project speaks, each written exactly once.

Joint names are the shared vocabulary between layouts: the same name is the same body point.
Hand joints inside whole-body layouts are named "<side>_hand_<hand21 name>".
"""
from __future__ import annotations

from .graph import Layout


def _chain(*idx: int) -> list[tuple[int, int]]:
    return list(zip(idx[:-1], idx[1:]))


def _offset(edges, k: int) -> list[tuple[int, int]]:
    return [(a + k, b + k) for a, b in edges]


# ---- hand21: 0 = wrist, each finger four joints from base to tip ---------------
HAND_JOINTS = ("wrist",) + tuple(
    f"{finger}_{seg}"
    for finger, segs in (
        ("thumb", ("cmc", "mcp", "ip", "tip")),
        ("index", ("mcp", "pip", "dip", "tip")),
        ("middle", ("mcp", "pip", "dip", "tip")),
        ("ring", ("mcp", "pip", "dip", "tip")),
        ("pinky", ("mcp", "pip", "dip", "tip")),
    )
    for seg in segs
)
HAND_EDGES = (
    [(0, 1), (0, 5), (5, 9), (9, 13), (13, 17), (0, 17)]  # palm
    + _chain(1, 2, 3, 4) + _chain(5, 6, 7, 8) + _chain(9, 10, 11, 12)
    + _chain(13, 14, 15, 16) + _chain(17, 18, 19, 20)
)


def _hand_names(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_hand_{n}" for n in HAND_JOINTS)


HAND21 = Layout("hand21", HAND_JOINTS, tuple(HAND_EDGES), center=0,
                parts={"hand": tuple(range(21))},
                description="one hand, 21 joints (MediaPipe / COCO-WholeBody order)")

# ---- SHREC'17 (Intel RealSense hand tracker): wrist, palm centre, then 4 joints per finger ----
# One hand of unspecified side, so its joints carry the bare hand21 names (the data module's
# one-hand routing maps them onto the hand expert by name); the extra palm centre hangs off the wrist.
SHREC22_JOINTS = HAND_JOINTS[:1] + ("palm",) + HAND_JOINTS[1:]
_SHREC_OF_HAND = [0] + list(range(2, 22))   # hand21 index -> shrec22 index
SHREC22 = Layout(
    "shrec22", SHREC22_JOINTS,
    tuple([(_SHREC_OF_HAND[a], _SHREC_OF_HAND[b]) for a, b in HAND_EDGES] + [(0, 1)]),
    center=0, parts={"hand": tuple(_SHREC_OF_HAND), "palm": (1,)},
    description="SHREC'17 / DHG-14/28 hand skeleton, 22 joints (3D, metres): hand21 plus the palm",
)

# ---- COCO-17 body ---------------------------------------------------------------
COCO17_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17_EDGES = [
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6),
    (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 13), (13, 15), (12, 14), (14, 16),
]
COCO17 = Layout("coco17", COCO17_JOINTS, tuple(COCO17_EDGES), center=0,
                parts={"body": tuple(range(17))}, description="COCO-17 body keypoints")

FEET_JOINTS = ("left_big_toe", "left_small_toe", "left_heel",
               "right_big_toe", "right_small_toe", "right_heel")
# feet joined to their ankles (coco17 indices 15 and 16), offsets relative to the feet block
_FEET_EDGES = [(15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22)]

# ---- COCO-WholeBody 133 ----------------------------------------------------------
FACE_JOINTS = tuple(f"face_{i}" for i in range(68))
COCO_WHOLEBODY = Layout(
    "coco_wholebody",
    COCO17_JOINTS + FEET_JOINTS + FACE_JOINTS + _hand_names("left") + _hand_names("right"),
    tuple(COCO17_EDGES + _FEET_EDGES + _offset(HAND_EDGES, 91) + _offset(HAND_EDGES, 112)
          + [(9, 91), (10, 112)]
          # face points are not modelled as a graph; tie them to the nose so the graph stays connected
          + [(0, 23 + i) for i in range(68)]),
    center=0,
    parts={"body": tuple(range(17)), "feet": tuple(range(17, 23)), "face": tuple(range(23, 91)),
           "left_hand": tuple(range(91, 112)), "right_hand": tuple(range(112, 133))},
    description="COCO-WholeBody 133 (RTMPose/RTMW, DWPose, HRNet-wholebody)",
)

# ---- MediaPipe Holistic as stored in shared/data/streams: pose 33 + left 21 + right 21 ----
MP_POSE_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    # MediaPipe's "foot index" is the tip of the foot: the same point as COCO's big toe.
    "left_heel", "right_heel", "left_big_toe", "right_big_toe",
)
MP_POSE_EDGES = [
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (0, 9), (0, 10),
    # MediaPipe draws no face-to-torso link; nose-shoulder (as COCO) keeps the graph connected
    (0, 11), (0, 12), (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (25, 27), (27, 29), (29, 31), (27, 31),
    (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),
]
MEDIAPIPE_HOLISTIC = Layout(
    "mediapipe_holistic",
    MP_POSE_JOINTS + _hand_names("left") + _hand_names("right"),
    tuple(MP_POSE_EDGES + _offset(HAND_EDGES, 33) + _offset(HAND_EDGES, 54) + [(15, 33), (16, 54)]),
    center=0,
    parts={"body": tuple(range(33)), "left_hand": tuple(range(33, 54)),
           "right_hand": tuple(range(54, 75))},
    description="MediaPipe Holistic: 33 pose landmarks, then left and right hand (21 each)",
)

# ---- NTU RGB+D Kinect v2 (25) ---------------------------------------------------------
NTU25_JOINTS = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
_NTU_1BASED = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 8), (23, 8), (24, 12), (25, 12),
]
NTU25 = Layout("ntu25", NTU25_JOINTS, tuple((a - 1, b - 1) for a, b in _NTU_1BASED), center=20,
               parts={"body": tuple(range(25))}, description="NTU RGB+D Kinect v2, 25 joints (3D)")

# ---- JHMDB puppet (15), 2D ground truth ---------------------------------------------
JHMDB15_JOINTS = (
    "neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
    "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
    "right_ankle", "left_ankle",
)
JHMDB15 = Layout(
    "jhmdb15", JHMDB15_JOINTS,
    ((0, 1), (0, 2), (0, 3), (0, 4), (1, 5), (1, 6), (3, 7), (4, 8), (7, 11), (8, 12),
     (5, 9), (6, 10), (9, 13), (10, 14)),
    center=1, parts={"body": tuple(range(15))}, description="JHMDB puppet joints, 15 (2D)",
)

# ---- the unified whole-body graph the paper argues against ----------------------
UNIFIED = Layout(
    "unified",
    COCO17_JOINTS + FEET_JOINTS + _hand_names("left") + _hand_names("right"),
    tuple(COCO17_EDGES + _FEET_EDGES + _offset(HAND_EDGES, 23) + _offset(HAND_EDGES, 44)
          + [(9, 23), (10, 44)]),  # wrists joined to the hand roots
    center=0,
    parts={"body": tuple(range(17)), "feet": tuple(range(17, 23)),
           "left_hand": tuple(range(23, 44)), "right_hand": tuple(range(44, 65))},
    description="one whole-body graph: COCO body 17 + feet 6 + two hands 42",
)

ALL_LAYOUTS = (HAND21, COCO17, COCO_WHOLEBODY, MEDIAPIPE_HOLISTIC, NTU25, JHMDB15, UNIFIED)

# ---- Kinect v1 (20), as in Northwestern-UCLA and MSR Action3D -----------------------
# Kinect v1's "hip centre", "spine" and "shoulder centre" are the v2 spine_base, spine_mid and
# spine_shoulder points, and its "hand" is the v2 hand: shared names make index_map to ntu25 work.
KINECT20_JOINTS = (
    "spine_base", "spine_mid", "spine_shoulder", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)
KINECT20 = Layout(
    "kinect20", KINECT20_JOINTS,
    tuple([(0, 1), (1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (6, 7), (2, 8), (8, 9), (9, 10),
           (10, 11), (0, 12), (12, 13), (13, 14), (14, 15), (0, 16), (16, 17), (17, 18), (18, 19)]),
    center=2, parts={"body": tuple(range(20))},
    description="Kinect v1, 20 joints (3D; Northwestern-UCLA)",
)
# PKU-MMD uses Kinect v2's 25 joints in the NTU order: it is the ntu25 layout, no alias needed.

ALL_LAYOUTS = ALL_LAYOUTS + (KINECT20, SHREC22)
