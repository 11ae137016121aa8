"""bharnet.ops.pool_attention (native forward, recompute backward) against the reference."""
import numpy as np
import pytest
import torch

from bharnet import ops
from bharnet.ops.pool_attention import pool_attention_op
from bharnet.ops.reference import pool_attention_ref

# without bharnet._C: a skip locally, a failure under BHARNET_STRICT=1 (conftest.native_kernels)
pytestmark = pytest.mark.usefixtures("native_kernels")

# (N, C, T, V, I, Cc, T2, V2, I2, D, H): body x hands style pairs, odd joint counts, T=1, N=1.
SHAPES = [
    (1, 8, 1, 17, 1, 6, 1, 21, 2, 8, 2),
    (3, 12, 5, 25, 2, 10, 4, 21, 2, 16, 4),
    (2, 16, 9, 17, 2, 16, 9, 42, 1, 16, 1),
]
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-4)}


def make(shape, dtype, device="cpu", seed=0):
    n, c, t, v, i, cc, t2, v2, i2, d, h = shape
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype).to(device)
    return (r(n, c, t, v, i), r(n, cc, t2, v2, i2), r(d, c) / c ** 0.5, r(d, cc) / cc ** 0.5,
            r(d, cc) / cc ** 0.5, r(c, d) / d ** 0.5)


def masks(shape, device="cpu"):
    """Every pattern that matters: all present, some absent, none present (x and ctx)."""
    n, i, i2 = shape[0], shape[4], shape[8]
    xm = torch.ones(n, i, device=device)
    cm = torch.ones(n, i2, device=device)
    if n > 1:
        xm[0, 0] = 0
        cm[0, -1] = 0
        cm[-1] = 0          # no context instance at all: attention gives zero updates
    if n > 2:
        xm[1] = 0           # no instance of x: the output is zero
    return xm, cm


def check(shape, dtype, use_masks, device="cpu"):
    x, c, wq, wk, wv, wo = make(shape, dtype, device)
    xm, cm = masks(shape, device) if use_masks else (None, None)
    h = shape[-1]
    leaves = [t.clone().requires_grad_() for t in (x, c, wq, wk, wv, wo)]
    with torch.no_grad():  # the native forward (with grad enabled the wrapper uses the reference)
        torch.testing.assert_close(ops.pool_attention(x, c, xm, cm, wq, wk, wv, wo, h),
                                   pool_attention_ref(x, c, xm, cm, wq, wk, wv, wo, h), **TOL[dtype])
    # the op itself, whose autograd rule is the recompute backward
    out = pool_attention_op(leaves[0], leaves[1], xm, cm, *leaves[2:], h)
    ref_leaves = [t.clone().requires_grad_() for t in (x, c, wq, wk, wv, wo)]
    ref = pool_attention_ref(ref_leaves[0], ref_leaves[1], xm, cm, *ref_leaves[2:], h)
    torch.testing.assert_close(out, ref, **TOL[dtype])
    g = torch.randn(out.shape, dtype=dtype, device=device)
    for name, a, e in zip(("x", "ctx", "wq", "wk", "wv", "wo"), torch.autograd.grad(out, leaves, g),
                          torch.autograd.grad(ref, ref_leaves, g)):
        torch.testing.assert_close(a, e, **TOL[dtype], msg=lambda m: f"grad {name}: {m}")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("use_masks", [False, True])
def test_matches_reference(shape, dtype, use_masks):
    check(shape, dtype, use_masks)


def test_masked_samples_are_exact():
    x, c, wq, wk, wv, wo = make(SHAPES[1], torch.float64)
    xm, cm = masks(SHAPES[1])
    out = ops.pool_attention(x, c, xm, cm, wq, wk, wv, wo, SHAPES[1][-1])
    assert torch.all(out[1] == 0)  # sample without any x instance


def test_non_contiguous_and_bool_masks():
    shape = SHAPES[1]
    x, c, wq, wk, wv, wo = make(shape, torch.float64)
    xs = x.transpose(2, 3).contiguous().transpose(2, 3)   # same values, strided
    wqt = wq.t().contiguous().t()
    xm, cm = masks(shape)
    out = ops.pool_attention(xs, c, xm.bool(), cm.bool(), wqt, wk, wv, wo, shape[-1])
    ref = pool_attention_ref(x, c, xm.bool(), cm.bool(), wq, wk, wv, wo, shape[-1])
    torch.testing.assert_close(out, ref, **TOL[torch.float64])


def test_training_uses_the_reference_path():
    x, c, wq, wk, wv, wo = make(SHAPES[1], torch.float32)
    wq.requires_grad_()
    out = ops.pool_attention(x, c, None, None, wq, wk, wv, wo, SHAPES[1][-1])
    via_op = pool_attention_op(x, c, None, None, wq, wk, wv, wo, SHAPES[1][-1])
    assert type(out.grad_fn) is not type(via_op.grad_fn)
    with torch.no_grad():
        assert ops.pool_attention(x, c, None, None, wq, wk, wv, wo, SHAPES[1][-1]).grad_fn is None


