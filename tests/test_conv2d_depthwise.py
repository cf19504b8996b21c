"""The CPU depthwise kernels (groups == C, csrc/cpu/conv2d_depthwise*): forward, both gradients
and the fused epilogue against torch in float64, in every dtype and layout, over shapes that reach
each kernel's edges -- channel counts off the 16-lane vectors, multipliers, strides and dilations,
padding past the kernel, kernels wider than the map, output rows off the column blocks -- on every
instruction-set copy (portable, AVX2, AVX-512), whose FMA copies agree bit for bit."""
import os
import subprocess
import sys

import pytest
import torch

import cnnops
from backends import make_backend
from conv_checks import check_backward, check_forward
from helpers import assert_close_scaled, assert_same_bits_across_threads, cpu_flags, rand

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
]


def dw_id(c):
    return "N{}C{}H{}W{}K{}R{}S{}s{}p{}d{}g{}".format(*c).replace(" ", "")


CPU = make_backend("cpu")
DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=dw_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_forward_and_backward(case, dtype, layout):
    check_forward(CPU, case, dtype, layout=layout)
    # grad_output channels-last beside a contiguous input mixes the kernels' layouts
    check_backward(CPU, case, dtype, layout=layout, golayout="channels_last" if layout == "strided" else layout)


@pytest.mark.parametrize("case", DEPTHWISE_CASES[:6], ids=dw_id)
@pytest.mark.parametrize("mask", [(True, False, False), (False, True, False), (False, False, True)])
def test_each_gradient_alone(case, mask):
    check_backward(CPU, case, torch.float32, layout="channels_last", golayout="channels_last", mask=mask)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("res_layout", ["contiguous", "channels_last"])
def test_fused_epilogue(dtype, layout, res_layout):
    """conv2d_bias_act on the depthwise kernels: relu(conv + bias + residual), rounded once."""
    x = rand(2, 20, 11, 13, dtype=dtype, layout=layout)
    w = rand(40, 1, 3, 3, dtype=dtype, layout=layout)
    b = rand(40, dtype=dtype)
    ref = torch.nn.functional.conv2d(x.double(), w.double(), b.double(), 2, 1, 1, 20)
    res = rand(*ref.shape, dtype=dtype, layout=res_layout)
    y = torch.ops.cnnops.conv2d_bias_act(x, w, b, [2, 2], [1, 1, 1, 1], [1, 1], 20, 1, res)
    want = (ref + res.double()).relu()
    scale = torch.nn.functional.conv2d(x.double().abs(), w.double().abs(), b.double().abs(), 2, 1, 1, 20)
    assert_close_scaled(y, want, scale + res.double().abs(), dtype, "fused depthwise")


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


_ISA_SCRIPT = """
import sys, torch, cnnops
sys.path.insert(0, sys.argv[2])
from test_conv2d_depthwise import DEPTHWISE_CASES
print(cnnops.build_info()["cpu_depthwise_isa"])
torch.manual_seed(0)
out = []
for fmt in (torch.contiguous_format, torch.channels_last):
    for n, c, h, w, k, r, s, stride, pad, dil, groups in DEPTHWISE_CASES:
        x = torch.randn(n, c, h, w).to(memory_format=fmt).requires_grad_()
        wt = torch.randn(k, 1, r, s).requires_grad_()
        y = cnnops.conv2d(x, wt, None, stride, pad, dil, groups)
        go = torch.randn_like(y)
        out += [y] + list(torch.autograd.grad(y, (x, wt), go))
torch.save(out, sys.argv[1])
"""


def _run_capped(cap, path):
    env = dict(os.environ, CNNOPS_CPU_KERNEL=cap)
    done = subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(path), os.path.dirname(__file__)], check=True,
                          env=env, capture_output=True, text=True)
    return done.stdout.split()[-1], torch.load(path)


def test_instruction_set_copies_subprocess(tmp_path):
    """Each copy this CPU runs gives the same results to float32 rounding; the AVX2 and AVX-512
    copies contract the same multiply-adds in the same order, so they agree bit for bit."""
    flags = cpu_flags()
    have = ["portable"] + (["avx2"] if {"avx2", "fma"} <= flags else []) + (["avx512"] if "avx512f" in flags else [])
    caps = {"portable": "generic", "avx2": "avx2", "avx512": "avx512"}
    runs = {}
    for isa in have:
        got, out = _run_capped(caps[isa], tmp_path / f"{isa}.pt")
        assert got == isa
        runs[isa] = out
    for isa, out in runs.items():
        for a, b in zip(out, runs["portable"]):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item()), isa
    if "avx2" in runs and "avx512" in runs:
        for a, b in zip(runs["avx2"], runs["avx512"]):
            assert torch.equal(a, b)
