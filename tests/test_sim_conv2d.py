"""The CUDA convolution forward (csrc/cuda) run on the CPU by the simulator (cnnops._sim), through
the same host code as on a GPU, against torch in float64: the tensor-core paths and their counters,
other schedules, TF32, fallbacks, the kernel plans of real networks, edge cases. Every case of the
shared table, dtype and layout runs on every backend in test_conv2d_backends.py."""
import pytest
import torch
import torch.nn.functional as F

import cnnops
from backends import make_backend
from cases import conv_id
from cnnops import _args
from conv_checks import check_forward
from cuda_kernel_choice import DTYPE_TAG, expected_kernel, out_size, tensor_core_tile
from helpers import UNIT_TOL, assert_close_scaled, conv_tf32, rand

sim = pytest.importorskip("cnnops._sim", reason="cnnops was built without the simulator module (CNNOPS_SIM=0)")
SIM = make_backend("sim")


def sim_conv2d(x, w, b, stride, padding, dilation, groups):
    """torch.nn.functional.conv2d's arguments, run by the simulated CUDA op."""
    stride, padding, dilation, groups = _args.conv2d(x, w, b, stride, padding, dilation, groups)
    return sim.conv2d_forward(x, w, b, list(stride), list(padding), list(dilation), groups)


def check_sim_conv(case, dtype, layout="contiguous", wlayout="contiguous", bias=True):
    sim.reset_counters()
    y = check_forward(SIM, case, dtype, layout, wlayout, bias)
    counters = sim.counters()
    assert counters["launches"] == 1 and counters["blocks"] >= 1
    return y


# ----------------------------------------------------------------------------- tensor cores
TC_CASES = [
    (2, 16, 9, 11, 24, 3, 3, 1, 1, 1, 1),       # one block each way
    (3, 64, 7, 9, 72, 3, 3, 1, 1, 1, 1),        # 18 k-steps through the 3-stage pipeline, ragged K tile
    (2, 24, 13, 12, 136, 1, 1, 1, 0, 1, 1),     # 1x1: N*P*Q > 128 and K > 128 (ragged both ways)
    (2, 8, 17, 15, 16, 7, 7, 2, 3, 1, 1),       # 7x7/2 with padding, C = 8
    (1, 16, 12, 12, 8, 3, 3, 2, (0, 1, 2, 1), 2, 1),  # asymmetric padding, dilation, stride
    (2, 32, 6, 5, 40, 1, 1, 2, 0, 1, 1),        # 1x1/2 bottleneck downsample (the 1x1 GEMM kernel)
    (2, 16, 5, 6, 24, 1, 1, 1, 1, 1, 1),        # a padded 1x1: the general kernel
    (1, 8, 48, 44, 520, 1, 1, 1, 0, 1, 1),      # 17 x 9 = 153 large tiles: the 128 x 64 configuration
    (2, 24, 7, 6, 40, 3, 3, 1, 1, 1, 1),        # C = 24: the walked tap wraps mid-vector-row, 7 k-steps
    (1, 40, 9, 9, 16, 3, 3, 1, 2, 2, 1),        # C = 40, dilation 2: taps wrap at odd places in a step
]
# 67 x 2 = 134 blocks of 128 x 128 (one for every SM): the wide configuration, ragged in N*P*Q
# and K. Slow to simulate, so one layout per dtype.
WIDE_CASE = (1, 8, 67, 128, 200, 1, 1, 1, 0, 1, 1)


@pytest.mark.parametrize("case", TC_CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_tensor_core_path(case, dtype, layout):
    check_tensor_core_case(case, dtype, layout)


@pytest.mark.parametrize("case", TC_CASES[:3], ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32], ids=lambda d: DTYPE_TAG[d])
@pytest.mark.parametrize("schedule", ["warps_run_ahead", "reversed"])
def test_tensor_core_path_under_other_schedules(case, dtype, schedule):
    """Other legal GPU schedules: each warp running ahead to the next __syncthreads (a missing
    barrier between warps reads poison), or blocks and threads last to first."""
    if schedule == "warps_run_ahead":
        sim.set_options(warps_run_ahead=True)
    else:
        sim.set_options(reverse_block_order=True, reverse_thread_order=True)
    try:
        with conv_tf32(True):
            tol = {torch.float32: 2e-3, torch.float16: UNIT_TOL[torch.float16]}
            N, C, H, W, K, R, S, stride, padding, dilation, groups = case
            x, w = rand(N, C, H, W, dtype=dtype, layout="channels_last"), rand(K, C, R, S, dtype=dtype)
            y = sim_conv2d(x, w, None, stride, padding, dilation, groups)
            ref = F.conv2d(x.double(), w.double(), None, stride, padding, dilation, groups)
            scale = F.conv2d(x.double().abs(), w.double().abs(), None, stride, padding, dilation, groups)
            bound = tol[dtype] * (scale + 1e-3 * scale.max())
            assert ((y.double() - ref).abs() <= bound).all()
    finally:
        sim.set_options()


