"""The model bundle: one zip file, safe to open, that carries everything a runtime needs.

Members:
  metadata.json        format version, layout, classes, window, stride, normalisation, spec,
                       input/output names, ... and {"members": {name: {"sha256", "size"}}}
  model.onnx           portable standard-op graph (fixed T, dynamic batch)
  weights.safetensors  the state dict for the native runtime
  any other member     e.g. "model.fp16.onnx", "model.plugin.onnx", later "rgb.onnx"

Integrity, in two layers:
  * every member other than metadata.json is listed with its sha256 in metadata.json;
  * the zip comment is a seal, "bharnet-sha256:<hex>", the sha256 of every byte of the file
    before the seal. That covers metadata.json itself and the zip headers, so one flipped byte
    anywhere in the file is refused, not just a flipped byte inside a member.
Opening never unpickles anything: metadata is JSON, weights are safetensors, graphs are bytes.

NumPy + stdlib only: the SDK imports this on a robot without torch or onnx.
"""
from __future__ import annotations

import hashlib
import io
import json
import pathlib
import re
import zipfile

import numpy as np

FORMAT = "bharnet-bundle"
FORMAT_VERSION = 1
METADATA = "metadata.json"
SEAL_PREFIX = b"bharnet-sha256:"
_SEAL_LEN = len(SEAL_PREFIX) + 64
# a member is a relative path of plain name segments: no "..", no absolute paths, no backslashes
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")
# refuse absurd members before inflating them (zip bombs); a large model is tens of MB
MAX_MEMBER_BYTES = 2 << 30
# fixed timestamps keep bundles byte-identical for identical content
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BundleError(ValueError):
    """A file that is not a valid, intact bharnet bundle."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name.split("/"):
        raise BundleError(f"invalid bundle member name {name!r} (plain relative names only)")
    return name


# ---- writing -------------------------------------------------------------------------------
def write_bundle(path, metadata: dict, members: dict[str, bytes]) -> pathlib.Path:
    """Write a bundle: `metadata` (JSON-serialisable) plus `members` (name -> bytes).

    The format fields and the members' hashes are filled in here; the caller's dict is not
    modified. The file is written atomically (temp file, then rename).
    """
    path = pathlib.Path(path)
    if METADATA in members:
        raise BundleError(f"{METADATA} is written from `metadata`, not given as a member")
    for name, data in members.items():
        _check_name(name)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"bundle member {name!r} must be bytes, got {type(data).__name__}")
    meta = dict(metadata)
    meta["format"] = FORMAT
    meta["format_version"] = FORMAT_VERSION
    meta["members"] = {n: {"sha256": _sha256(bytes(d)), "size": len(d)}
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
    body = bytes(raw[:-_SEAL_LEN])
    raw[-64:] = _sha256(body).encode()

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(bytes(raw))
    tmp.replace(path)
    return path


# ---- reading -------------------------------------------------------------------------------
class Bundle:
    """An opened, verified bundle. Members are held in memory (bundles are small)."""

    def __init__(self, path: pathlib.Path, metadata: dict, members: dict[str, bytes], sha256: str):
        self.path = path
        self.metadata = metadata
        self._members = members
        self.sha256 = sha256  # of the whole file: the key for engine caches

    @property
    def member_names(self) -> list[str]:
        return sorted(self._members)

    def has_member(self, name: str) -> bool:
        return name in self._members

    def member(self, name: str) -> bytes:
        if name not in self._members:
            raise BundleError(f"{self.path}: no member {name!r} (has {', '.join(self.member_names)})")
        return self._members[name]

    def onnx_bytes(self, name: str = "model.onnx") -> bytes:
        return self.member(name)

    def weights(self, name: str = "weights.safetensors") -> dict[str, np.ndarray]:
        from safetensors.numpy import load  # a data-only format: no code runs on load

        try:
            return load(self.member(name))
        except BundleError:
            raise
        except Exception as e:
            raise BundleError(f"{self.path}: {name} is not a valid safetensors file ({e})") from None

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r}, members={self.member_names})"


def _unseal(path: pathlib.Path, raw: bytes) -> None:
    if len(raw) < _SEAL_LEN or not raw[-_SEAL_LEN:].startswith(SEAL_PREFIX):
        raise BundleError(f"{path}: not a bharnet bundle (integrity seal missing or damaged)")
    want = raw[-64:].decode("ascii", errors="replace")
    if _sha256(raw[:-_SEAL_LEN]) != want:
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
            _check_name(info.filename)
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


def _check_metadata(path: pathlib.Path, meta: dict, data: dict[str, bytes]) -> None:
    if meta.get("format") != FORMAT:
        raise BundleError(f"{path}: not a bharnet bundle (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format version {version!r} is not supported "
                          f"(this bharnet reads version {FORMAT_VERSION}); re-export the model")
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
        if not isinstance(entry, dict) or _sha256(data[name]) != entry.get("sha256"):
            raise BundleError(f"{path}: member {name!r} is corrupted or was modified (sha256 mismatch)")


def open_bundle(path) -> Bundle:
    """Open and verify a bundle; raises BundleError for anything not intact."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model bundle not found: {path}")
    raw = path.read_bytes()
    _unseal(path, raw)
    meta, data = _read_zip(path, raw)
    _check_metadata(path, meta, data)
    return Bundle(path, meta, data, _sha256(raw))


def read_metadata(path) -> dict:
    """The verified metadata of a bundle (what `bharnet info` prints)."""
    b = open_bundle(path)
    return {**b.metadata, "bundle_sha256": b.sha256}


__all__ = ["BundleError", "Bundle", "FORMAT", "FORMAT_VERSION", "write_bundle", "open_bundle",
           "read_metadata"]
