"""The Hopper (wgmma) forward, csrc/cuda/conv2d_fprop_wgmma*, run by the simulator through the same
host code as on a GPU, against torch in float64: every layer shape class of the seed networks
(1x1, 3x3, strided, 5x5, 7x7 with 8 channels), padding and dilation, ragged tiles, each tile of
the heuristic, the fused epilogue, the backward passes that run as forwards, all three schedules,
and the counters. The simulator starts with this path off (its other tests keep the mma.sync
kernels); here it is on."""
import pytest
import torch
import torch.nn.functional as F

from cases import conv_id
from cuda_kernel_choice import DTYPE_TAG, expected_kernel, out_size, wgmma_tile
from helpers import assert_close_scaled, rand
from test_sim_conv2d import TC_CASES, check_sim_conv

sim = pytest.importorskip("cnnops._sim", reason="cnnops was built without the simulator module (CNNOPS_SIM=0)")


@pytest.fixture(autouse=True)
def wgmma_on():
    sim.set_wgmma(True)
    yield
    sim.set_wgmma(False)
    sim.set_options()


# Shape classes of ResNet-50, VGG-16 and Inception (small), beyond the mma.sync kernel's cases.
WGMMA_CASES = TC_CASES + [
    (2, 64, 9, 10, 64, 3, 3, 1, 1, 1, 1),       # a VGG / ResNet 3x3: 9 k-tiles of one tap each
    (2, 32, 11, 9, 48, 5, 5, 1, 2, 1, 1),       # Inception's 5x5, K not a multiple of 64
    (1, 64, 15, 15, 72, 3, 3, 2, 1, 1, 1),      # a strided 3x3 (ResNet's downsampling)
    (2, 72, 7, 7, 200, 1, 1, 1, 0, 1, 1),       # 1x1 with a partial k-tile (72 = 64 + 8)
]


