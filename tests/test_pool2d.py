"""cnnops.max_pool2d / avg_pool2d / adaptive_avg_pool2d against torch.nn.functional.

Reference: torch itself. Max pooling must match torch exactly (values, int64 indices, gradients,
in every dtype: it only selects and adds in the same order). Average pooling is compared with
torch run in float64 on the same (already rounded) inputs, within helpers' scaled tolerances.
Output and gradient memory formats must match torch's (assert_layout_like).
"""
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

import cnnops
from helpers import assert_close_scaled, assert_layout_like, cpu_flags, rand

DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
LAYOUTS = ["contiguous", "channels_last", "strided"]


def _id(v):
    return "-".join("%s=%s" % (k, v[k]) for k in sorted(v)) if isinstance(v, dict) else str(v)


def _out_size(n, k, p, s, d, ceil):
    """torch's pooling_output_shape, written out independently of cnnops/_args.py."""
    eff = d * (k - 1) + 1
    if ceil:
        out = -(-(n + 2 * p - eff) // s) + 1
        if (out - 1) * s >= n + p:
            out -= 1
    else:
        out = (n + 2 * p - eff) // s + 1
    return out


def _empty_window(n, k, p, s, d, out):
    """Whether some window along this axis holds no input element (only padding, or dilation
    steps over the whole input): possible when dilation > 1."""
    return any(all(not 0 <= o * s - p + j * d < n for j in range(k)) for o in range(out))


def _grad(y, x, g):
    (gx,) = torch.autograd.grad(y, x, g)
    return gx


def _grad_output(y, grad_layout="like"):
    """A random gradient for y: in y's own memory format ("like", as autograd's randn_like makes
    it; channels-last outputs then take the channels-innermost backward kernels), or in the one
    named ("contiguous": a channels-last input's gradient arrives NCHW, the plane kernels)."""
    if grad_layout == "like":
        channels_last = y.dim() == 4 and not y.is_contiguous() and y.is_contiguous(memory_format=torch.channels_last)
        grad_layout = "channels_last" if channels_last else "contiguous"
    return rand(*y.shape, dtype=y.dtype, layout=grad_layout)


def _equal_nan(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(torch.isnan(a), torch.isnan(b)) and torch.equal(
        torch.nan_to_num(a, nan=0.0), torch.nan_to_num(b, nan=0.0))


# ----------------------------------------------------------------------------- max_pool2d
# (kernel, stride, padding, dilation, ceil_mode, input shape)
MAX_CONFIGS = [
    dict(k=2, s=None, p=0, d=1, ceil=False, shape=(2, 3, 8, 8)),          # classic 2x2/2
    dict(k=3, s=1, p=1, d=1, ceil=False, shape=(2, 3, 7, 9)),             # overlapping, same-size
    dict(k=3, s=2, p=1, d=1, ceil=False, shape=(2, 3, 7, 9)),             # overlapping, ResNet stem
    dict(k=(3, 2), s=(2, 1), p=(1, 1), d=1, ceil=False, shape=(2, 3, 7, 9)),   # non-square
    dict(k=(2, 4), s=(1, 3), p=(0, 2), d=1, ceil=False, shape=(1, 4, 5, 11)),  # non-square, stride != kernel
    dict(k=3, s=2, p=1, d=2, ceil=False, shape=(2, 3, 9, 9)),             # dilation
    dict(k=(2, 3), s=(3, 2), p=(1, 0), d=(2, 1), ceil=False, shape=(2, 2, 8, 7)),  # non-square dilation
    dict(k=3, s=2, p=0, d=1, ceil=True, shape=(2, 3, 6, 8)),              # ceil adds a window
    dict(k=2, s=2, p=1, d=1, ceil=True, shape=(2, 3, 5, 5)),              # ceil's extra window dropped
    dict(k=3, s=3, p=1, d=1, ceil=True, shape=(1, 3, 7, 11)),             # ceil, odd sizes
    dict(k=(2, 3), s=(2, 2), p=(1, 1), d=(2, 1), ceil=True, shape=(2, 2, 7, 8)),  # ceil + dilation
    dict(k=1, s=1, p=0, d=1, ceil=False, shape=(2, 3, 5, 4)),             # identity
    dict(k=(1, 3), s=(2, 1), p=(0, 1), d=1, ceil=False, shape=(2, 3, 5, 6)),
    dict(k=(7, 5), s=1, p=0, d=1, ceil=False, shape=(2, 3, 7, 5)),        # window = whole input
]


def _max_both(x, c, return_indices=True):
    args = (c["k"], c["s"], c["p"], c["d"], c["ceil"])
    yc = cnnops.max_pool2d(x, *args, return_indices=return_indices)
    yt = F.max_pool2d(x, *args, return_indices=return_indices)
    return yc, yt


def _check_max(x, c, grad_layout="like"):
    """Values, indices and gradient must equal torch's (in x's dtype), layouts included."""
    (yc, ic), (yt, it) = _max_both(x, c)
    assert yc.dtype == yt.dtype and ic.dtype == it.dtype == torch.int64
    assert_layout_like(yc, yt, "max_pool2d output")
    assert_layout_like(ic, it, "max_pool2d indices")
    assert torch.equal(ic, it), "indices differ from torch's"
    assert _equal_nan(yc, yt), "values differ from torch's"
    if x.requires_grad:
        g = _grad_output(yt, grad_layout)
        gc, gt = _grad(yc, x, g), _grad(yt, x, g)
        assert_layout_like(gc, gt, "max_pool2d grad_input")
        assert torch.equal(gc, gt), "grad_input differs from torch's: max |diff| %g" % (
            (gc.double() - gt.double()).abs().max())
    return yc, ic


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", MAX_CONFIGS, ids=_id)
def test_max_pool2d_matches_torch(c, layout, dtype):
    x = rand(*c["shape"], dtype=dtype, layout=layout, requires_grad=True)
    _check_max(x, c)


@pytest.mark.parametrize("c", MAX_CONFIGS[:6], ids=_id)
def test_max_pool2d_without_indices(c):
    x = rand(*c["shape"], requires_grad=True)
    yc, yt = _max_both(x, c, return_indices=False)
    assert isinstance(yc, torch.Tensor) and torch.equal(yc, yt)
    g = rand(*yt.shape)
    assert torch.equal(_grad(yc, x, g), _grad(yt, x, g))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("c", MAX_CONFIGS[:6], ids=_id)
def test_max_pool2d_unbatched(c, dtype):
    x = rand(*c["shape"][1:], dtype=dtype, requires_grad=True)
    yc, ic = _check_max(x, c)
    assert yc.dim() == 3 and ic.dim() == 3


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("c", MAX_CONFIGS[:4], ids=_id)
def test_max_pool2d_empty_batch(c, layout):
    x = rand(0, *c["shape"][1:], layout=layout, requires_grad=True)
    (yc, ic), (yt, it) = _max_both(x, c)
    assert yc.shape == yt.shape and ic.shape == it.shape and yc.shape[0] == 0
    assert_layout_like(yc, yt)
    g = rand(*yt.shape)
    gc, gt = _grad(yc, x, g), _grad(yt, x, g)
    assert gc.shape == gt.shape == x.shape


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 3, 5, 7, 10)], ids=_id)
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
    _check_max(x, c)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 5, 8)], ids=_id)
