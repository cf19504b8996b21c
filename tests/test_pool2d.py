"""What holds for every pooling op together: both ISA copies of the CPU kernels give the same
bits, a channels-last input may get an NCHW gradient, and results are deterministic."""
import os
import subprocess
import sys

import pytest
import torch

import cnnops
from cases import AVG_CONFIGS, MAX_CONFIGS
from helpers import cpu_flags, rand
from pool_checks import check_adaptive, check_avg, check_max, grad_of


# Channels-last pooling, forward and backward, through every copy of the channels-innermost
# kernels (37 channels: two full 16-lane vectors and a ragged one), and NCHW max pooling through
# both copies of the row kernel.
_ISA_SCRIPT = """
import sys, torch, cnnops
torch.manual_seed(0)
info = cnnops.build_info()
print(info["cpu_vector_isa"], info["cpu_channels_last_pool_isa"])
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
def test_pooling_isa_copies_agree(tmp_path):
    """The portable, AVX2 and (where the CPU has it) AVX-512 copies of the vectorised pooling
    kernels (CNNOPS_CPU_KERNEL caps the choice) give the same bits: no multiply-add in them can
    be contracted."""
    caps = [("generic", ["portable", "portable"]), ("avx2", ["avx2", "avx2"])]
    if "avx512f" in cpu_flags():
        caps.append(("avx512", ["avx2", "avx512"]))
    outs = []
    for cap, names in caps:
        env = dict(os.environ, CNNOPS_CPU_KERNEL=cap)
        done = subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(tmp_path / cap)], check=True, env=env,
                              capture_output=True, text=True)
        assert done.stdout.split() == names
        outs.append(torch.load(tmp_path / cap))
    assert all(len(out) == 36 for out in outs)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_channels_last_input_with_an_nchw_gradient(dtype):
    """A channels-last input whose gradient arrives NCHW: the plane backward kernels, writing a
    channels-last grad_input (the channels-innermost kernels need both in channels-last)."""
    x = rand(2, 5, 9, 11, dtype=dtype, layout="channels_last", requires_grad=True)
    check_max(x, MAX_CONFIGS[1], grad_layout="contiguous")
    check_avg(x, AVG_CONFIGS[1], True, None, grad_layout="contiguous")
    check_adaptive(x, (4, 5), grad_layout="contiguous")


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
        runs.append(out + (grad_of(out[0], xr, g),))
    for a, b in zip(*runs):
        assert torch.equal(a, b)
