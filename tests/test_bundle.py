"""The bundle container: round trip, integrity, refusal of anything damaged. No torch needed."""
import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from bharnet import bundle as B
from bharnet import container


def _meta(**change):
    base = dict(spec={"window": 16}, layout="coco_wholebody", classes=["wave", "thumbs up"],
                variant="vanilla", window=16, stride=8, preprocessing={"sampling": "crop"},
                input_names=["body"], output_names=["logits"],
                graphs={"model.onnx": {"role": "window"}, "extra/rgb.onnx": {"role": "rgb"}})
    return B.BundleMeta(**{**base, **change})


def _small_bundle(tmp_path, name="m.bharnet"):
    from safetensors.numpy import save

    weights = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, np.float32)}
    members = {"model.onnx": b"\x08\x07fake-onnx-bytes", "weights.safetensors": save(weights),
               "extra/rgb.onnx": b"rgb"}
    return B.write_bundle(tmp_path / name, _meta(), members), weights, members


def test_round_trip(tmp_path):
    path, weights, members = _small_bundle(tmp_path)
    b = B.open_bundle(path)
    assert b.metadata["format_version"] == B.FORMAT_VERSION == 2
    assert b.meta.classes == ["wave", "thumbs up"] and b.meta.num_classes == 2
    assert b.meta.graph("window") == "model.onnx" and b.meta.graph("rgb") == "extra/rgb.onnx"
    assert b.meta.graph("step") is None and b.program() is None
    assert b.onnx_bytes() == members["model.onnx"]
    assert b.member("extra/rgb.onnx") == b"rgb"
    w = b.weights()
    assert set(w) == set(weights)
    np.testing.assert_array_equal(w["a.weight"], weights["a.weight"])
    assert len(b.sha256) == 64 and b.path == path
    meta = B.read_metadata(path)
    assert meta["bundle_sha256"] == b.sha256
    assert set(meta["members"]) == set(members)
    with pytest.raises(B.BundleError, match="no member"):
        b.member("nope.onnx")


def test_bundles_are_deterministic(tmp_path):
    p1, _, _ = _small_bundle(tmp_path, "a.bharnet")
    p2, _, _ = _small_bundle(tmp_path, "b.bharnet")
    assert p1.read_bytes() == p2.read_bytes()


def test_every_single_flipped_byte_is_refused(tmp_path):
    path, _, _ = _small_bundle(tmp_path)
    raw = path.read_bytes()
    bad = tmp_path / "bad.bharnet"
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0x01
        bad.write_bytes(bytes(flipped))
        with pytest.raises(B.BundleError):
            B.open_bundle(bad)


def _rezip(tmp_path, raw, edit):
    """Rebuild a bundle with edited members and a valid seal: only the inner checks can catch it."""
    zin = zipfile.ZipFile(io.BytesIO(raw))
    members = {i.filename: zin.read(i) for i in zin.infolist()}
    edit(members)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
        z.comment = container.SEAL_PREFIX + b"0" * 64
    out = bytearray(buf.getvalue())
    out[-64:] = container.sha256(bytes(out[:-len(container.SEAL_PREFIX) - 64])).encode()
    p = tmp_path / "edited.bharnet"
    p.write_bytes(bytes(out))
    return p