def test_max_pool2d_neg_inf(c, layout, dtype):
    """-inf entries, and whole windows of -inf (the index is then the window's first element)."""
    x = rand(*c["shape"], dtype=dtype, layout=layout)
    with torch.no_grad():
        x[torch.rand(x.shape) < 0.5] = -math.inf
        x[0, 0] = -math.inf  # an all -inf plane
    x.requires_grad_()
    _check_max(x, c)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 5, 8)], ids=_id)
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
    _check_max(x, c)


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
    gc = _grad(yc, x, g)
    # reference: scatter each gradient to its index when that index is inside its own plane
    N, C, H, W = x.shape
    expected = torch.zeros(N, C, H * W, dtype=torch.float64)
    idx = it.reshape(N, C, -1)
    inside = (idx >= 0) & (idx < H * W)
    expected.scatter_add_(2, idx.clamp(0, H * W - 1), torch.where(inside, g.reshape(N, C, -1), 0.0))
    assert torch.equal(gc, expected.view(x.shape))


# ----------------------------------------------------------------------------- avg_pool2d
# (kernel, stride, padding, ceil_mode, input shape)
AVG_CONFIGS = [
    dict(k=2, s=None, p=0, ceil=False, shape=(2, 3, 8, 8)),
    dict(k=3, s=1, p=1, ceil=False, shape=(2, 3, 7, 9)),                  # overlapping, padded
    dict(k=3, s=2, p=1, ceil=False, shape=(2, 3, 7, 9)),
    dict(k=(3, 2), s=(2, 1), p=(1, 1), ceil=False, shape=(2, 3, 7, 9)),   # non-square
    dict(k=(2, 5), s=(1, 3), p=(0, 2), ceil=False, shape=(1, 4, 5, 11)),
    dict(k=3, s=2, p=0, ceil=True, shape=(2, 3, 6, 8)),                   # ceil adds a (partial) window
    dict(k=3, s=2, p=1, ceil=True, shape=(2, 3, 6, 6)),                   # ceil window over padding
    dict(k=2, s=2, p=1, ceil=True, shape=(2, 3, 5, 5)),                   # ceil's extra window dropped
    dict(k=(4, 3), s=(3, 2), p=(2, 1), ceil=True, shape=(1, 3, 7, 10)),
    dict(k=(1, 3), s=(2, 1), p=(0, 1), ceil=False, shape=(2, 3, 5, 6)),
    dict(k=(7, 5), s=1, p=0, ceil=False, shape=(2, 3, 7, 5)),              # window = whole input
]
DIVISORS = [None, 3, -2]


