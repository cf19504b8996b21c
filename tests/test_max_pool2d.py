"""cnnops.max_pool2d against torch.nn.functional.max_pool2d: every window configuration, dtype
and layout; ties, -inf and NaN; windows that hold no element; the no-index route; shapes drawn by
hypothesis; gradcheck. The checks are in pool_checks.py."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

import cnnops
from cases import MAX_CONFIGS, case_id
from helpers import assert_layout_like, rand
from pool_checks import (DTYPES, LAYOUTS, check_max, distinct, empty_window, grad_of, max_both, out_size,
                         pool_axis)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", MAX_CONFIGS, ids=case_id)
def test_max_pool2d_matches_torch(c, layout, dtype):
    x = rand(*c["shape"], dtype=dtype, layout=layout, requires_grad=True)
    check_max(x, c)


@pytest.mark.parametrize("c", MAX_CONFIGS[:6], ids=case_id)
def test_max_pool2d_without_indices(c):
    x = rand(*c["shape"], requires_grad=True)
    yc, yt = max_both(x, c, return_indices=False)
    assert isinstance(yc, torch.Tensor) and torch.equal(yc, yt)
    g = rand(*yt.shape)
    assert torch.equal(grad_of(yc, x, g), grad_of(yt, x, g))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("c", MAX_CONFIGS[:6], ids=case_id)
def test_max_pool2d_unbatched(c, dtype):
    x = rand(*c["shape"][1:], dtype=dtype, requires_grad=True)
    yc, ic = check_max(x, c)
    assert yc.dim() == 3 and ic.dim() == 3


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("c", MAX_CONFIGS[:4], ids=case_id)
def test_max_pool2d_empty_batch(c, layout):
    x = rand(0, *c["shape"][1:], layout=layout, requires_grad=True)
    (yc, ic), (yt, it) = max_both(x, c)
    assert yc.shape == yt.shape and ic.shape == it.shape and yc.shape[0] == 0
    assert_layout_like(yc, yt)
    g = rand(*yt.shape)
    gc, gt = grad_of(yc, x, g), grad_of(yt, x, g)
    assert gc.shape == gt.shape == x.shape


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 3, 5, 7, 10)], ids=case_id)
def test_max_pool2d_ties(c, layout, dtype):
    """Many equal values per window: torch keeps the first maximum in (row, col) scan order."""
    shape = c["shape"]
    base = torch.randint(0, 3, shape).to(dtype)
    if layout == "channels_last":
        base = base.contiguous(memory_format=torch.channels_last)
    elif layout == "strided":
        big = torch.randint(0, 3, (shape[0], shape[1] * 2, shape[2] + 1, shape[3] * 2)).to(dtype)
        base = big[:, ::2, 1:, ::2]
    x = base.requires_grad_()
    check_max(x, c)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 5, 8)], ids=case_id)
def test_max_pool2d_neg_inf(c, layout, dtype):
    """-inf entries, and whole windows of -inf (the index is then the window's first element)."""
    x = rand(*c["shape"], dtype=dtype, layout=layout)
    with torch.no_grad():
        x[torch.rand(x.shape) < 0.5] = -math.inf
        x[0, 0] = -math.inf  # an all -inf plane
    x.requires_grad_()
    check_max(x, c)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 5, 8)], ids=case_id)
def test_max_pool2d_nan(c, layout, dtype):
    """NaN wins (the last NaN in scan order, as torch), mixed with +-inf and ties."""
    x = rand(*c["shape"], dtype=dtype, layout=layout)
    with torch.no_grad():
        r = torch.rand(x.shape)
        x[r < 0.15] = math.nan
        x[(r >= 0.15) & (r < 0.25)] = math.inf
        x[(r >= 0.25) & (r < 0.35)] = -math.inf
        x[0, 0] = math.nan  # an all-NaN plane
    x.requires_grad_()
    check_max(x, c)


def test_max_pool2d_first_max_wins_explicit():
    """A hand-made plane: ties inside a window resolve to the first one in row-major order."""
    x = torch.tensor([[[[1., 5., 5.], [5., 2., 5.], [0., 5., 1.]]]], dtype=torch.float64)
    yc, ic = cnnops.max_pool2d(x, 2, 1, return_indices=True)
    yt, it = F.max_pool2d(x, 2, 1, return_indices=True)
    assert torch.equal(ic, it) and torch.equal(yc, yt)
    assert ic.flatten().tolist() == [1, 1, 3, 5]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 2, 1, 1), (1, 1, 2, 1), (2, 3, 1, 3), (2, 2, 3, 1)], ids=str)
def test_max_pool2d_empty_window(shape, layout):
    """kernel (1, 2), dilation (1, 2), padding (0, 1): on a 1-wide input the window at ow = 0 covers
    iw = -1 (padding) and iw = 1 (past the input) and so holds no element. torch (and cnnops)
    give -inf and the index the window's scan starts from, ih0 * W + 1: outside the plane (or, for
    ih0 < H - 1, the first element of the next row, not in the window). torch's backward adds the
    gradient at that offset whatever it is: into the next plane or past the buffer (undefined
    behaviour). cnnops must match torch's forward (values and indices), and its backward must
    not raise: it must give torch's gradient without the out-of-plane writes, i.e. scatter each
    output gradient to its index when that index lies inside its own plane."""
    x = rand(*shape, layout=layout, requires_grad=True)
    args = ((1, 2), 1, (0, 1), (1, 2))
    yc, ic = cnnops.max_pool2d(x, *args, return_indices=True)
    yt, it = F.max_pool2d(x.detach(), *args, return_indices=True)
    assert torch.equal(yc, yt) and torch.equal(ic, it)
    g = rand(*yt.shape)
    gc = grad_of(yc, x, g)
    # reference: scatter each gradient to its index when that index is inside its own plane
    N, C, H, W = x.shape
    expected = torch.zeros(N, C, H * W, dtype=torch.float64)
    idx = it.reshape(N, C, -1)
    inside = (idx >= 0) & (idx < H * W)
    expected.scatter_add_(2, idx.clamp(0, H * W - 1), torch.where(inside, g.reshape(N, C, -1), 0.0))
    assert torch.equal(gc, expected.view(x.shape))


