"""The model bundle: one zip file, safe to open, that carries everything a runtime needs, and
the one typed contract (`BundleMeta`) for what its metadata says.

Members (the roles are recorded in BundleMeta.graphs, so readers never guess from names):
  metadata.json          BundleMeta (plus the container's manifest of member hashes)
  model.onnx             role "window": portable standard ops, fixed window, dynamic batch
  model.fp16.onnx        role "window-fp16" (optional)
  model.plugin.onnx      role "window-plugin": bharnet GraphConv/PoolAttention nodes (optional)
  model.step.onnx, ...   role "step": frame(s) in, state in, logits and state out (streaming models)
  rgb.onnx, rgb_guide.onnx  roles "rgb", "rgb-guide" (BHaRNet-M)
  program.json + program.safetensors   the layer program the native runtimes execute
  weights.safetensors    the training state dict (the torch backend rebuilds the model from it)
  init_state.safetensors the step graphs' initial state (streaming models)

Integrity (the manifest of hashes, the seal, safe names) is bharnet.container's; this module says
what the metadata means. Opening never unpickles anything: metadata is JSON, weights are
safetensors, graphs are bytes. Bundles are written by one writer (bharnet.export.builder composes
every member and calls write_bundle once); nothing reopens a sealed bundle to add to it.

NumPy + stdlib only: the SDK imports this on a robot without torch or onnx.
"""
from __future__ import annotations

import pathlib
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .container import BundleError, read_sealed, write_sealed

FORMAT = "bharnet-bundle"
# 2: the typed schema below (graph roles, preprocessing, layer program, continual state)
FORMAT_VERSION = 2
GRAPH_ROLES = ("window", "window-fp16", "window-plugin", "step", "rgb", "rgb-guide")
DEFAULT_STRIDE = 8          # frames between recognitions when the bundle does not say
WINDOW_GRAPH = "model.onnx"
TORCH_WEIGHTS = "weights.safetensors"


@dataclass
class BundleMeta:
    """Everything a reader needs, typed and versioned (metadata.json of a bundle).

    spec: bharnet.data.InputSpec as a dict; layout: the keypoint layout the model was trained
    on; preprocessing: how a clip becomes model inputs (normalisation, sampling mode, test views);
    graphs: member -> {"role": one of GRAPH_ROLES, ...}; program: {"graph", "weights"} members of
    the layer program; continual: the streaming facts (step graphs, state, receptive field);
    rgb: the RGB branch's facts; config: the training config (the torch backend rebuilds from it).
    """
    spec: dict
    layout: str
    classes: list
    variant: str
    window: int
    stride: int
    preprocessing: dict
    input_names: list
    output_names: list
    graphs: dict
    hand_intensive: list = field(default_factory=list)
    program: dict | None = None
    weights: str | None = TORCH_WEIGHTS
    continual: dict | None = None
    rgb: dict | None = None
    config: dict | None = None
    opset: int | None = None
    export_check: dict = field(default_factory=dict)
    exporter: dict = field(default_factory=dict)
    name: str = ""
    description: str = ""
    metrics: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def graph(self, role: str) -> str | None:
        """The member that plays `role` (the first one, if several do), or None."""
        return next((m for m, g in sorted(self.graphs.items()) if g.get("role") == role), None)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict, where: str = "bundle") -> "BundleMeta":
        if d.get("format") != FORMAT:
            raise BundleError(f"{where}: not a bharnet bundle (format {d.get('format')!r})")
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            raise BundleError(f"{where}: bundle format version {version!r} is not supported (this "
                              f"bharnet reads version {FORMAT_VERSION}); re-export the model with "
                              f"`bharnet export`")
        known = {f.name for f in fields(cls)}
        body = {k: v for k, v in d.items() if k not in ("format", "format_version", "members")}
        unknown = sorted(set(body) - known)
        if unknown:
            raise BundleError(f"{where}: unknown metadata key(s) {unknown} for format version "
                              f"{FORMAT_VERSION}")
        try:
            meta = cls(**body)
        except TypeError as e:
            raise BundleError(f"{where}: metadata is incomplete ({e})") from None
        meta.check(where)
        return meta

    def check(self, where: str = "bundle") -> None:
        """Types and cross-references a reader relies on."""
        def need(cond, what):
            if not cond:
                raise BundleError(f"{where}: metadata {what}")
        need(isinstance(self.classes, list) and self.classes and all(isinstance(c, str) for c in self.classes),
             "classes must be a non-empty list of names")
        need(isinstance(self.window, int) and self.window >= 1, "window must be a positive integer")
        need(isinstance(self.stride, int) and self.stride >= 1, "stride must be a positive integer")
        need(isinstance(self.spec, dict), "spec must be an object")
        need(all(isinstance(i, int) and 0 <= i < len(self.classes) for i in self.hand_intensive),
             "hand_intensive must index classes")
        need(isinstance(self.graphs, dict), "graphs must be an object")
        for member, g in self.graphs.items():
            need(isinstance(g, dict) and g.get("role") in GRAPH_ROLES,
                 f"graph {member!r} has no known role (one of {GRAPH_ROLES})")
        need(self.graph("window") is not None, "names no window graph")
        need(self.program is None or {"graph", "weights"} <= set(self.program),
             "program must name its graph and weights members")

    def members(self) -> list[str]:
        """Every member this metadata refers to (the container checks that they exist)."""
        out = list(self.graphs)
        if self.program:
            out += [self.program["graph"], self.program["weights"]]
        if self.weights:
            out.append(self.weights)
        if self.continual and self.continual.get("init_state"):
            out.append(self.continual["init_state"])
        return out