def _avg_args(c, cip, div):
    return (c["k"], c["s"], c["p"], c["ceil"], cip, div)


def _check_avg(x, c, cip, div, grad=True, grad_layout="like"):
    """Forward (and backward) against torch in float64 on the same inputs; layout against torch
    in x's own dtype."""
    args = _avg_args(c, cip, div)
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
        g = _grad_output(yt_same, grad_layout)
        gc = _grad(yc, x, g)
        gt_same = _grad(F.avg_pool2d(x, *args), x, g)
        assert_layout_like(gc, gt_same, "avg_pool2d grad_input")
        g64 = g.to(torch.float64)
        gt = _grad(y64, x64, g64)
        gscale = _grad(F.avg_pool2d(x64, *args), x64, g64.abs())
        assert_close_scaled(gc, gt, gscale, x.dtype, "avg_pool2d backward")
    return yc


@pytest.mark.parametrize("div", DIVISORS, ids=lambda d: "div=%s" % d)
@pytest.mark.parametrize("cip", [True, False], ids=["cip", "nocip"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", AVG_CONFIGS, ids=_id)
def test_avg_pool2d_matches_torch_float64(c, layout, cip, div):
    x = rand(*c["shape"], layout=layout, requires_grad=True)
    _check_avg(x, c, cip, div)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("cip,div", [(True, None), (False, None), (False, -3)], ids=["cip", "nocip", "div-3"])
@pytest.mark.parametrize("c", [AVG_CONFIGS[i] for i in (1, 3, 5, 6, 8)], ids=_id)
def test_avg_pool2d_reduced_dtypes(c, cip, div, layout, dtype):
    x = rand(*c["shape"], dtype=dtype, layout=layout, requires_grad=True)
    _check_avg(x, c, cip, div)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("c", [AVG_CONFIGS[i] for i in (1, 3, 6)], ids=_id)
def test_avg_pool2d_unbatched(c, dtype):
    x = rand(*c["shape"][1:], dtype=dtype, requires_grad=True)
    y = _check_avg(x, c, False, None)
    assert y.dim() == 3


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("c", AVG_CONFIGS[:4], ids=_id)
def test_avg_pool2d_empty_batch(c, layout):
    x = rand(0, *c["shape"][1:], layout=layout, requires_grad=True)
    args = _avg_args(c, True, None)
    yc, yt = cnnops.avg_pool2d(x, *args), F.avg_pool2d(x, *args)
    assert yc.shape == yt.shape and yc.shape[0] == 0
    assert_layout_like(yc, yt)
    g = rand(*yt.shape)
    assert _grad(yc, x, g).shape == _grad(yt, x, g).shape == x.shape


def test_avg_pool2d_divisor_override_explicit():
    x = torch.arange(1.0, 17.0, dtype=torch.float64).view(1, 1, 4, 4)
    for div in (1, 5, -4):
        assert torch.equal(cnnops.avg_pool2d(x, 2, divisor_override=div), F.avg_pool2d(x, 2, divisor_override=div))
    # window sum 1+2+5+6 = 14 over divisor -4
    assert cnnops.avg_pool2d(x, 2, divisor_override=-4)[0, 0, 0, 0].item() == -3.5


# ----------------------------------------------------------------------------- adaptive_avg_pool2d
# (input shape, output_size)
ADAPTIVE_CASES = [
    ((2, 3, 8, 8), (4, 4)),          # divisible, smaller
    ((2, 3, 7, 9), (3, 4)),          # non-divisible, overlapping windows
    ((2, 3, 7, 9), (7, 9)),          # equal
    ((2, 3, 5, 4), (8, 11)),         # larger than the input
    ((2, 3, 7, 9), (1, 1)),          # global pooling
    ((2, 3, 7, 9), 1),               # global pooling, int
    ((2, 3, 10, 6), 4),              # int, mixed smaller / non-divisible
    ((2, 3, 7, 9), (None, 4)),       # None keeps the input size
    ((2, 3, 7, 9), (5, None)),
    ((2, 3, 7, 9), (None, None)),
    ((1, 5, 1, 13), (3, 2)),         # degenerate height
    ((2, 3, 13, 3), (6, 5)),         # smaller in one dim, larger in the other
]


def _check_adaptive(x, size, grad=True, grad_layout="like"):
    yc = cnnops.adaptive_avg_pool2d(x, size)
    yt_same = F.adaptive_avg_pool2d(x.detach(), size)
    assert yc.dtype == x.dtype
    assert_layout_like(yc, yt_same, "adaptive_avg_pool2d output")
    x64 = x.detach().to(torch.float64).requires_grad_()
    y64 = F.adaptive_avg_pool2d(x64, size)
    assert_close_scaled(yc, y64, F.adaptive_avg_pool2d(x64.detach().abs(), size), x.dtype, "adaptive forward")
    if grad:
        g = _grad_output(yc, grad_layout)
        gc = _grad(yc, x, g)
        if tuple(yc.shape[-2:]) != (1, 1):
            # (torch computes global pooling as mean(): its gradient is then contiguous even for a
            # channels_last input, an artifact of that shortcut; cnnops keeps the input's layout)
            assert_layout_like(gc, _grad(F.adaptive_avg_pool2d(x, size), x, g), "adaptive grad_input")
        g64 = g.to(torch.float64)
        gt = _grad(y64, x64, g64)
        gscale = _grad(F.adaptive_avg_pool2d(x64, size), x64, g64.abs())
        assert_close_scaled(gc, gt, gscale, x.dtype, "adaptive backward")
    return yc


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape,size", ADAPTIVE_CASES, ids=_id)
def test_adaptive_avg_pool2d_matches_torch(shape, size, layout, dtype):
    x = rand(*shape, dtype=dtype, layout=layout, requires_grad=True)
    _check_adaptive(x, size)


# Channels-last pooling, forward and backward, through both copies of the channels-innermost
# kernels (37 channels: two full 16-channel blocks and a ragged one), and NCHW max pooling through
# both copies of the row kernel.
_ISA_SCRIPT = """
import sys, torch, cnnops
torch.manual_seed(0)
print(cnnops.build_info()["cpu_vector_isa"])
out = []
for dt in (torch.float32, torch.float64, torch.bfloat16):
    x = torch.randn(2, 37, 9, 11, dtype=dt).contiguous(memory_format=torch.channels_last).requires_grad_()
    for f in (lambda t: cnnops.max_pool2d(t, 3, 2, 1), lambda t: cnnops.avg_pool2d(t, 3, 2, 1, ceil_mode=True),
              lambda t: cnnops.adaptive_avg_pool2d(t, (4, 5))):
        y = f(x)
        out += [y, torch.autograd.grad(y, x, torch.randn_like(y))[0]]
    with torch.no_grad():
        out += list(cnnops.max_pool2d(x, 2, return_indices=True)) + [cnnops.max_pool2d(x, 2)]
        xn = x.contiguous()  # NCHW: the row kernel
        out += list(cnnops.max_pool2d(xn, 3, 2, 1, return_indices=True)) + [cnnops.max_pool2d(xn, 3, 1, 1)]
torch.save(out, sys.argv[1])
"""


@pytest.mark.skipif(not {"avx2", "fma"} <= cpu_flags(), reason="the CPU has no AVX2: one copy only")
def test_pooling_avx2_and_portable_copies_agree(tmp_path):
    """The AVX2 and the portable copy of the vectorised pooling kernels (CNNOPS_CPU_KERNEL caps
    the choice) give the same bits: no multiply-add in them can be contracted."""
    outs = []
    for cap, name in (("generic", "portable"), ("avx2", "avx2")):
        env = dict(os.environ, CNNOPS_CPU_KERNEL=cap)
        done = subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(tmp_path / cap)], check=True, env=env,
                              capture_output=True, text=True)
        assert done.stdout.split() == [name]
        outs.append(torch.load(tmp_path / cap))
    assert len(outs[0]) == len(outs[1]) == 36
    for a, b in zip(*outs):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_channels_last_input_with_an_nchw_gradient(dtype):
    """A channels-last input whose gradient arrives NCHW: the plane backward kernels, writing a
    channels-last grad_input (the channels-innermost kernels need both in channels-last)."""
    x = rand(2, 5, 9, 11, dtype=dtype, layout="channels_last", requires_grad=True)
    _check_max(x, MAX_CONFIGS[1], grad_layout="contiguous")
    _check_avg(x, AVG_CONFIGS[1], True, None, grad_layout="contiguous")
    _check_adaptive(x, (4, 5), grad_layout="contiguous")


