"""Fuzzed readers: whatever the bytes, a reader returns data or raises its documented error.

Documented errors: the bundle reader raises BundleError; every dataset reader (.npz, PYSKL .pkl,
NTU .skeleton, PKU-MMD skeleton/labels/splits, NW-UCLA, SHREC'17 sequences and split files) raises
ValueError (subclasses included).
Inputs are valid files mutated by Hypothesis (bytes flipped, inserted, deleted, lines and tokens
replaced), plus raw random bytes. Bundles are re-sealed after mutation, so the mutations reach
the zip and manifest checks behind the checksum.

`make test` runs FAST examples per reader; `pytest -m fuzz` runs MANY.
"""
from __future__ import annotations

import json
import pathlib
import pickle
import tempfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bharnet import container  # noqa: E402
from bharnet.data import dataset, ntu, nwucla, pkummd, safe_pickle, shrec17  # noqa: E402

FAST, MANY = 25, 1500
_TMP = pathlib.Path(tempfile.mkdtemp(prefix="bharnet-fuzz-"))


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None, derandomize=n == FAST,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- valid seeds ------------------------------------------------------------------------------
def _seed_bundle() -> bytes:
    p = _TMP / "seed.bharnet"
    container.write_sealed(p, {"format": "bharnet-bundle", "classes": ["a", "b"]},
                           {"model.onnx": b"\x08\x07graph" * 20, "weights.safetensors": b"w" * 64})
    return p.read_bytes()


def _seed_dataset() -> dataset.SkeletonDataset:
    rng = np.random.default_rng(0)
    clips = [dataset.Clip(rng.random((1, 6, 17, 2), dtype=np.float32),
                          rng.random((1, 6, 17), dtype=np.float32), i % 2, f"c{i}") for i in range(3)]
    return dataset.SkeletonDataset(clips, ["x", "y"], "coco17", [1], {"train": ["c0"], "test": ["c1", "c2"]},
                                   fps=30.0)


def _seed_npz() -> bytes:
    p = _TMP / "seed.npz"
    dataset.save_npz(_seed_dataset(), p)
    return p.read_bytes()


def _seed_pkl(protocol: int) -> bytes:
    return pickle.dumps(_seed_dataset().to_pyskl(), protocol=protocol)


def _seed_ntu() -> str:
    lines = ["3"]
    for f in range(3):
        lines += ["1", "72057594037931101 0 1 1 1 1 0 0.1 0.2 2", "25"]
        lines += [f"{0.1 * j:.3f} {0.05 * f:.3f} 3.0 250 200 900 500 0.1 0.2 0.3 0.4 2" for j in range(25)]
    return "\n".join(lines) + "\n"


def _seed_pku() -> str:
    return "\n".join(" ".join(f"{(i + j) * 0.01:.3f}" for j in range(150)) for i in range(3)) + "\n"


SEEDS = {"bundle": _seed_bundle(), "npz": _seed_npz(), "pkl2": _seed_pkl(2), "pkl4": _seed_pkl(4),
         "pkl5": _seed_pkl(5)}
TEXT_SEEDS = {
    "ntu": _seed_ntu(),
    "pku": _seed_pku(),
    "pku_labels": "1,0,2,0.9\n5,1,3,1\n",
    "pku_split": "Training videos: 0002-L, 0002-M\nValidation videos: 0003-R\n",
    "pku_split_json": json.dumps({"train": ["0002-L"], "test": ["0003-R"]}),
    "ucla_txt": "\n".join(" ".join(["0.1", "0.2", "0.3"] * 20) for _ in range(3)),
    "ucla_json": json.dumps({"skeletons": [[[0.1, 0.2, 0.3]] * 20] * 3}),
    "shrec_seq": "\n".join(" ".join(f"{0.01 * (i + j):.4f}" for j in range(66)) for i in range(3)) + "\n",
    "shrec_split": "1 1 2 1 1 1 77\n3 2 4 1 3 6 40\n14 2 27 5 14 28 9\n",
}


# ---- mutations --------------------------------------------------------------------------------
@st.composite
def mutated_bytes(draw, seed: bytes):
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup"]))
        if not data:
            data += draw(st.binary(min_size=1, max_size=8))
            continue
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord("0"), ord("9")]))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[i:]
        else:
            j = draw(st.integers(i, min(len(data), i + 64)))
            data[j:j] = data[i:j]
    return bytes(data)


_TOKENS = st.sampled_from(["", "0", "-1", "25", "3", "nan", "inf", "-inf", "1e308", "99999999999",
                           "x", "0.5", ",", "{", "[", "]", "}", '"', "null", "Training", "0002-L"])


@st.composite
def mutated_text(draw, seed: str):
    lines = seed.split("\n")
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["token", "drop", "dup", "insert", "bytes"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "token" and lines:
            parts = lines[i].split(" ")
            k = draw(st.integers(0, len(parts) - 1))
            parts[k] = draw(_TOKENS)
            lines[i] = " ".join(parts)
        elif op == "drop" and lines:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=40)))
        elif op == "bytes" and lines:
            lines[i] = draw(st.text(max_size=20)) + lines[i][draw(st.integers(0, len(lines[i]))):]
    return "\n".join(lines)


def _reseal(raw: bytes) -> bytes:
    """Recompute the checksum seal (an attacker can), so mutations reach the inner checks."""
    if len(raw) < container.SEAL_LEN:
        return raw
    body = raw[:-container.SEAL_LEN]
    return body + container.SEAL_PREFIX + container.sha256(body).encode()


