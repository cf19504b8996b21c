"""Reference computations and tolerances for comparing cnnops with torch.

The reference is torch in float64 on the same (float64-converted) inputs. Tolerances scale with
the magnitude of the terms summed (torch's result on |x| and |w|), so they bound the rounding
error of a length-K dot product instead of guessing a relative error: err <= tol * (|x| * |w|).
"""
import contextlib
import os
import subprocess
import sys

import torch
import torch.nn.functional as F

# Per-dtype unit tolerance, relative to the sum of |terms| of each output element.
UNIT_TOL = {
    torch.float64: 1e-12,
    torch.float32: 1e-5,
    torch.bfloat16: 1.6e-2,
    torch.float16: 2e-3,
}


def rand(*shape, dtype=torch.float64, device="cpu", requires_grad=False, layout="contiguous"):
    """Seeded random normal data (never zeros) in the requested memory layout:
    'contiguous', 'channels_last' or 'strided' (a non-contiguous view of a larger tensor)."""
    if layout == "strided" and len(shape) == 4:
        big = torch.randn(shape[0], shape[1] * 2, shape[2] + 1, shape[3] * 2, dtype=torch.float64).to(dtype)
        t = big[:, ::2, 1:, ::2]
        assert not t.is_contiguous() or t.numel() <= 1
    else:
        t = torch.randn(*shape, dtype=torch.float64).to(dtype)
        if layout == "channels_last" and len(shape) == 4:
            t = t.contiguous(memory_format=torch.channels_last)
    t = t.to(device)
    return t.requires_grad_(requires_grad)


def assert_close_scaled(actual, expected, scale, dtype, what=""):
    """|actual - expected| <= UNIT_TOL[dtype] * (scale + 1e-3 * max(scale)) elementwise, all finite."""
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    actual = actual.detach().to(torch.float64).cpu()
    expected = expected.detach().to(torch.float64).cpu()
    scale = scale.detach().to(torch.float64).cpu().abs()
    assert torch.isfinite(actual).all(), f"{what}: non-finite values (a poisoned element was never written?)"
    bound = UNIT_TOL[dtype] * (scale + 1e-3 * scale.max().clamp_min(1e-30)) + 1e-300
    err = (actual - expected).abs()
    bad = err > bound
    if bad.any():
        i = bad.nonzero()[0].tolist()
        raise AssertionError(f"{what}: {int(bad.sum())} of {err.numel()} elements off; first at {i}: "
                             f"got {actual[tuple(i)].item()!r}, expected {expected[tuple(i)].item()!r}, "
                             f"bound {bound[tuple(i)].item():.3g}")


def assert_layout_like(actual, expected, what=""):
    """Same shape and, for non-empty results, the same memory format as torch's result."""
    assert actual.shape == expected.shape, what
    for fmt in (torch.contiguous_format, torch.channels_last):
        if actual.dim() == 4:
            assert actual.is_contiguous(memory_format=fmt) == expected.is_contiguous(memory_format=fmt), (
                f"{what}: layout differs from torch's: strides {actual.stride()} vs {expected.stride()}")


@contextlib.contextmanager
def conv_tf32(enabled: bool):
    """Sets whether float32 convolutions may run as TF32, for torch's cuDNN and cnnops' CUDA
    kernels alike: torch.backends.cudnn.conv.fp32_precision where torch has it (mixing it with
    the legacy allow_tf32 flag makes torch raise), else torch.backends.cudnn.allow_tf32."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        old = conv.fp32_precision
        conv.fp32_precision = "tf32" if enabled else "ieee"
        try:
            yield
        finally:
            conv.fp32_precision = old
    else:  # pragma: no cover - torch < 2.9
        old = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = enabled
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32 = old


def amx_bf16_usable():
    """Whether this process may run AMX-BF16: the CPU flags and Linux's per-process permission for
    the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), as cnnops asks."""
    if not {"amx_bf16", "amx_tile"} <= cpu_flags():
        return False
    import ctypes
    sys_arch_prctl, req_xcomp_perm, xtiledata = 158, 0x1023, 18
    try:
        return ctypes.CDLL(None, use_errno=True).syscall(sys_arch_prctl, req_xcomp_perm, xtiledata) == 0
    except (OSError, AttributeError):
        return False


def cpu_flags():
    """The CPU's feature flags (/proc/cpuinfo), or an empty set where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            return set(next(line for line in f if line.startswith("flags")).split(":")[1].split())
    except (OSError, StopIteration):
        return set()


def conv_abs_scale(x, w, b, stride, padding, dilation, groups, go):
    """Sums of |terms| of every output and gradient element: the error bound's scale."""
    xa = x.detach().abs().double().requires_grad_()
    wa = w.detach().abs().double().requires_grad_()
    ba = None if b is None else b.detach().abs().double().requires_grad_()
    ya = F.conv2d(xa, wa, ba, stride, padding, dilation, groups)
    grads = torch.autograd.grad(ya, [t for t in (xa, wa, ba) if t is not None], go.detach().abs().double())
    return ya, grads


def assert_same_bits_across_threads(run):
    """run() gives the same tensors, bit for bit, twice at the current thread count and once on
    one thread: no sum's order depends on the threads."""
    first = run()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = run()
    finally:
        torch.set_num_threads(threads)
    for a, b, c in zip(first, run(), single):
        assert torch.equal(a, b) and torch.equal(a, c)


_ISA_SCRIPT = """
import importlib, sys, torch, cnnops
sys.path.insert(0, sys.argv[2])
cases = getattr(importlib.import_module(sys.argv[3]), sys.argv[4])
print(cnnops.build_info()[sys.argv[5]])
torch.manual_seed(0)
out = []
for fmt in (torch.contiguous_format, torch.channels_last):
    for n, c, h, w, k, r, s, stride, pad, dil, groups in cases:
        x = torch.randn(n, c, h, w).to(memory_format=fmt).requires_grad_()
        wt = torch.randn(k, c // groups, r, s).requires_grad_()
        y = cnnops.conv2d(x, wt, None, stride, pad, dil, groups)
        go = torch.randn_like(y)
        out += [y] + list(torch.autograd.grad(y, (x, wt), go))
torch.save(out, sys.argv[1])
"""


def assert_isa_copies_agree(tmp_path, module, cases, info_key):
    """Runs the float32 forward and backward of module.cases (conv2d cases) in a subprocess per
    instruction-set copy this CPU has (CNNOPS_CPU_KERNEL caps the choice; build_info()[info_key]
    names the copy that ran): every copy agrees with the portable one to float32 rounding, and
    the AVX2 and AVX-512 copies -- the same fused multiply-adds, lane by lane, in the same order --
    bit for bit."""
    flags = cpu_flags()
    have = ["portable"] + (["avx2"] if {"avx2", "fma"} <= flags else []) + (["avx512"] if "avx512f" in flags else [])
    caps = {"portable": "generic", "avx2": "avx2", "avx512": "avx512"}
    runs = {}
    for isa in have:
        path = tmp_path / f"{isa}.pt"
        done = subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(path), os.path.dirname(__file__), module, cases,
                               info_key], check=True, env=dict(os.environ, CNNOPS_CPU_KERNEL=caps[isa]),
                              capture_output=True, text=True)
        assert done.stdout.split()[-1] == isa
        runs[isa] = torch.load(path)
    for isa, out in runs.items():
        for a, b in zip(out, runs["portable"]):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item()), isa
    if "avx2" in runs and "avx512" in runs:
        for a, b in zip(runs["avx2"], runs["avx512"]):
            assert torch.equal(a, b)
