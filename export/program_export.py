"""A trained BHaRNet (torch) -> its layer program (bharnet.program) and the folded weights.

Every BatchNorm is folded here, once: the runtimes see only affine maps, 1x1 convs, graph convs
and temporal taps. The result is checked against the torch model by the bundle builder.
"""
from __future__ import annotations

import numpy as np
import torch.nn as nn

from bharnet.program import Op, Program, ProgramError
from bharnet.variants import get_variant


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _bn(bn) -> tuple[np.ndarray, np.ndarray]:
    """An eval BatchNorm as (scale, shift) per channel."""
    s = _np(bn.weight) / np.sqrt(_np(bn.running_var) + bn.eps)
    return s, _np(bn.bias) - _np(bn.running_mean) * s


class _Writer:
    """Accumulates ops and float32 weights under unique, readable names."""

    def __init__(self):
        self.ops: list[Op] = []
        self.weights: dict[str, np.ndarray] = {}

    def op(self, kind: str, ins: list[str], out: str, attrs: dict | None = None, **weights) -> str:
        names = {}
        for role, value in weights.items():
            names[role] = f"{out}.{role}"
            self.weights[names[role]] = np.ascontiguousarray(value, np.float32)
        self.ops.append(Op(kind, list(ins), out, dict(attrs or {}), names))
        return out


def _conv1x1(conv, bn=None) -> tuple[np.ndarray, np.ndarray]:
    """Conv2d 1x1 (+ a BatchNorm after it) -> (W [O,C], b [O])."""
    W = _np(conv.weight)[:, :, 0, 0]
    b = _np(conv.bias) if conv.bias is not None else np.zeros(W.shape[0])
    if bn is not None:
        s, t = _bn(bn)
        W, b = W * s[:, None], b * s + t
    return W, b


