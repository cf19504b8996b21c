"""What the pooling tests of every op share: torch's output-size rule written out independently,
random gradients in a chosen layout, and one check per op that runs cnnops and torch on the same
input and compares values, indices, gradients and memory formats.

Reference: torch itself. Max pooling must match torch exactly (values, int64 indices, gradients,
in every dtype: it only selects and adds in the same order). Average pooling is compared with
torch run in float64 on the same (already rounded) inputs, within helpers' scaled tolerances.
Output and gradient memory formats must match torch's (assert_layout_like).
"""
import math

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

import cnnops
from helpers import assert_close_scaled, assert_layout_like, rand


DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


LAYOUTS = ["contiguous", "channels_last", "strided"]


def out_size(n, k, p, s, d, ceil):
    """torch's pooling_output_shape, written out independently of cnnops/_args.py."""
    eff = d * (k - 1) + 1
    if ceil:
        out = -(-(n + 2 * p - eff) // s) + 1
        if (out - 1) * s >= n + p:
            out -= 1
    else:
        out = (n + 2 * p - eff) // s + 1
    return out


def empty_window(n, k, p, s, d, out):
    """Whether some window along this axis holds no input element (only padding, or dilation
    steps over the whole input): possible when dilation > 1."""
    return any(all(not 0 <= o * s - p + j * d < n for j in range(k)) for o in range(out))


def grad_of(y, x, g):
    (gx,) = torch.autograd.grad(y, x, g)
    return gx


def grad_output_for(y, grad_layout="like"):
    """A random gradient for y: in y's own memory format ("like", as autograd's randn_like makes
    it; channels-last outputs then take the channels-innermost backward kernels), or in the one
    named ("contiguous": a channels-last input's gradient arrives NCHW, the plane kernels)."""
    if grad_layout == "like":
        channels_last = y.dim() == 4 and not y.is_contiguous() and y.is_contiguous(memory_format=torch.channels_last)
        grad_layout = "channels_last" if channels_last else "contiguous"
    return rand(*y.shape, dtype=y.dtype, layout=grad_layout)


def equal_nan(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(torch.isnan(a), torch.isnan(b)) and torch.equal(
        torch.nan_to_num(a, nan=0.0), torch.nan_to_num(b, nan=0.0))


def max_both(x, c, return_indices=True):
    args = (c["k"], c["s"], c["p"], c["d"], c["ceil"])
    yc = cnnops.max_pool2d(x, *args, return_indices=return_indices)
    yt = F.max_pool2d(x, *args, return_indices=return_indices)
    return yc, yt


def check_max(x, c, grad_layout="like"):
    """Values, indices and gradient must equal torch's (in x's dtype), layouts included."""
    (yc, ic), (yt, it) = max_both(x, c)
    assert yc.dtype == yt.dtype and ic.dtype == it.dtype == torch.int64
    assert_layout_like(yc, yt, "max_pool2d output")
    assert_layout_like(ic, it, "max_pool2d indices")
    assert torch.equal(ic, it), "indices differ from torch's"
    assert equal_nan(yc, yt), "values differ from torch's"
    if x.requires_grad:
        g = grad_output_for(yt, grad_layout)
        gc, gt = grad_of(yc, x, g), grad_of(yt, x, g)
        assert_layout_like(gc, gt, "max_pool2d grad_input")
        assert torch.equal(gc, gt), "grad_input differs from torch's: max |diff| %g" % (
            (gc.double() - gt.double()).abs().max())
    return yc, ic


def avg_args(c, cip, div):
    return (c["k"], c["s"], c["p"], c["ceil"], cip, div)


def check_avg(x, c, cip, div, grad=True, grad_layout="like"):
    """Forward (and backward) against torch in float64 on the same inputs; layout against torch
    in x's own dtype."""
    args = avg_args(c, cip, div)
    yc = cnnops.avg_pool2d(x, *args)
    xt = x.detach()
    yt_same = F.avg_pool2d(xt, *args)
    assert yc.dtype == x.dtype
    assert_layout_like(yc, yt_same, "avg_pool2d output")
    x64 = xt.to(torch.float64).requires_grad_()
    y64 = F.avg_pool2d(x64, *args)
    scale = F.avg_pool2d(x64.detach().abs(), *args)
    assert_close_scaled(yc, y64, scale, x.dtype, "avg_pool2d forward")
    if grad:
        g = grad_output_for(yt_same, grad_layout)
        gc = grad_of(yc, x, g)
        gt_same = grad_of(F.avg_pool2d(x, *args), x, g)
        assert_layout_like(gc, gt_same, "avg_pool2d grad_input")
        g64 = g.to(torch.float64)
        gt = grad_of(y64, x64, g64)
        gscale = grad_of(F.avg_pool2d(x64, *args), x64, g64.abs())
        assert_close_scaled(gc, gt, gscale, x.dtype, "avg_pool2d backward")
    return yc


def check_adaptive(x, size, grad=True, grad_layout="like"):
    yc = cnnops.adaptive_avg_pool2d(x, size)
    yt_same = F.adaptive_avg_pool2d(x.detach(), size)
    assert yc.dtype == x.dtype
    assert_layout_like(yc, yt_same, "adaptive_avg_pool2d output")
    x64 = x.detach().to(torch.float64).requires_grad_()
    y64 = F.adaptive_avg_pool2d(x64, size)
    assert_close_scaled(yc, y64, F.adaptive_avg_pool2d(x64.detach().abs(), size), x.dtype, "adaptive forward")
    if grad:
        g = grad_output_for(yc, grad_layout)
        gc = grad_of(yc, x, g)
        if tuple(yc.shape[-2:]) != (1, 1):
            # (torch computes global pooling as mean(): its gradient is then contiguous even for a
            # channels_last input, an artifact of that shortcut; cnnops keeps the input's layout)
            assert_layout_like(gc, grad_of(F.adaptive_avg_pool2d(x, size), x, g), "adaptive grad_input")
        g64 = g.to(torch.float64)
        gt = grad_of(y64, x64, g64)
        gscale = grad_of(F.adaptive_avg_pool2d(x64, size), x64, g64.abs())
        assert_close_scaled(gc, gt, gscale, x.dtype, "adaptive backward")
    return yc


@st.composite
def pool_axis(draw, dilation):
    """(input size, kernel, stride, padding, dilation) for one axis, with output size >= 1."""
    k = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3)) if dilation else 1
    eff = d * (k - 1) + 1
    p = draw(st.integers(0, eff // 2))
    s = draw(st.integers(1, 4))
    n = draw(st.integers(max(1, eff - 2 * p), max(1, eff - 2 * p) + 6))
    return n, k, s, p, d


def distinct(*shape):
    """float64 values, all distinct (at least 0.05 apart): max pooling has no ties to break."""
    n = math.prod(shape)
    return (torch.randperm(n, dtype=torch.float64) * 0.1 + torch.rand(n, dtype=torch.float64) * 0.05).view(*shape)