@pytest.mark.parametrize("shape,size", ADAPTIVE_CASES[:5] + ADAPTIVE_CASES[7:8], ids=_id)
def test_adaptive_avg_pool2d_unbatched(shape, size):
    x = rand(*shape[1:], requires_grad=True)
    assert _check_adaptive(x, size).dim() == 3


@pytest.mark.parametrize("size", [(3, 4), (0, 2), (2, 0)], ids=str)
@pytest.mark.parametrize("n", [0, 2])
def test_adaptive_avg_pool2d_empty(n, size):
    """N = 0 batch, and a zero output size (torch allows both in forward)."""
    x = rand(n, 3, 7, 9, requires_grad=True)
    yc, yt = cnnops.adaptive_avg_pool2d(x, size), F.adaptive_avg_pool2d(x, size)
    assert yc.shape == yt.shape
    if yt.numel():
        assert_close_scaled(yc, yt, F.adaptive_avg_pool2d(x.detach().abs(), size), torch.float64)
    g = rand(*yt.shape)
    gc = _grad(yc, x, g)
    assert gc.shape == x.shape and torch.isfinite(gc).all()
    try:
        gt = _grad(yt, x, g)
    except RuntimeError:  # torch's backward refuses an empty grad_output; cnnops gives the zero gradient
        assert not gc.any()
    else:
        assert gc.shape == gt.shape
        if gt.numel():
            assert_close_scaled(gc, gt, _grad(F.adaptive_avg_pool2d(x, size), x, g.abs()), torch.float64)