@pytest.mark.parametrize("case", TC_CASES + [(2, 4, 7, 6, 12, 3, 3, 1, 1, 1, 1)], ids=conv_id)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_tf32_path_when_torch_allows_it(case, layout, monkeypatch):
    """float32 with TF32 allowed: tensor cores (m16n8k8 tf32, inputs rounded to TF32), accurate
    to TF32's 10-bit mantissa; C % 4 == 0 suffices."""
    monkeypatch.setitem(UNIT_TOL, torch.float32, 2e-3)
    with conv_tf32(True):
        check_tensor_core_case(case, torch.float32, layout)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=lambda d: DTYPE_TAG[d])
def test_tensor_core_wide_tile(dtype, monkeypatch):
    """The 128 x 128 configuration (64 x 64 warp tiles) on a layer that gives every SM one."""
    monkeypatch.setitem(UNIT_TOL, torch.float32, 2e-3)
    with conv_tf32(True):
        check_tensor_core_case(WIDE_CASE, dtype, "channels_last")
    assert sim.last_kernel("conv2d_forward").startswith("fprop_tc1x1_128x128x")


def test_float32_is_ieee_when_tf32_is_off():
    x, w = rand(2, 8, 9, 9, dtype=torch.float32), rand(16, 8, 3, 3, dtype=torch.float32)
    with conv_tf32(False):
        check_sim_conv((2, 8, 9, 9, 16, 3, 3, 1, 1, 1, 1), torch.float32)
        assert sim.last_kernel("conv2d_forward") == "fprop_simt_64x64x16<f32>"
    with conv_tf32(True):
        assert sim.conv2d_forward_plan(x, w, None, [1, 1], [1] * 4, [1, 1], 1) == "fprop_tc_64x64x32_s3<tf32>"
        # C % 4 != 0: CUDA cores, IEEE, even with TF32 allowed.
        x6, w6 = rand(2, 6, 9, 9, dtype=torch.float32), rand(16, 6, 3, 3, dtype=torch.float32)
        assert sim.conv2d_forward_plan(x6, w6, None, [1, 1], [1] * 4, [1, 1], 1) == "fprop_simt_64x64x16<f32>"


