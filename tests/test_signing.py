"""Ed25519-signed bundles: trusted keys refuse unsigned, foreign and re-sealed bundles."""
from __future__ import annotations

import io
import json
import stat
import struct
import sys
import zipfile

import pytest

from bharnet import container, sdk
from bharnet.bundle import open_bundle
from bharnet.container import BundleError, SignatureError

pytest.importorskip("cryptography")
needs_model = pytest.mark.skipif(not sdk.default_model_path().is_file(), reason="no embedded default model")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from bharnet.cli import main

    d = tmp_path_factory.mktemp("keys")
    assert main(["keygen", "--out", str(d / "publisher.key")]) == 0
    assert main(["keygen", "--out", str(d / "other.key")]) == 0
    return d


def _copy_default(tmp_path, name="m.bharnet"):
    p = tmp_path / name
    p.write_bytes(sdk.default_model_path().read_bytes())
    return p


def test_keygen_writes_a_private_key_only_its_owner_reads(keys):
    mode = stat.S_IMODE((keys / "publisher.key").stat().st_mode)
    assert mode == 0o600
    assert b"PUBLIC KEY" in (keys / "publisher.pub").read_bytes()


@needs_model
def test_signed_bundle_loads_with_its_key_and_without_keys(tmp_path, keys):
    p = _copy_default(tmp_path)
    before = open_bundle(p)
    container.sign_sealed(p, keys / "publisher.key")
    after = open_bundle(p, trusted_keys=[keys / "publisher.pub"])
    assert after.metadata == before.metadata and after.member_names == before.member_names
    assert open_bundle(p).metadata == before.metadata                 # no keys: the seal alone
    r = sdk.Recognizer(p, trusted_keys=[keys / "publisher.pub", keys / "other.pub"])
    assert r.classes == before.meta.classes


@needs_model
def test_unsigned_and_foreign_bundles_are_refused(tmp_path, keys):
    p = _copy_default(tmp_path)
    with pytest.raises(SignatureError, match="not signed"):
        sdk.Recognizer(p, trusted_keys=[keys / "publisher.pub"])
    container.sign_sealed(p, keys / "other.key")
    with pytest.raises(SignatureError, match="not among the 1 trusted"):
        sdk.Recognizer(p, trusted_keys=[keys / "publisher.pub"])
    with pytest.raises(SignatureError):                        # the embedded model is unsigned
        sdk.Recognizer(trusted_keys=[keys / "publisher.pub"])


def _reseal(raw: bytes, tmp_path, keep_signature: bool) -> bytes:
    """What an attacker can do without the key: edit the metadata, rewrite the manifest and the
    checksum seal, and keep (or drop) the old signature block."""
    zin = zipfile.ZipFile(io.BytesIO(raw))
    members = {i.filename: zin.read(i) for i in zin.infolist()}
    meta = json.loads(members.pop("metadata.json"))
    meta["classes"] = list(reversed(meta["classes"]))          # swap what the labels mean
    meta.pop("members")
    new = container.write_sealed(tmp_path / "resealed.bharnet", meta, members).read_bytes()
    if not keep_signature:
        return new
    old_signature = raw[-(container.SIGNED_LEN - container.SEAL_LEN):]
    body = new[:-container.SEAL_LEN - 2] + struct.pack("<H", container.SIGNED_LEN)
    return body + container.SEAL_PREFIX + container.sha256(body).encode() + old_signature


@needs_model
@pytest.mark.parametrize("keep_signature", [True, False])
def test_modified_and_resealed_bundle_is_refused(tmp_path, keys, keep_signature):
    p = _copy_default(tmp_path)
    container.sign_sealed(p, keys / "publisher.key")
    bad = tmp_path / "bad.bharnet"
    bad.write_bytes(_reseal(p.read_bytes(), tmp_path, keep_signature))
    open_bundle(bad)                                   # the checksum seal alone is satisfied ...
    with pytest.raises(SignatureError, match="invalid" if keep_signature else "not signed"):
        sdk.Recognizer(bad, trusted_keys=[keys / "publisher.pub"])   # ... the signature is not


