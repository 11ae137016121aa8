"""The layer program in torch: a window forward (to check a program against the model it came
from) and a step forward (frames in, state in, logits and state out), which the exporter turns
into the ONNX step graph of a streaming model.

Step semantics (see bharnet.program): each call takes `k` new frames (k a multiple of every
sequence's rate, so each strided op fires a whole number of times per call). A temporal op keeps
the last `span - stride` elements of its input as state: concatenated with the call's new
elements they give exactly its outputs for this call, and the last elements again the next state.
A collect keeps what its next block needs. State tensors are [N, I, C, L, V] (the batch axis
first, so it can stay dynamic), named "state.<op output>" in and "state_out.<op output>" out.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from bharnet.ops.reference import pool_attention_ref
from bharnet.program import STATE_IN, STATE_OUT, Program, ProgramError
from bharnet.training.models.bharnet import probability_fusion


def _taps(x, a: dict, pad: int, stride: int):
    """out[j] = f(x[j*stride + tap - pad]); zero (conv) or -inf (max) outside."""
    taps, span = list(a["taps"]), int(a["span"])
    t = x.shape[2]
    t_out = (t + 2 * pad - span) // stride + 1
    if pad:
        fill = float("-inf") if a["kind"] == "max" else 0.0
        x = F.pad(x, (0, 0, pad, pad), value=fill)
    stop = stride * (t_out - 1) + 1
    return [x[:, :, tap:tap + stop:stride] for tap in taps]


def _fuse(zs, how: str):
    """The fuse op as the torch model computes it (sum of logits, or the probability fusions)."""
    if how == "sum":
        return sum(zs)
    if how not in ("noisy_or", "mean"):
        raise ProgramError(f"unknown fusion {how!r}")
    return probability_fusion(zs, how)


class ProgramModule(nn.Module):
    """mode "window": forward(*inputs) -> outputs, over whole windows.
    mode "step": forward(*inputs of k frames, *states) -> (*outputs, *new states)."""

    def __init__(self, program: Program, weights: dict, mode: str = "window", frames_per_call: int = 1):
        super().__init__()
        if mode not in ("window", "step"):
            raise ValueError(f"mode must be window or step, got {mode!r}")
        if mode == "step" and not program.streamable:
            raise ProgramError("a step forward needs a valid (streaming) program: a same-padded "
                               "model's outputs depend on where its window starts")
        self.program, self.mode, self.k = program, mode, int(frames_per_call)
        self._names = {}
        for i, n in enumerate(program.weight_names()):
            self.register_buffer(f"w{i}", torch.as_tensor(weights[n], dtype=torch.float32))
            self._names[n] = f"w{i}"
        self.input_names = list(program.inputs)
        self.output_names = list(program.outputs)
        self.state_specs = self._plan() if mode == "step" else {}

    def weight(self, name: str):
        return getattr(self, self._names[name])

    # ---- what the step state holds -------------------------------------------------------------
    def _plan(self) -> dict:
        """{op output: (instances, channels, elements kept, joints, new elements per call)}."""
        rate = self.program.rates()
        shape = {}   # sequence tensor -> (instances, channels, joints)
        for name, s in self.program.inputs.items():
            shape[name] = (1, 1, s[1]) if name == "hand_mask" else (s[3], s[0], s[2])
        plan = {}
        for o in self.program.ops:
            if o.op == "embed":
                c, v, i = self.program.inputs[o.ins[0]][0], *self.program.inputs[o.ins[0]][2:]
                shape[o.out] = (i, c, v)
            elif o.op == "mask_seq":
                shape[o.out] = shape[o.ins[0]]
            elif o.op in ("gconv", "pw", "temporal") and (o.op != "temporal" or o.attrs["kind"] == "conv"):
                i, _, v = shape[o.ins[0]]
                shape[o.out] = (i, self.weight(o.weights["b"]).shape[0], v)
            elif o.op == "affine":
                shape[o.out] = shape[o.ins[0]]
            elif o.op == "temporal":
                shape[o.out] = shape[o.ins[0]]
            elif o.op == "concat":
                i, _, v = shape[o.ins[0]]
                shape[o.out] = (i, sum(shape[n][1] for n in o.ins), v)
            elif o.op == "add":
                shape[o.out] = shape[o.ins[0]]
            if o.op not in ("temporal", "collect"):
                continue
            r = rate[o.ins[0]]
            if self.k % r:
                raise ProgramError(f"{self.k} frames per call is not a multiple of the rate {r} of "
                                   f"{o.ins[0]!r}")
            m = self.k // r
            if o.op == "temporal":
                s = int(o.attrs["stride"])
                if m % s:
                    raise ProgramError(f"{o.out}: {m} new elements per call do not fill stride {s}")
                keep = int(o.attrs["span"]) - s
            else:
                keep = (int(o.attrs["steps"]) - 1) * int(o.attrs["spacing"]) + 1 - m
                if keep < 0:
                    raise ProgramError(f"{o.out}: {m} new elements per call exceed the block")
            i, c, v = shape[o.ins[0]]
            plan[o.out] = (i, c, keep, v, m)
        return plan

    @property
    def state_names(self) -> list[str]:
        return list(self.state_specs)

    def zero_state(self, batch: int = 1) -> list[torch.Tensor]:
        return [torch.zeros(batch, i, c, keep, v) for i, c, keep, v, _ in self.state_specs.values()]

    # ---- forward ------------------------------------------------------------------------------
    def forward(self, *args):
        n_in = len(self.input_names)
        env = dict(zip(self.input_names, args[:n_in]))
        state = dict(zip(self.state_names, args[n_in:]))
        new_state = {}
        env[""] = None
        for o in self.program.ops:
            env[o.out] = self._op(o, [env[i] for i in o.ins], state, new_state)
        outs = tuple(env[self.program.outputs[n]] for n in self.output_names)
        if self.mode == "window":
            return outs
        return outs + tuple(new_state[n] for n in self.state_names)

    def _history(self, o, x, state, new_state):
        """Step mode: this call's input to a stateful op, with its kept history in front."""
        if self.mode == "window":
            return x
        st = state[o.out]                                   # [N, I, C, L, V]
        n, i, c, keep, v = st.shape
        cat = torch.cat([st.reshape(n * i, c, keep, v), x], 2)
        new_state[o.out] = cat[:, :, cat.shape[2] - keep:].reshape(n, i, c, keep, v)
        return cat

    def _op(self, o, x, state, new_state):
        a = o.attrs
        w = {role: self.weight(name) for role, name in o.weights.items()}
        relu = (lambda y: F.relu(y)) if a.get("relu") else (lambda y: y)
        if o.op == "embed":
            n, c, t, v, i = x[0].shape
            h = x[0].permute(0, 4, 3, 1, 2).reshape(n * i, v * c, t)
            h = h * w["scale"].view(1, -1, 1) + w["shift"].view(1, -1, 1)
            return h.reshape(n * i, v, c, t).permute(0, 2, 3, 1)
        if o.op == "mask_seq":
            return x[0].unsqueeze(1)
        if o.op == "gconv":
            xa = torch.einsum("nctv,kvw->nkctw", x[0], w["A"])
            y = torch.einsum("nkctw,koc->notw", xa, w["W"]) + w["b"].view(1, -1, 1, 1)
            if len(x) > 1:
                y = y + x[1]
            return relu(y)
        if o.op == "pw":
            return relu(torch.einsum("oc,nctv->notv", w["W"], x[0]) + w["b"].view(1, -1, 1, 1))
        if o.op == "affine":
            return relu(x[0] * w["scale"].view(1, -1, 1, 1) + w["shift"].view(1, -1, 1, 1))
        if o.op == "concat":
            return torch.cat(x, 1)
        if o.op == "add":
            return relu(x[0] + x[1])
        if o.op == "temporal":
            seq = self._history(o, x[0], state, new_state)
            pad = int(a["pad"]) if self.mode == "window" else 0
            cols = _taps(seq, a, pad, int(a["stride"]))
            if a["kind"] == "pick":
                return relu(cols[0])
            if a["kind"] == "max":
                return relu(torch.stack(cols, 0).amax(0))
            y = torch.einsum("okc,nkctv->notv", w["W"].permute(0, 2, 1), torch.stack(cols, 1))
            return relu(y + w["b"].view(1, -1, 1, 1))
        if o.op == "collect":
            seq = self._history(o, x[0], state, new_state)
            steps, spacing = int(a["steps"]), int(a["spacing"])
            need = (steps - 1) * spacing + 1
            if self.mode == "window" and seq.shape[2] != need:
                raise ProgramError(f"collect of {steps} steps got {seq.shape[2]} elements")
            return seq[:, :, seq.shape[2] - need::spacing]
        if o.op == "presence":
            return (x[0].amax((1, 2)) > 0).float()
        if o.op == "gap":
            nb, c = x[0].shape[:2]
            inst = int(a["instances"])
            per = x[0].mean((2, 3)).reshape(nb // inst, inst, c)
            if len(x) < 2:
                return per.mean(1)
            m = x[1]
            return (per * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp_min(1e-6)
        if o.op == "pool_attention":
            def inst5(b, i):
                nb, c, t, v = b.shape
                return b.reshape(nb // i, i, c, t, v).permute(0, 2, 3, 4, 1)
            y = pool_attention_ref(inst5(x[0], int(a["instances"])), inst5(x[1], int(a["ctx_instances"])),
                                   x[2], x[3], w["wq"], w["wk"], w["wv"], w["wo"], int(a["heads"]))
            return y * float(a["scale"])
        if o.op == "linear":
            return x[0] @ w["W"].t() + w["b"]
        if o.op == "fuse":
            return _fuse(x, a["how"])
        raise ProgramError(f"unknown operation {o.op!r}")


__all__ = ["ProgramModule"]
