"""The sealed container under every model bundle: a zip of `metadata.json` plus members.

What this layer guarantees, whatever the metadata means:
  * `metadata.json` carries a manifest, {"members": {name: {"sha256", "size"}}}, filled in here on
    write and checked here on read: nothing missing, nothing unlisted, every size and hash right;
  * the zip comment is the trailer: a seal "bharnet-sha256:<hex>", the sha256 of every byte of the
    file before the trailer, so one flipped byte anywhere (headers and metadata included) is
    refused; optionally followed by ";ed25519:<public key hex>:<signature hex>", an Ed25519
    signature of that digest (bharnet.signing), checked when the reader is given trusted keys;
  * reading is bounded before anything is inflated: the file size, the number of members (from
    the zip's end record, before the directory is parsed), metadata.json's size, and every
    member's declared size against the manifest and a total budget; a member is then inflated
    no further than its declared size, so a zip bomb costs neither time nor memory;
  * member names are plain relative paths; nothing is unpickled; files are written atomically and
    byte-identically for identical content.
What the metadata says (format, version, spec, graphs, ...) is bharnet.bundle's business.

Stdlib only (the `cryptography` package is imported only to sign, or to verify with keys).
"""
from __future__ import annotations

import hashlib
import io
import json
import pathlib
import re
import struct
import zipfile
import zlib

METADATA = "metadata.json"
SEAL_PREFIX = b"bharnet-sha256:"
SEAL_LEN = len(SEAL_PREFIX) + 64
SIG_PREFIX = b";ed25519:"
SIGNED_LEN = SEAL_LEN + len(SIG_PREFIX) + 64 + 1 + 128
_SIGNED = re.compile(rb"bharnet-sha256:([0-9a-f]{64});ed25519:([0-9a-f]{64}):([0-9a-f]{128})\Z")
_SEALED = re.compile(rb"bharnet-sha256:([0-9a-f]{64})\Z")
# a member is a relative path of plain name segments: no "..", no absolute paths, no backslashes
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")
# Bounds checked before inflating anything. A large model is tens of MB; these leave room.
MAX_FILE_BYTES = 1 << 30          # the bundle file itself
MAX_TOTAL_BYTES = 1 << 30         # the sum of the members' uncompressed sizes
MAX_MEMBERS = 64
MAX_METADATA_BYTES = 4 << 20
_EOCD = struct.Struct("<4s4H2LH")   # zip end-of-central-directory record (22 bytes)
# fixed timestamps keep bundles byte-identical for identical content
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BundleError(ValueError):
    """A file that is not a valid, intact bharnet bundle."""


