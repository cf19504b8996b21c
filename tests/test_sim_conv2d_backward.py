"""The CUDA convolution backward (grad_input, grad_weight with its split-K reduction, grad_bias)
run on the CPU by the simulator, through the same host code as on a GPU, against torch's autograd
in float64: every case, dtype and layout, each gradient alone, determinism under every schedule."""
import pytest
import torch
import torch.nn.functional as F

from cnnops import _args
from cases import CASES, conv_id
from helpers import assert_close_scaled, assert_layout_like, conv_abs_scale, rand

sim = pytest.importorskip("cnnops._sim", reason="cnnops was built without the simulator module (CNNOPS_SIM=0)")

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
TAG = {torch.float64: "f64", torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


def sim_backward(go, x, w, conv_args, mask):
    stride, padding, dilation, groups = _args.conv2d(x, w, None, *conv_args)
    return sim.conv2d_backward(go, x, w, list(stride), list(padding), list(dilation), groups, mask)


def check_backward(case, dtype, layout="contiguous", wlayout="contiguous", golayout="contiguous",
                   mask=(True, True, True)):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    conv_args = (stride, padding, dilation, groups)
    x = rand(N, C, H, W, dtype=dtype, layout=layout)
    w = rand(K, C // groups, R, S, dtype=dtype, layout=wlayout)
    x64, w64 = x.double().requires_grad_(), w.double().requires_grad_()
    b64 = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    ref = F.conv2d(x64, w64, b64, *conv_args)
    go = rand(*ref.shape, dtype=dtype, layout=golayout)
    refs = torch.autograd.grad(ref, [x64, w64, b64], go.double())
    _, scales = conv_abs_scale(x64, w64, b64, *conv_args, go.double())
    got = sim_backward(go, x, w, conv_args, list(mask))
    # The gradients' layouts must be those of cnnops' CPU op, which the CPU tests hold to torch's.
    st, pad, dil, g = _args.conv2d(x, w, None, *conv_args)
    cpu = torch.ops.cnnops.conv2d_backward(go, x, w, list(st), list(pad), list(dil), g, list(mask))
    for name, want_it, g, r, s, t, c in zip(("grad_input", "grad_weight", "grad_bias"), mask, got, refs, scales,
                                            (x, w, torch.empty(K, dtype=dtype)), cpu):
        if not want_it:
            assert g.numel() == 0, name
            continue
        assert g.dtype == dtype and g.shape == t.shape, name
        assert_close_scaled(g, r, s, dtype, name)
        assert_layout_like(g, c, name)
    return got


@pytest.mark.parametrize("case", CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: TAG[d])
def test_backward_every_case(case, dtype):
    check_backward(case, dtype)
    K, groups = case[4], case[10]
    if dtype in (torch.float16, torch.bfloat16) and groups == 1 and K % 8 == 0:
        assert sim.last_kernel("conv2d_dgrad").startswith("fprop_tc")  # stride phases on tensor cores
    else:
        assert sim.last_kernel("conv2d_dgrad") == f"dgrad_simt_64x64x16<{TAG[dtype]}>"
    assert sim.last_kernel("conv2d_wgrad") == f"wgrad_simt_64x64x16_splitk<{TAG[dtype]}>"


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[7], CASES[10]], ids=conv_id)
@pytest.mark.parametrize("layout,wlayout,golayout", [("channels_last", "contiguous", "contiguous"),
                                                     ("strided", "channels_last", "strided"),
                                                     ("contiguous", "contiguous", "channels_last")])
def test_backward_layouts(case, layout, wlayout, golayout):
    check_backward(case, torch.float32, layout, wlayout, golayout)


# grad_input by stride phases on the tensor-core forward kernels (K % 8 == 0, groups == 1).
PHASE_CASES = [
    (2, 8, 9, 11, 16, 3, 3, 2, 1, 1, 1),          # 3x3/2: four phases with 4, 2, 2, 1 taps
    (2, 8, 12, 10, 16, 1, 1, 2, 0, 1, 1),         # 1x1/2: three phases get no tap at all (zeros)
    (1, 16, 13, 12, 24, 7, 7, 2, 3, 1, 1),        # the ResNet stem's geometry
    (2, 8, 10, 11, 8, 3, 3, (3, 2), (2, 1), (2, 1), 1),  # strides 3/2, dilation 2/1: spaced taps
    (1, 8, 9, 9, 16, 2, 3, 4, 1, 1, 1),           # stride > kernel: empty phases
    (2, 16, 7, 8, 32, 3, 3, 1, 1, 1, 1),          # stride 1: one phase, the flipped-filter convolution
    (1, 8, 11, 10, 16, 4, 2, 3, "valid", 1, 1),
]


@pytest.mark.parametrize("case", PHASE_CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=lambda d: TAG[d])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_dgrad_by_stride_phases_on_tensor_cores(case, dtype, layout):
    sim.reset_counters()
    check_backward(case, dtype, layout=layout, golayout=layout, mask=(True, False, False))
    assert sim.last_kernel("conv2d_dgrad").startswith("fprop_tc")
    assert sim.counters()["mma_sync"] > 0


