"""Native backend: the bundle's weights.safetensors run by bharnet._C's CPU kernels (graph
convolution with folded BatchNorm, residual and ReLU fused; pooling attention) and NumPy for the
rest. No torch, no onnxruntime.

Covers what the edge models use: ST-GCN++ units with the plain 9x1 temporal conv ("conv" TCN),
and the vanilla, pam, noisy_or, late_fusion, body_only and hand_only variants. Anything else is
refused with BackendUnavailable (use onnxruntime).
"""
from __future__ import annotations

import numpy as np

from .base import BackendUnavailable

_EPS = 1e-5          # torch BatchNorm's default eps, which the models use
_SUPPORTED = ("vanilla", "pam", "noisy_or", "late_fusion", "body_only", "hand_only")


def _bn(w: dict, p: str) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm (eval) as a per-channel scale and shift."""
    s = w[p + ".weight"] / np.sqrt(w[p + ".running_var"] + _EPS)
    return s.astype(np.float32), (w[p + ".bias"] - w[p + ".running_mean"] * s).astype(np.float32)


def _conv1x1_bn(w: dict, p: str):
    """nn.Sequential(Conv2d 1x1, BN) -> folded (W [O,C], b [O])."""
    s, t = _bn(w, p + ".1")
    W = w[p + ".0.weight"][:, :, 0, 0] * s[:, None]
    return W.astype(np.float32), (w[p + ".0.bias"] * s + t).astype(np.float32)


class _Block:
    def __init__(self, w: dict, p: str, stride: int, first: bool):
        g = p + ".gcn"
        s, t = _bn(w, g + ".bn")
        self.A = np.ascontiguousarray(w[g + ".A"], np.float32)
        self.W = np.ascontiguousarray(w[g + ".weight"] * s[None, :, None], np.float32)
        self.b = (w[g + ".bias"] * s + t).astype(np.float32)
        self.down = _conv1x1_bn(w, g + ".down") if g + ".down.0.weight" in w else None
        ts, tt = _bn(w, p + ".tcn.1")
        k = w[p + ".tcn.0.weight"][:, :, :, 0]                      # [O, C, 9]
        self.tW = np.ascontiguousarray((k * ts[:, None, None]).transpose(2, 0, 1), np.float32)
        self.tb = (w[p + ".tcn.0.bias"] * ts + tt).astype(np.float32)
        self.stride = stride
        if first:
            self.res = None
        elif p + ".res.0.weight" in w:
            self.res = _conv1x1_bn(w, p + ".res")
        else:
            self.res = "identity"

    def __call__(self, C, x: np.ndarray) -> np.ndarray:
        down = x if self.down is None else _pointwise(x, *self.down)
        y = C.graph_conv(x, self.A, self.W, self.b, np.ascontiguousarray(down), True)
        y = _temporal(y, self.tW, self.tb, self.stride)
        if self.res is None:
            return np.maximum(y, 0, out=y)
        r = x if isinstance(self.res, str) else _pointwise(x[:, :, ::self.stride], *self.res)
        y += r
        return np.maximum(y, 0, out=y)


def _pointwise(x, W, b):
    n, c, t, v = x.shape
    y = np.matmul(W, x.reshape(n, c, t * v)) + b[None, :, None]
    return y.reshape(n, W.shape[0], t, v)


def _temporal(x, W, b, stride):
    """9x1 temporal conv with zero padding 4, as one matmul over the stacked taps (im2col)."""
    k = W.shape[0]
    pad = k // 2
    n, c, t, v = x.shape
    xp = np.zeros((n, c, t + 2 * pad, v), np.float32)
    xp[:, :, pad:pad + t] = x
    t_out = (t - 1) // stride + 1
    cols = np.empty((n, k, c, t_out, v), np.float32)
    for j in range(k):
        cols[:, j] = xp[:, :, j:j + stride * (t_out - 1) + 1:stride]
    wk = W.transpose(1, 0, 2).reshape(W.shape[1], k * c)            # [O, K*C], tap-major
    y = np.matmul(wk, cols.reshape(n, k * c, t_out * v)) + b[None, :, None]
    return y.reshape(n, W.shape[1], t_out, v)


class _Expert:
    def __init__(self, w: dict, p: str, backbone: dict):
        self.data_bn = _bn(w, p + ".data_bn")
        n = 1 + max(int(k.split(".")[2]) for k in w if k.startswith(p + ".blocks."))
        downs = set(backbone.get("down_stages", (5, 8)))
        self.blocks = [_Block(w, f"{p}.blocks.{i}", 2 if (i + 1) in downs and i > 0 else 1, i == 0)
                       for i in range(n)]

    def __call__(self, C, x: np.ndarray) -> np.ndarray:
        """[N,C,T,V,M] -> features [N,C',T',V,M]."""
        n, c, t, v, m = x.shape
        h = x.transpose(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        s, sh = self.data_bn
        h = h * s[None, :, None] + sh[None, :, None]
        h = np.ascontiguousarray(h.reshape(n * m, v, c, t).transpose(0, 2, 3, 1), np.float32)
        for blk in self.blocks:
            h = blk(C, h)
        _, c2, t2, _ = h.shape
        return h.reshape(n, m, c2, t2, v).transpose(0, 2, 3, 4, 1)


def _gap(feat, mask=None):
    if mask is None:
        return feat.mean((2, 3, 4))
    per = feat.mean((2, 3))                                            # [N, C, I]
    return (per * mask[:, None]).sum(2) / np.maximum(mask.sum(1, keepdims=True), 1e-6)


def _log_fused(zs, how):
    ps = []
    for z in zs:
        e = np.exp(z - z.max(-1, keepdims=True))
        ps.append(e / e.sum(-1, keepdims=True))
    if how == "noisy_or":
        fused = 1.0 - np.prod([1.0 - p for p in ps], axis=0)
    else:
        fused = sum(ps) / len(ps)
    fused = fused / fused.sum(-1, keepdims=True)
    return np.log(np.maximum(fused, 1e-12)).astype(np.float32)


class NativeBackend:
    name = "native"
    thread_safe = True  # no state is written while running

    def __init__(self, bundle, device: str | None = None, threads: int | None = None):
        if device is not None and not str(device).startswith("cpu"):
            raise BackendUnavailable(f"backend 'native' runs on the CPU only, not {device!r}")
        try:
            from bharnet import _C
        except ImportError as e:
            raise BackendUnavailable(f"backend 'native' needs the compiled bharnet._C ({e})") from None
        if not (hasattr(_C, "graph_conv") and hasattr(_C, "pool_attention")):
            raise BackendUnavailable("backend 'native': bharnet._C lacks the numpy kernels")
        meta = bundle.metadata
        mc = meta.get("model_config") or (meta.get("config") or {}).get("model") or {}
        variant = meta.get("variant")
        bb = {**mc.get("backbone", {})}
        hb = {**bb, **mc.get("hand_backbone", {})}
        for cfg in (bb, hb):
            if cfg.get("gcn", "stgcnpp") != "stgcnpp" or cfg.get("tcn", "mstcn") != "conv":
                raise BackendUnavailable("backend 'native' runs ST-GCN++ units with the plain "
                                         f"temporal conv only (this model: {cfg}); use onnxruntime")
        if variant not in _SUPPORTED:
            raise BackendUnavailable(f"backend 'native' does not run the {variant!r} variant; "
                                     f"use onnxruntime")
        if threads:
            _C.set_num_threads(int(threads))
        w = {k: np.asarray(v, np.float32) for k, v in bundle.weights().items()
             if not k.endswith("num_batches_tracked")}
        self._C, self.variant = _C, variant
        self.body = _Expert(w, "body", bb) if "body.data_bn.weight" in w else None
        self.hand = _Expert(w, "hand", hb) if "hand.data_bn.weight" in w else None
        self.heads = {e: (w[f"{e}_head.1.weight"], w[f"{e}_head.1.bias"])
                      for e in ("body", "hand") if f"{e}_head.1.weight" in w}
        if variant == "pam":
            heads = int(mc.get("pam", {}).get("heads", 4))
            self.pam = {e: (w[f"{e}_pam.wq"], w[f"{e}_pam.wk"], w[f"{e}_pam.wv"], w[f"{e}_pam.wo"],
                            heads) for e in ("body", "hand")}
        self.input_names = tuple(meta["input_names"])
        self.output_names = tuple(meta["output_names"])

    def _head(self, e, f):
        W, b = self.heads[e]
        return (f @ W.T + b).astype(np.float32)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        C = self._C
        x = {k: np.ascontiguousarray(inputs[k], np.float32) for k in self.input_names}
        present = None
        if "hand_mask" in x:
            present = (x["hand_mask"].max(1) > 0).astype(np.float32)  # [N, 2M]
        fb = self.body(C, x["body"]) if self.body is not None else None
        fh = self.hand(C, x["hand"]) if self.hand is not None else None
        zb = zh = None
        if self.variant == "pam":
            def pa(e, f, ctx, fm, cm):
                wq, wk, wv, wo, h = self.pam[e]
                return C.pool_attention(np.ascontiguousarray(f), np.ascontiguousarray(ctx),
                                        fm, cm, wq, wk, wv, wo, h) / 3.0
            zb = self._head("body", pa("body", fb, fh, None, present))
            zh = self._head("hand", pa("hand", fh, fb, present, None))
        else:
            if fb is not None:
                zb = self._head("body", _gap(fb))
            if fh is not None:
                zh = self._head("hand", _gap(fh, present))
        if self.variant == "body_only":
            fused = zb
        elif self.variant == "hand_only":
            fused = zh
        elif self.variant in ("noisy_or", "late_fusion"):
            fused = _log_fused([zb, zh], "noisy_or" if self.variant == "noisy_or" else "mean")
        else:
            fused = zb + zh
        out = {"logits": fused, "body_logits": zb, "hand_logits": zh}
        return {k: out[k] for k in self.output_names}
