"""The simulator's memory counters on the real tensor-core forward (cnnops._sim.memory_counters):
exact instruction, wavefront and sector counts for an aligned layer worked out by hand from the
kernel's tiling, and the budgets the kernels are held to -- main-loop shared-memory reads and
writes free of bank conflicts, the loader's global loads fully coalesced. (The counting rules
themselves are tested on planted patterns in tests/sim/test_memory_counters.cu.)"""
import pytest
import torch

from helpers import conv_tf32, rand

sim = pytest.importorskip("cnnops._sim", reason="cnnops was built without the simulator module (CNNOPS_SIM=0)")


@pytest.fixture
def profiling():
    sim.reset_counters()
    sim.reset_memory_counters()
    sim.set_profiling(memory=True)
    yield
    sim.set_profiling()


def run_nhwc(N, C, H, W, K, R, S, stride, pad, dtype, sample_blocks=0, residual=False):
    torch.manual_seed(0)
    x = rand(N, C, H, W, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = rand(K, C, R, S, dtype=dtype).contiguous(memory_format=torch.channels_last)
    args = ([stride] * 2, [pad] * 4, [1, 1], 1)
    if sample_blocks:
        sim.set_profiling(memory=True, sample_blocks=sample_blocks)
    if residual:
        P = (H + 2 * pad - R) // stride + 1
        r = rand(N, K, P, (W + 2 * pad - S) // stride + 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
        sim.conv2d_bias_act(x, w, None, *args, 1, r)
    else:
        sim.conv2d_forward(x, w, None, *args)
    kernel = sim.last_kernel("conv2d_forward")
    sites = [s for s in sim.memory_counters() if s["kernel"] == kernel]
    assert sites, "no memory counters for %s: %s" % (kernel, sim.memory_counters())
    return kernel, sites


def total(sites, field, **match):
    return sum(s[field] for s in sites if all(s[k] == v for k, v in match.items()))


def test_exact_counts_of_an_aligned_3x3_layer(profiling):
    """N=2, C=64, 8x8, K=64, 3x3/1 pad 1, bf16 NHWC: 128 output rows, 2 blocks of the 64x64 tile
    (4 warps of 32x32), 18 k-tiles of 32 channels, 2 k-slices each."""
    kernel, sites = run_nhwc(2, 64, 8, 8, 64, 3, 3, 1, 1, torch.bfloat16)
    assert kernel == "fprop_tc_64x64x32_s3<bf16>"
    warp_slices = 2 * 4 * 18 * 2  # blocks x warps x k-tiles x slices
    # ldmatrix.x4: 2 A (kFragsM) + 2 B (kFragsN / 2) per warp slice, 4 wavefronts each, no conflict.
    assert total(sites, "instructions", instruction="ldmatrix.x4") == warp_slices * 4
    assert total(sites, "wavefronts", instruction="ldmatrix.x4") == warp_slices * 4 * 4
    assert total(sites, "ideal_wavefronts", instruction="ldmatrix.x4") == warp_slices * 4 * 4
    assert sim.counters()["mma_sync"] == warp_slices * 2 * 4
    # cp.async: 2 passes of A rows and 2 of B rows per thread and k-tile; each warp-level copy
    # writes 512 bytes in 4 conflict-free wavefronts and reads 2 sectors per row inside the image.
    copies = 2 * 4 * 18 * 2
    for side in ("shared", "global"):
        assert total(sites, "instructions", instruction="cp.async.16", space=side) == 2 * copies
    assert total(sites, "wavefronts", instruction="cp.async.16", space="shared") == 2 * copies * 4
    assert total(sites, "ideal_wavefronts", instruction="cp.async.16", space="shared") == 2 * copies * 4
    loads = [s for s in sites if s["instruction"] == "cp.async.16" and s["space"] == "global"]
    assert sum(s["sectors"] for s in loads) == sum(s["ideal_sectors"] for s in loads)
    assert sum(s["bytes"] for s in loads) == 32 * sum(s["sectors"] for s in loads)
    # Filter rows are always inside: every lane reads, 16 sectors per copy.
    b_loads = max(loads, key=lambda s: s["lane_accesses"])
    assert b_loads["lane_accesses"] == copies * 32 and b_loads["sectors"] == copies * 16
    # Epilogue: one 2-byte store per accumulator, 32 per warp (2 x 2 x 4 x 2); a warp's store
    # covers 8 output pixels 128 bytes apart, 8 bytes each: 8 sectors for 64 bytes.
    stores = 2 * 4 * 32
    assert total(sites, "instructions", instruction="st.global") == stores
    assert total(sites, "sectors", instruction="st.global") == stores * 8
    assert total(sites, "ideal_sectors", instruction="st.global") == stores * 2


def test_sampled_blocks_scale_exactly(profiling):
    """One sampled block of two counts half of everything (the blocks are alike)."""
    _, whole = run_nhwc(2, 64, 8, 8, 64, 3, 3, 1, 1, torch.bfloat16)
    sim.reset_memory_counters()
    sim.reset_counters()
    _, half = run_nhwc(2, 64, 8, 8, 64, 3, 3, 1, 1, torch.bfloat16, sample_blocks=1)
    assert sim.counters()["blocks"] == 1
    key = lambda s: (s["file"], s["line"], s["instruction"], s["space"])
    halves = {key(s): s for s in half}
    for s in whole:
        h = halves[key(s)]
        for field in ("instructions", "lane_accesses", "wavefronts", "sectors"):
            assert s[field] == 2 * h[field], (key(s), field)


BUDGET_CASES = [
    # (N, C, H, W, K, R, S, stride, pad): every kernel variant and tile, aligned NHWC
    (2, 64, 8, 8, 64, 3, 3, 1, 1),     # 3x3, 64x64 tile
    (1, 32, 12, 12, 64, 1, 1, 1, 0),   # the 1x1 GEMM kernel
    (2, 16, 9, 9, 32, 3, 3, 2, 1),     # strided, ragged tiles
]


@pytest.mark.parametrize("case", BUDGET_CASES, ids=lambda c: "%dx%d_c%d_k%d_s%d" % (c[5], c[6], c[1], c[4], c[7]))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=["f16", "bf16", "tf32"])
def test_main_loop_budgets(profiling, case, dtype):
    """The issue-15 budgets: no shared-memory bank conflict beyond the ideal in the main loop,
    reads (ldmatrix, TF32 fragment loads) and writes (cp.async) alike; the loader's global loads
    at >= 90% sector efficiency on aligned NHWC tensors."""
    with conv_tf32(True):
        kernel, sites = run_nhwc(*case, dtype=dtype)
    assert kernel.startswith("fprop_tc"), kernel
    shared = [s for s in sites if s["space"] == "shared"]
    assert {s["instruction"] for s in shared} == ({"ld.shared", "cp.async.16"} if dtype == torch.float32
                                                  else {"ldmatrix.x4", "cp.async.16"})
    for s in shared:
        assert s["wavefronts"] == s["ideal_wavefronts"], "bank conflicts at %s:%d %s: %d wavefronts for %d" % (
            s["file"], s["line"], s["instruction"], s["wavefronts"], s["ideal_wavefronts"])
    loads = [s for s in sites if s["space"] == "global" and s["instruction"].startswith("cp.async")]
    ideal, actual = sum(s["ideal_sectors"] for s in loads), sum(s["sectors"] for s in loads)
    assert ideal >= 0.9 * actual, "loader sector efficiency %.0f%%" % (100.0 * ideal / actual)


def test_residual_loads_are_counted(profiling):
    """The fused epilogue's residual reads appear as their own site beside the stores."""
    _, sites = run_nhwc(2, 64, 8, 8, 64, 3, 3, 1, 1, torch.bfloat16, residual=True)
    assert total(sites, "instructions", instruction="ld.global residual") == 2 * 4 * 32
    assert total(sites, "instructions", instruction="st.global") == 2 * 4 * 32
