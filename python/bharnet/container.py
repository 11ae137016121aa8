"""The sealed container under every model bundle: a zip of `metadata.json` plus members.

What this layer guarantees, whatever the metadata means:
  * `metadata.json` carries a manifest, {"members": {name: {"sha256", "size"}}}, filled in here on
    write and checked here on read: nothing missing, nothing unlisted, every hash right;
  * the zip comment is a seal, "bharnet-sha256:<hex>", the sha256 of every byte of the file before
    the seal, so one flipped byte anywhere (headers and metadata included) is refused;
  * member names are plain relative paths; nothing is unpickled; files are written atomically and
    byte-identically for identical content.
What the metadata says (format, version, spec, graphs, ...) is bharnet.bundle's business.

NumPy-free and stdlib only.
"""
from __future__ import annotations

import hashlib
import io
import json
import pathlib
import re
import zipfile

METADATA = "metadata.json"
SEAL_PREFIX = b"bharnet-sha256:"
SEAL_LEN = len(SEAL_PREFIX) + 64
# a member is a relative path of plain name segments: no "..", no absolute paths, no backslashes
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")
# refuse absurd members before inflating them (zip bombs); a large model is tens of MB
MAX_MEMBER_BYTES = 2 << 30
# fixed timestamps keep bundles byte-identical for identical content
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BundleError(ValueError):
    """A file that is not a valid, intact bharnet bundle."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name.split("/"):
        raise BundleError(f"invalid bundle member name {name!r} (plain relative names only)")
    return name


# ---- writing -------------------------------------------------------------------------------
def write_sealed(path, metadata: dict, members: dict[str, bytes]) -> pathlib.Path:
    """Write `metadata` (plain JSON; its manifest is filled in here) and `members` as a sealed zip."""
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

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in [(METADATA, meta_bytes)] + sorted(members.items()):
            z.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), bytes(data),
                       compress_type=zipfile.ZIP_DEFLATED)
        # placeholder of the final length: the bytes before the comment depend only on its length
        z.comment = SEAL_PREFIX + b"0" * 64
    raw = bytearray(buf.getvalue())
    raw[-64:] = sha256(bytes(raw[:-SEAL_LEN])).encode()

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(bytes(raw))
    tmp.replace(path)
    return path


# ---- reading -------------------------------------------------------------------------------
def _unseal(path: pathlib.Path, raw: bytes) -> None:
    if len(raw) < SEAL_LEN or not raw[-SEAL_LEN:].startswith(SEAL_PREFIX):
        raise BundleError(f"{path}: not a bharnet bundle (integrity seal missing or damaged)")
    want = raw[-64:].decode("ascii", errors="replace")
    if sha256(raw[:-SEAL_LEN]) != want:
        raise BundleError(f"{path}: bundle is corrupted or was modified (file checksum mismatch)")


def _read_zip(path: pathlib.Path, raw: bytes) -> tuple[dict, dict[str, bytes]]:
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as e:
        raise BundleError(f"{path}: not a bharnet bundle (not a zip file: {e})") from None
    with z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise BundleError(f"{path}: duplicate member names in the bundle")
        for info in infos:
            check_name(info.filename)
            if info.file_size > MAX_MEMBER_BYTES:
                raise BundleError(f"{path}: member {info.filename!r} is too large ({info.file_size} B)")
        if METADATA not in names:
            raise BundleError(f"{path}: not a bharnet bundle (no {METADATA})")
        try:
            data = {i.filename: z.read(i) for i in infos}
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise BundleError(f"{path}: bundle is corrupted ({e})") from None
    try:
        meta = json.loads(data.pop(METADATA).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{path}: {METADATA} is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise BundleError(f"{path}: {METADATA} must be a JSON object")
    return meta, data


def _check_manifest(path: pathlib.Path, meta: dict, data: dict[str, bytes]) -> None:
    listed = meta.get("members")
    if not isinstance(listed, dict):
        raise BundleError(f"{path}: {METADATA} lists no members")
    missing = sorted(set(listed) - set(data))
    extra = sorted(set(data) - set(listed))
    if missing:
        raise BundleError(f"{path}: bundle is incomplete, missing member(s) {missing}")
    if extra:
        raise BundleError(f"{path}: bundle holds unlisted member(s) {extra}")
    for name, entry in listed.items():
        if not isinstance(entry, dict) or sha256(data[name]) != entry.get("sha256"):
            raise BundleError(f"{path}: member {name!r} is corrupted or was modified (sha256 mismatch)")


def read_sealed(path) -> tuple[dict, dict[str, bytes], str]:
    """(metadata, members, sha256 of the whole file) of an intact sealed zip; BundleError else."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model bundle not found: {path}")
    raw = path.read_bytes()
    _unseal(path, raw)
    meta, data = _read_zip(path, raw)
    _check_manifest(path, meta, data)
    return meta, data, sha256(raw)


__all__ = ["BundleError", "METADATA", "SEAL_PREFIX", "SEAL_LEN", "write_sealed", "read_sealed",
           "sha256", "check_name"]