# ----------------------------------------------------------------------------- hypothesis
@st.composite
def _pool_axis(draw, dilation):
    """(input size, kernel, stride, padding, dilation) for one axis, with output size >= 1."""
    k = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3)) if dilation else 1
    eff = d * (k - 1) + 1
    p = draw(st.integers(0, eff // 2))
    s = draw(st.integers(1, 4))
    n = draw(st.integers(max(1, eff - 2 * p), max(1, eff - 2 * p) + 6))
    return n, k, s, p, d


@given(h=_pool_axis(True), w=_pool_axis(True), nc=st.tuples(st.integers(1, 2), st.integers(1, 3)),
       ceil=st.booleans(), default_stride=st.booleans(), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([torch.float64, torch.float32]), ties=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_max_pool2d_hypothesis(h, w, nc, ceil, default_stride, layout, dtype, ties, seed):
    torch.manual_seed(seed)
    (H, kh, sh, ph, dh), (W, kw, sw, pw, dw) = h, w
    shape = nc + (H, W)
    c = dict(k=(kh, kw), s=None if default_stride else (sh, sw), p=(ph, pw), d=(dh, dw), ceil=ceil, shape=shape)
    stride = (kh, kw) if default_stride else (sh, sw)
    P, Q = _out_size(H, kh, ph, stride[0], dh, ceil), _out_size(W, kw, pw, stride[1], dw, ceil)
    assume(P >= 1 and Q >= 1)
    # windows with no input element at all: torch's gradient is garbage there (test_max_pool2d_empty_window)
    assume(not _empty_window(H, kh, ph, stride[0], dh, P) and not _empty_window(W, kw, pw, stride[1], dw, Q))
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
    _check_max(x, c)


@given(h=_pool_axis(False), w=_pool_axis(False), nc=st.tuples(st.integers(1, 2), st.integers(1, 3)),
       ceil=st.booleans(), default_stride=st.booleans(), cip=st.booleans(),
       div=st.one_of(st.none(), st.integers(-6, 6).filter(bool)), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([torch.float64, torch.float32, torch.bfloat16]), seed=st.integers(0, 2**31 - 1))
def test_avg_pool2d_hypothesis(h, w, nc, ceil, default_stride, cip, div, layout, dtype, seed):
    torch.manual_seed(seed)
    (H, kh, sh, ph, _), (W, kw, sw, pw, _) = h, w
    stride = (kh, kw) if default_stride else (sh, sw)
    assume(_out_size(H, kh, ph, stride[0], 1, ceil) >= 1 and _out_size(W, kw, pw, stride[1], 1, ceil) >= 1)
    c = dict(k=(kh, kw), s=None if default_stride else (sh, sw), p=(ph, pw), ceil=ceil)
    x = rand(*(nc + (H, W)), dtype=dtype, layout=layout, requires_grad=True)
    _check_avg(x, c, cip, div)


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
       size=st.tuples(st.one_of(st.none(), st.integers(1, 10)), st.one_of(st.none(), st.integers(1, 10))),
       layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**31 - 1))
def test_adaptive_avg_pool2d_hypothesis(shape, size, layout, seed):
    torch.manual_seed(seed)
    _check_adaptive(rand(*shape, layout=layout, requires_grad=True), size)


# ----------------------------------------------------------------------------- gradcheck
def _distinct(*shape):
    """float64 values, all distinct (at least 0.05 apart): max pooling has no ties to break."""
    n = math.prod(shape)
    return (torch.randperm(n, dtype=torch.float64) * 0.1 + torch.rand(n, dtype=torch.float64) * 0.05).view(*shape)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(2, 3), stride=(2, 1),
                                padding=(1, 0), dilation=(1, 2), ceil_mode=True)], ids=["k3s1p1", "nonsquare_dil_ceil"])
