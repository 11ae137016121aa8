import pickle

import numpy as np
import pytest

from bharnet.data.dataset import Clip, SkeletonDataset, convert, from_pyskl, load, save


def _ds(n=3):
    clips = [Clip(np.random.rand(1 + i % 2, 5 + i, 17, 2).astype(np.float32),
                  np.random.rand(1 + i % 2, 5 + i, 17).astype(np.float32), i % 2, f"c{i}")
             for i in range(n)]
    return SkeletonDataset(clips, ["a", "b"], "coco17", [1], {"train": ["c0", "c2"], "test": ["c1"]})


def test_npz_roundtrip_and_is_pickle_free(tmp_path):
    ds = _ds()
    save(ds, tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:   # would raise on object arrays
        assert z["keypoint"].shape == (sum(c.keypoint.shape[0] * c.keypoint.shape[1]
                                           for c in ds.clips), 17, 2)
    back = load(tmp_path / "d.npz")
    assert back.classes == ds.classes and back.layout == "coco17" and back.hand_intensive == [1]
    assert back.splits == ds.splits
    for a, b in zip(ds.clips, back.clips):
        np.testing.assert_array_equal(a.keypoint, b.keypoint)
        np.testing.assert_array_equal(a.score, b.score)
        assert (a.label, a.name) == (b.label, b.name)
    assert [c.name for c in back.subset("train")] == ["c0", "c2"]


def test_pyskl_to_npz_converter_and_real_jhmdb(tmp_path, shared_dir):
    src = shared_dir / "data/jhmdb14/jhmdb14_split1.pkl"
    ds = convert(src, tmp_path / "j.npz")
    assert ds.layout == "jhmdb15" and len(ds.classes) == 14
    back = load(tmp_path / "j.npz")
    assert len(back.subset("train")) == 433 and len(back.subset("test")) == 176


def _ann(**kw):
    a = {"frame_dir": "x", "label": 0, "keypoint": np.zeros((1, 4, 17, 2), np.float32),
         "keypoint_score": np.ones((1, 4, 17), np.float32), "total_frames": 4}
    a.update(kw)
    return a


@pytest.mark.parametrize("ann,msg", [
    ({"keypoint": np.zeros((4, 17, 2))}, r"keypoint.*\[M,T,V,C\].*\(4, 17, 2\)"),
    ({"keypoint_score": np.ones((1, 3, 17))}, r"keypoint_score.*\(1, 3, 17\)"),
    ({"total_frames": 9}, "total_frames=9"),
    ({"label": 5}, "label 5"),
])
def test_pyskl_validation_names_field(ann, msg):
    with pytest.raises(ValueError, match=msg):
        from_pyskl({"split": {}, "annotations": [_ann(**ann)], "classes": ["a", "b"]}, "f.pkl")


def test_pyskl_validation_split_and_layout(tmp_path):
    with pytest.raises(ValueError, match="split 'train'.*not in the annotations"):
        from_pyskl({"split": {"train": ["nope"]}, "annotations": [_ann()]}, "f.pkl")
    with pytest.raises(ValueError, match="V=17 but layout 'ntu25'"):
        from_pyskl({"annotations": [_ann()], "layout": "ntu25"}, "f.pkl")
    with pytest.raises(ValueError, match="no 'layout' key and V=9"):
        from_pyskl({"annotations": [_ann(keypoint=np.zeros((1, 4, 9, 2)),
                                         keypoint_score=np.ones((1, 4, 9)))]}, "f.pkl")
    # optional keys honoured; missing scores (PYSKL NTU 3D) mean present
    ds = from_pyskl({"annotations": [_ann(keypoint_score=None)], "hand_intensive": [0],
                     "classes": ["only"]}, "f.pkl")
    assert ds.layout == "coco17" and ds.hand_intensive == [0] and ds.clips[0].score.min() == 1
    p = tmp_path / "d.pkl"
    p.write_bytes(pickle.dumps({"annotations": "bad"}))
    with pytest.raises(ValueError, match="d.pkl.*non-empty list"):
        load(p)


def test_npz_validation(tmp_path):
    np.savez(tmp_path / "bad.npz", keypoint=np.zeros(3))
    with pytest.raises(ValueError, match="missing arrays"):
        load(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="unknown dataset extension"):
        (tmp_path / "x.csv").write_text("")
        load(tmp_path / "x.csv")


def test_data_package_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys, bharnet.data, bharnet.data.cli, bharnet.data.synth, bharnet.data.ntu, "
            "bharnet.data.pkummd, bharnet.data.nwucla, bharnet.data.wholebody, "
            "bharnet.data.torch_dataset; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_wrapper_with_dataloader():
    torch = pytest.importorskip("torch")
    from bharnet.data import InputSpec, synth
    from bharnet.data.torch_dataset import TorchSkeletonDataset

    ds = synth.generate(classes=["wave_hand", "raise_hand_fist"], clips_per_class=4, seed=0)
    spec = InputSpec(window=16)
    tr = TorchSkeletonDataset(ds, "train", spec, train=True, seed=1)
    x, y = tr[0]
    assert x["hand"].shape == (3, 16, 21, 2) and isinstance(y, int)
    again, _ = tr[0]
    assert torch.equal(x["body"], again["body"])            # seeded by (seed, epoch, index)
    tr.set_epoch(1)
    assert not torch.equal(x["body"], tr[0][0]["body"])
    te = TorchSkeletonDataset(ds, "test", spec, num_clips=3)
    batch, labels = next(iter(torch.utils.data.DataLoader(te, batch_size=2)))
    assert batch["body"].shape == (2, 3, 3, 16, 17, 1) and labels.shape == (2,)


def test_cli_synth_convert_info(tmp_path, capsys):
    from bharnet.cli import main

    out = tmp_path / "s.pkl"
    assert main(["data", "synth", "--out", str(out), "--classes", "wave_hand", "clap_hands",
                 "--clips-per-class", "4", "--seed", "3"]) == 0
    assert main(["data", "convert", str(out), str(tmp_path / "s.npz")]) == 0
    assert main(["data", "info", str(tmp_path / "s.npz")]) == 0
    text = capsys.readouterr().out
    assert "8 clips" in text and "clap_hands: 4" in text
    assert main(["data", "synth", "--out", str(tmp_path / "st.npz"), "--stream", "2"]) == 0
    with np.load(tmp_path / "st.npz", allow_pickle=False) as z:
        assert z["keypoints"].shape[1:] == (133, 3) and len(z["timeline_class"]) == 2
    assert main(["data", "info", str(tmp_path / "nope.npz")]) == 2     # clean error, no traceback
    assert main(["data", "bench", "--repeats", "3", "--window", "16", "--json"]) == 0
    assert '"min_us"' in capsys.readouterr().out