@given(h=pool_axis(True), w=pool_axis(True), nc=st.tuples(st.integers(1, 2), st.integers(1, 3)),
       ceil=st.booleans(), default_stride=st.booleans(), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([torch.float64, torch.float32]), ties=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_max_pool2d_hypothesis(h, w, nc, ceil, default_stride, layout, dtype, ties, seed):
    torch.manual_seed(seed)
    (H, kh, sh, ph, dh), (W, kw, sw, pw, dw) = h, w
    shape = nc + (H, W)
    c = dict(k=(kh, kw), s=None if default_stride else (sh, sw), p=(ph, pw), d=(dh, dw), ceil=ceil, shape=shape)
    stride = (kh, kw) if default_stride else (sh, sw)
    P, Q = out_size(H, kh, ph, stride[0], dh, ceil), out_size(W, kw, pw, stride[1], dw, ceil)
    assume(P >= 1 and Q >= 1)
    # windows with no input element at all: torch's gradient is garbage there (test_max_pool2d_empty_window)
    assume(not empty_window(H, kh, ph, stride[0], dh, P) and not empty_window(W, kw, pw, stride[1], dw, Q))
    x = rand(*shape, dtype=dtype, layout=layout)
    if ties:
        x = torch.randint(0, 3, x.shape).to(dtype).contiguous(memory_format=torch.channels_last) if (
            layout == "channels_last") else torch.randint(0, 3, x.shape).to(dtype)
    x.requires_grad_()
    try:
        F.max_pool2d(x.detach(), c["k"], c["s"], c["p"], c["d"], ceil)
    except Exception as e:  # torch rejects this combination: cnnops must reject it with the same type
        with pytest.raises(type(e)):
            cnnops.max_pool2d(x, c["k"], c["s"], c["p"], c["d"], ceil)
        return
    check_max(x, c)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(2, 3), stride=(2, 1),
                                padding=(1, 0), dilation=(1, 2), ceil_mode=True)], ids=["k3s1p1", "nonsquare_dil_ceil"])
def test_max_pool2d_gradcheck(kw, layout):
    x = distinct(2, 2, 5, 6)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    f = lambda t: cnnops.max_pool2d(t, **kw)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16], ids=str)
def test_max_pool2d_values_op_and_inference_route(dtype, layout, monkeypatch):
    """max_pool2d_values (no indices) gives max_pool2d_forward's values bit for bit, in its layout;
    cnnops.max_pool2d takes it exactly when no indices are asked for and no gradient can flow."""
    x = rand(2, 5, 13, 11, dtype=dtype, layout=layout)
    args = ([3, 3], [2, 2], [1, 1], [1, 1], True)
    y, _ = torch.ops.cnnops.max_pool2d_forward(x, *args)
    values = torch.ops.cnnops.max_pool2d_values(x, *args)
    assert torch.equal(values, y) and values.stride() == y.stride()
    calls = []
    real = torch.ops.cnnops.max_pool2d_values

    class Spy:
        def __getattr__(self, name):
            if name == "max_pool2d_values":
                return lambda *a: calls.append(name) or real(*a)
            return getattr(torch.ops.cnnops, name)

    monkeypatch.setattr(cnnops.functional.torch.ops, "cnnops", Spy())
    assert torch.equal(cnnops.max_pool2d(x, 3, 2, 1, ceil_mode=True), y) and calls == ["max_pool2d_values"]
    cnnops.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    with torch.no_grad():
        cnnops.max_pool2d(x.requires_grad_(), 3, 2, 1, ceil_mode=True)
    assert calls == ["max_pool2d_values"] * 2
    out = cnnops.max_pool2d(x, 3, 2, 1, ceil_mode=True)  # x requires grad now: the indexed route
    assert calls == ["max_pool2d_values"] * 2 and out.grad_fn is not None


def test_max_pool2d_values_is_not_differentiable():
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    y = torch.ops.cnnops.max_pool2d_values(x, [2, 2], [2, 2], [0, 0], [1, 1], False)
    with pytest.raises(RuntimeError, match="max_pool2d_values is not differentiable"):
        y.sum().backward()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (3, 1, 1, 1, False), (3, 2, 1, 1, True), (2, 2, 0, 1, False), (3, 1, 1, 2, False), (5, 3, 2, 1, True),
    (3, 2, 1, 3, True)])
def test_channels_last_backward_gathers_the_plane_kernels_bits(kernel, stride, padding, dilation, ceil_mode, dtype):
    """The channels-last max backward gathers, per input element, the gradients whose saved index
    is that element, in (oh, ow) order, rounding after each addition: the plane kernel's scatter
    bit for bit -- overlapping windows, dilation (holders a window skips), ceil_mode's clipped
    windows, and ties everywhere (values 0-3), so many outputs route to one element."""
    torch.manual_seed(0)
    x = torch.randint(0, 4, (2, 37, 13, 11)).to(dtype)
    go = torch.randn(cnnops.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode).shape).to(dtype)
    grads = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        t = x.contiguous(memory_format=fmt).requires_grad_()
        y = cnnops.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        grads.append(torch.autograd.grad(y, t, go.contiguous(memory_format=fmt))[0])
    assert grads[1].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(grads[0], grads[1])
