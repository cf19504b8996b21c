"""cnnops.conv2d forward and backward against torch in float64, over shapes that exercise every
edge of the CPU GEMM (ragged micro-tiles, several kc/mc/nc blocks, split-K weight gradients),
every argument (stride, padding incl. 'same'/'valid', dilation, groups, bias), every layout and
every dtype."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import cnnops
from cases import CASES, conv_id
from helpers import (amx_bf16_usable, assert_close_scaled, assert_layout_like, assert_same_bits_across_threads,
                     conv_abs_scale, cpu_flags, rand)







def check_conv(case, dtype=torch.float64, layout="contiguous", wlayout="contiguous", bias=True, batched=True):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    x = rand(N, C, H, W, dtype=dtype, layout=layout, requires_grad=True)
    w = rand(K, C // groups, R, S, dtype=dtype, layout=wlayout, requires_grad=True)
    b = rand(K, dtype=dtype, requires_grad=True) if bias else None
    xin = x if batched else x[0]
    y = cnnops.conv2d(xin, w, b, stride, padding, dilation, groups)
    # Reference: torch in float64 on the same (rounded) inputs.
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    b64 = None if b is None else b.detach().double().requires_grad_()
    ref = F.conv2d(x64 if batched else x64[0], w64, b64, stride, padding, dilation, groups)
    go = torch.randn(ref.shape, dtype=torch.float64)
    ya, gscale = conv_abs_scale(x64 if batched else x64[0], w64, b64, stride, padding, dilation, groups, go)
    assert y.dtype == dtype
    assert_close_scaled(y, ref, ya, dtype, "output")
    assert_layout_like(y, F.conv2d(xin.detach(), w.detach(), None if b is None else b.detach(), stride, padding,
                                   dilation, groups), "output")
    inputs = [x, w] + ([b] if bias else [])
    grads = torch.autograd.grad(y, inputs, go.to(dtype))
    ref_grads = torch.autograd.grad(ref, [x64, w64] + ([b64] if bias else []), go)
    for name, g, r, s, t in zip(("grad_input", "grad_weight", "grad_bias"), grads, ref_grads, gscale, inputs):
        assert g.dtype == dtype and g.shape == t.shape, name
        assert_close_scaled(g, r, s, dtype, name)
        assert_layout_like(g, r, name)


@pytest.mark.parametrize("case", CASES, ids=conv_id)
def test_float64(case):
    check_conv(case)


@pytest.mark.parametrize("case", CASES[:6] + CASES[9:14], ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_reduced_dtypes(case, dtype):
    check_conv(case, dtype=dtype)


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[4], CASES[7], CASES[10], CASES[16]], ids=conv_id)
@pytest.mark.parametrize("layout,wlayout", [("channels_last", "contiguous"), ("strided", "contiguous"),
                                            ("contiguous", "channels_last"), ("channels_last", "channels_last")])
def test_layouts(case, layout, wlayout):
    check_conv(case, dtype=torch.float32, layout=layout, wlayout=wlayout)


@pytest.mark.parametrize("case", [CASES[0], CASES[9]], ids=conv_id)
def test_no_bias_and_unbatched(case):
    check_conv(case, bias=False)
    check_conv(case, batched=False)


def test_empty_batch():
    x = torch.randn(0, 3, 8, 8, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    y = cnnops.conv2d(x, w, b, padding=1)
    assert y.shape == (0, 4, 8, 8)
    gx, gw, gb = torch.autograd.grad(y, (x, w, b), torch.randn(y.shape))
    assert gx.shape == x.shape and torch.equal(gw, torch.zeros_like(w)) and torch.equal(gb, torch.zeros_like(b))


def test_only_requested_gradients():
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    w = torch.randn(4, 3, 3, 3)
    y = cnnops.conv2d(x, w, padding=1)
    (gx,) = torch.autograd.grad(y.sum(), (x,))
    assert torch.allclose(gx, torch.autograd.grad(F.conv2d(x, w, padding=1).sum(), (x,))[0], atol=1e-5)
    gi, gw, gb = torch.ops.cnnops.conv2d_backward(torch.randn(2, 4, 8, 8), x.detach(), w, [1, 1], [1, 1, 1, 1], [1, 1], 1,
                                                  [False, True, False])
    assert gi.numel() == 0 and gb.numel() == 0 and gw.shape == w.shape


@pytest.mark.parametrize("case", [CASES[0], CASES[7], CASES[9], CASES[13]], ids=conv_id)
def test_gradcheck(case):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    x = rand(1, C, min(H, 7), min(W, 7), requires_grad=True)
    w = rand(K, C // groups, R, S, requires_grad=True)
    b = rand(K, requires_grad=True)
    fn = lambda x, w, b: cnnops.conv2d(x, w, b, stride, padding, dilation, groups)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, b))
    assert torch.autograd.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("dtype,layout", [(torch.float32, "contiguous"), (torch.float32, "channels_last"),
                                          (torch.bfloat16, "contiguous"), (torch.bfloat16, "channels_last")])
def test_deterministic_across_runs_and_threads(dtype, layout):
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    x = torch.randn(4, 16, 20, 20).to(dtype, memory_format=fmt)
    w = torch.randn(24, 16, 3, 3).to(dtype, memory_format=fmt)
    go = torch.randn(4, 24, 20, 20).to(dtype)

    def run():
        xx, ww = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = cnnops.conv2d(xx, ww, padding=1)
        return (y,) + torch.autograd.grad(y, (xx, ww), go)

    assert_same_bits_across_threads(run)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_bfloat16_weight_gradient_split_reduction(layout):
    """A bfloat16 weight gradient long enough along N*P*Q for its reduction to be split into parts
    (4608 positions, one column range) and ragged in every block dimension: torch's float64 result
    to bfloat16 rounding, and the same bits on any thread count (the parts are fixed by the shape
    and added in order)."""
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    torch.manual_seed(0)
    x = torch.randn(2, 9, 48, 48).to(torch.bfloat16, memory_format=fmt)
    w = torch.randn(19, 9, 3, 3).to(torch.bfloat16, memory_format=fmt)
    go = torch.randn(2, 19, 48, 48).to(torch.bfloat16, memory_format=fmt)

    def run():
        ww = w.clone().requires_grad_()
        return torch.autograd.grad(cnnops.conv2d(x, ww, padding=1), ww, go)

    assert_same_bits_across_threads(run)
    w64 = w.double().requires_grad_()
    ref, = torch.autograd.grad(F.conv2d(x.double(), w64, padding=1), w64, go.double())
    _, (_, sw) = conv_abs_scale(x, w, None, 1, 1, 1, 1, go)
    assert_close_scaled(run()[0], ref, sw, torch.bfloat16, f"grad_weight {layout}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("c,k,r,padding,dilation,groups", [
    (40, 36, 3, 1, 1, 1), (36, 64, 1, 0, 1, 1), (8, 12, 4, "same", 1, 1), (32, 48, 3, 2, 2, 2), (34, 40, 5, 1, 1, 1),
    (6, 10, 3, 3, 1, 1), (20, 27, 1, 0, 1, 1), (64, 20, 3, 1, 1, 1), (72, 27, 1, 0, 1, 1)],
    ids=["3x3", "1x1", "same-even", "dilated-grouped", "5x5-narrow-pad", "pad-past-kernel", "1x1-ragged",
         "3x3-64-channels", "1x1-72-channels"])
def test_stride1_input_gradient_every_path(dtype, layout, c, k, r, padding, dilation, groups):
    """Stride-1 input gradients run as forward convolutions of grad_output with the filters
    transposed and flipped where the forward has its own path (channels-last, bfloat16 blocks)
    or where it pays (float layers of 64+ channels, the filters read through a view): every
    padding rule (asymmetric 'same', dilation, groups, padding past the kernel, which stays on the
    col2im GEMM), filter counts that leave ragged panels, against torch in float64."""
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    torch.manual_seed(0)
    x = torch.randn(3, c, 13, 11).to(dtype, memory_format=fmt).requires_grad_()
    w = torch.randn(k, c // groups, r, r).to(dtype, memory_format=fmt).requires_grad_()
    y = cnnops.conv2d(x, w, None, 1, padding, dilation, groups)
    go = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (x, w), go)
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    ref = F.conv2d(x64, w64, None, 1, padding, dilation, groups)
    rgx, rgw = torch.autograd.grad(ref, (x64, w64), go.double())
    _, (sx, sw) = conv_abs_scale(x, w, None, 1, padding, dilation, groups, go)
    assert_close_scaled(gx, rgx, sx, dtype, "grad_input")
    assert_close_scaled(gw, rgw, sw, dtype, "grad_weight")
    assert_layout_like(gx, x, "grad_input")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("r", [1, 3])
def test_outputs_past_the_caches_streamed(layout, r):
    """float32 outputs of 8 MB and more are written with streaming stores (streaming_store.h): a
    129 x 129 map (runs of every alignment, tails of 1-3 floats) in both layouts, plain and with
    the fused bias + residual + ReLU, every element against torch in float64 over a poisoned
    output; and the input gradient of the same size, which runs as a forward where it pays."""
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    torch.manual_seed(0)
    x = torch.randn(2, 5, 129, 129).to(memory_format=fmt)
    w = torch.randn(66, 5, r, r).to(memory_format=fmt)
    b = torch.randn(66)
    assert 2 * 66 * 129 * 129 * 4 >= 8 << 20, "the output must cross the streaming threshold"
    pad = r // 2
    y = cnnops.conv2d(x, w, None, 1, pad)
    ref = F.conv2d(x.double(), w.double(), None, 1, pad)
    scale = F.conv2d(x.double().abs(), w.double().abs(), None, 1, pad)
    assert_close_scaled(y, ref, scale, torch.float32, "plain")
    assert y.is_contiguous(memory_format=fmt)
    res = torch.randn(ref.shape).to(memory_format=fmt)
    y = torch.ops.cnnops.conv2d_bias_act(x, w, b, [1, 1], [pad] * 4, [1, 1], 1, 1, res)
    want = (F.conv2d(x.double(), w.double(), b.double(), 1, pad) + res.double()).relu()
    assert_close_scaled(y, want, scale + b.double().abs()[:, None, None] + res.double().abs(), torch.float32,
                        "bias + residual + relu")
    # The input gradient of a 66 -> 5 layer with an 8 MB grad_input.
    xg = torch.randn(2, 66, 129, 129).to(memory_format=fmt).requires_grad_()
    wg = torch.randn(5, 66, r, r).to(memory_format=fmt)
    go = torch.randn(2, 5, 129, 129).to(memory_format=fmt)
    gx, = torch.autograd.grad(cnnops.conv2d(xg, wg, None, 1, pad), xg, go)
    x64 = xg.detach().double().requires_grad_()
    rgx, = torch.autograd.grad(F.conv2d(x64, wg.double(), None, 1, pad), x64, go.double())
    _, (sx, _) = conv_abs_scale(xg.detach(), wg, None, 1, pad, 1, 1, go)
    assert_close_scaled(gx, rgx, sx, torch.float32, "grad_input")


def _expected_kernel(cap):
    """The float micro-kernel family CNNOPS_CPU_KERNEL=cap picks here: the cap, unless the CPU
    lacks it (the amx and avx512bf16 caps run the AVX-512 float kernels)."""
    flags = cpu_flags()
    order = ["generic", "avx2", "avx512"]
    have = "avx512" if "avx512f" in flags else "avx2" if {"avx2", "fma"} <= flags else "generic"
    cap = "avx512" if cap in ("amx", "avx512bf16") else cap
    return order[min(order.index(cap), order.index(have))]


# Forward, grad_input and grad_weight of shapes that cover every micro-kernel's ragged edges
# (C*R*S = 45 and 200 reduction columns: more than one 32-wide panel of grad_weight's B), in
# both layouts (channels-last runs the pointer-per-row kernels of the indirect GEMM).
_KERNEL_CAP_SCRIPT = """
import sys, torch, cnnops
info = cnnops.build_info()
print(info["cpu_microkernel_f32"], info["cpu_microkernel_f64"])
torch.manual_seed(0)
out = []
for dt, fmt in [(d, f) for d in (torch.float32, torch.float64) for f in (torch.contiguous_format, torch.channels_last)]:
    for shape in [(2, 5, 11, 9, 13, 3, 3, 1, 1), (3, 8, 14, 13, 70, 5, 5, 2, 2), (4, 48, 9, 9, 40, 1, 1, 1, 0)]:
        n, c, h, w, k, r, s, stride, pad = shape
        x = torch.randn(n, c, h, w, dtype=dt).to(memory_format=fmt).requires_grad_()
        wt = torch.randn(k, c, r, s, dtype=dt).to(memory_format=fmt).requires_grad_()
        y = cnnops.conv2d(x, wt, stride=stride, padding=pad)
        go = torch.randn_like(y)
        out += [x, wt, go, y] + list(torch.autograd.grad(y, (x, wt), go))