class _Expert:
    """Writes one expert's backbone: embed, then every block."""

    def __init__(self, w: _Writer, padding: str):
        self.w, self.padding = w, padding

    def embed(self, backbone, inp: str, name: str, instances: int) -> str:
        s, t = _bn(backbone.data_bn)
        return self.w.op("embed", [inp], f"{name}.in", {"instances": instances}, scale=s, shift=t)

    def blocks(self, blocks, x: str, name: str, first: int = 0) -> str:
        for i, blk in enumerate(blocks):
            x = self.block(blk, x, f"{name}.{first + i}")
        return x

    # ---- one ST block: relu(TCN(GCN(x)) + residual(x)) -------------------------------------
    def block(self, blk, x: str, p: str) -> str:
        from bharnet.training.models.backbone import GraphConvUnit, MultiScaleTCN, PlainTCN

        if not isinstance(blk.gcn, GraphConvUnit):
            raise ProgramError(f"{type(blk.gcn).__name__} units have no layer program (their "
                               "topology is a per-window statistic); the native runtime runs ST-GCN++ units")
        g = self.gcn(blk.gcn, x, p)
        if isinstance(blk.tcn, PlainTCN):
            y, d = self.plain_tcn(blk.tcn, g, p)
        elif isinstance(blk.tcn, MultiScaleTCN):
            y, d = self.ms_tcn(blk.tcn, g, p)
        else:
            raise ProgramError(f"unknown temporal unit {type(blk.tcn).__name__}")
        stride = self.stride_of(blk.tcn)
        if blk.res is None:   # the first block: relu(TCN(GCN(x))), fused into the TCN's last op
            last = self.w.ops[-1]
            assert last.out == y
            last.attrs["relu"] = True
            return y
        r = self.pick(x, d, stride, f"{p}.res.pick")
        if not isinstance(blk.res, nn.Identity):
            Wr, br = _conv1x1(blk.res[0], blk.res[1])
            r = self.w.op("pw", [r], f"{p}.res", {"relu": False}, W=Wr, b=br)
        return self.w.op("add", [y, r], f"{p}.out", {"relu": True})

    @staticmethod
    def stride_of(tcn) -> int:
        from bharnet.training.models.backbone import PlainTCN

        conv = tcn[0] if isinstance(tcn, PlainTCN) else tcn.branches[-1]
        return int(conv.stride[0])

    def gcn(self, unit, x: str, p: str) -> str:
        s, t = _bn(unit.bn)
        W = _np(unit.weight) * s[None, :, None]                        # [K, O, C]
        b = _np(unit.bias) * s + t
        ins = [x]
        if not isinstance(unit.down, nn.Identity):
            Wd, bd = _conv1x1(unit.down[0], unit.down[1])
            ins.append(self.w.op("pw", [x], f"{p}.gcn.down", {"relu": False}, W=Wd, b=bd))
        else:
            ins.append(x)
        return self.w.op("gconv", ins, f"{p}.gcn", {"relu": True}, A=_np(unit.A), W=W, b=b)

    def taps(self, d: int, dilation: int, k: int) -> dict:
        """Attrs for k taps `dilation` apart, centred on the block's half-span d."""
        half = dilation * (k - 1) // 2
        return {"taps": [d - half + j * dilation for j in range(k)], "span": 2 * d + 1,
                "pad": d if self.padding == "same" else 0}

    def pick(self, x: str, d: int, stride: int, out: str) -> str:
        return self.w.op("temporal", [x], out, {"kind": "pick", **self.taps(d, 1, 1),
                                                 "stride": stride, "relu": False})

    def plain_tcn(self, tcn, x: str, p: str) -> tuple[str, int]:
        conv, bn = tcn[0], tcn[1]
        k, dil = conv.kernel_size[0], conv.dilation[0]
        d = dil * (k - 1) // 2
        s, t = _bn(bn)
        W = _np(conv.weight)[:, :, :, 0] * s[:, None, None]            # [O, C, k]
        b = _np(conv.bias) * s + t
        y = self.w.op("temporal", [x], f"{p}.tcn", {"kind": "conv", **self.taps(d, dil, k),
                                                     "stride": int(conv.stride[0]), "relu": False},
                      W=W, b=b)
        return y, d

    def ms_tcn(self, tcn, x: str, p: str) -> tuple[str, int]:
        *dilated, pool_branch, one = tcn.branches
        dils = [br[3].dilation[0] for br in dilated]
        d = max(dils + [1])
        stride = int(one.stride[0])
        outs = []
        for j, br in enumerate(dilated):
            W1, b1 = _conv1x1(br[0], br[1])
            h = self.w.op("pw", [x], f"{p}.tcn.b{j}.in", {"relu": True}, W=W1, b=b1)
            conv = br[3]
            k = conv.kernel_size[0]
            W = _np(conv.weight)[:, :, :, 0]
            outs.append(self.w.op("temporal", [h], f"{p}.tcn.b{j}",
                                  {"kind": "conv", **self.taps(d, conv.dilation[0], k),
                                   "stride": stride, "relu": False},
                                  W=W, b=_np(conv.bias)))
        W1, b1 = _conv1x1(pool_branch[0], pool_branch[1])
        h = self.w.op("pw", [x], f"{p}.tcn.pool.in", {"relu": True}, W=W1, b=b1)
        k = pool_branch[3].kernel_size[0] if isinstance(pool_branch[3].kernel_size, tuple) else \
            pool_branch[3].kernel_size
        outs.append(self.w.op("temporal", [h], f"{p}.tcn.pool",
                              {"kind": "max", **self.taps(d, 1, int(k)), "stride": stride,
                               "relu": False}))
        picked = self.pick(x, d, stride, f"{p}.tcn.one.pick")
        W1, b1 = _conv1x1(one)
        outs.append(self.w.op("pw", [picked], f"{p}.tcn.one", {"relu": False}, W=W1, b=b1))
        cat = self.w.op("concat", outs, f"{p}.tcn.cat")
        s0, t0 = _bn(tcn.fuse[0])
        h = self.w.op("affine", [cat], f"{p}.tcn.fuse.in", {"relu": True}, scale=s0, shift=t0)
        Wf, bf = _conv1x1(tcn.fuse[2], tcn.bn)                          # the TCN's BN folds in
        return self.w.op("pw", [h], f"{p}.tcn", {"relu": False}, W=Wf, b=bf), d


def _linear(w: _Writer, head, x: str, out: str) -> str:
    lin = head[1]
    return w.op("linear", [x], out, W=_np(lin.weight), b=_np(lin.bias))


