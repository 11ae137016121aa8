import json

import numpy as np
import pytest

from bharnet.data import ntu, nwucla, pkummd, wholebody
from bharnet.data.dataset import load, save
from bharnet.layouts import get_layout


def _body(rng, spread=0.3, height=1.6, moving=1.0, t=0):
    """25 joints: a tall thin person (or a wide object when spread is large), with motion."""
    j = np.zeros((25, 3))
    j[:, 0] = rng.uniform(-spread / 2, spread / 2, 25)
    j[:, 1] = np.linspace(-height / 2, height / 2, 25)
    j[:, 2] = 3.0
    j[7, 0] += moving * np.sin(t / 3.0)     # a waving hand
    return j


def write_skeleton(path, frames):
    """frames: list (per frame) of list of (body_id, joints [25,3], tracking [25])."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for bid, joints, track in bodies:
            out.append(f"{bid} 0 1 1 1 1 0 0.1 0.2 2")
            out.append("25")
            for (x, y, z), s in zip(joints, track):
                out.append(f"{x:.5f} {y:.5f} {z:.5f} 250.1 200.2 900.3 500.4 0.1 0.2 0.3 0.4 {s}")
    path.write_text("\n".join(out) + "\n")


def _ntu_dir(tmp_path):
    rng = np.random.default_rng(0)
    track = np.full(25, 2)
    track[3] = 1
    names = {
        "S001C001P001R001A010": "one",     # xsub train (P001), xview test (C001)
        "S001C002P003R001A011": "noisy",   # xsub test, xview train
        "S002C003P045R002A069": "two",     # ntu120 action, P045 train in ntu120 xsub
        "S001C002P005R002A008": "empty",   # no bodies at all
    }
    for name, kind in names.items():
        frames = []
        for t in range(20):
            if kind == "empty":
                frames.append([])
            elif kind == "one":
                frames.append([("72057594037931101", _body(rng, t=t), track)])
            elif kind == "noisy":
                frames.append([("111", _body(rng, t=t), track),                          # actor
                               ("222", _body(rng, spread=3.0, height=0.5, moving=0), track),  # object
                               *([("333", _body(rng, moving=0), track)] if t < 5 else [])])  # flash
            else:
                frames.append([("1", _body(rng, t=t), track), ("2", _body(rng, t=t + 5) + 1, track)])
        write_skeleton(tmp_path / f"{name}.skeleton", frames)
    return tmp_path


def test_ntu_reader_and_noise_filter(tmp_path):
    d = _ntu_dir(tmp_path)
    kp, sc, ids = ntu.read_skeleton(d / "S001C002P003R001A011.skeleton")
    assert kp.shape == (3, 20, 25, 3) and ids == ["111", "222", "333"]
    assert sc[0, 0, 3] == 0.5 and sc[0, 0, 0] == 1.0          # inferred / tracked joint
    assert np.all(sc[2, 5:] == 0) and np.all(kp[2, 5:] == 0)  # short body absent later
    k2, _ = ntu.select_bodies(kp, sc, max_persons=2)
    assert k2.shape[0] == 1                                   # object and 5-frame flash dropped
    np.testing.assert_array_equal(k2[0], kp[0])


def test_ntu_reidentified_actor_is_joined():
    rng = np.random.default_rng(1)
    kp = np.zeros((3, 30, 25, 3), np.float32)
    sc = np.zeros((3, 30, 25), np.float32)
    for b, frames in enumerate((slice(0, 14), slice(14, 30), slice(0, 30))):
        moving = 1.0 if b == 2 else 0.1                              # body 2 is the busiest
        kp[b, frames] = [_body(rng, moving=moving, t=t) for t in range(30)][frames]
        sc[b, frames] = 1.0
    out, osc = ntu.select_bodies(kp, sc, max_persons=2)
    assert out.shape[0] == 2
    np.testing.assert_array_equal(out[0], kp[2])                   # most active first
    assert (osc[1] > 0).all()                                      # ids 0 and 1 joined: full track
    np.testing.assert_array_equal(out[1, :14], kp[0, :14])
    np.testing.assert_array_equal(out[1, 14:], kp[1, 14:])


def test_ntu_converter_splits_classes(tmp_path):
    d = _ntu_dir(tmp_path)
    ds = ntu.convert_ntu(d, benchmark="xsub", verbose=False)   # A069 present -> ntu120
    assert len(ds.classes) == 120 and ds.layout == "ntu25"
    assert {c.name for c in ds.clips} == {"S001C001P001R001A010", "S001C002P003R001A011",
                                          "S002C003P045R002A069"}     # empty one skipped
    assert set(ds.splits["train"]) == {"S001C001P001R001A010", "S002C003P045R002A069"}
    two = next(c for c in ds.clips if c.name.endswith("A069"))
    assert two.keypoint.shape == (2, 20, 25, 3) and two.label == 68
    assert ds.classes[two.label] == "thumb up" and 68 in ds.hand_intensive
    v = ntu.convert_ntu(d, benchmark="xview", dataset="ntu60", verbose=False)
    assert len(v.classes) == 60 and len(v) == 2
    assert v.splits["train"] == ["S001C002P003R001A011"] and v.splits["test"] == ["S001C001P001R001A010"]
    xset = ntu.convert_ntu(d, benchmark="xset", verbose=False)
    assert xset.splits["train"] == ["S002C003P045R002A069"]
    missing = tmp_path / "missing.txt"
    missing.write_text("# official list\nS001C001P001R001A010\n")
    assert len(ntu.convert_ntu(d, missing_file=missing, verbose=False)) == 2
    save(ds, tmp_path / "ntu.npz")
    assert len(load(tmp_path / "ntu.npz")) == 3


def test_ntu_errors_name_file_and_line(tmp_path):
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text("1\n1\n1 2 3\n")
    with pytest.raises(ValueError, match=r"A001.skeleton: line 3: expected a body info line \(10"):
        ntu.read_skeleton(p)
    p.write_text("2\n0\n")
    with pytest.raises(ValueError, match="ends early"):
        ntu.read_skeleton(p)
    with pytest.raises(ValueError, match="not an NTU sample name"):
        ntu.parse_name("foo")
    with pytest.raises(ValueError, match="NTU-60"):
        ntu.is_train("S001C001P001R001A001", "xview", "ntu120")


def test_ntu_lists():
    assert len(ntu.XSUB60_TRAIN) == 20 and len(ntu.XSUB120_TRAIN) == 53
    h60, h120 = ntu.hand_intensive("ntu60"), ntu.hand_intensive("ntu120")
    assert len(h60) == 11 and len(h120) == 27 and set(h60) <= set(h120)
    names = ntu.ntu_classes("ntu120")
    assert all(names[i] == n for i, n in h120)
    assert ntu.ntu_classes("ntu60")[9] == "clapping" and names[119].startswith("finger-guessing")
    assert ntu.load_missing("ntu60") == set()   # placeholder (see the file header)


def test_pkummd(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "skel").mkdir()
    (tmp_path / "label").mkdir()
    for video in ("0002-L", "0291-M"):
        frames = rng.normal(size=(50, 150))
        frames[:, 75:] = 0                                 # second body absent
        np.savetxt(tmp_path / "skel" / f"{video}.txt", frames)
        (tmp_path / "label" / f"{video}.txt").write_text("3,0,20,1\n51,25,49,2\n")
    split = tmp_path / "cross-subject.txt"
    split.write_text("Training videos: \n0002-L, 0002-M\nValidataion videos: \n0291-M, 0291-R\n")
    ds = pkummd.convert_pkummd(tmp_path / "skel", tmp_path / "label", split)
    assert ds.layout == "ntu25" and len(ds) == 4 and len(ds.classes) == 51
    assert ds.splits["train"] == ["0002-L_000", "0002-L_001"]
    c = ds.clips[1]
    assert c.label == 50 and c.keypoint.shape == (1, 24, 25, 3)
    (tmp_path / "label" / "0002-L.txt").write_text("3,0,20\n")
    with pytest.raises(ValueError, match=r"0002-L.txt: line 1: expected 'label,start,end"):
        pkummd.convert_pkummd(tmp_path / "skel", tmp_path / "label", split)
    np.savetxt(tmp_path / "skel" / "bad.txt", rng.normal(size=(3, 149)))
    with pytest.raises(ValueError, match="line 1: expected 150 values"):
        pkummd.read_skeleton(tmp_path / "skel" / "bad.txt")
    js = tmp_path / "split.json"
    js.write_text(json.dumps({"train": ["0002-L"], "test": ["0291-M"]}))
    assert pkummd.read_split_file(js)["test"] == {"0291-M"}


def test_nwucla(tmp_path):
    rng = np.random.default_rng(0)
    for view in (1, 2, 3):
        sk = rng.normal(size=(12, 20, 3)).tolist()
        (tmp_path / f"a08_s01_e02_v{view:02d}.json").write_text(json.dumps({"skeletons": sk}))
    np.savetxt(tmp_path / "a12_s02_e01_v03.txt", rng.normal(size=(7, 60)))
    ds = nwucla.convert_nwucla(tmp_path)
    assert ds.layout == "kinect20" and len(ds) == 4
    assert set(ds.splits["test"]) == {"a08_s01_e02_v03", "a12_s02_e01_v03"}
    assert ds.clips[0].label == nwucla.ACTION_IDS.index(8) and ds.classes[ds.clips[0].label] == "donning"
    assert ds.clips[-1].keypoint.shape == (1, 7, 20, 3)
    (tmp_path / "a08_s01_e02_v09.json").write_text(json.dumps({"skeletons": [[[0, 0, 0]] * 19]}))
    with pytest.raises(ValueError, match=r"v09.json: 'skeletons' must be \[T,20,3\]"):
        nwucla.convert_nwucla(tmp_path)
    # kinect20 maps onto ntu25 by joint names
    assert (get_layout("ntu25").index_map(get_layout("kinect20")) >= 0).all()


def test_wholebody_arrays(tmp_path, holistic_stream):
    kp, sc, lay = wholebody.to_keypoints(holistic_stream)
    assert lay == "mediapipe_holistic" and kp.shape == (1, 72, 75, 3)
    found = (holistic_stream[:, 54:75, :3] != 0).any(-1)
    np.testing.assert_array_equal(sc[0, :, 54:75] > 0, found)       # hand score = detected
    coco = np.random.rand(2, 40, 133, 3).astype(np.float32)
    k2, s2, lay2 = wholebody.to_keypoints(coco)
    assert lay2 == "coco_wholebody" and k2.shape == (2, 40, 133, 2)
    np.testing.assert_array_equal(s2, coco[..., 2])
    with pytest.raises(ValueError, match=r"\(40, 17, 2\)"):
        wholebody.to_keypoints(np.zeros((40, 17, 2)))
    (tmp_path / "wave").mkdir()
    (tmp_path / "clap").mkdir()
    for i in range(5):
        np.save(tmp_path / "wave" / f"r{i}.npy", np.random.rand(100, 133, 3).astype(np.float32))
    np.save(tmp_path / "clap" / "r0.npy", np.random.rand(50, 133, 2).astype(np.float32))
    ds = wholebody.dataset_from_arrays(sorted(tmp_path.glob("*/*.npy")), window=32, stride=16)
    assert ds.classes == ["clap", "wave"] and ds.layout == "coco_wholebody"
    assert all(c.num_frames == 32 for c in ds.clips)
    test_recordings = {n.split("_")[0] for n in ds.splits["test"]}
    assert test_recordings == {"wave/r4"}