@needs_model
def test_every_flipped_byte_of_a_signed_bundle_is_refused(tmp_path, keys):
    p = _copy_default(tmp_path)
    container.sign_sealed(p, keys / "publisher.key")
    raw = p.read_bytes()
    bad = tmp_path / "bad.bharnet"
    # the trailer (seal + signature) and a spread of positions before it
    positions = list(range(len(raw) - container.SIGNED_LEN, len(raw))) + list(range(0, len(raw), 997))
    for i in positions:
        b = bytearray(raw)
        b[i] ^= 0x01
        bad.write_bytes(bytes(b))
        with pytest.raises(BundleError):
            open_bundle(bad, trusted_keys=[keys / "publisher.pub"])


def test_key_forms_and_bad_keys(tmp_path, keys):
    from bharnet import signing

    pub = keys / "publisher.pub"
    raw = signing.public_raw(pub)
    assert signing.public_raw(raw) == raw == signing.public_raw(raw.hex())
    with pytest.raises(ValueError, match="private key"):
        signing.public_raw(keys / "publisher.key")
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key")
    with pytest.raises(ValueError, match="not a PEM public key"):
        signing.public_raw(junk)
    with pytest.raises(FileNotFoundError):
        signing.public_raw(tmp_path / "missing.pub")
    with pytest.raises(ValueError, match="empty"):
        container.read_sealed(sdk.default_model_path(), trusted_keys=[])


@needs_model
def test_export_sign_flag(tmp_path, keys, monkeypatch, capsys):
    """--sign wiring: a bad key fails before the export runs; a good one reaches the builder, which
    signs as it writes (the export itself is stubbed: a copy of the default bundle, signed with the
    key it was given)."""
    pytest.importorskip("torch")
    from bharnet import container
    from bharnet.cli import main
    from bharnet.export import builder

    calls = []

    def fake_export(ckpt, out, signing_key=None, **kw):
        calls.append(out)
        assert signing_key is not None
        return container.sign_sealed(_copy_default(tmp_path, "exported.bharnet"), signing_key)

    monkeypatch.setattr(builder, "export_checkpoint", fake_export)
    assert main(["export", "ck.pt", "--out", "x", "--sign", str(tmp_path / "nokey")]) == 2
    assert calls == []
    assert main(["export", "ck.pt", "--out", "x", "--sign", str(keys / "publisher.key")]) == 0
    assert "signed" in capsys.readouterr().out
    open_bundle(tmp_path / "exported.bharnet", trusted_keys=[keys / "publisher.pub"])
    assert main(["info", str(tmp_path / "exported.bharnet"), "--trusted-key",
                 str(keys / "other.pub")]) == 2


def test_verifying_without_cryptography_is_a_clear_error(tmp_path, monkeypatch):
    from bharnet import signing

    for name in [m for m in sys.modules if m.startswith("cryptography")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(signing.SigningUnavailable, match=r"bharnet\[sign\]"):
        container.read_sealed(sdk.default_model_path(), trusted_keys=["00" * 32])
    if sdk.default_model_path().is_file():
        container.read_sealed(sdk.default_model_path())          # no keys: no cryptography needed


def test_write_bundle_signs_as_it_writes(tmp_path, keys):
    """The builder's path: write_bundle(..., signing_key) writes a signed bundle in one go."""
    from bharnet.bundle import write_bundle

    src = open_bundle(_copy_default(tmp_path, "src.bharnet"))
    out = write_bundle(tmp_path / "signed.bharnet", src.meta,
                       {n: src.member(n) for n in src.member_names}, signing_key=keys / "publisher.key")
    b = open_bundle(out, trusted_keys=[keys / "publisher.pub"])
    assert b.meta.classes == src.meta.classes
    with pytest.raises(container.SignatureError):
        open_bundle(out, trusted_keys=[keys / "other.pub"])