@pytest.mark.parametrize("edit,message", [
    (lambda m: m.pop("weights.safetensors"), "missing member"),
    (lambda m: m.__setitem__("model.onnx", b"\x08\x07fake-onnx-BYTES"), "sha256 mismatch"),
    (lambda m: m.__setitem__("model.onnx", b"tampered"), "manifest says 17 B"),
    (lambda m: m.__setitem__("surprise.bin", b"x"), "unlisted"),
    (lambda m: m.__setitem__("../evil", b"x"), "invalid bundle member name"),
    (lambda m: m.__setitem__("metadata.json", json.dumps(
        {**json.loads(m["metadata.json"]), "format_version": 99}).encode()), "version 99"),
    (lambda m: m.__setitem__("metadata.json", json.dumps(     # a bundle of the first format
        {**json.loads(m["metadata.json"]), "format_version": 1}).encode()), "version 1 is not supported"),
    (lambda m: m.__setitem__("metadata.json", json.dumps(
        {**json.loads(m["metadata.json"]), "input_shapes": {}}).encode()), "unknown metadata key"),
    (lambda m: m.__setitem__("metadata.json", json.dumps(
        {k: v for k, v in json.loads(m["metadata.json"]).items() if k != "classes"}).encode()),
     "incomplete"),
    (lambda m: m.__setitem__("metadata.json", json.dumps(
        {**json.loads(m["metadata.json"]), "graphs": {"model.onnx": {"role": "mystery"}}}).encode()),
     "no known role"),
    (lambda m: m.__setitem__("metadata.json", b"{not json"), "not valid JSON"),
    (lambda m: m.pop("metadata.json"), "no metadata.json"),
])
def test_tampered_but_resealed_bundles_are_refused(tmp_path, edit, message):
    path, _, _ = _small_bundle(tmp_path)
    bad = _rezip(tmp_path, path.read_bytes(), edit)
    with pytest.raises(B.BundleError, match=message):
        B.open_bundle(bad)


def test_not_a_zip_and_missing_file(tmp_path):
    p = tmp_path / "x.bharnet"
    p.write_bytes(b"hello" * 100)
    with pytest.raises(B.BundleError, match="not a bharnet bundle"):
        B.open_bundle(p)
    with pytest.raises(FileNotFoundError):
        B.open_bundle(tmp_path / "absent.bharnet")


def test_writer_rejects_bad_names_non_json_and_missing_members(tmp_path):
    ok = {"model.onnx": b"", "weights.safetensors": b"", "extra/rgb.onnx": b""}
    with pytest.raises(B.BundleError, match="invalid"):
        B.write_bundle(tmp_path / "x.bharnet", _meta(), {**ok, "/abs.onnx": b""})
    with pytest.raises(B.BundleError, match="invalid"):
        B.write_bundle(tmp_path / "x.bharnet", _meta(), {**ok, "a/../b": b""})
    with pytest.raises(B.BundleError, match="JSON"):
        B.write_bundle(tmp_path / "x.bharnet", _meta(metrics={"x": object()}), ok)
    with pytest.raises(B.BundleError, match="not written"):       # a graph named but not given
        B.write_bundle(tmp_path / "x.bharnet", _meta(), {"model.onnx": b"", "weights.safetensors": b""})
    with pytest.raises(B.BundleError, match="window graph"):
        B.write_bundle(tmp_path / "x.bharnet", _meta(graphs={"rgb.onnx": {"role": "rgb"}}), ok)
    with pytest.raises(B.BundleError, match="hand_intensive"):
        B.write_bundle(tmp_path / "x.bharnet", _meta(hand_intensive=[5]), ok)
    assert not (tmp_path / "x.bharnet").exists()


def test_bundle_module_imports_without_torch_or_onnx(tmp_path):
    path, _, _ = _small_bundle(tmp_path)
    code = ("import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None\n"
            "from bharnet.bundle import open_bundle\n"
            f"b = open_bundle({str(path)!r}); print(sorted(b.weights()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "a.weight" in out.stdout


def test_info_cli_prints_bundle(tmp_path, capsys):
    from bharnet.cli import main

    from bharnet.sdk import default_model_path

    # info validates as loading does: an intact container the SDK cannot use (its graph is
    # not ONNX) is refused, a real bundle is described
    small, _, _ = _small_bundle(tmp_path)
    assert main(["info", str(small)]) == 2
    assert "cannot load" in capsys.readouterr().err
    path = tmp_path / "default.bharnet"
    path.write_bytes(default_model_path().read_bytes())
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["classes"] == B.open_bundle(path).metadata["classes"] and info["signed_by"] is None
    bad = tmp_path / "bad.bharnet"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    assert main(["info", str(bad)]) == 2
    assert "corrupted" in capsys.readouterr().err
