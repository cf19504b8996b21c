"""cnnops.avg_pool2d against torch.nn.functional.avg_pool2d: every window configuration with and
without count_include_pad and divisor_override, every dtype and layout, unbatched and empty input,
shapes drawn by hypothesis, gradcheck. The checks are in pool_checks.py."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

import cnnops
from cases import AVG_CONFIGS, DIVISORS, case_id
from helpers import assert_layout_like, rand
from pool_checks import DTYPES, LAYOUTS, avg_args, check_avg, grad_of, out_size, pool_axis


@pytest.mark.parametrize("div", DIVISORS, ids=lambda d: "div=%s" % d)
@pytest.mark.parametrize("cip", [True, False], ids=["cip", "nocip"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", AVG_CONFIGS, ids=case_id)
def test_avg_pool2d_matches_torch_float64(c, layout, cip, div):
    x = rand(*c["shape"], layout=layout, requires_grad=True)
    check_avg(x, c, cip, div)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("cip,div", [(True, None), (False, None), (False, -3)], ids=["cip", "nocip", "div-3"])
@pytest.mark.parametrize("c", [AVG_CONFIGS[i] for i in (1, 3, 5, 6, 8)], ids=case_id)
def test_avg_pool2d_reduced_dtypes(c, cip, div, layout, dtype):
    x = rand(*c["shape"], dtype=dtype, layout=layout, requires_grad=True)
    check_avg(x, c, cip, div)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("c", [AVG_CONFIGS[i] for i in (1, 3, 6)], ids=case_id)
def test_avg_pool2d_unbatched(c, dtype):
    x = rand(*c["shape"][1:], dtype=dtype, requires_grad=True)
    y = check_avg(x, c, False, None)
    assert y.dim() == 3


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("c", AVG_CONFIGS[:4], ids=case_id)
def test_avg_pool2d_empty_batch(c, layout):
    x = rand(0, *c["shape"][1:], layout=layout, requires_grad=True)
    args = avg_args(c, True, None)
    yc, yt = cnnops.avg_pool2d(x, *args), F.avg_pool2d(x, *args)
    assert yc.shape == yt.shape and yc.shape[0] == 0
    assert_layout_like(yc, yt)
    g = rand(*yt.shape)
    assert grad_of(yc, x, g).shape == grad_of(yt, x, g).shape == x.shape


def test_avg_pool2d_divisor_override_explicit():
    x = torch.arange(1.0, 17.0, dtype=torch.float64).view(1, 1, 4, 4)
    for div in (1, 5, -4):
        assert torch.equal(cnnops.avg_pool2d(x, 2, divisor_override=div), F.avg_pool2d(x, 2, divisor_override=div))
    # window sum 1+2+5+6 = 14 over divisor -4
    assert cnnops.avg_pool2d(x, 2, divisor_override=-4)[0, 0, 0, 0].item() == -3.5


@given(h=pool_axis(False), w=pool_axis(False), nc=st.tuples(st.integers(1, 2), st.integers(1, 3)),
       ceil=st.booleans(), default_stride=st.booleans(), cip=st.booleans(),
       div=st.one_of(st.none(), st.integers(-6, 6).filter(bool)), layout=st.sampled_from(LAYOUTS),
       dtype=st.sampled_from([torch.float64, torch.float32, torch.bfloat16]), seed=st.integers(0, 2**31 - 1))
def test_avg_pool2d_hypothesis(h, w, nc, ceil, default_stride, cip, div, layout, dtype, seed):
    torch.manual_seed(seed)
    (H, kh, sh, ph, _), (W, kw, sw, pw, _) = h, w
    stride = (kh, kw) if default_stride else (sh, sw)
    assume(out_size(H, kh, ph, stride[0], 1, ceil) >= 1 and out_size(W, kw, pw, stride[1], 1, ceil) >= 1)
    c = dict(k=(kh, kw), s=None if default_stride else (sh, sw), p=(ph, pw), ceil=ceil)
    x = rand(*(nc + (H, W)), dtype=dtype, layout=layout, requires_grad=True)
    check_avg(x, c, cip, div)


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