class SignatureError(BundleError):
    """A bundle that is unsigned, or not signed by one of the trusted keys."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name.split("/"):
        raise BundleError(f"invalid bundle member name {name!r} (plain relative names only)")
    return name


# ---- writing -------------------------------------------------------------------------------
def _trailer(body: bytes, signing_key) -> bytes:
    digest = hashlib.sha256(body).digest()
    seal = SEAL_PREFIX + digest.hex().encode()
    if signing_key is None:
        return seal
    from .signing import sign_digest

    pub, sig = sign_digest(signing_key, digest)
    return seal + SIG_PREFIX + pub.hex().encode() + b":" + sig.hex().encode()


def _write_atomic(path: pathlib.Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(raw)
    tmp.replace(path)


def write_sealed(path, metadata: dict, members: dict[str, bytes], signing_key=None) -> pathlib.Path:
    """Write `metadata` (plain JSON; its manifest is filled in here) and `members` as a sealed zip,
    signed with `signing_key` (an Ed25519 private key or its PEM file) when one is given."""
    path = pathlib.Path(path)
    if METADATA in members:
        raise BundleError(f"{METADATA} is written from `metadata`, not given as a member")
    for name, data in members.items():
        check_name(name)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"bundle member {name!r} must be bytes, got {type(data).__name__}")
    meta = dict(metadata)
    meta["members"] = {n: {"sha256": sha256(bytes(d)), "size": len(d)}
                       for n, d in sorted(members.items())}
    try:
        meta_bytes = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise BundleError(f"bundle metadata is not plain JSON: {e}") from None

    tlen = SEAL_LEN if signing_key is None else SIGNED_LEN
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in [(METADATA, meta_bytes)] + sorted(members.items()):
            z.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), bytes(data),
                       compress_type=zipfile.ZIP_DEFLATED)
        # placeholder of the final length: the bytes before the comment depend only on its length
        z.comment = b"0" * tlen
    raw = buf.getvalue()
    body = raw[:-tlen]
    _write_atomic(path, body + _trailer(body, signing_key))
    return path


def sign_sealed(path, signing_key, out=None) -> pathlib.Path:
    """Sign an intact sealed file (replacing any signature it had); written to `out` or in place."""
    path = pathlib.Path(path)
    read_sealed(path)   # never sign something that is not an intact bundle
    raw = path.read_bytes()
    tlen = _parse_trailer(path, raw)[0]
    # the end record's last field is the comment length: make it the signed trailer's
    body = raw[:-tlen - 2] + struct.pack("<H", SIGNED_LEN)
    out = pathlib.Path(out) if out is not None else path
    _write_atomic(out, body + _trailer(body, signing_key))
    return out


# ---- reading -------------------------------------------------------------------------------
def _parse_trailer(path, raw: bytes) -> tuple[int, str, bytes | None, bytes | None]:
    """(trailer length, seal hex, public key, signature) from the end of the file."""
    m = _SIGNED.search(raw[-SIGNED_LEN:])
    if m is not None and m.start() == 0:
        return SIGNED_LEN, m.group(1).decode(), bytes.fromhex(m.group(2).decode()), \
            bytes.fromhex(m.group(3).decode())
    m = _SEALED.search(raw[-SEAL_LEN:])
    if m is not None and m.start() == 0:
        return SEAL_LEN, m.group(1).decode(), None, None
    raise BundleError(f"{path}: not a bharnet bundle (integrity seal missing or damaged)")


def _unseal(path: pathlib.Path, raw: bytes, trusted: list[bytes] | None) -> int:
    """Check the seal (and the signature against `trusted`); the length of the trailer."""
    tlen, seal, pub, sig = _parse_trailer(path, raw)
    digest = hashlib.sha256(raw[:-tlen]).digest()
    if digest.hex() != seal:
        raise BundleError(f"{path}: bundle is corrupted or was modified (file checksum mismatch)")
    if trusted is not None:
        from .signing import fingerprint, verify_digest

        if pub is None:
            raise SignatureError(f"{path}: bundle is not signed, and trusted keys were given")
        if pub not in trusted:
            raise SignatureError(f"{path}: bundle is signed by key {fingerprint(pub)}, which is "
                                 f"not among the {len(trusted)} trusted key(s)")
        if not verify_digest(pub, sig, digest):
            raise SignatureError(f"{path}: bundle signature is invalid (modified after signing)")
    return tlen


def _check_end_record(path: pathlib.Path, raw: bytes, tlen: int) -> None:
    """Bound the member count from the zip's end record before zipfile parses the directory."""
    end = len(raw) - tlen
    if end < _EOCD.size:
        raise BundleError(f"{path}: not a bharnet bundle (too short for a zip)")
    sig, disk, cd_disk, n_disk, n_total, cd_size, cd_off, clen = _EOCD.unpack(raw[end - _EOCD.size:end])
    if sig != b"PK\x05\x06" or clen != tlen or disk or cd_disk or n_disk != n_total \
            or cd_off + cd_size != end - _EOCD.size:
        raise BundleError(f"{path}: not a bharnet bundle (unexpected zip end record)")
    if n_total > MAX_MEMBERS:
        raise BundleError(f"{path}: bundle lists {n_total} members (at most {MAX_MEMBERS})")
    # a ZIP64 locator would make zipfile take its counts from elsewhere: bundles never need one
    if raw[max(0, end - _EOCD.size - 20):end - _EOCD.size].startswith(b"PK\x06\x07"):
        raise BundleError(f"{path}: not a bharnet bundle (ZIP64 archives are not bundles)")


