"""The simulator's memory counters on the real tensor-core forward (cnnops._sim.memory_counters):
exact instruction, wavefront and sector counts for an aligned layer worked out by hand from the
kernel's tiling, and the budgets the kernels are held to -- shared-memory reads and writes free
of bank conflicts (main loop and epilogue staging), the loader's global loads and the
epilogue's stores at >= 90% sector efficiency. (The counting rules
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
    (4 warps of 32x32), 9 k-tiles of 64 channels (128-byte rows), 4 k-slices each."""
    kernel, sites = run_nhwc(2, 64, 8, 8, 64, 3, 3, 1, 1, torch.bfloat16)
    assert kernel == "fprop_tc_64x64x64_s3<bf16>"
    warp_slices = 2 * 4 * 9 * 4  # blocks x warps x k-tiles x slices
    # ldmatrix.x4: 2 A (kFragsM) + 2 B (kFragsN / 2) per warp slice, 4 wavefronts each, no conflict.
    assert total(sites, "instructions", instruction="ldmatrix.x4") == warp_slices * 4
    assert total(sites, "wavefronts", instruction="ldmatrix.x4") == warp_slices * 4 * 4
    assert total(sites, "ideal_wavefronts", instruction="ldmatrix.x4") == warp_slices * 4 * 4
    assert sim.counters()["mma_sync"] == warp_slices * 2 * 4
    # cp.async: 4 passes of A rows and 4 of B rows per thread and k-tile (16 rows of 8 chunks per
    # pass); each warp-level copy writes 512 bytes (4 rows) in 4 conflict-free wavefronts and reads
    # 4 sectors per row inside the image.
    copies = 2 * 4 * 9 * 4
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
    # Epilogue, through shared memory: per warp, 2 passes of 16 rows x 32 channels. Without a
    # residual, each pass rounds the fragments and stages 8 pairs of bf16 per lane (st.shared.32:
    # 128 bytes, 1 wavefront), reads them back as 2 chunks of 8 channels per lane (ld.shared.128:
    # 4 wavefronts) and stores each chunk as one 16-byte vector: 8 rows x 64 bytes = 16 sectors.
    passes = 2 * 4 * 2
    staged = [s for s in sites if s["space"] == "shared" and s["file"].endswith("conv2d_fprop_tc_epilogue.cuh")]
    assert total(staged, "instructions", instruction="st.shared") == passes * 8
    assert total(staged, "bytes", instruction="st.shared") == passes * 8 * 128
    assert total(staged, "wavefronts", instruction="st.shared") == passes * 8
    assert total(staged, "instructions", instruction="ld.shared") == passes * 2
    assert total(staged, "wavefronts", instruction="ld.shared") == passes * 2 * 4
    for s in staged:
        assert s["wavefronts"] == s["ideal_wavefronts"], s
    stores = passes * 2
    assert total(sites, "instructions", instruction="st.global") == stores
    assert total(sites, "lane_accesses", instruction="st.global") == stores * 32
    assert total(sites, "sectors", instruction="st.global") == stores * 16
    assert total(sites, "ideal_sectors", instruction="st.global") == stores * 16


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
    """The issue-15 budgets: no shared-memory bank conflict beyond the ideal, in the main loop
    (ldmatrix or TF32 fragment loads, cp.async writes) and in the epilogue's staging alike; the
    loader's global loads and the epilogue's stores at >= 90% sector efficiency on aligned NHWC
    tensors."""
    with conv_tf32(True):
        kernel, sites = run_nhwc(*case, dtype=dtype)
    assert kernel.startswith("fprop_tc"), kernel
    shared = [s for s in sites if s["space"] == "shared"]
    main_loop = {s["instruction"] for s in shared if not s["file"].endswith("conv2d_fprop_tc_epilogue.cuh")}
    assert main_loop == ({"ld.shared", "cp.async.16"} if dtype == torch.float32 else {"ldmatrix.x4", "cp.async.16"})
    for s in shared:
        assert s["wavefronts"] == s["ideal_wavefronts"], "bank conflicts at %s:%d %s: %d wavefronts for %d" % (
            s["file"], s["line"], s["instruction"], s["wavefronts"], s["ideal_wavefronts"])
    for what, match in (("loader", "cp.async"), ("epilogue store", "st.global")):
        accesses = [s for s in sites if s["space"] == "global" and s["instruction"].startswith(match)]
        ideal, actual = sum(s["ideal_sectors"] for s in accesses), sum(s["sectors"] for s in accesses)
        assert accesses and ideal >= 0.9 * actual, "%s sector efficiency %.0f%%" % (what, 100.0 * ideal / actual)


def test_residual_loads_are_counted(profiling):
    """With a residual the epilogue stages floats (the residual is added before rounding): 16
    float2 writes and 4 float4 reads per lane and pass, conflict-free, and the residual's reads
    appear as their own site beside the stores, one 16-byte vector per stored one, as coalesced."""
    _, sites = run_nhwc(2, 64, 8, 8, 64, 3, 3, 1, 1, torch.bfloat16, residual=True)
    passes = 2 * 4 * 2
    staged = [s for s in sites if s["space"] == "shared" and s["file"].endswith("conv2d_fprop_tc_epilogue.cuh")]
    assert total(staged, "instructions", instruction="st.shared") == passes * 8
    assert total(staged, "wavefronts", instruction="st.shared") == passes * 8 * 2
    assert total(staged, "instructions", instruction="ld.shared") == passes * 4
    assert total(staged, "wavefronts", instruction="ld.shared") == passes * 4 * 4
    for s in staged:
        assert s["wavefronts"] == s["ideal_wavefronts"], s
    for instruction in ("ld.global residual", "st.global"):
        assert total(sites, "instructions", instruction=instruction) == passes * 2
        assert total(sites, "sectors", instruction=instruction) == passes * 2 * 16
        assert total(sites, "ideal_sectors", instruction=instruction) == passes * 2 * 16