torch.save(out, sys.argv[1])
"""


def _run_with_kernel_cap(cap, path):
    env = dict(__import__("os").environ, CNNOPS_CPU_KERNEL=cap)
    done = subprocess.run([sys.executable, "-c", _KERNEL_CAP_SCRIPT, str(path)], check=True, env=env,
                          capture_output=True, text=True)
    return done.stdout.split(), torch.load(path)


@pytest.mark.parametrize("cap", ["generic", "avx2", "avx512", "avx512bf16", "amx"])
def test_microkernel_cap_subprocess(cap, tmp_path):
    """Every micro-kernel this CPU can run (chosen by the CPU's features, capped by
    CNNOPS_CPU_KERNEL) gives the right forward and backward; the FMA kernels (AVX2 and AVX-512)
    sum in one order, so they agree bit for bit."""
    names, out = _run_with_kernel_cap(cap, tmp_path / "out.pt")
    assert all(name.startswith(_expected_kernel(cap) + "_") for name in names), names
    for i in range(0, len(out), 6):
        x, wt, go, y, gx, gw = out[i:i + 6]
        stride, pad = (1, 1) if wt.shape[-1] == 3 else (2, 2) if wt.shape[-1] == 5 else (1, 0)
        x64, w64 = x.double().requires_grad_(), wt.double().requires_grad_()
        ref = F.conv2d(x64, w64, stride=stride, padding=pad)
        refs = (ref,) + torch.autograd.grad(ref, (x64, w64), go.double())
        ya, gscale = conv_abs_scale(x, wt, None, stride, pad, 1, 1, go)
        for got, want, scale, name in zip((y, gx, gw), refs, (ya,) + gscale, ("output", "grad_input", "grad_weight")):
            assert_close_scaled(got, want, scale, x.dtype, f"{cap} {name} {tuple(wt.shape)}")
    if _expected_kernel(cap) == "avx2" and _expected_kernel("avx512") == "avx512":
        _, wide = _run_with_kernel_cap("avx512", tmp_path / "wide.pt")
        for a, b in zip(out, wide):
            assert torch.equal(a, b)


def _expected_bf16_engine(cap):
    """The bfloat16 forward CNNOPS_CPU_KERNEL=cap picks here: AMX tiles where the CPU and the OS
    allow them, else AVX512-BF16 dot products where the CPU has them, else widening to float."""
    flags = cpu_flags()
    if cap == "amx" and amx_bf16_usable():
        return "amx_bf16_32x32"
    if cap in ("amx", "avx512bf16") and {"avx512f", "avx512bw", "avx512_bf16"} <= flags:
        return "avx512bf16_32x32"
    return "widen_f32"


# bfloat16 forwards and both gradients in both layouts, grouped and strided, with the fused
# epilogue; the rows' channel counts cross the blocks' 32-element chunks and 32-filter column
# pairs raggedly, and channel counts of 32 and 64 read 16-pixel A tiles in place in channels-last
# inputs (strided rows: stride 2) besides staging the windows at the borders.
_BF16_SCRIPT = """
import sys, torch, cnnops
print(cnnops.build_info()["cpu_bf16_forward"])
torch.manual_seed(0)
out = []
for fmt in (torch.contiguous_format, torch.channels_last):
    for n, c, h, w, k, r, stride, pad, groups in [(2, 5, 11, 9, 13, 3, 1, 1, 1), (3, 40, 14, 13, 70, 5, 2, 2, 1),
                                                  (4, 48, 9, 9, 36, 1, 1, 0, 3), (1, 3, 23, 23, 33, 7, 2, 3, 1),
                                                  (2, 64, 7, 37, 48, 3, 1, 1, 1), (2, 64, 6, 41, 40, 3, 2, 1, 2),
                                                  (3, 32, 5, 35, 16, 1, 1, 0, 1), (2, 1, 12, 12, 6, 5, 1, 0, 1)]:
        x = torch.randn(n, c, h, w).to(torch.bfloat16, memory_format=fmt).requires_grad_()
        wt = torch.randn(k, c // groups, r, r).to(torch.bfloat16, memory_format=fmt).requires_grad_()
        b = torch.randn(k).to(torch.bfloat16)
        y = cnnops.conv2d(x, wt, b, stride=stride, padding=pad, groups=groups)
        res = torch.randn_like(y)
        fused = torch.ops.cnnops.conv2d_bias_act(x.detach(), wt.detach(), b, [stride] * 2, [pad] * 4, [1, 1], groups,
                                                 1, res)
        gx, gw = torch.autograd.grad(y, (x, wt), res)
        out.append((x.detach(), wt.detach(), b, res, stride, pad, groups, y.detach(), fused, gx, gw))
torch.save(out, sys.argv[1])
"""


@pytest.mark.parametrize("cap", ["amx", "avx512bf16", "avx512"])
def test_bfloat16_forward_kernels_subprocess(cap, tmp_path):
    """The bfloat16 forward on AMX tiles, on AVX512-BF16 dot products (each where this CPU and OS
    allow them) and on the widening float path each give torch's float64 result to bfloat16
    rounding, in both layouts, and so do the input gradients that run as forwards of grad_output
    and the weight gradients on the same blocks;
    the fused bias + residual + ReLU epilogue rounds once; each engine is taken exactly when the
    cap allows it and the CPU and the OS do."""
    env = dict(__import__("os").environ, CNNOPS_CPU_KERNEL=cap)
    done = subprocess.run([sys.executable, "-c", _BF16_SCRIPT, str(tmp_path / "o.pt")], check=True, env=env,
                          capture_output=True, text=True)
    assert done.stdout.split()[0] == _expected_bf16_engine(cap)
    for x, wt, b, res, stride, pad, groups, y, fused, gx, gw in torch.load(tmp_path / "o.pt"):
        x64, w64, b64 = x.double().requires_grad_(), wt.double().requires_grad_(), b.double()
        ref = F.conv2d(x64, w64, b64, stride, pad, 1, groups)
        scale = F.conv2d(x64.abs(), w64.abs(), b64.abs(), stride, pad, 1, groups)
        what = f"{cap} {tuple(x.shape)} {tuple(wt.shape)} cl={x.is_contiguous(memory_format=torch.channels_last)}"
        assert_close_scaled(y, ref, scale, torch.bfloat16, what)
        assert_close_scaled(fused, torch.relu(ref + res.double()), scale + res.double().abs(), torch.bfloat16,
                            what + " fused")
        assert_layout_like(y, F.conv2d(x, wt, b, stride, pad, 1, groups), what)
        rgx, rgw = torch.autograd.grad(ref, (x64, w64), res.double())
        _, (sx, sw) = conv_abs_scale(x, wt, None, stride, pad, 1, groups, res)
        assert_close_scaled(gx, rgx, sx, torch.bfloat16, what + " grad_input")
        assert_close_scaled(gw, rgw, sw, torch.bfloat16, what + " grad_weight")
        assert_layout_like(gw, wt, what + " grad_weight")


def test_microkernel_cap_rejects_unknown_value():
    env = dict(__import__("os").environ, CNNOPS_CPU_KERNEL="sse9")
    code = "import torch, cnnops; cnnops.conv2d(torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "CNNOPS_CPU_KERNEL must be amx, avx512bf16, avx512, avx2 or generic" in done.stderr, done.stderr


@given(
    n=st.integers(1, 2), c=st.integers(1, 6), k=st.integers(1, 7), h=st.integers(1, 12), w=st.integers(1, 12),
    r=st.integers(1, 4), s=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
    ph=st.integers(0, 2), pw=st.integers(0, 2), dh=st.integers(1, 2), dw=st.integers(1, 2),
    groups=st.sampled_from([1, 2, 3]), bias=st.booleans(),
    layout=st.sampled_from(["contiguous", "channels_last", "strided"]),
)
def test_hypothesis_shapes(n, c, k, h, w, r, s, sh, sw, ph, pw, dh, dw, groups, bias, layout):
    c, k = c * groups, k * groups
    if h + 2 * ph < dh * (r - 1) + 1 or w + 2 * pw < dw * (s - 1) + 1:
        return
    check_conv((n, c, h, w, k, r, s, (sh, sw), (ph, pw), (dh, dw), groups), bias=bias, layout=layout)
