"""The conv2d op's forward and backward on every backend -- cnnops' CPU kernels, its CUDA kernels
in the simulator, its CUDA kernels on a GPU (tests/backends.py) -- against torch in float64: one
test body per check over the shared case table (tests/cases.py), every dtype, the layouts, each
gradient alone; outputs poisoned first (conftest.py). On the CUDA backends every case is also
pinned to the kernel the host code must choose for it."""
import pytest
import torch

from cases import CASES, conv_id
from conv_checks import check_backward, check_forward
from cuda_kernel_choice import DTYPE_TAG, expected_backward_kernels, expected_kernel

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
LAYOUT_CASES = [CASES[0], CASES[2], CASES[4], CASES[7], CASES[10], CASES[16]]


@pytest.mark.parametrize("case", CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: DTYPE_TAG[d])
def test_forward_every_case(backend, case, dtype):
    if backend.sim is not None:
        backend.sim.reset_counters()
    check_forward(backend, case, dtype)
    if backend.runs_cuda_kernels:
        kernel = backend.last_kernel("conv2d_forward")
        assert kernel == expected_kernel(case, dtype, wgmma=backend.wgmma)
    if backend.sim is not None:
        counters = backend.sim.counters()
        assert counters["launches"] == 1 and counters["blocks"] >= 1
        assert (counters["mma_sync"] > 0) == kernel.startswith("fprop_tc")


@pytest.mark.parametrize("case", CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: DTYPE_TAG[d])
def test_backward_every_case(backend, case, dtype):
    check_backward(backend, case, dtype)
    if backend.runs_cuda_kernels:
        dgrad, wgrad = expected_backward_kernels(case, dtype, wgmma=backend.wgmma)
        assert backend.last_kernel("conv2d_dgrad").startswith(dgrad)
        assert backend.last_kernel("conv2d_wgrad") == wgrad


@pytest.mark.parametrize("case", LAYOUT_CASES, ids=conv_id)
@pytest.mark.parametrize("layout,wlayout", [("channels_last", "contiguous"), ("strided", "contiguous"),
                                            ("contiguous", "channels_last"), ("channels_last", "strided")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
def test_forward_layouts(backend, case, layout, wlayout, dtype):
    check_forward(backend, case, dtype, layout, wlayout)


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[7], CASES[10]], ids=conv_id)
@pytest.mark.parametrize("layout,wlayout,golayout", [("channels_last", "contiguous", "contiguous"),
                                                     ("strided", "channels_last", "strided"),
                                                     ("contiguous", "contiguous", "channels_last")])
def test_backward_layouts(backend, case, layout, wlayout, golayout):
    check_backward(backend, case, torch.float32, layout, wlayout, golayout)


@pytest.mark.parametrize("case", [CASES[0], CASES[9]], ids=conv_id)
def test_forward_without_bias(backend, case):
    check_forward(backend, case, torch.float32, bias=False)


@pytest.mark.parametrize("mask", [(True, False, False), (False, True, False), (False, False, True),
                                  (False, True, True)], ids=str)
def test_each_gradient_alone(backend, mask):
    check_backward(backend, CASES[9], torch.float32, mask=mask)