def test_max_pool2d_gradcheck(kw, layout):
    x = _distinct(2, 2, 5, 6)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    f = lambda t: cnnops.max_pool2d(t, **kw)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), ceil_mode=True,
                                     count_include_pad=False),
                                dict(kernel_size=2, stride=1, divisor_override=-3)],
                         ids=["k3s1p1", "ceil_nocip", "div"])
def test_avg_pool2d_gradcheck(kw, layout):
    x = rand(2, 2, 5, 6, layout=layout, requires_grad=True)
    f = lambda t: cnnops.avg_pool2d(t, **kw)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("size", [(3, 4), (7, 2), (None, 1)], ids=str)
def test_adaptive_avg_pool2d_gradcheck(size, layout):
    x = rand(2, 2, 5, 6, layout=layout, requires_grad=True)
    f = lambda t: cnnops.adaptive_avg_pool2d(t, size)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("op", ["max", "avg", "adaptive"])
def test_determinism(op, dtype, layout):
    """Two runs give bit-identical outputs and gradients (overlapping windows: many outputs add
    into one input gradient), with enough planes to spread over every thread."""
    x = rand(4, 16, 23, 19, dtype=dtype, layout=layout)
    if op == "max":
        x = torch.randint(0, 4, x.shape).to(dtype).contiguous(memory_format=torch.channels_last) if (
            layout == "channels_last") else torch.randint(0, 4, x.shape).to(dtype)  # ties too
        f = lambda t: cnnops.max_pool2d(t, 3, 1, 1, return_indices=True)  # noqa: E731
    elif op == "avg":
        f = lambda t: (cnnops.avg_pool2d(t, (3, 4), (1, 2), 1, ceil_mode=True),)  # noqa: E731
    else:
        f = lambda t: (cnnops.adaptive_avg_pool2d(t, (7, 5)),)  # noqa: E731
    runs = []
    for _ in range(2):
        xr = x.detach().clone().requires_grad_()
        out = f(xr)
        g = torch.linspace(-1, 1, out[0].numel(), dtype=torch.float64).view(out[0].shape).to(dtype)
        runs.append(out + (_grad(out[0], xr, g),))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


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
