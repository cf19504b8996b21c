"""The direct kernels of narrow groups (csrc/cuda/conv2d_direct*: depthwise, channel multipliers,
ResNeXt-style groups) run by the simulator against torch in float64: forward with its fused
epilogue, grad_input by stride phases, grad_weight by splits and filter-row passes; every dtype,
both thread layouts, strided views, ragged tiles, large kernels past 48 KB of shared memory, other
schedules, bit-identical reruns. Outputs are poisoned first (conftest.py)."""
import pytest
import torch
import torch.nn.functional as F

from backends import make_backend
from conv_checks import ALL_DTYPES, check_backward, check_forward, conv_case_id
from cuda_kernel_choice import DTYPE_TAG, direct_kernel, expected_backward_kernels, expected_kernel
from helpers import assert_close_scaled, rand

sim = pytest.importorskip("cnnops._sim", reason="cnnops was built without the simulator module (CNNOPS_SIM=0)")
SIM = make_backend("sim")

# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
DIRECT_CASES = [
    (2, 16, 9, 11, 16, 3, 3, 1, 1, 1, 16),          # depthwise 3x3: the unrolled taps
    (2, 12, 10, 13, 24, 3, 3, 2, 1, 1, 12),         # depthwise multiplier 2, stride 2: looped taps
    (1, 40, 7, 9, 40, 3, 3, 1, 1, 1, 10),           # groups of 4 x 4 (ResNeXt's first stage)
    (1, 33, 19, 35, 99, 5, 5, 1, 2, 1, 33),         # multiplier 3: channel tiles cut groups, ragged tiles
    (2, 8, 11, 37, 8, 5, 5, 1, 2, 2, 8),            # dilation 2
    (1, 16, 9, 19, 16, 7, 7, 1, 3, 1, 16),          # ConvNeXt's 7x7
    (1, 6, 12, 11, 6, 3, 4, (2, 1), (1, 2), (1, 2), 3),  # mixed arguments
    (1, 6, 12, 11, 12, 4, 2, 1, "same", (1, 2), 3),  # even kernel: asymmetric 'same' padding
    (1, 64, 6, 6, 64, 3, 3, 1, 1, 1, 2),            # 32 channels per group: the widest direct group
    (1, 4, 20, 18, 4, 13, 13, 1, 6, 1, 4),          # RepLKNet's 13x13
    (1, 8, 12, 12, 16, 4, 4, 4, 0, 1, 4),           # stride = kernel: some dgrad phases are single taps
    (1, 6, 5, 5, 6, 3, 3, 3, 2, 1, 6),              # stride > kernel span: phases no tap reaches
    (2, 24, 10, 28, 48, 3, 3, 1, 1, 1, 24),         # NCHW rows of whole vectors: 16-byte stores, a ragged tile
]
LAYOUTS = ["contiguous", "channels_last", "strided"]


def _channels_last(t):
    return t.stride(1) == 1 and t.shape[1] > 1


@pytest.mark.parametrize("case", DIRECT_CASES, ids=conv_case_id)
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: DTYPE_TAG[d])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_forward(case, dtype, layout):
    y = check_forward(SIM, case, dtype, layout)
    want = expected_kernel(case, dtype, channels_last=layout == "channels_last")
    assert sim.last_kernel("conv2d_forward") == want
    # (float64's stage of a tile at stride 3 or 4 does not fit: the implicit GEMM)
    assert want.startswith("direct_") or (dtype == torch.float64 and case[7] in (3, 4))
    assert y.isfinite().all()


@pytest.mark.parametrize("case", DIRECT_CASES, ids=conv_case_id)
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: DTYPE_TAG[d])
def test_backward(case, dtype):
    check_backward(SIM, case, dtype)
    dgrad, wgrad = expected_backward_kernels(case, dtype)
    assert sim.last_kernel("conv2d_dgrad").startswith(dgrad)
    assert sim.last_kernel("conv2d_wgrad") == wgrad