def _inflate(path, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, inflated no further than its declared size."""
    if info.flag_bits & 0x1:
        raise BundleError(f"{path}: member {info.filename!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise BundleError(f"{path}: member {info.filename!r} uses unsupported compression "
                          f"{info.compress_type}")
    try:
        with z.open(info) as f:
            data = f.read(info.file_size)   # read(n) inflates at most n bytes
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError,
            struct.error) as e:
        raise BundleError(f"{path}: bundle is corrupted ({e})") from None
    if len(data) != info.file_size:
        raise BundleError(f"{path}: member {info.filename!r} is truncated")
    return data


def _read_metadata(path, z: zipfile.ZipFile, infos: dict) -> dict:
    info = infos.get(METADATA)
    if info is None:
        raise BundleError(f"{path}: not a bharnet bundle (no {METADATA})")
    if info.file_size > MAX_METADATA_BYTES:
        raise BundleError(f"{path}: {METADATA} is {info.file_size} B (at most {MAX_METADATA_BYTES})")
    try:
        meta = json.loads(_inflate(path, z, info).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise BundleError(f"{path}: {METADATA} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{path}: {METADATA} must be a JSON object")
    return meta


def _check_manifest(path, meta: dict, infos: dict, budget: int) -> dict[str, dict]:
    """Members present = members listed, declared sizes = listed sizes, total within budget."""
    listed = meta.get("members")
    if not isinstance(listed, dict):
        raise BundleError(f"{path}: {METADATA} lists no members")
    present = set(infos) - {METADATA}
    missing, extra = sorted(set(listed) - present), sorted(present - set(listed))
    if missing:
        raise BundleError(f"{path}: bundle is incomplete, missing member(s) {missing}")
    if extra:
        raise BundleError(f"{path}: bundle holds unlisted member(s) {extra}")
    total = 0
    for name, entry in listed.items():
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 \
                or not isinstance(entry.get("sha256"), str):
            raise BundleError(f"{path}: manifest entry of {name!r} is malformed")
        if infos[name].file_size != size:
            raise BundleError(f"{path}: member {name!r} declares {infos[name].file_size} B but the "
                              f"manifest says {size} B")
        total += size
    if total > budget:
        raise BundleError(f"{path}: members total {total} B, over the {budget} B budget")
    return listed


def read_sealed(path, trusted_keys=None, budget: int = MAX_TOTAL_BYTES
                ) -> tuple[dict, dict[str, bytes], str]:
    """(metadata, members, sha256 of the whole file) of an intact sealed zip; BundleError else.

    trusted_keys: None (the seal alone is checked) or public keys (see bharnet.signing.public_raw):
    then the file must carry a valid signature by one of them (SignatureError else).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model bundle not found: {path}")
    trusted = None
    if trusted_keys is not None:
        from .signing import public_raw

        trusted = [public_raw(k) for k in trusted_keys]
        if not trusted:
            raise ValueError("trusted_keys is empty: give at least one public key, or None")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise BundleError(f"{path}: {size} B is larger than any bundle ({MAX_FILE_BYTES} B at most)")
    raw = path.read_bytes()
    tlen = _unseal(path, raw, trusted)
    _check_end_record(path, raw, tlen)
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, struct.error, OverflowError) as e:
        raise BundleError(f"{path}: not a bharnet bundle (not a zip file: {e})") from None
    with z:
        infos_list = z.infolist()
        if len(infos_list) > MAX_MEMBERS:
            raise BundleError(f"{path}: bundle holds {len(infos_list)} members (at most {MAX_MEMBERS})")
        for info in infos_list:
            check_name(info.filename)
        infos = {i.filename: i for i in infos_list}
        if len(infos) != len(infos_list):
            raise BundleError(f"{path}: duplicate member names in the bundle")
        meta = _read_metadata(path, z, infos)
        listed = _check_manifest(path, meta, infos, budget)
        data = {name: _inflate(path, z, infos[name]) for name in sorted(listed)}
    for name, blob in data.items():
        if sha256(blob) != listed[name]["sha256"]:
            raise BundleError(f"{path}: member {name!r} is corrupted or was modified (sha256 mismatch)")
    return meta, data, sha256(raw)


def signer_of(path) -> str | None:
    """The hex public key a sealed file says it is signed by (not verified), or None."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - SIGNED_LEN))
        raw = f.read()
    m = _SIGNED.search(raw)
    return m.group(2).decode() if m is not None and m.start() == 0 else None


__all__ = ["BundleError", "SignatureError", "METADATA", "SEAL_PREFIX", "SEAL_LEN", "SIGNED_LEN",
           "MAX_TOTAL_BYTES", "MAX_MEMBERS", "write_sealed", "sign_sealed", "read_sealed",
           "signer_of", "sha256", "check_name"]