def program_of(model, spec) -> tuple[Program, dict[str, np.ndarray]]:
    """(program, weights) of an eval BHaRNet for inputs shaped as `spec` (bharnet.data.InputSpec)."""
    from bharnet.training.models.backbone import GCNBackbone

    variant = get_variant(model.variant)
    backbones = [m for m in model.modules() if isinstance(m, GCNBackbone)]
    paddings = {getattr(b.cfg, "temporal_padding", "same") for b in backbones}
    if len(paddings) != 1:
        raise ProgramError(f"experts with different temporal padding {sorted(paddings)}")
    padding = paddings.pop()
    w = _Writer()
    ex = _Expert(w, padding)
    m = spec.num_person
    shapes = spec.input_shapes()

    def collect(x: str, out: str) -> str:
        return w.op("collect", [x], out, {"steps": 0, "spacing": 1})   # steps set below

    feats, presence = {}, ""
    if variant.has_hand:
        mask = w.op("mask_seq", ["hand_mask"], "hand_mask.seq")
        presence = w.op("presence", [collect(mask, "hand_mask.block")], "hand.presence")
    experts = {"body": ("body", m), "hand": ("hand", 2 * m), "unified": ("joints", m)}
    for e in variant.experts:
        inp, inst = experts[e]
        bb = getattr(model, e)
        x = ex.embed(bb, inp, e, inst)
        if variant.private_branches:
            trunk = ex.blocks(bb.blocks[:model.branch_from], x, e)
            feats[e] = ex.blocks(bb.blocks[model.branch_from:], trunk, e, model.branch_from)
            private = ex.blocks(getattr(model, f"{e}_private"), trunk, f"{e}.private", model.branch_from)
            feats[e + "_private"] = private
        else:
            feats[e] = ex.blocks(bb.blocks, x, e)
    blocks = {k: collect(v, f"{k}.block") for k, v in feats.items()}
    inst = {"body": m, "hand": 2 * m, "unified": m}
    mask_of = {"body": "", "hand": presence, "unified": ""}
    logits = {}
    for e in variant.experts:
        if variant.pooling == "pam":
            other = "hand" if e == "body" else "body"
            pam = getattr(model, f"{e}_pam")
            pooled = w.op("pool_attention", [blocks[e], blocks[other], mask_of[e], mask_of[other]],
                          f"{e}.pooled", {"instances": inst[e], "ctx_instances": inst[other],
                                          "heads": pam.heads, "scale": 1.0 / 3.0},
                          wq=_np(pam.wq), wk=_np(pam.wk), wv=_np(pam.wv), wo=_np(pam.wo))
        else:
            ins = [blocks[e]] + ([mask_of[e]] if mask_of[e] else [])
            pooled = w.op("gap", ins, f"{e}.pooled", {"instances": inst[e]})
        logits[e] = _linear(w, getattr(model, f"{e}_head"), pooled, f"{e}.logits")
        if variant.private_branches:
            ins = [blocks[e + "_private"]] + ([mask_of[e]] if mask_of[e] else [])
            pooled = w.op("gap", ins, f"{e}.private.pooled", {"instances": inst[e]})
            logits[e + "_private"] = _linear(w, getattr(model, f"{e}_private_head"), pooled,
                                             f"{e}.private.logits")
    if variant.fusion == "single":
        fused = logits[variant.experts[0]]
    else:
        fused = w.op("fuse", list(logits.values()), "fused", {"how": variant.fusion})
    outputs = {"logits": fused}
    if variant.has_body:
        outputs["body_logits"] = logits["body"]
    if variant.has_hand:
        outputs["hand_logits"] = logits["hand"]
    inputs = {k: list(v) for k, v in shapes.items()}
    prog = Program(inputs, w.ops, {k: outputs[k] for k in model.output_names}, int(spec.window),
                   padding)
    _set_collect_steps(prog)
    prog.validate()
    return prog, w.weights


def _set_collect_steps(prog: Program) -> None:
    """Each collect takes the whole sequence the program's window leaves it (its final length)."""
    n = prog.lengths()
    for o in prog.ops:
        if o.op == "collect":
            o.attrs["steps"] = n[o.ins[0]]


__all__ = ["program_of"]