@pytest.mark.parametrize("case", DIRECT_CASES[:4] + DIRECT_CASES[6:8] + DIRECT_CASES[10:], ids=conv_case_id)
@pytest.mark.parametrize("layout,golayout", [("channels_last", "channels_last"), ("strided", "channels_last"),
                                             ("channels_last", "contiguous")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
def test_backward_layouts(case, layout, golayout, dtype):
    check_backward(SIM, case, dtype, layout=layout, golayout=golayout)
    assert sim.last_kernel("conv2d_dgrad").startswith("direct_")
    assert sim.last_kernel("conv2d_wgrad").startswith("direct_wgrad_")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
def test_fused_bias_relu_residual(layout, dtype):
    """relu(conv + bias + residual) in the direct kernel's epilogue, rounded once."""
    N, C, H, W, K, groups = 2, 24, 9, 12, 48, 24
    x, w, b = rand(N, C, H, W, dtype=dtype, layout=layout), rand(K, 1, 3, 3, dtype=dtype), rand(K, dtype=dtype)
    ref = F.conv2d(x.double(), w.double(), b.double(), 1, 1, 1, groups)
    res = rand(*ref.shape, dtype=dtype, layout="channels_last" if layout == "contiguous" else "contiguous")
    y = sim.conv2d_bias_act(x, w, b, [1, 1], [1, 1, 1, 1], [1, 1], groups, 1, res)
    assert sim.last_kernel("conv2d_forward").startswith("direct_")
    scale = F.conv2d(x.double().abs(), w.double().abs(), b.double().abs(), 1, 1, 1, groups)
    assert_close_scaled(y, (ref + res.double()).relu(), scale + res.double().abs(), dtype, "fused direct")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_31x31_depthwise_past_48kb_of_shared_memory(layout):
    """RepLKNet's 31x31: one filter row of a channels-last tile takes more than 48 KB, so the
    kernel opts in to more (the simulator refuses a launch that did not); the weight gradient runs
    in passes of filter rows."""
    case = (1, 32, 12, 20, 32, 31, 31, 1, 15, 1, 32)
    check_forward(SIM, case, torch.float32, layout)
    assert sim.last_kernel("conv2d_forward") == direct_kernel(32, 32, 31, 31, 1, 1, 32, torch.float32,
                                                              layout == "channels_last")
    check_backward(SIM, case, torch.float32, layout=layout, golayout=layout)


def _forward_and_gradients(case, dtype, layout):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    torch.manual_seed(5)
    x = rand(N, C, H, W, dtype=dtype, layout=layout)
    w, b = rand(K, C // groups, R, S, dtype=dtype), rand(K, dtype=dtype)
    conv = (list(stride) if isinstance(stride, tuple) else [stride] * 2,
            list(padding) if isinstance(padding, tuple) else [padding] * 4,
            list(dilation) if isinstance(dilation, tuple) else [dilation] * 2, groups)
    y = sim.conv2d_forward(x, w, b, *conv)
    go = rand(*y.shape, dtype=dtype, layout=layout)
    return [y, *sim.conv2d_backward(go, x, w, *conv, [True, True, True])]


@pytest.mark.parametrize("schedule", ["warps_run_ahead", "reversed"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_other_schedules_give_the_same_bits(schedule, layout):
    """Each warp running ahead to the next barrier (a missing __syncthreads between staging and
    use reads poison), or blocks and threads last to first: the same bits as the default order --
    the wgrad splits are summed in split order, never in arrival order."""
    case = (2, 12, 10, 13, 24, 3, 3, 2, 1, 1, 12)
    want = _forward_and_gradients(case, torch.float32, layout)
    if schedule == "warps_run_ahead":
        sim.set_options(warps_run_ahead=True)
    else:
        sim.set_options(reverse_block_order=True, reverse_thread_order=True)
    try:
        got = _forward_and_gradients(case, torch.float32, layout)
    finally:
        sim.set_options()
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def test_wide_groups_stay_on_the_implicit_gemm():
    """More than 32 channels per group: the GEMM's tile is at least half used, the direct kernel's
    stage would not fit."""
    case = (1, 128, 6, 6, 128, 3, 3, 1, 1, 1, 2)
    check_forward(SIM, case, torch.float32)
    assert sim.last_kernel("conv2d_forward") == "fprop_simt_64x64x16<f32>"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
def test_nchw_outputs_are_stored_as_whole_vectors(dtype):
    """NCHW rows of whole vectors: every output store of the direct kernel is one vector of a
    thread's 4 adjacent columns (a warp's stores are 128-byte row segments in float32), and the
    shared reads are conflict-free (the staged channel planes padded to 1 modulo 32 banks)."""
    x, w = rand(2, 16, 12, 24, dtype=dtype), rand(16, 1, 3, 3, dtype=dtype)
    sim.reset_memory_counters()
    sim.set_profiling(memory=True)
    try:
        y = sim.conv2d_forward(x, w, None, [1, 1], [1, 1, 1, 1], [1, 1], 16)
    finally:
        sim.set_profiling()
    kernel = sim.last_kernel("conv2d_forward")
    assert kernel == "direct_nchw_8x8x32_s3<%s>" % DTYPE_TAG[dtype]
    sites = [s for s in sim.memory_counters() if s["kernel"] == kernel]
    stores = [s for s in sites if s["space"] == "global" and s["kind"] == "store"]
    assert stores and all(s["bytes"] == 4 * x.element_size() * s["lane_accesses"] for s in stores)
    reads = [s for s in sites if s["space"] == "shared" and s["kind"] == "load"]
    assert reads and all(s["wavefronts"] == s["ideal_wavefronts"] for s in reads)
    assert_close_scaled(y, F.conv2d(x.double(), w.double(), None, 1, 1, 1, 16),
                        F.conv2d(x.double().abs(), w.double().abs(), None, 1, 1, 1, 16), dtype, "vector stores")
