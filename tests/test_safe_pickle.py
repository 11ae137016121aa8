"""PYSKL pickles are read by a data-only unpickler: data loads, code never runs."""
from __future__ import annotations

import os
import pickle
import subprocess

import numpy as np
import pytest

from bharnet.data import dataset, safe_pickle
from bharnet.data.safe_pickle import UnsafePickleError


class _WritesMarker:
    """Unpickling this (with plain pickle) would create `path`."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


class _Popen:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (subprocess.Popen, (["touch", self.path],))


def _pyskl(n=2, t=5):
    rng = np.random.default_rng(0)
    return {"split": {"train": ["a0"], "test": ["a1"]},
            "annotations": [{"frame_dir": f"a{i}", "label": i, "total_frames": t,
                             "keypoint": rng.random((1, t, 17, 2), dtype=np.float32),
                             "keypoint_score": rng.random((1, t, 17), dtype=np.float32)}
                            for i in range(n)],
            "classes": ["x", "y"], "layout": "coco17"}


@pytest.mark.parametrize("payload", [_WritesMarker, _Popen])
def test_code_in_a_pickle_is_not_run(tmp_path, payload):
    marker = tmp_path / "marker"
    evil = _pyskl()
    evil["annotations"][0]["frame_dir"] = payload(marker)   # hidden deep inside real data
    f = tmp_path / "evil.pkl"
    f.write_bytes(pickle.dumps(evil, protocol=4))
    with pytest.raises(UnsafePickleError) as e:
        dataset.load(f)
    assert not marker.exists()
    msg = str(e.value)
    assert str(f) in msg and "bharnet data convert" in msg and ".npz" in msg
    want = "posix.system" if payload is _WritesMarker else "subprocess.Popen"
    assert want in msg and "\n" not in msg


def test_the_same_pickle_does_run_code_with_plain_pickle(tmp_path):
    """Guards the test above: the payload is real (plain pickle.loads writes the file)."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(_WritesMarker(marker)))   # noqa: S301 - the point of the test
    assert marker.exists()


def test_real_pyskl_file_loads(shared_dir):
    f = shared_dir / "data/jhmdb14/jhmdb14_split1.pkl"
    ds = dataset.load(f)
    with open(f, "rb") as fh:
        ref = pickle.load(fh)   # noqa: S301 - the project's own shared file, as reference
    assert len(ds) == len(ref["annotations"]) and ds.layout == ref["layout"]
    a = ref["annotations"][3]
    np.testing.assert_array_equal(ds[3].keypoint, a["keypoint"])


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_arrays_dtypes_and_scalars_every_protocol(protocol):
    obj = {"f32": np.arange(6, dtype=np.float32).reshape(2, 3), "i64": np.array([1, -2], np.int64),
           "u8": np.zeros((2, 2), np.uint8), "str": np.array(["ab", "c"]),
           "scalar": np.float32(1.5), "int": np.int64(7), "dtype": np.dtype("<f8"),
           "nested": [(1, 2.5, "s", None, True, b"by")], "fortran": np.asfortranarray(np.eye(3)),
           "set": {1, 2}, "cplx": 1 + 2j}
    back = safe_pickle.loads(pickle.dumps(obj, protocol=protocol))
    for k in ("f32", "i64", "u8", "str", "fortran"):
        np.testing.assert_array_equal(back[k], obj[k])
        assert back[k].dtype == obj[k].dtype
    assert back["scalar"] == obj["scalar"] and back["int"].dtype == np.int64
    assert back["dtype"] == obj["dtype"] and back["nested"] == obj["nested"]
    assert back["set"] == {1, 2} and back["cplx"] == 1 + 2j


def test_numpy1_module_names_are_admitted():
    """NumPy 1.x writes numpy.core.multiarray._reconstruct; NumPy 2 writes numpy._core."""
    raw = pickle.dumps(np.arange(4, dtype=np.int16), protocol=2)
    other = (raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
             if b"numpy._core" in raw else raw.replace(b"numpy.core.multiarray", b"numpy._core.multiarray"))
    assert other != raw
    for data in (raw, other):
        np.testing.assert_array_equal(safe_pickle.loads(data), np.arange(4, dtype=np.int16))


def test_ndarray_cannot_be_called_to_allocate():
    # ndarray((1 << 40,)) via REDUCE: refused without allocating
    evil = b"\x80\x02cnumpy\nndarray\nJ\x00\x00\x00\x01\x85R."
    with pytest.raises(UnsafePickleError):
        safe_pickle.loads(evil)
    # _reconstruct with a huge initial shape
    evil2 = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
             b"J\x00\x00\x00\x40\x85c_codecs\nencode\nX\x01\x00\x00\x00bX\x06\x00\x00\x00latin1\x86R\x87R.")
    with pytest.raises(UnsafePickleError, match="bytes up front"):
        safe_pickle.loads(evil2)


@pytest.mark.parametrize("data", [b"", b"\x80\x04", b"not a pickle", b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f",
                                  b"cbuiltins\neval\n(S'1+1'\ntR."])
def test_damaged_or_hostile_bytes_are_one_error_type(data):
    with pytest.raises(UnsafePickleError):
        safe_pickle.loads(data)


def test_cli_data_info_refuses_hostile_pickle(tmp_path, capsys):
    from bharnet.cli import main

    marker = tmp_path / "marker"
    f = tmp_path / "evil.pkl"
    f.write_bytes(pickle.dumps({"annotations": [_WritesMarker(marker)]}))
    assert main(["data", "info", str(f)]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert "refused" in err and "posix.system" in err and len(err.strip().splitlines()) == 1
