"""The model bundle: one zip file, safe to open, that carries everything a runtime needs.

Members:
  metadata.json        format version, layout, classes, window, stride, normalisation, spec,
                       input/output names, ... and {"members": {name: {"sha256", "size"}}}
  model.onnx           portable standard-op graph (fixed T, dynamic batch)
  weights.safetensors  the state dict for the native runtime
  any other member     e.g. "model.fp16.onnx", "model.plugin.onnx", later "rgb.onnx"

Integrity (the manifest of hashes, the seal, safe names) is bharnet.container's; this module
says what the metadata means. Opening never unpickles anything: metadata is JSON, weights are
safetensors, graphs are bytes.

NumPy + stdlib only: the SDK imports this on a robot without torch or onnx.
"""
from __future__ import annotations

import pathlib

import numpy as np

from .container import BundleError, read_sealed, write_sealed

FORMAT = "bharnet-bundle"
FORMAT_VERSION = 1


# ---- writing -------------------------------------------------------------------------------
def write_bundle(path, metadata: dict, members: dict[str, bytes]) -> pathlib.Path:
    """Write a bundle: `metadata` (JSON-serialisable) plus `members` (name -> bytes).

    The format fields and the members' hashes are filled in here; the caller's dict is not
    modified. The file is written atomically (temp file, then rename).
    """
    meta = dict(metadata)
    meta["format"] = FORMAT
    meta["format_version"] = FORMAT_VERSION
    return write_sealed(path, meta, members)


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


def _check_format(path: pathlib.Path, meta: dict) -> None:
    if meta.get("format") != FORMAT:
        raise BundleError(f"{path}: not a bharnet bundle (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format version {version!r} is not supported "
                          f"(this bharnet reads version {FORMAT_VERSION}); re-export the model")


def open_bundle(path) -> Bundle:
    """Open and verify a bundle; raises BundleError for anything not intact."""
    path = pathlib.Path(path)
    meta, data, digest = read_sealed(path)
    _check_format(path, meta)
    return Bundle(path, meta, data, digest)


def read_metadata(path) -> dict:
    """The verified metadata of a bundle (what `bharnet info` prints)."""
    b = open_bundle(path)
    return {**b.metadata, "bundle_sha256": b.sha256}


__all__ = ["BundleError", "Bundle", "FORMAT", "FORMAT_VERSION", "write_bundle", "open_bundle",
           "read_metadata"]
