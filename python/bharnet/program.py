"""The layer program: what the network computes, written by the exporter into the bundle and
executed by the native runtimes, so that no backend guesses the network from weight names.

Like a ggml model file, it is a flat list of operations over named tensors (SSA: each op writes
one new tensor), with every BatchNorm already folded into the weights it follows or precedes.
The weights live in the bundle member `program.safetensors`, named by the ops that use them.

Two kinds of tensors:
  * sequences  [B, C, T, V] (B = batch x instances; T frames at some rate): made by `embed`,
    `mask_seq` and every op over sequences;
  * head tensors: blocks [B, C, n, V] made by `collect` (the last n elements of a sequence), and
    vectors [N, C] or [N, I] made by the head ops from blocks.

Operations (attrs; weights):
  embed     input [N,C,T,V,I] -> [N*I,C,T,V] with a per-(joint, channel) affine  (instances; scale, shift [V*C])
  mask_seq  hand_mask [N,T,I] -> [N,1,T,I]
  gconv     sum_k W_k x A_k + b (+ residual = ins[1]) (relu; A [K,V,V], W [K,O,C], b [O])
  pw        1x1 conv (relu; W [O,C], b [O])
  affine    per-channel scale and shift (relu; scale [C], shift [C])
  concat    along channels
  add       ins[0] + ins[1] (relu)
  temporal  out[j] = f(x[j*stride + tap - pad] for tap in taps), zero (conv) or -inf (max) outside
            (kind conv|max|pick, taps, span, pad, stride, relu; conv: W [O,C,len(taps)], b [O]).
            Every temporal op of a block has the same span 2D+1 with taps centred on D, so all
            branches of a block line up; pad is D ("same", trained windowed models) or 0 ("valid",
            streaming models, whose outputs never depend on where a window starts).
  collect   the last `steps` elements of a sequence, `spacing` apart -> a block
  presence  mask block [N,1,n,I] -> [N,I]: 1 where the instance is present in any frame
  gap       block [N*I,C,n,V] -> [N,C]: mean over (n, V), then over the present instances (instances)
  pool_attention  ins [feat, ctx, feat_mask | "", ctx_mask | ""] -> [N,C], times `scale`
            (instances, ctx_instances, heads, scale; wq, wk, wv, wo)
  linear    [N,C] -> [N,K] (W [K,C], b [K])
  fuse      the experts' logits fused as bharnet.variants.fuse says (how)

A sequence op with stride s turns a sequence of rate r (frames per element) into one of rate r*s.
That is all a step runtime needs: it keeps, per temporal op, a ring of its input's last elements,
fires the op when its stride says so, and fires the head when the final `collect` does
(`to_atrous` rewrites a program so every op fires every frame, for a prediction per frame).

NumPy + stdlib only; the window interpreter here uses bharnet._C's kernels when given them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .variants import fuse as fuse_logits

FORMAT = "bharnet-program"
VERSION = 1
MEMBER = "program.json"
WEIGHTS_MEMBER = "program.safetensors"
# The step graphs' contract (export/continual.py writes them, the backends and the SDK read them):
# the two schedules of a streaming program, and the name prefixes of its state inputs and outputs.
SCHEDULES = ("native", "atrous")
STATE_IN, STATE_OUT = "state.", "state_out."

SEQUENCE_OPS = ("embed", "mask_seq", "gconv", "pw", "affine", "concat", "add", "temporal")
HEAD_OPS = ("collect", "presence", "gap", "pool_attention", "linear", "fuse")
TEMPORAL_KINDS = ("conv", "max", "pick")
# attrs each op must carry (weights are checked against the weight file when it is loaded)
_ATTRS = {
    "embed": ("instances",), "mask_seq": (), "gconv": ("relu",), "pw": ("relu",),
    "affine": ("relu",), "concat": (), "add": ("relu",),
    "temporal": ("kind", "taps", "span", "pad", "stride", "relu"),
    "collect": ("steps", "spacing"), "presence": (), "gap": ("instances",),
    "pool_attention": ("instances", "ctx_instances", "heads", "scale"), "linear": (),
    "fuse": ("how",),
}
_WEIGHTS = {
    "embed": ("scale", "shift"), "gconv": ("A", "W", "b"), "pw": ("W", "b"),
    "affine": ("scale", "shift"), "pool_attention": ("wq", "wk", "wv", "wo"), "linear": ("W", "b"),
}


class ProgramError(ValueError):
    """A layer program that is malformed or does not fit its weights."""


@dataclass
class Op:
    op: str
    ins: list[str]
    out: str
    attrs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)   # role -> weight name

    def to_dict(self) -> dict:
        d = {"op": self.op, "ins": list(self.ins), "out": self.out}
        if self.attrs:
            d["attrs"] = self.attrs
        if self.weights:
            d["weights"] = self.weights
        return d


@dataclass
class Program:
    inputs: dict            # name -> per-sample shape: [C,T,V,I] (frames) or [T,I] (hand_mask)
    ops: list[Op]
    outputs: dict           # output name -> tensor name
    window: int             # frames of the window the program was written for
    padding: str            # "same" | "valid"

    # ---- serialisation ---------------------------------------------------------------------
    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, "version": VERSION, "window": self.window,
                           "padding": self.padding, "inputs": self.inputs,
                           "ops": [o.to_dict() for o in self.ops], "outputs": self.outputs},
                          indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Program":
        try:
            d = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ProgramError(f"layer program is not valid JSON ({e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ProgramError("not a bharnet layer program")
        if d.get("version") != VERSION:
            raise ProgramError(f"layer program version {d.get('version')!r} is not supported "
                               f"(this bharnet runs version {VERSION}); re-export the model")
        try:
            ops = [Op(o["op"], list(o["ins"]), o["out"], dict(o.get("attrs", {})),
                      dict(o.get("weights", {}))) for o in d["ops"]]
            prog = cls(dict(d["inputs"]), ops, dict(d["outputs"]), int(d["window"]), d["padding"])
        except (KeyError, TypeError) as e:
            raise ProgramError(f"layer program is missing a field ({e})") from None
        prog.validate()
        return prog

    # ---- checks and facts ----------------------------------------------------------------------
    def validate(self) -> None:
        """Every op known and complete, every tensor defined once before it is read."""
        if self.padding not in ("same", "valid"):
            raise ProgramError(f"padding must be 'same' or 'valid', got {self.padding!r}")
        defined = set(self.inputs)
        for i, o in enumerate(self.ops):
            if o.op not in _ATTRS:
                raise ProgramError(f"op {i}: unknown operation {o.op!r}")
            missing = [a for a in _ATTRS[o.op] if a not in o.attrs]
            missing += [w for w in _WEIGHTS.get(o.op, ()) if w not in o.weights]
            if o.op == "temporal" and o.attrs.get("kind") == "conv":
                missing += [w for w in ("W", "b") if w not in o.weights]
            if missing:
                raise ProgramError(f"op {i} ({o.op} -> {o.out}): missing {missing}")
            if o.op == "temporal" and o.attrs["kind"] not in TEMPORAL_KINDS:
                raise ProgramError(f"op {i}: temporal kind {o.attrs['kind']!r} is not one of "
                                   f"{TEMPORAL_KINDS}")
            for name in o.ins:
                if name and name not in defined:
                    raise ProgramError(f"op {i} ({o.op} -> {o.out}) reads {name!r} before it is made")
            if o.out in defined:
                raise ProgramError(f"op {i}: tensor {o.out!r} is written twice")
            defined.add(o.out)
        for name, t in self.outputs.items():
            if t not in defined:
                raise ProgramError(f"output {name!r} names an unknown tensor {t!r}")

    def rates(self) -> dict[str, int]:
        """Frames per element of every sequence tensor (1 for inputs; times each stride)."""
        rate = {n: 1 for n in self.inputs}
        for o in self.ops:
            if o.op in SEQUENCE_OPS:
                r = {rate[i] for i in o.ins}
                if len(r) != 1:
                    raise ProgramError(f"{o.op} -> {o.out}: inputs at different rates {sorted(r)}")
                rate[o.out] = r.pop() * (int(o.attrs["stride"]) if o.op == "temporal" else 1)
        return rate

    def receptive_field(self) -> int:
        """Frames of keypoint input that one prediction's features depend on: the span of the
        final elements plus the collected steps (the hand mask's own collect aside)."""
        rf = {n: 1 for n in self.inputs}          # span in frames of each tensor's elements
        rate = self.rates()
        best = 1
        for o in self.ops:
            if o.op in SEQUENCE_OPS:
                span = max(rf[i] for i in o.ins)
                if o.op == "temporal":
                    span += (int(o.attrs["span"]) - 1) * rate[o.ins[0]]
                rf[o.out] = span
            elif o.op == "collect" and not self.is_mask(o.ins[0]):
                steps, spacing = int(o.attrs["steps"]), int(o.attrs["spacing"])
                best = max(best, rf[o.ins[0]] + (steps - 1) * spacing * rate[o.ins[0]])
        return best

    def window_for(self, steps: int) -> int:
        """The window (frames) whose valid forward ends in exactly `steps` final elements, all
        aligned on its last frame: span of one final element + total stride * (steps - 1)."""
        rf = {n: 1 for n in self.inputs}
        rate = self.rates()
        for o in self.ops:
            if o.op in SEQUENCE_OPS:
                rf[o.out] = max(rf[i] for i in o.ins) + (
                    (int(o.attrs["span"]) - 1) * rate[o.ins[0]] if o.op == "temporal" else 0)
        finals = [o.ins[0] for o in self.ops if o.op == "collect" and not self.is_mask(o.ins[0])]
        return max(rf[f] + rate[f] * (int(steps) - 1) for f in finals)

    def is_mask(self, tensor: str) -> bool:
        """Whether a sequence tensor is the hand mask (collected for presence, not features)."""
        return any(o.out == tensor and o.op == "mask_seq" for o in self.ops)

    def lengths(self, window: int | None = None) -> dict[str, int]:
        """Elements of every sequence tensor when the program runs over `window` frames; raises
        where a valid op's outputs would not end on the window's last frame (the window does not
        fit the strides) or where the window is shorter than an op's span."""
        window = self.window if window is None else int(window)
        n = {name: window for name in self.inputs}
        for o in self.ops:
            if o.op == "temporal":
                a, t = o.attrs, n[o.ins[0]]
                span, pad, s = int(a["span"]), int(a["pad"]), int(a["stride"])
                if t + 2 * pad < span:
                    raise ProgramError(f"a window of {window} frames is shorter than the model needs "
                                       f"({o.out} gets {t} elements, spans {span})")
                if self.padding == "valid" and (t - span) % s:
                    raise ProgramError(f"a window of {window} frames does not fit the strides: "
                                       f"{o.out} would not end on the window's last frame")
                n[o.out] = (t + 2 * pad - span) // s + 1
            elif o.op in SEQUENCE_OPS:
                n[o.out] = n[o.ins[0]]
        return n

    @property
    def streamable(self) -> bool:
        return self.padding == "valid"

    def weight_names(self) -> list[str]:
        return sorted({w for o in self.ops for w in o.weights.values()})


# ---- the atrous rewrite ----------------------------------------------------------------------
def to_atrous(program: Program) -> Program:
    """The same network with every stride removed and later taps dilated by the stride they
    followed ("a trous"): every op fires every frame, so a step runtime predicts every frame, with
    the same weights and exactly the same numbers at every frame. Only for valid programs."""
    if not program.streamable:
        raise ProgramError("only a valid (streaming) program can run a trous")
    rate = program.rates()
    ops = []
    for o in program.ops:
        a = dict(o.attrs)
        if o.op == "temporal":
            r = rate[o.ins[0]]
            a.update(taps=[t * r for t in a["taps"]], span=(int(a["span"]) - 1) * r + 1, stride=1)
        elif o.op == "collect":
            a["spacing"] = int(a["spacing"]) * rate[o.ins[0]]
        ops.append(Op(o.op, list(o.ins), o.out, a, dict(o.weights)))
    return Program(dict(program.inputs), ops, dict(program.outputs), program.window, program.padding)


# ---- the window interpreter (NumPy, with bharnet._C's kernels where given) ----------------------
def _relu(y, on):
    return np.maximum(y, 0, out=y) if on else y


def _pointwise(x, W, b):
    n, c, t, v = x.shape
    y = np.matmul(W, x.reshape(n, c, t * v))
    y += b[None, :, None]
    return y.reshape(n, W.shape[0], t, v)


def _temporal(x, a: dict, w: dict):
    """A temporal op over a whole window: the taps gathered at once (im2col), one matmul for conv."""
    taps, span, pad, s = list(a["taps"]), int(a["span"]), int(a["pad"]), int(a["stride"])
    n, c, t, v = x.shape
    t_out = (t + 2 * pad - span) // s + 1
    if t_out < 1:
        raise ProgramError(f"a temporal op of span {span} needs at least {span - 2 * pad} frames, "
                           f"got {t}")
    kind = a["kind"]
    if kind == "pick" and pad == taps[0] and s == 1:
        return x                                       # a same-padded identity residual
    fill = -np.inf if kind == "max" else 0.0
    if pad:
        xp = np.full((n, c, t + 2 * pad, v), fill, np.float32)
        xp[:, :, pad:pad + t] = x
    else:
        xp = x
    stop = s * (t_out - 1) + 1
    cols = [xp[:, :, tap:tap + stop:s] for tap in taps]
    if kind == "pick":
        return np.ascontiguousarray(cols[0])
    if kind == "max":
        y = cols[0].copy()
        for col in cols[1:]:
            np.maximum(y, col, out=y)
        return y
    W = w["W"]                                         # [O, C, k] -> [O, k*C], tap-major
    wk = W.transpose(0, 2, 1).reshape(W.shape[0], -1)
    stacked = np.stack(cols, 1).reshape(n, len(taps) * c, t_out * v)
    y = np.matmul(wk, stacked)
    y += w["b"][None, :, None]
    return y.reshape(n, W.shape[0], t_out, v)


def _gap(block, presence, instances):
    nb, c = block.shape[:2]
    per = block.mean((2, 3)).reshape(nb // instances, instances, c)        # [N, I, C]
    if presence is None:
        return per.mean(1)
    m = presence[:, :, None]
    return (per * m).sum(1) / np.maximum(presence.sum(1, keepdims=True), 1e-6)


def _instances(block, instances):
    """[N*I, C, n, V] -> [N, C, n, V, I], contiguous (what pool_attention takes)."""
    nb, c, t, v = block.shape
    return np.ascontiguousarray(block.reshape(nb // instances, instances, c, t, v)
                                .transpose(0, 2, 3, 4, 1))


class WindowRunner:
    """Runs a program over whole windows (the `native` backend's window mode).

    kernels: bharnet._C (graph_conv, pool_attention) or None for the NumPy reference forms.
    Stateless after construction: run() may be called from several threads.
    """

    def __init__(self, program: Program, weights: dict[str, np.ndarray], kernels=None):
        program.validate()
        missing = [n for n in program.weight_names() if n not in weights]
        if missing:
            raise ProgramError(f"the program's weights are missing {missing[:5]}")
        self.program = program
        self.w = {n: np.ascontiguousarray(weights[n], np.float32) for n in program.weight_names()}
        self.kernels = kernels

    def _weights(self, o: Op) -> dict:
        return {role: self.w[name] for role, name in o.weights.items()}

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray | None] = {"": None}
        for name in self.program.inputs:
            env[name] = np.ascontiguousarray(inputs[name], np.float32)
        for o in self.program.ops:
            env[o.out] = self._op(o, [env[i] for i in o.ins], self._weights(o))
        return {k: env[t] for k, t in self.program.outputs.items()}

    def _op(self, o: Op, x: list, w: dict):
        a, K = o.attrs, self.kernels
        if o.op == "embed":
            n, c, t, v, i = x[0].shape
            h = x[0].transpose(0, 4, 3, 1, 2).reshape(n * i, v * c, t)
            h = h * w["scale"][None, :, None] + w["shift"][None, :, None]
            return np.ascontiguousarray(h.reshape(n * i, v, c, t).transpose(0, 2, 3, 1), np.float32)
        if o.op == "mask_seq":
            return np.ascontiguousarray(x[0][:, None], np.float32)
        if o.op == "gconv":
            res = x[1] if len(x) > 1 else None
            if K is not None:
                return K.graph_conv(x[0], w["A"], w["W"], w["b"], res, bool(a["relu"]))
            y = np.einsum("nctv,kvw,koc->notw", x[0], w["A"], w["W"], optimize=True)
            y += w["b"][None, :, None, None]
            if res is not None:
                y += res
            return _relu(y.astype(np.float32), a["relu"])
        if o.op == "pw":
            return _relu(_pointwise(x[0], w["W"], w["b"]), a["relu"])
        if o.op == "affine":
            y = x[0] * w["scale"][None, :, None, None] + w["shift"][None, :, None, None]
            return _relu(y.astype(np.float32), a["relu"])
        if o.op == "concat":
            return np.concatenate(x, 1)
        if o.op == "add":
            return _relu(x[0] + x[1], a["relu"])
        if o.op == "temporal":
            return _relu(_temporal(x[0], a, w), a["relu"])
        if o.op == "collect":
            steps, spacing = int(a["steps"]), int(a["spacing"])
            t = x[0].shape[2]
            if t != (steps - 1) * spacing + 1:
                raise ProgramError(f"collect of {steps} steps got {t} elements: the window does "
                                   f"not fit this program")
            return x[0][:, :, ::spacing]
        if o.op == "presence":
            return (x[0].max((1, 2)) > 0).astype(np.float32)
        if o.op == "gap":
            return _gap(x[0], x[1] if len(x) > 1 else None, int(a["instances"])).astype(np.float32)
        if o.op == "pool_attention":
            feat, ctx = _instances(x[0], int(a["instances"])), _instances(x[1], int(a["ctx_instances"]))
            if K is None:
                raise ProgramError("pool_attention needs bharnet._C's kernel in the window runner")
            y = K.pool_attention(feat, ctx, x[2], x[3], w["wq"], w["wk"], w["wv"], w["wo"],
                                 int(a["heads"]))
            return (y * float(a["scale"])).astype(np.float32)
        if o.op == "linear":
            return (x[0] @ w["W"].T + w["b"]).astype(np.float32)
        if o.op == "fuse":
            return fuse_logits(x, a["how"])
        raise ProgramError(f"unknown operation {o.op!r}")


__all__ = ["FORMAT", "VERSION", "MEMBER", "WEIGHTS_MEMBER", "SCHEDULES", "STATE_IN", "STATE_OUT", "Op", "Program", "ProgramError",
           "WindowRunner", "to_atrous", "SEQUENCE_OPS", "HEAD_OPS"]
