"""ROI images, the renderer and video decoding (NumPy side of the RGB branch; no torch)."""
import numpy as np
import pytest

from bharnet.layouts import get_layout
from bharnet.rgb import (BLANK, FALLBACK, FOUND, PARTS, ROIConfig, assemble, crop_tile,
                         frame_positions, frame_tiles, part_boxes, roi_image, to_model_input)
from bharnet.rgb.render import fill_lost_hands, render_frames

WB = get_layout("coco_wholebody")
IDX = {n: i for i, n in enumerate(WB.joints)}


def _person(w=200, h=160):
    """A coco_wholebody frame in pixels: head at (100, 20), torso 40 px, hands around the wrists."""
    kp = np.zeros((WB.num_joints, 3), np.float32)
    pts = {"nose": (100, 20), "left_eye": (103, 18), "right_eye": (97, 18), "left_ear": (106, 20),
           "right_ear": (94, 20), "left_shoulder": (115, 40), "right_shoulder": (85, 40),
           "left_elbow": (120, 60), "right_elbow": (80, 60), "left_wrist": (122, 80),
           "right_wrist": (78, 80), "left_hip": (110, 80), "right_hip": (90, 80),
           "left_knee": (110, 110), "right_knee": (90, 110), "left_ankle": (110, 140),
           "right_ankle": (90, 140), "left_heel": (110, 144), "right_heel": (90, 144),
           "left_big_toe": (114, 146), "right_big_toe": (86, 146), "left_small_toe": (116, 145),
           "right_small_toe": (84, 145)}
    for n, xy in pts.items():
        kp[IDX[n], :2] = xy
    kp[91:112, :2] = np.array([124, 88]) + np.random.default_rng(0).normal(0, 2, (21, 2))
    kp[112:133, :2] = np.array([76, 88]) + np.random.default_rng(1).normal(0, 2, (21, 2))
    kp[:, 2] = 0.9
    kp[23:91] = 0  # no face points: the head uses nose/eyes/ears
    return kp


def test_boxes_locate_parts_and_normalised_coordinates_agree():
    kp = _person()
    boxes, src = part_boxes(kp[:, :2], "coco_wholebody", (200, 160), scores=kp[:, 2])
    assert boxes.shape == (len(PARTS), 3) and (src == FOUND).all()
    np.testing.assert_allclose(boxes[0, :2], [100, 19.6], atol=0.5)       # head: nose, eyes, ears
    np.testing.assert_allclose(boxes[1, :2], kp[91:112, :2].mean(0), atol=1e-4)
    np.testing.assert_allclose(boxes[3, :2], kp[[IDX["left_ankle"], IDX["left_heel"],
                                                 IDX["left_big_toe"], IDX["left_small_toe"]], :2].mean(0))
    assert boxes[0, 2] == pytest.approx(0.8 * 40)                           # side: torso multiple
    norm = kp[:, :2] / np.array([200, 160], np.float32)
    b2, _ = part_boxes(norm, "coco_wholebody", (200, 160), kp[:, 2], coords="normalized")
    np.testing.assert_allclose(b2, boxes, atol=1e-3)


def test_missing_hand_falls_back_to_wrist_or_is_blanked():
    kp = _person()
    kp[91:112, 2] = 0.0                                                      # left hand lost
    boxes, src = part_boxes(kp[:, :2], "coco_wholebody", (200, 160), kp[:, 2])
    assert src[1] == FALLBACK
    np.testing.assert_allclose(boxes[1, :2], kp[IDX["left_wrist"], :2])
    cfg = ROIConfig(hand_fallback="blank", tile=8, frames=1)
    frame = np.full((160, 200, 3), 200, np.uint8)
    tiles, src = frame_tiles(frame, kp[:, :2], "coco_wholebody", kp[:, 2], cfg=cfg)
    assert src[1] == BLANK and tiles[1].max() == 0 and tiles[0].min() > 0
    kp[IDX["left_wrist"], 2] = 0.0                                           # wrist lost too
    _, src = part_boxes(kp[:, :2], "coco_wholebody", (200, 160), kp[:, 2])
    assert src[1] == BLANK


