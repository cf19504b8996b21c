"""The CPU depthwise kernels (groups == C, csrc/cpu/conv2d_depthwise*): forward, both gradients
and the fused epilogue against torch in float64, in every dtype and layout, over shapes that reach
each kernel's edges -- channel counts off the 16-lane vectors, multipliers, strides and dilations,
padding past the kernel, kernels wider than the map, output rows off the column blocks -- on every
instruction-set copy (portable, AVX2, AVX-512), whose FMA copies agree bit for bit."""
import pytest
import torch

import cnnops
from backends import make_backend
from conv_checks import ALL_DTYPES, check_backward, check_both_passes, check_fused_epilogue, conv_case_id
from helpers import assert_isa_copies_agree, assert_same_bits_across_threads, rand

# (N, C, H, W, K, R, S, stride, padding, dilation, groups): every one depthwise (groups == C)
DEPTHWISE_CASES = [
    (2, 6, 9, 9, 6, 3, 3, 1, 1, 1, 6),              # small: one partial vector of channels
    (2, 17, 13, 11, 17, 3, 3, 2, 1, 1, 17),         # one full vector + 1 channel, stride 2
    (1, 20, 10, 12, 20, 7, 7, 1, 3, 1, 20),         # ConvNeXt-like 7x7
    (1, 33, 8, 9, 33, 3, 3, 1, 2, 2, 33),           # dilation 2, 3 vectors (the last of 1)
    (2, 6, 9, 9, 12, 5, 5, 2, 2, 1, 6),             # multiplier 2, 5x5/2
    (1, 5, 12, 12, 15, 3, 2, (2, 1), (1, 0), (1, 2), 5),  # multiplier 3, non-square everything
    (2, 16, 7, 7, 16, 9, 9, 1, 4, 1, 16),           # kernel wider than the map's interior
    (1, 4, 6, 6, 4, 3, 3, 1, 5, 1, 4),              # padding past the kernel: input gradient by gather
    (1, 18, 15, 14, 18, 3, 3, 3, 0, 1, 18),         # stride 3, unused trailing rows and columns
    (1, 32, 37, 23, 32, 3, 3, 1, 1, 1, 32),         # rows of 37 and 23 columns: every block remainder
    (1, 16, 20, 20, 16, 15, 15, 1, 7, 1, 16),       # large kernel: checked runs at both ends
    (1, 8, 5, 33, 8, 1, 5, 1, (0, 2), 1, 8),        # 1x5, one row
    (1, 12, 9, 8, 12, 4, 2, 1, "same", 1, 12),      # even kernel: asymmetric 'same'
    (1, 40, 14, 9, 40, 5, 5, 1, 2, 1, 40),          # 5x5/1: the padded bands, a 1-column tail
    (1, 96, 60, 60, 96, 7, 7, 1, 3, 1, 96),         # 7x7/1 past 512 KB: bands and channel groups
]


CPU = make_backend("cpu")


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=conv_case_id)
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_forward_and_backward(case, dtype, layout):
    check_both_passes(CPU, case, dtype, layout)


@pytest.mark.parametrize("case", DEPTHWISE_CASES[:6], ids=conv_case_id)
@pytest.mark.parametrize("mask", [(True, False, False), (False, True, False), (False, False, True)])
def test_each_gradient_alone(case, mask):
    check_backward(CPU, case, torch.float32, layout="channels_last", golayout="channels_last", mask=mask)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("res_layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("k,r,stride", [(40, 3, 2), (20, 7, 1)], ids=["3x3s2_multiplier", "7x7s1"])
def test_fused_epilogue(dtype, layout, res_layout, k, r, stride):
    """conv2d_bias_act on the depthwise kernels: relu(conv + bias + residual), rounded once."""
    x = rand(2, 20, 11, 13, dtype=dtype, layout=layout)
    w = rand(k, 1, r, r, dtype=dtype, layout=layout)
    check_fused_epilogue(x, w, rand(k, dtype=dtype), stride, 20, res_layout, "fused depthwise")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_deterministic_across_threads(layout):
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    x = torch.randn(3, 40, 17, 19).to(memory_format=fmt)
    w = torch.randn(80, 1, 5, 5)
    go = torch.randn(3, 80, 9, 10).to(memory_format=fmt)

    def run():
        xx, ww = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = cnnops.conv2d(xx, ww, None, 2, 2, 1, 40)
        return (y,) + torch.autograd.grad(y, (xx, ww), go)

    assert_same_bits_across_threads(run)


def test_instruction_set_copies_subprocess(tmp_path):
    assert_isa_copies_agree(tmp_path, "test_conv2d_depthwise", "DEPTHWISE_CASES", "cpu_depthwise_isa")
