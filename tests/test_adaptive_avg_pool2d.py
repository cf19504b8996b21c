"""cnnops.adaptive_avg_pool2d against torch.nn.functional.adaptive_avg_pool2d: output sizes
smaller, equal, larger and None, every dtype and layout, unbatched and empty input, shapes drawn
by hypothesis, gradcheck. The checks are in pool_checks.py."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import cnnops
from cases import ADAPTIVE_CASES, case_id
from helpers import assert_close_scaled, rand
from pool_checks import DTYPES, LAYOUTS, check_adaptive, grad_of


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape,size", ADAPTIVE_CASES, ids=case_id)
def test_adaptive_avg_pool2d_matches_torch(shape, size, layout, dtype):
    x = rand(*shape, dtype=dtype, layout=layout, requires_grad=True)
    check_adaptive(x, size)


@pytest.mark.parametrize("shape,size", ADAPTIVE_CASES[:5] + ADAPTIVE_CASES[7:8], ids=case_id)
def test_adaptive_avg_pool2d_unbatched(shape, size):
    x = rand(*shape[1:], requires_grad=True)
    assert check_adaptive(x, size).dim() == 3


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
    gc = grad_of(yc, x, g)
    assert gc.shape == x.shape and torch.isfinite(gc).all()
    try:
        gt = grad_of(yt, x, g)
    except RuntimeError:  # torch's backward refuses an empty grad_output; cnnops gives the zero gradient
        assert not gc.any()
    else:
        assert gc.shape == gt.shape
        if gt.numel():
            assert_close_scaled(gc, gt, grad_of(F.adaptive_avg_pool2d(x, size), x, g.abs()), torch.float64)


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
       size=st.tuples(st.one_of(st.none(), st.integers(1, 10)), st.one_of(st.none(), st.integers(1, 10))),
       layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**31 - 1))
def test_adaptive_avg_pool2d_hypothesis(shape, size, layout, seed):
    torch.manual_seed(seed)
    check_adaptive(rand(*shape, layout=layout, requires_grad=True), size)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("size", [(3, 4), (7, 2), (None, 1)], ids=str)
def test_adaptive_avg_pool2d_gradcheck(size, layout):
    x = rand(2, 2, 5, 6, layout=layout, requires_grad=True)
    f = lambda t: cnnops.adaptive_avg_pool2d(t, size)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-8)