def test_opcheck():
    from bharnet.ops.pool_attention import pool_attention_backward_op
    shape = SHAPES[1]
    x, c, wq, wk, wv, wo = make(shape, torch.float64)
    xm, cm = masks(shape)
    args = [x.requires_grad_(), c.requires_grad_(), xm, cm, wq.requires_grad_(), wk, wv, wo, shape[-1]]
    torch.library.opcheck(pool_attention_op, args)
    torch.library.opcheck(pool_attention_op, [x, c, None, None, wq, wk, wv, wo, shape[-1]])
    g = torch.randn(shape[0], shape[1], dtype=torch.float64)
    torch.library.opcheck(pool_attention_backward_op,
                          [g, x.detach(), c.detach(), xm, cm, wq.detach(), wk, wv, wo, shape[-1]])


def test_compile_and_export():
    shape = SHAPES[1]
    x, c, wq, wk, wv, wo = make(shape, torch.float32)
    xm, cm = masks(shape)
    h = shape[-1]
    f = lambda x, c, xm, cm: pool_attention_op(x, c, xm, cm, wq, wk, wv, wo, h)
    want = f(x, c, xm, cm)
    xg = x.clone().requires_grad_()
    got = torch.compile(f, backend="aot_eager", fullgraph=True)(xg, c, xm, cm)
    torch.testing.assert_close(got, want)
    (gx,) = torch.autograd.grad(got.sum(), [xg])
    xr = x.clone().requires_grad_()
    (gx_ref,) = torch.autograd.grad(pool_attention_ref(xr, c, xm, cm, wq, wk, wv, wo, h).sum(), [xr])
    torch.testing.assert_close(gx, gx_ref)

    class M(torch.nn.Module):
        def forward(self, x, c, xm, cm):
            return f(x, c, xm, cm)

    ep = torch.export.export(M(), (x, c, xm, cm))
    assert any("bharnet.pool_attention" in str(n.target) for n in ep.graph.nodes)
    torch.testing.assert_close(ep.module()(x, c, xm, cm), want)


def test_numpy_entry_point():
    from bharnet import _C
    shape = SHAPES[1]
    x, c, wq, wk, wv, wo = make(shape, torch.float32)
    xm, cm = masks(shape)
    out = _C.pool_attention(x.numpy(), c.numpy(), xm.numpy(), cm.numpy(), wq.numpy(), wk.numpy(),
                            wv.numpy(), wo.numpy(), shape[-1])
    ref = pool_attention_ref(x, c, xm, cm, wq, wk, wv, wo, shape[-1]).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    out = _C.pool_attention(x.numpy(), c.numpy(), None, None, wq.numpy(), wk.numpy(), wv.numpy(),
                            wo.numpy(), shape[-1])
    ref = pool_attention_ref(x, c, None, None, wq, wk, wv, wo, shape[-1]).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_bad_heads():
    x, c, wq, wk, wv, wo = make(SHAPES[1], torch.float32)
    with pytest.raises(RuntimeError, match="divisible"):
        ops.pool_attention(x, c, None, None, wq, wk, wv, wo, 3)


def test_unsupported_dtype_is_refused_not_rerouted():
    x, c, wq, wk, wv, wo = (z.to(torch.bfloat16) for z in make(SHAPES[0], torch.float32))
    with torch.no_grad(), pytest.raises(ops.KernelUnavailable, match="pool_attention_ref"):
        ops.pool_attention(x, c, None, None, wq, wk, wv, wo, SHAPES[0][-1])


# ---- CUDA (make gpu-check): the op on CUDA tensors runs bharnet._C's CUDA kernel or raises ----
@pytest.mark.gpu
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_matches_reference(cuda_kernels, shape, dtype):
    check(shape, dtype, use_masks=True, device="cuda")
    check(shape, dtype, use_masks=False, device="cuda")


@pytest.mark.gpu
def test_cuda_agrees_with_the_cpu_kernel(cuda_kernels):
    shape = (8, 256, 16, 17, 1, 256, 16, 21, 2, 128, 4)  # the model's PAM on last-stage features
    x, c, wq, wk, wv, wo = make(shape, torch.float64)
    xm, cm = masks(shape)
    with torch.no_grad():
        on_gpu = ops.pool_attention(*(z.cuda() for z in (x, c, xm, cm, wq, wk, wv, wo)), shape[-1])
        on_cpu = ops.pool_attention(x, c, xm, cm, wq, wk, wv, wo, shape[-1])
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-10, atol=1e-10)