def check_tensor_core_case(case, dtype, layout):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    if isinstance(padding, tuple):  # [top, left, bottom, right]: only the op takes it directly
        x, w, b = rand(N, C, H, W, dtype=dtype, layout=layout), rand(K, C, R, S, dtype=dtype), rand(K, dtype=dtype)
        sim.reset_counters()
        y = sim.conv2d_forward(x, w, b, [stride, stride], list(padding), [dilation, dilation], 1)
        xp = F.pad(x.double(), (padding[1], padding[3], padding[0], padding[2]))
        ref = F.conv2d(xp, w.double(), b.double(), stride, 0, dilation)
        scale = F.conv2d(xp.abs(), w.double().abs(), b.double().abs(), stride, 0, dilation)
        assert_close_scaled(y, ref, scale, dtype, "asymmetric padding")
    else:
        check_sim_conv(case, dtype, layout)
    assert sim.last_kernel("conv2d_forward") == expected_kernel(case, dtype, tf32=dtype == torch.float32)
    # Every warp (4 per block, 2 x 2) ran frags_m * frags_n mma per slice, frags_m = tile_m / 32
    # 16-row A tiles by frags_n = tile_n / 16 8-column B tiles (and, for 16-bit types, as many
    # ldmatrix.x4 as it has A tiles plus half its B tiles), row_bytes / 32 slices per step (a
    # k-tile of one row); every thread (128) issued (tile_m + tile_n) * row_bytes / 2048 16-byte
    # copies per step.
    tile_m, tile_n = tensor_core_tile(case)
    row_bytes = 128 if (tile_m, tile_n) == (64, 64) else 64
    P, Q = out_size(case)
    blocks = -(-N * P * Q // tile_m) * -(-K // tile_n)
    k_steps = -(-C * R * S // (row_bytes // (4 if dtype == torch.float32 else 2)))
    slices = row_bytes // 32
    frags_m, frags_n = tile_m // 32, tile_n // 16
    counters = sim.counters()
    assert counters["mma_sync"] == blocks * 4 * k_steps * slices * frags_m * frags_n
    assert counters["ldmatrix"] == (0 if dtype == torch.float32 else
                                    blocks * 4 * k_steps * slices * (frags_m + frags_n // 2))
    assert counters["cp_async"] == blocks * 128 * k_steps * (tile_m + tile_n) * row_bytes // 2048


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=lambda d: DTYPE_TAG[d])
def test_a_non_finite_input_reaches_only_the_windows_holding_it(dtype):
    """One inf pixel makes non-finite exactly the outputs whose windows hold it, as in torch: the
    tensor-core loaders zero-fill the reduction columns past the last tap (C = 40, 3x3: 360 of the
    last k-tile's 384 or 392 columns) instead of reading the pixel a tap below the window, which a
    zero filter column would turn into NaN (inf * 0)."""
    torch.manual_seed(0)
    x = rand(2, 40, 9, 8, dtype=dtype).contiguous(memory_format=torch.channels_last)
    x[1, 7, 6, 3] = float("inf")
    w = rand(24, 40, 3, 3, dtype=dtype)
    with conv_tf32(True):
        y = sim.conv2d_forward(x, w, None, [1, 1], [1] * 4, [1, 1], 1)
    assert sim.last_kernel("conv2d_forward").startswith("fprop_tc_")
    ref = F.conv2d(x.double(), w.double(), None, 1, 1)
    assert torch.equal(torch.isfinite(y), torch.isfinite(ref))
    assert (~torch.isfinite(ref)).sum() == 24 * 9  # the pixel's 3x3 neighbourhood, every filter


def test_unaligned_channels_last_view_falls_back_to_cuda_cores():
    """A channels-last tensor whose data starts 2 bytes past a 16-byte boundary cannot feed
    16-byte cp.async: the CUDA-core kernel serves it, with the same result."""
    N, C, H, W = 2, 16, 5, 6
    storage = torch.randn(N * C * H * W + 1, dtype=torch.float64).to(torch.float16)
    x = storage[1:].as_strided((N, C, H, W), (H * W * C, 1, W * C, C))
    assert x.is_contiguous(memory_format=torch.channels_last) and x.data_ptr() % 16 != 0
    w = rand(8, C, 3, 3, dtype=torch.float16)
    y = sim_conv2d(x, w, None, 1, 1, 1, 1)
    assert sim.last_kernel("conv2d_forward") == "fprop_simt_64x64x16<f16>"
    ref = F.conv2d(x.double(), w.double(), None, 1, 1)
    assert_close_scaled(y, ref, F.conv2d(x.double().abs(), w.double().abs(), None, 1, 1), torch.float16, "unaligned")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=lambda d: DTYPE_TAG[d])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_resnet50_and_vgg16_layers_choose_tensor_cores(dtype, layout):
    """Every ResNet-50 / VGG-16 layer but the C = 3 stems plans the tensor-core kernel (batch 1,
    nothing launched; the cases above prove that kernel computes correctly); float32 with TF32
    allowed, as torch's default."""
    from benchmarks.suites import RESNET50_CONVS, VGG16_CONVS

    with conv_tf32(True):
        plan_layers(RESNET50_CONVS + VGG16_CONVS, dtype, layout)


def plan_layers(layers, dtype, layout):
    for name, C, H, W, K, R, S, stride, padding in layers:
        x = torch.empty(1, C, H, W, dtype=dtype)
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        w = torch.empty(K, C, R, S, dtype=dtype)
        plan = sim.conv2d_forward_plan(x, w, None, [stride] * 2, [padding] * 4, [1, 1], 1)
        want = "fprop_simt" if C == 3 else "fprop_tc1x1_" if R == 1 else "fprop_tc_"
        assert plan.startswith(want), f"{name}: planned {plan}"


def test_forward_several_blocks_each_way():
    """N*P*Q and K/groups both span several 64-wide tiles, with ragged last tiles."""
    check_sim_conv((3, 12, 11, 13, 130, 3, 3, 1, 1, 1, 1), torch.float32)
    assert sim.counters()["blocks"] == 7 * 3  # ceil(3*11*13 / 64) x ceil(130 / 64)


def test_block_order_does_not_change_the_result():
    x, w, b = rand(2, 8, 13, 9, dtype=torch.float32), rand(70, 8, 3, 3, dtype=torch.float32), rand(70, dtype=torch.float32)
    y1 = sim_conv2d(x, w, b, 2, 1, 1, 1)
    sim.set_options(reverse_block_order=True, reverse_thread_order=True)
    try:
        y2 = sim_conv2d(x, w, b, 2, 1, 1, 1)
    finally:
        sim.set_options()
    assert torch.equal(y1, y2)


def test_matches_the_cpu_op_and_is_deterministic():
    x, w = rand(2, 6, 10, 10, dtype=torch.float64), rand(10, 3, 3, 3, dtype=torch.float64)
    y1 = sim_conv2d(x, w, None, 1, 1, 1, 2)
    assert torch.equal(y1, sim_conv2d(x, w, None, 1, 1, 1, 2))
    torch.testing.assert_close(y1, cnnops.conv2d(x, w, None, 1, 1, 1, 2), rtol=1e-12, atol=1e-12)


def test_empty_batch_launches_nothing():
    sim.reset_counters()
    y = sim_conv2d(rand(0, 3, 5, 5), rand(4, 3, 3, 3), None, 1, 0, 1, 1)
    assert y.shape == (0, 4, 3, 3) and sim.counters()["launches"] == 0


def test_zero_input_channels_give_the_bias():
    """C = 0: an empty reduction; every output is the bias, as cnnops' CPU op gives. (torch 2.14's
    own CPU conv returns a [1, 0, 4, 4] tensor here, which is not a convolution's shape.)"""
    x, w, b = torch.randn(1, 0, 4, 4), torch.randn(3, 0, 3, 3), torch.randn(3)
    y = sim_conv2d(x, w, b, 1, 1, 1, 1)
    torch.testing.assert_close(y, b.view(1, 3, 1, 1).expand(1, 3, 4, 4))
    torch.testing.assert_close(y, cnnops.conv2d(x, w, b, 1, 1))


def test_integer_dtype_is_a_type_error():
    x, w = torch.ones(1, 2, 4, 4, dtype=torch.int32), torch.ones(3, 2, 3, 3, dtype=torch.int32)
    with pytest.raises(TypeError, match="float32, float64, float16 or bfloat16"):
        sim.conv2d_forward(x, w, None, [1, 1], [0, 0, 0, 0], [1, 1], 1)


def test_bad_arguments_raise_not_crash():
    x, w = rand(1, 4, 6, 6, dtype=torch.float32), rand(3, 2, 3, 3, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="channels"):
        sim.conv2d_forward(x, w, None, [1, 1], [0, 0, 0, 0], [1, 1], 1)
    with pytest.raises(RuntimeError, match="stride"):
        sim.conv2d_forward(x, rand(3, 4, 3, 3, dtype=torch.float32), None, [0, 1], [0, 0, 0, 0], [1, 1], 1)


def test_every_tensor_argument_is_checked():
    """The registration wrapper (csrc/cuda/device_op.h) checks every tensor argument, optional
    ones included, before any host code runs."""
    x, w = rand(1, 4, 6, 6, dtype=torch.float32), rand(3, 4, 3, 3, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="every tensor argument must be a CPU tensor"):
        sim.conv2d_forward(x, w, torch.empty(3, device="meta"), [1, 1], [0, 0, 0, 0], [1, 1], 1)
    with pytest.raises(RuntimeError, match="every tensor argument must be a CPU tensor"):
        sim.conv2d_bias_act(x, w, None, [1, 1], [0, 0, 0, 0], [1, 1], 1, 1, torch.empty(1, 3, 4, 4, device="meta"))
