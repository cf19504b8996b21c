"""cnnops.conv2d_bias_act: act(conv2d + bias + residual) in one kernel, on the CPU and on the
simulated CUDA kernels (both the CUDA-core and the tensor-core epilogue), against the unfused
torch computation in float64; its gradients (gradcheck, gradgradcheck) and errors."""
import pytest
import torch
import torch.nn.functional as F

import cnnops
from cnnops import _args
from cases import FUSED_CASES, conv_id
from helpers import assert_close_scaled, conv_tf32, rand

sim = pytest.importorskip("cnnops._sim", reason="cnnops was built without the simulator module (CNNOPS_SIM=0)")

def reference(x, w, b, r, activation, conv_args):
    """The unfused computation in float64, and its error scale (the same on |terms|)."""
    z = F.conv2d(x.double(), w.double(), None if b is None else b.double(), *conv_args)
    scale = F.conv2d(x.double().abs(), w.double().abs(), None if b is None else b.double().abs(), *conv_args)
    if r is not None:
        z, scale = z + r.double(), scale + r.double().abs()
    return (z.relu() if activation == "relu" else z), scale


def make(case, dtype, residual_layout="contiguous", bias=True, layout="contiguous"):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    x = rand(N, C, H, W, dtype=dtype, layout=layout)
    w = rand(K, C // groups, R, S, dtype=dtype, layout=layout)
    b = rand(K, dtype=dtype) if bias else None
    P, Q = F.conv2d(x[:1, :].double(), w.double(), None, stride, padding, dilation, groups).shape[2:]
    r = rand(N, K, P, Q, dtype=dtype, layout=residual_layout)
    return x, w, b, r, (stride, padding, dilation, groups)


@pytest.mark.parametrize("case", FUSED_CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("with_residual", [False, True])
@pytest.mark.parametrize("layouts", [("contiguous", "channels_last"), ("channels_last", "channels_last"),
                                     ("channels_last", "contiguous")], ids=lambda t: "x-{}-residual-{}".format(*t))
def test_cpu_matches_unfused(case, dtype, activation, with_residual, layouts):
    """Each CPU path's epilogue (channels-last input: the indirect GEMM's vector runs where the
    output and residual have channels innermost, element by element where the residual has not)."""
    x, w, b, r, conv_args = make(case, dtype, layouts[1], layout=layouts[0])
    r = r if with_residual else None
    y = cnnops.conv2d_bias_act(x, w, b, *conv_args, activation=activation, residual=r)
    ref, scale = reference(x, w, b, r, activation, conv_args)
    assert y.dtype == dtype
    assert_close_scaled(y, ref, scale, dtype, "conv2d_bias_act")


@pytest.mark.parametrize("case", FUSED_CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("residual_layout", ["contiguous", "channels_last", "strided"])
def test_simulated_cuda_epilogue(case, dtype, residual_layout):
    x, w, b, r, (stride, padding, dilation, groups) = make(case, dtype, residual_layout)
    s, p, d, g = _args.conv2d(x, w, b, stride, padding, dilation, groups)
    y = sim.conv2d_bias_act(x, w, b, list(s), list(p), list(d), g, 1, r)
    ref, scale = reference(x, w, b, r, "relu", (stride, padding, dilation, groups))
    assert_close_scaled(y, ref, scale, dtype, "simulated conv2d_bias_act")
    assert (y >= 0).all()
    # The unfused op still ignores the epilogue (no residual, no activation).
    y0 = sim.conv2d_forward(x, w, b, list(s), list(p), list(d), g)
    assert (y0 < 0).any()


def test_relu_keeps_nan_like_torch():
    x, w = rand(1, 2, 5, 5), rand(3, 2, 3, 3)
    x[0, 0, 2, 2] = float("nan")
    y = cnnops.conv2d_bias_act(x, w, activation="relu")
    ref = F.relu(F.conv2d(x, w))
    assert torch.equal(torch.isnan(y), torch.isnan(ref)) and torch.isnan(y).any()


@pytest.mark.parametrize("backend", ["cpu", "simulated cuda"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_zero_input_channels_is_the_epilogue_alone(backend, layout):
    """C = 0: the reduction is empty, so y = act(bias + residual), from the same epilogue."""
    x, w, b = rand(2, 0, 5, 6, layout=layout), rand(4, 0, 3, 3), rand(4)
    r = rand(2, 4, 3, 4, layout="strided")
    if backend == "cpu":
        y = cnnops.conv2d_bias_act(x, w, b, activation="relu", residual=r)
    else:
        y = sim.conv2d_bias_act(x, w, b, [1, 1], [0, 0, 0, 0], [1, 1], 1, 1, r)
    torch.testing.assert_close(y, F.relu(b.view(1, 4, 1, 1) + r), rtol=0, atol=0)


def test_gradcheck_and_gradgradcheck():
    x, w, b, r, conv_args = make(FUSED_CASES[1], torch.float64)
    for t in (x, w, b, r):
        t.requires_grad_()

    def f(x, w, b, r):
        return cnnops.conv2d_bias_act(x, w, b, *conv_args, activation="relu", residual=r)

    assert torch.autograd.gradcheck(f, (x, w, b, r))
    assert torch.autograd.gradgradcheck(f, (x, w, b, r))


def test_gradients_match_the_unfused_model():
    x, w, b, r, conv_args = make(FUSED_CASES[0], torch.float64, bias=True)
    leaves = [t.requires_grad_() for t in (x, w, b, r)]
    y = cnnops.conv2d_bias_act(x, w, b, *conv_args, activation="relu", residual=r)
    ref = F.relu(F.conv2d(x, w, b, *conv_args) + r)
    go = torch.randn_like(ref)
    for g, gr in zip(torch.autograd.grad(y, leaves, go), torch.autograd.grad(ref, leaves, go)):
        torch.testing.assert_close(g, gr, rtol=1e-10, atol=1e-10)


def test_unbatched_input():
    x, w, r = rand(3, 6, 6), rand(4, 3, 3, 3), rand(4, 4, 4)
    y = cnnops.conv2d_bias_act(x, w, residual=r, activation="relu")
    torch.testing.assert_close(y, F.relu(F.conv2d(x, w) + r))


def test_errors():
    x, w = rand(1, 3, 6, 6), rand(4, 3, 3, 3)
    with pytest.raises(ValueError, match="activation"):
        cnnops.conv2d_bias_act(x, w, activation="gelu")
    with pytest.raises(RuntimeError, match="residual must have the output's shape"):
        cnnops.conv2d_bias_act(x, w, residual=rand(1, 4, 6, 6))
    with pytest.raises(RuntimeError, match="residual dtype"):
        cnnops.conv2d_bias_act(x, w, residual=rand(1, 4, 4, 4, dtype=torch.float32))
    with pytest.raises(TypeError, match="residual must be a Tensor"):
        cnnops.conv2d_bias_act(x, w, residual=1.0)


def _misaligned_copy(t):
    """t's values in a tensor of the same strides whose storage starts one element past a 16-byte
    boundary: a vector access of it is misaligned."""
    buf = torch.empty(t.untyped_storage().nbytes() // t.element_size() + 1, dtype=t.dtype)
    out = torch.as_strided(buf, t.shape, t.stride(), storage_offset=1)
    return out.copy_(t)


def _bytes_per_access(instruction):
    sites = [s for s in sim.memory_counters() if s["instruction"] == instruction]
    return {s["bytes"] // s["lane_accesses"] for s in sites if s["lane_accesses"]}


@pytest.mark.parametrize("K", [64, 20], ids=lambda k: "K%d" % k)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=["f16", "bf16", "tf32"])
def test_tensor_core_epilogue_vector_and_element_paths_agree(dtype, K):
    """The tensor-core epilogue (staged through shared memory) reads and writes 16-byte vectors
    where the output, the bias and the residual allow it, and goes element by element where they
    do not -- a ragged last vector (K = 20), a misaligned bias or residual, an NCHW residual.
    Every combination gives the same bits, and the right values."""
    N, C, H, W = 2, 16, 7, 9
    x = rand(N, C, H, W, dtype=dtype, layout="channels_last")
    w = rand(K, C, 3, 3, dtype=dtype, layout="channels_last")
    b, r = rand(K, dtype=dtype), rand(N, K, H, W, dtype=dtype, layout="channels_last")
    b_off, r_off = _misaligned_copy(b), _misaligned_copy(r)
    combos = [(b, r), (b_off, r), (b, r_off), (b, r.contiguous()), (b_off, r_off)]
    ys = []
    with conv_tf32(True):
        for i, (bias, res) in enumerate(combos):
            sim.reset_memory_counters()
            sim.set_profiling(memory=True)
            try:
                ys.append(sim.conv2d_bias_act(x, w, bias, [1, 1], [1, 1, 1, 1], [1, 1], 1, 1, res))
            finally:
                sim.set_profiling()
            assert sim.last_kernel("conv2d_forward").startswith("fprop_tc"), sim.last_kernel("conv2d_forward")
            vector, element = 16, x.element_size()
            assert vector in _bytes_per_access("st.global")
            bias_sizes, res_sizes = _bytes_per_access("ld.global bias"), _bytes_per_access("ld.global residual")
            if i == 0:  # all aligned: element accesses only for K = 20's ragged last 4 channels
                assert vector in bias_sizes and vector in res_sizes
                if K == 64:
                    assert bias_sizes == res_sizes == _bytes_per_access("st.global") == {vector}
            if bias is b_off:
                assert bias_sizes == {element}
            if res is not r:
                assert res_sizes == {element}
    ref, scale = reference(x, w, b, r, "relu", (1, 1, 1, 1))
    # TF32 keeps float16's 10 mantissa bits.
    assert_close_scaled(ys[0], ref, scale, torch.float16 if dtype == torch.float32 else dtype, "tensor-core epilogue")
    for (bias, res), y in zip(combos[1:], ys[1:]):
        assert torch.equal(y, ys[0]), "bias %s, residual strides %s: bits differ from the vector path" % (
            "misaligned" if bias is b_off else "aligned", res.stride())


@pytest.mark.parametrize("K", [64, 20], ids=lambda k: "K%d" % k)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
def test_tensor_core_epilogue_rounded_staging(dtype, K):
    """Without a residual a 16-bit output is rounded in registers and staged as itself: the same
    bits as the float staging that a residual of zeros takes, with or without an aligned bias,
    and 16-byte stores wherever the channels fill a vector."""
    N, C, H, W = 2, 16, 7, 9
    x = rand(N, C, H, W, dtype=dtype, layout="channels_last")
    w = rand(K, C, 3, 3, dtype=dtype, layout="channels_last")
    b = rand(K, dtype=dtype)
    zeros = torch.zeros(N, K, H, W, dtype=dtype).contiguous(memory_format=torch.channels_last)
    ys = {}
    for name, bias, res in (("rounded", b, None), ("rounded, misaligned bias", _misaligned_copy(b), None),
                            ("float staging", b, zeros)):
        sim.reset_memory_counters()
        sim.set_profiling(memory=True)
        try:
            ys[name] = sim.conv2d_bias_act(x, w, bias, [1, 1], [1, 1, 1, 1], [1, 1], 1, 1, res)
        finally:
            sim.set_profiling()
        assert sim.last_kernel("conv2d_forward").startswith("fprop_tc")
        staged = {s["bytes"] // s["lane_accesses"] for s in sim.memory_counters()
                  if s["instruction"] == "st.shared" and s["lane_accesses"]}
        assert staged == ({4} if res is None else {8}), (name, staged)
        assert 16 in _bytes_per_access("st.global")
    ref, scale = reference(x, w, b, None, "relu", (1, 1, 1, 1))
    assert_close_scaled(ys["rounded"], ref, scale, dtype, "rounded staging")
    for name, y in ys.items():
        assert torch.equal(y, ys["rounded"]), name