# ---- writing -------------------------------------------------------------------------------
def write_bundle(path, meta: BundleMeta, members: dict[str, bytes], signing_key=None) -> pathlib.Path:
    """Write a bundle: the metadata and every member, once, atomically; signed with the Ed25519
    `signing_key` when one is given (bharnet.signing)."""
    meta.check(str(path))
    missing = sorted(set(meta.members()) - set(members))
    if missing:
        raise BundleError(f"{path}: the metadata names member(s) {missing} that are not written")
    return write_sealed(path, meta.to_dict(), members, signing_key=signing_key)


# ---- reading -------------------------------------------------------------------------------
class Bundle:
    """An opened, verified bundle. Members are held in memory (bundles are small)."""

    def __init__(self, path: pathlib.Path, meta: BundleMeta, members: dict[str, bytes], sha256: str,
                 metadata: dict | None = None):
        self.path = path
        self.meta = meta
        self.metadata = metadata if metadata is not None else meta.to_dict()  # the raw JSON (info)
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

    def onnx_bytes(self, name: str | None = None) -> bytes:
        """A graph's bytes: `name`, or the window graph."""
        return self.member(name or self.meta.graph("window"))

    def graph(self, role: str) -> bytes | None:
        name = self.meta.graph(role)
        return None if name is None else self.member(name)

    def program(self):
        """(bharnet.program.Program, its weights) or None when the bundle has no layer program."""
        from .program import Program

        if not self.meta.program:
            return None
        return (Program.from_json(self.member(self.meta.program["graph"])),
                self.weights(self.meta.program["weights"]))

    def weights(self, name: str | None = None) -> dict[str, np.ndarray]:
        """A safetensors member as arrays (default: the training state dict)."""
        name = name or self.meta.weights
        if not name:
            raise BundleError(f"{self.path}: this bundle carries no training weights")
        from safetensors.numpy import load  # a data-only format: no code runs on load

        try:
            return load(self.member(name))
        except BundleError:
            raise
        except Exception as e:
            raise BundleError(f"{self.path}: {name} is not a valid safetensors file ({e})") from None

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r}, members={self.member_names})"


def open_bundle(path, trusted_keys=None) -> Bundle:
    """Open and verify a bundle; raises BundleError for anything not intact or not readable by
    this version (SignatureError when `trusted_keys` are given and none of them signed it),
    FileNotFoundError when there is no file."""
    path = pathlib.Path(path)
    raw_meta, data, digest = read_sealed(path, trusted_keys=trusted_keys)
    meta = BundleMeta.from_dict(raw_meta, str(path))
    missing = sorted(set(meta.members()) - set(data))
    if missing:
        raise BundleError(f"{path}: the metadata names member(s) {missing} the bundle lacks")
    return Bundle(path, meta, data, digest, raw_meta)


def read_metadata(path) -> dict:
    """The verified metadata of a bundle (what `bharnet info` prints)."""
    b = open_bundle(path)
    return {**b.metadata, "bundle_sha256": b.sha256}


__all__ = ["BundleError", "Bundle", "BundleMeta", "FORMAT", "FORMAT_VERSION", "GRAPH_ROLES",
           "DEFAULT_STRIDE", "WINDOW_GRAPH", "TORCH_WEIGHTS", "write_bundle", "open_bundle",
           "read_metadata"]