def test_dgrad_by_stride_phases_in_tf32():
    from helpers import UNIT_TOL, conv_tf32

    old = UNIT_TOL[torch.float32]
    UNIT_TOL[torch.float32] = 2e-3
    try:
        with conv_tf32(True):
            check_backward(PHASE_CASES[0], torch.float32, mask=(True, False, False))
            assert sim.last_kernel("conv2d_dgrad").startswith("fprop_tc") and "tf32" in sim.last_kernel("conv2d_dgrad")
    finally:
        UNIT_TOL[torch.float32] = old


# grad_weight as a forward convolution with the batch as channels (N % 8 == 0, groups == 1).
WGRAD_TC_CASES = [
    (8, 4, 9, 11, 16, 3, 3, 2, 1, 1, 1),          # strided, padded: stride and dilation swap roles
    (16, 8, 7, 6, 24, 3, 3, 1, 1, 2, 1),          # dilated
    (8, 16, 6, 7, 40, 1, 1, 2, 0, 1, 1),          # 1x1/2 downsample
    (8, 3, 12, 13, 8, 7, 7, 2, 3, 1, 1),          # the stem: C = 3 is fine here (the batch is the reduction)
    (24, 8, 20, 20, 8, 3, 3, 1, 1, 1, 1),         # N*P*Q = 9600: split into batch chunks, summed in order
]


@pytest.mark.parametrize("case", WGRAD_TC_CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=lambda d: TAG[d])
def test_wgrad_on_tensor_cores(case, dtype):
    sim.reset_counters()
    check_backward(case, dtype, layout="channels_last", mask=(False, True, True))
    assert sim.last_kernel("conv2d_wgrad").startswith("fprop_tc")
    assert sim.counters()["mma_sync"] > 0


def test_wgrad_on_tensor_cores_in_tf32_and_deterministic():
    from helpers import UNIT_TOL, conv_tf32

    old = UNIT_TOL[torch.float32]
    UNIT_TOL[torch.float32] = 2e-3
    try:
        with conv_tf32(True):
            check_backward(WGRAD_TC_CASES[4], torch.float32, mask=(False, True, False))
            assert "tf32" in sim.last_kernel("conv2d_wgrad")
            x, w = rand(24, 8, 20, 20, dtype=torch.float32), rand(8, 8, 3, 3, dtype=torch.float32)
            go = rand(24, 8, 20, 20, dtype=torch.float32)
            first = sim_backward(go, x, w, (1, 1, 1, 1), [False, True, False])[1]
            sim.set_options(reverse_block_order=True, warps_run_ahead=True)
            try:
                assert torch.equal(first, sim_backward(go, x, w, (1, 1, 1, 1), [False, True, False])[1])
            finally:
                sim.set_options()
    finally:
        UNIT_TOL[torch.float32] = old


@pytest.mark.parametrize("mask", [(True, False, False), (False, True, False), (False, False, True),
                                  (False, True, True)])
def test_each_gradient_alone(mask):
    sim.reset_counters()
    check_backward(CASES[9], torch.float32, mask=mask)
    # Nothing is launched for a gradient nobody asked for: dgrad alone is one launch, wgrad two
    # (partial sums, ordered reduction), grad_bias one.
    launches = (1 if mask[0] else 0) + (2 if mask[1] else 0) + (1 if mask[2] else 0)
    assert sim.counters()["launches"] == launches


def test_split_k_weight_gradient_is_deterministic_under_every_schedule():
    """N*P*Q = 2888 over a single 64 x 64 tile: the reduction is split in 3, summed in order."""
    case = (2, 2, 40, 40, 3, 3, 3, 1, 0, 1, 1)
    sim.reset_counters()
    check_backward(case, torch.float32)
    assert sim.counters()["blocks"] > 3  # several split blocks ran
    x, w, go = rand(2, 2, 40, 40, dtype=torch.float32), rand(3, 2, 3, 3, dtype=torch.float32), rand(2, 3, 38, 38,
                                                                                                  dtype=torch.float32)
    first = sim_backward(go, x, w, (1, 0, 1, 1), [True, True, True])
    for options in ({}, {"reverse_block_order": True, "reverse_thread_order": True}, {"warps_run_ahead": True}):
        sim.set_options(**options)
        try:
            again = sim_backward(go, x, w, (1, 0, 1, 1), [True, True, True])
        finally:
            sim.set_options()
        assert all(torch.equal(a, b) for a, b in zip(first, again)), options


def test_empty_batch_gives_zero_weight_and_bias_gradients():
    x, w = rand(0, 3, 5, 5), rand(4, 3, 3, 3)
    gi, gw, gb = sim_backward(torch.empty(0, 4, 3, 3, dtype=torch.float64), x, w, (1, 0, 1, 1), [True, True, True])
    assert gi.shape == (0, 3, 5, 5) and torch.equal(gw, torch.zeros_like(w)) and torch.equal(gb, torch.zeros(4, dtype=gb.dtype))


def test_bad_grad_output_is_an_error():
    x, w = rand(1, 3, 5, 5), rand(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match="grad_output has shape"):
        sim_backward(rand(1, 4, 4, 4), x, w, (1, 0, 1, 1), [True, True, True])
    with pytest.raises(RuntimeError, match="grad_output dtype"):
        sim_backward(rand(1, 4, 3, 3, dtype=torch.float32), x, w, (1, 0, 1, 1), [True, True, True])