# ---- the property: data or the documented error ----------------------------------------------
def _write(name: str, data) -> pathlib.Path:
    p = _TMP / name
    (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return p


def check_bundle(raw: bytes) -> None:
    from bharnet.bundle import open_bundle

    p = _write("f.bharnet", raw)
    for reader in (container.read_sealed, open_bundle):
        try:
            reader(p)
        except container.BundleError:
            pass


def check_dataset_file(raw: bytes, suffix: str) -> None:
    try:
        ds = dataset.load(_write("f" + suffix, raw))
    except ValueError:
        return
    assert isinstance(ds, dataset.SkeletonDataset)


def check_pickle_bytes(raw: bytes) -> None:
    try:
        safe_pickle.loads(raw)
    except safe_pickle.UnsafePickleError:
        pass


_TEXT_READERS = {
    "ntu": ("f.skeleton", ntu.read_skeleton),
    "pku": ("f.txt", pkummd.read_skeleton),
    "pku_labels": ("labels.txt", pkummd.read_labels),
    "pku_split": ("split.txt", pkummd.read_split_file),
    "pku_split_json": ("split.json", pkummd.read_split_file),
    "ucla_txt": ("a01_s01_e01_v01.txt", nwucla.read_sample),
    "ucla_json": ("a01_s01_e01_v01.json", nwucla.read_sample),
    "shrec_seq": ("skeletons_world.txt", lambda p: shrec17.read_sequence(p, 3)),
    "shrec_split": ("train_gestures.txt", shrec17.read_split_file),
}


def check_text(kind: str, text) -> None:
    name, reader = _TEXT_READERS[kind]
    try:
        reader(_write(name, text))
    except ValueError:
        pass


# ---- tests: FAST examples in `make test`, MANY under -m fuzz -----------------------------------
def _bundle_test(n):
    @_settings(n)
    @given(st.data())
    def t(data):
        raw = data.draw(mutated_bytes(SEEDS["bundle"]))
        check_bundle(raw)
        check_bundle(_reseal(raw))
    return t


def _dataset_test(n, seed_key, suffix):
    @_settings(n)
    @given(st.data())
    def t(data):
        check_dataset_file(data.draw(mutated_bytes(SEEDS[seed_key])), suffix)
    return t


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=25) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                     max_leaves=80)
# JSON readers also get well-formed JSON of the wrong shape where the data goes
_JSON_SHAPES = {"ucla_json": lambda v: {"skeletons": v}, "pku_split_json": lambda v: {"train": v, "test": v}}


def _text_test(n, kind):
    @_settings(n)
    @given(st.data())
    def t(data):
        check_text(kind, data.draw(mutated_text(TEXT_SEEDS[kind])))
        check_text(kind, data.draw(st.binary(max_size=200)))
        if kind in _JSON_SHAPES:
            check_text(kind, json.dumps(_JSON_SHAPES[kind](data.draw(_JSON))))
    return t


_DATASETS = [("npz", ".npz"), ("pkl2", ".pkl"), ("pkl4", ".pkl"), ("pkl5", ".pkl")]


def test_bundle_reader():
    _bundle_test(FAST)()


@pytest.mark.parametrize("seed_key,suffix", _DATASETS)
def test_dataset_readers(seed_key, suffix):
    _dataset_test(FAST, seed_key, suffix)()


@pytest.mark.parametrize("kind", sorted(_TEXT_READERS))
def test_text_parsers(kind):
    _text_test(FAST, kind)()


@_settings(FAST)
@given(st.binary(max_size=300))
def test_pickle_reader_on_random_bytes(raw):
    check_pickle_bytes(raw)
    check_pickle_bytes(b"\x80\x04" + raw)


@pytest.mark.fuzz
def test_fuzz_bundle_reader_many():
    _bundle_test(MANY)()


@pytest.mark.fuzz
@pytest.mark.parametrize("seed_key,suffix", _DATASETS)
def test_fuzz_dataset_readers_many(seed_key, suffix):
    _dataset_test(MANY, seed_key, suffix)()


@pytest.mark.fuzz
@pytest.mark.parametrize("kind", sorted(_TEXT_READERS))
def test_fuzz_text_parsers_many(kind):
    _text_test(MANY, kind)()


@pytest.mark.fuzz
@_settings(MANY)
@given(st.binary(max_size=2000))
def test_fuzz_pickle_reader_many(raw):
    check_pickle_bytes(raw)
    check_pickle_bytes(b"\x80\x04" + raw)


@pytest.mark.parametrize("kind,text", [
    # what fuzzing found, kept as fixed cases
    ("ucla_json", json.dumps({"skeletons": [{"a": 1}]})),
    ("ucla_json", "[" * 100_000 + "]" * 100_000),
    ("pku_split_json", json.dumps({"train": 5, "test": 1})),
    ("pku_split_json", "[" * 100_000),
    ("ntu", "-5\n"),
    ("ntu", "1\n1\n1 0 1 1 1 1 0 0.1 0.2 2\n25\n" + "0 0 1 0 0 0 0 0 0 0 0 nan\n" * 25),
])
def test_fuzz_findings(kind, text):
    check_text(kind, text)


def test_fuzz_finding_npz_and_bundle():
    check_dataset_file(b"", ".npz")
    check_dataset_file(b"PK\x03\x04", ".npz")
    raw = bytearray(SEEDS["bundle"])
    raw[raw.index(b"model.onnx") + 10] ^= 0x40        # damage deflate data, then re-seal
    check_bundle(_reseal(bytes(raw)))


def test_seeds_are_valid():
    """Guards the fuzz tests: every unmutated seed reads successfully."""
    container.read_sealed(_write("ok.bharnet", SEEDS["bundle"]))
    for key, suffix in _DATASETS:
        assert len(dataset.load(_write("ok" + suffix, SEEDS[key]))) == 3
    for kind, (name, reader) in _TEXT_READERS.items():
        reader(_write(name, TEXT_SEEDS[kind]))
