"""Reference computations and tolerances for comparing cnnops with torch.

The reference is torch in float64 on the same (float64-converted) inputs. Tolerances scale with
the magnitude of the terms summed (torch's result on |x| and |w|), so they bound the rounding
error of a length-K dot product instead of guessing a relative error: err <= tol * (|x| * |w|).
"""
import contextlib

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