def test_crop_tile_resamples_and_blacks_out_the_outside():
    img = np.zeros((100, 100, 3), np.uint8)
    img[40:60, 40:60] = (10, 200, 30)
    t = crop_tile(img, 50, 50, 20, 8)
    assert t.shape == (8, 8, 3) and (t == (10, 200, 30)).all()
    edge = crop_tile(np.full((100, 100, 3), 255, np.uint8), 0, 0, 40, 8)     # 3/4 outside
    assert edge[:4, :4].max() == 0 and edge[5:, 5:].min() == 255


def test_roi_image_grid_rows_parts_columns_frames():
    tiles = np.zeros((3, 5, 4, 4, 3), np.uint8)
    for k in range(3):
        for p in range(5):
            tiles[k, p] = 10 * p + k
    img = assemble(tiles)
    assert img.shape == (20, 12, 3)
    assert img[4 * 2, 4 * 1, 0] == 21 and img[4 * 4 + 3, 4 * 2 + 3, 0] == 42
    x = to_model_input(img[None])
    assert x.shape == (1, 3, 20, 12) and x.dtype == np.float32 and x.max() <= 1
    assert list(frame_positions(64, 4)) == [8, 24, 40, 56]


def test_rendered_frames_crop_to_roi_images():
    kp = np.stack([_person()] * 6)
    sc = kp[..., 2].copy()
    sc[2:4, 112:133] = 0.0                                                   # right hand lost
    filled = fill_lost_hands(kp, sc)
    np.testing.assert_allclose(filled[2, 112:133], kp[1, 112:133], atol=1e-5)  # wrist did not move
    frames = render_frames(kp, [0, 2, 4], (200, 160), seed=3, score=sc)
    again = render_frames(kp, [0, 2, 4], (200, 160), seed=3, score=sc)
    assert frames[0].shape == (160, 200, 3) and frames[0].dtype == np.uint8
    assert all((a == b).all() for a, b in zip(frames, again))                # one look per seed
    cfg = ROIConfig(tile=16, frames=3)
    img, mask, src = roi_image(frames, kp[[0, 2, 4], :, :2], "coco_wholebody", sc[[0, 2, 4]], cfg=cfg)
    assert img.shape == (5 * 16, 3 * 16, 3) and mask.shape == (5, 3)
    assert src[2, 1] == FALLBACK and mask.all()


def test_holistic_real_stream_normalised(holistic_stream):
    kp = holistic_stream[[0, 20, 40, 60]]
    frames = [np.full((1080, 1920, 3), 128, np.uint8)] * 4
    img, mask, src = roi_image(frames, kp[..., :3], "mediapipe_holistic", coords="normalized",
                               cfg=ROIConfig(tile=16, frames=4))
    assert img.shape == (80, 64, 3)
    assert (src[0] == FOUND).all()                                             # the pose is always found
    # hands come and go in this clip: a tile is FOUND or falls back to the wrist, never garbage
    assert set(np.unique(src[1:3])) <= {FOUND, FALLBACK}


def test_video_frames_are_rgb(shared_dir):
    pytest.importorskip("cv2")
    from bharnet.rgb.video import read_frames

    f = read_frames(shared_dir / "data/streams/demo_skeleton.mp4", [3, 1])
    assert len(f) == 2 and f[0].shape == (1080, 1920, 3) and f[0].dtype == np.uint8


def test_video_dataset_clip_to_roi_views(shared_dir, holistic_stream):
    """A dataset clip that names a video: frames decoded, normalised keypoints recognised as such."""
    pytest.importorskip("cv2")
    from bharnet.data.dataset import Clip
    from bharnet.data.pipeline import InputSpec
    from bharnet.training.rgb_data import build_views

    kp = holistic_stream[:40, :, :3][None]
    sc = (np.abs(kp[..., :2]).sum(-1) > 0).astype(np.float32)
    clip = Clip(kp, sc, 0, "demo")
    extras = {"demo": {"video": "demo_skeleton.mp4"}}
    v = build_views([clip], "mediapipe_holistic", InputSpec(window=16), ROIConfig(tile=16, frames=2),
                    extras, base_dir=shared_dir / "data/streams")
    assert v.roi.shape == (1, 80, 32, 3) and v.mask[0, 0].all()
    assert v.roi[0, :16].std() > 5        # a real head crop, not a blank tile
