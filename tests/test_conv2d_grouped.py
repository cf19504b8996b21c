"""The CPU grouped-convolution kernels (1 < groups < C, csrc/cpu/conv2d_grouped*) and the strided
input gradient by stride phases (csrc/common/dgrad_phases.h): forward, both gradients and the
fused epilogue against torch in float64, in every dtype and layout, over shapes that reach each
kernel's edges -- both lane modes (packed groups of 2, 4 and 8 channels; 16-filter blocks, one or
two at a time), channel counts off the vectors, strides, dilations, padding past the kernel,
kernels wider than the map, column counts off every block -- and the shapes the GEMM path keeps;
on every instruction-set copy (portable, AVX2, AVX-512), whose FMA copies agree bit for bit."""
import pytest
import torch

import cnnops
from backends import make_backend
from conv_checks import ALL_DTYPES, check_backward, check_both_passes, check_fused_epilogue, conv_case_id
from helpers import assert_isa_copies_agree, assert_same_bits_across_threads, rand

# (N, C, H, W, K, R, S, stride, padding, dilation, groups), 1 < groups < C
GROUPED_CASES = [
    (2, 16, 9, 11, 16, 3, 3, 1, 1, 1, 4),           # packed, Cg 4: one full lane block
    (2, 24, 7, 13, 24, 3, 3, 2, 1, 1, 6),           # packed, Cg 4, 8 lanes of a second block, stride 2
    (1, 40, 8, 8, 40, 3, 3, 1, 1, 1, 5),            # packed, Cg 8, 2.5 blocks
    (2, 20, 6, 17, 20, 3, 3, 1, 2, 2, 10),          # packed, Cg 2, dilation 2
    (1, 32, 5, 23, 32, 1, 1, 1, 0, 1, 8),           # packed 1x1: 23 columns off every block
    (1, 64, 10, 9, 64, 3, 3, 1, 1, 1, 4),           # filters, Kg 16: one block at a time
    (1, 64, 11, 10, 64, 5, 3, 2, (2, 1), 1, 2),     # filters, Kg 32: two blocks, 5x3/2
    (2, 12, 5, 5, 32, 3, 3, 1, 1, 1, 2),            # filters, Cg 6
    (1, 9, 7, 6, 48, 3, 3, 3, 2, (1, 2), 3),        # filters, Cg 3, stride 3, dilation along W
    (1, 16, 3, 3, 16, 7, 7, 1, 3, 1, 4),            # kernel wider than the map
    (1, 8, 6, 6, 8, 3, 3, 1, 5, 1, 2),              # padding past the kernel
    (1, 16, 12, 9, 16, 4, 2, 1, "same", 1, 4),      # even kernel: asymmetric 'same'
    (1, 130, 5, 6, 32, 3, 3, 1, 1, 1, 2),           # Cg 65: past the filters kernel (GEMM path)
    (2, 8, 7, 7, 16, 3, 3, 2, 1, 1, 2),             # Cg 4, Kg 8: the GEMM path
]


CPU = make_backend("cpu")


@pytest.mark.parametrize("case", GROUPED_CASES, ids=conv_case_id)
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_forward_and_backward(case, dtype, layout):
    check_both_passes(CPU, case, dtype, layout)


# Input gradients by stride phases, dense and grouped: phases that no tap reaches (a 1x1 or 2x2
# filter at stride 3), padding that starts a phase past grad_output's first column, stride 1 (one
# phase: the flipped filters) with padding past the kernel and with dilation, and the layouts
# whose forward kernels take the phases (channels-last float, bfloat16 on AMX) or not.
PHASE_CASES = [
    (1, 16, 5, 7, 24, 3, 3, 1, 4, 1, 1),
    (1, 16, 9, 9, 16, 3, 3, 1, 2, 2, 1),
    (2, 16, 12, 12, 16, 1, 1, 3, 0, 1, 1),
    (1, 16, 13, 11, 24, 2, 2, 3, 0, 1, 1),
    (1, 24, 11, 10, 32, 3, 3, 2, 1, 1, 1),
    (1, 16, 9, 9, 24, 4, 4, 3, 2, 1, 1),
    (2, 32, 9, 10, 32, 3, 3, 2, 1, 1, 8),
    (1, 32, 10, 9, 64, 5, 5, 2, 2, 2, 2),
]


@pytest.mark.parametrize("case", PHASE_CASES, ids=conv_case_id)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_strided_input_gradient_by_phases(case, dtype, layout):
    check_backward(CPU, case, dtype, layout=layout, golayout=layout, mask=(True, False, False))


@pytest.mark.parametrize("case", GROUPED_CASES[:8], ids=conv_case_id)
def test_each_gradient_alone(case):
    for mask in ((True, False, False), (False, True, False), (False, False, True)):
        check_backward(CPU, case, torch.float32, layout="channels_last", golayout="channels_last", mask=mask)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("res_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("groups,K", [(5, 20), (2, 32)], ids=["packed", "filters"])
def test_fused_epilogue(dtype, layout, res_layout, groups, K):
    """conv2d_bias_act on the grouped kernels: relu(conv + bias + residual), rounded once."""
    x = rand(2, 20, 11, 13, dtype=dtype, layout=layout)
    w = rand(K, 20 // groups, 3, 3, dtype=dtype, layout=layout)
    check_fused_epilogue(x, w, rand(K, dtype=dtype), 2, groups, res_layout, "fused grouped")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("groups,K", [(10, 40), (2, 64)], ids=["packed", "filters"])
def test_deterministic_across_threads(layout, groups, K):
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    x = torch.randn(3, 40, 17, 19).to(memory_format=fmt)
    w = torch.randn(K, 40 // groups, 3, 3)
    go = torch.randn(3, K, 9, 10).to(memory_format=fmt)

    def run():
        xx, ww = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = cnnops.conv2d(xx, ww, None, 2, 1, 1, groups)
        return (y,) + torch.autograd.grad(y, (xx, ww), go)

    assert_same_bits_across_threads(run)


def test_instruction_set_copies_subprocess(tmp_path):
    assert_isa_copies_agree(tmp_path, "test_conv2d_grouped", "GROUPED_CASES", "cpu_grouped_isa")