def check_counters(case):
    """Each block's two consumer warpgroups issue 4 wgmma per k-tile (128 bytes of reduction)."""
    N, C, H, W, K, R, S = case[:7]
    P, Q = out_size(case)
    tile_m, tile_n = wgmma_tile(case)
    blocks = -(-N * P * Q // tile_m) * -(-K // tile_n)
    k_tiles = -(-C * R * S // 64)
    counters = sim.counters()
    assert counters["wgmma"] == blocks * k_tiles * 4 * 2
    assert counters["mma_sync"] == 0 and counters["ldmatrix"] == 0


@pytest.mark.parametrize("case", WGMMA_CASES, ids=conv_id)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_wgmma_forward(case, dtype, layout):
    if isinstance(case[8], tuple):  # asymmetric padding: the op takes it directly
        N, C, H, W, K, R, S, stride, padding, dilation, _ = case
        x, w, b = rand(N, C, H, W, dtype=dtype, layout=layout), rand(K, C, R, S, dtype=dtype), rand(K, dtype=dtype)
        sim.reset_counters()
        y = sim.conv2d_forward(x, w, b, [stride, stride], list(padding), [dilation, dilation], 1)
        xp = F.pad(x.double(), (padding[1], padding[3], padding[0], padding[2]))
        ref = F.conv2d(xp, w.double(), b.double(), stride, 0, dilation)
        scale = F.conv2d(xp.abs(), w.double().abs(), b.double().abs(), stride, 0, dilation)
        assert_close_scaled(y, ref, scale, dtype, "wgmma, asymmetric padding")
    else:
        check_sim_conv(case, dtype, layout)
    assert sim.last_kernel("conv2d_forward") == expected_kernel(case, dtype, wgmma=True)
    check_counters(case)


@pytest.mark.parametrize("case", WGMMA_CASES[:3] + WGMMA_CASES[-2:], ids=conv_id)
@pytest.mark.parametrize("schedule", ["warps_run_ahead", "reversed"])
def test_wgmma_forward_gives_the_same_bits_under_other_schedules(case, schedule):
    """Other legal schedules (a warp running ahead; blocks and threads last to first) change
    nothing: the sums follow k order whatever runs first."""
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    x, w = rand(N, C, H, W, dtype=torch.bfloat16, layout="channels_last"), rand(K, C, R, S, dtype=torch.bfloat16)
    pad = list(padding) if isinstance(padding, tuple) else [padding] * 4
    args = (None, [stride] * 2, pad, [dilation] * 2, groups)
    y = sim.conv2d_forward(x, w, *args)
    if schedule == "warps_run_ahead":
        sim.set_options(warps_run_ahead=True)
    else:
        sim.set_options(reverse_block_order=True, reverse_thread_order=True)
    assert torch.equal(sim.conv2d_forward(x, w, *args), y)


@pytest.mark.parametrize("case, tile_n", [
    ((1, 8, 66, 128, 200, 1, 1, 1, 0, 1, 1), 128),   # 66 x 2 = 132 blocks of 128 x 128, ragged K
    ((1, 16, 33, 128, 264, 3, 3, 1, 1, 1, 1), 64),   # a 3x3: 33 x 3 = 99 blocks, too few: 128 x 64
], ids=["square-1x1", "narrow-3x3"])
def test_wgmma_tiles(case, tile_n):
    assert wgmma_tile(case) == (128, tile_n)
    check_sim_conv(case, torch.bfloat16, "channels_last")
    assert sim.last_kernel("conv2d_forward") == expected_kernel(case, torch.bfloat16, wgmma=True)
    check_counters(case)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
def test_wgmma_fused_epilogue(residual, dtype):
    """act(conv + bias + residual): the rounded staging (no residual) and the float staging."""
    N, C, H, W, K = 2, 64, 7, 9, 96
    x, w, b = rand(N, C, H, W, dtype=dtype, layout="channels_last"), rand(K, C, 3, 3, dtype=dtype), rand(K, dtype=dtype)
    r = rand(N, K, H, W, dtype=dtype, layout="channels_last") if residual else None
    y = sim.conv2d_bias_act(x, w, b, [1, 1], [1] * 4, [1, 1], 1, 1, r)
    assert sim.last_kernel("conv2d_forward").startswith("fprop_wgmma_128x64x64_s6")
    ref = F.conv2d(x.double(), w.double(), b.double(), 1, 1)
    scale = F.conv2d(x.double().abs(), w.double().abs(), b.double().abs(), 1, 1)
    if residual:
        ref, scale = ref + r.double(), scale + r.double().abs()
    assert_close_scaled(y, ref.relu(), scale, dtype, "wgmma fused epilogue")


@pytest.mark.parametrize("case", [(3, 16, 9, 8, 24, 3, 3, 2, 1, 1, 1), (2, 8, 10, 10, 16, 3, 3, 1, 1, 1, 1)],
                         ids=conv_id)
def test_wgmma_runs_the_input_gradient(case):
    """grad_input runs as forwards of grad_output (one per stride phase) on this kernel."""
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    dtype = torch.bfloat16
    x, w = rand(N, C, H, W, dtype=dtype, layout="channels_last"), rand(K, C, R, S, dtype=dtype)
    x64, w64 = x.double().requires_grad_(), w.double()
    ref = F.conv2d(x64, w64, None, stride, padding, dilation)
    go = rand(*ref.shape, dtype=dtype, layout="channels_last")
    (gi_ref,) = torch.autograd.grad(ref, [x64], go.double())
    (gi_scale,) = torch.autograd.grad(F.conv2d(x64, w64.abs(), None, stride, padding, dilation), [x64],
                                      go.double().abs())
    sim.reset_counters()
    gi, _, _ = sim.conv2d_backward(go, x, w, [stride] * 2, [padding] * 4, [dilation] * 2, groups,
                                   [True, False, False])
    assert_close_scaled(gi, gi_ref, gi_scale.abs(), dtype, "wgmma grad_input")
    assert any(launch["kernel"].startswith("fprop_wgmma") for launch in sim.launch_log())
    assert sim.counters()["wgmma"] > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=lambda d: DTYPE_TAG[d])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_resnet50_and_vgg16_layers_choose_the_hopper_kernel(dtype, layout):
    """Every ResNet-50 / VGG-16 layer but the C = 3 stems plans the Hopper kernel at batch 32 on a
    132-SM device (nothing launched; the cases above prove the kernel computes correctly)."""
    from benchmarks.suites import RESNET50_CONVS, VGG16_CONVS

    for spec in RESNET50_CONVS + VGG16_CONVS:
        name, C, H, W, K, R, S, stride, padding = tuple(spec)[:9]
        x = torch.empty(32, C, H, W, dtype=dtype)
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        plan = sim.conv2d_forward_plan(x, torch.empty(K, C, R, S, dtype=dtype), None, [stride] * 2, [padding] * 4,
                                       [1, 1], 1)
        want = "fprop_simt" if C == 3 else "fprop_wgmma1x1_" if (R, padding) == (1, 0) else "fprop_wgmma_"
        assert plan.startswith(want), f"{name}: planned {plan}"
        if C != 3:
            assert plan == expected_kernel((32, C, H, W, K, R, S, stride, padding, 1, 1), dtype, wgmma=True), name
