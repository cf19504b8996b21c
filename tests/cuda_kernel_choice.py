"""Which CUDA forward kernel the host code must pick for a case (the rules of
csrc/cuda/conv2d_fprop.cu and the tile heuristic of conv2d_fprop_tc_tiles.h), written out
independently so the simulator and GPU tests can pin every case to its kernel."""
import torch

DTYPE_TAG = {torch.float64: "f64", torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}
SM_COUNT = 132  # an H100 / H200; the simulator reports the same


def out_size(case):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    if padding == "same":
        return H, W
    if padding == "valid":
        padding = 0
    pads = (padding,) * 4 if isinstance(padding, int) else padding * 2 if len(padding) == 2 else padding
    st = (stride, stride) if isinstance(stride, int) else stride
    dl = (dilation, dilation) if isinstance(dilation, int) else dilation
    return ((H + pads[0] + pads[2] - dl[0] * (R - 1) - 1) // st[0] + 1,
            (W + pads[1] + pads[3] - dl[1] * (S - 1) - 1) // st[1] + 1)


def tensor_core_tile(case):
    """256 x 128, then 128 x 128 tiles when K >= 128 and they give every SM a block; else 128 x 64
    when those do; else 64 x 64 (whose rows hold 128 bytes of reduction, the others' 64)."""
    P, Q = out_size(case)
    npq, K = case[0] * P * Q, case[4]
    for tile_m in (256, 128):
        if K >= 128 and -(-npq // tile_m) * -(-K // 128) >= SM_COUNT:
            return (tile_m, 128)
    large_blocks = -(-npq // 128) * -(-K // 64)
    return (64, 64) if large_blocks < SM_COUNT else (128, 64)


def wgmma_tile(case):
    """The Hopper kernel's tiles (conv2d_fprop_wgmma_kernel.cuh): 128 x 128 when K >= 128 and they
    give every SM a block, else 128 x 64."""
    P, Q = out_size(case)
    npq, K = case[0] * P * Q, case[4]
    if K >= 128 and -(-npq // 128) * -(-K // 128) >= SM_COUNT:
        return (128, 128)
    return (128, 64)


WGMMA_STAGES = {128: 5, 64: 6}


# The direct kernels of narrow groups (csrc/cuda/conv2d_direct*): block tiles (channels, output
# rows, output columns) by layout, the shared-memory budgets, the widest group they take.
DIRECT_TILE = {True: (32, 8, 16), False: (8, 8, 32)}
DIRECT_SHARED, DIRECT_MAX_SHARED = 48 * 1024, 99 * 1024
DIRECT_MAX_GROUP_CHANNELS = 32
DIRECT_WGRAD_TAPS = 16 * 256  # registers of a block's threads


def _pairs(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _most_staged_channels(C, K, groups, tile_channels):
    Cg, Kg = C // groups, K // groups
    return max(((min(k0 + tile_channels, K) - 1) // Kg - k0 // Kg + 1) * Cg for k0 in range(0, K, tile_channels))


def _direct_stage_bytes(C, K, R, S, stride, dilation, groups, dtype, channels_last, rows, wgrad=False):
    """Shared memory of one direct block staging `rows` filter rows: the filter taps (forward) or
    the grad_output tile (wgrad) in the accumulation type, then the input patch."""
    tk, tr, tc = DIRECT_TILE[channels_last]
    (sh, sw), (dh, dw) = _pairs(stride), _pairs(dilation)
    acc = 8 if dtype == torch.float64 else 4
    first = tr * tc * tk * acc if wgrad else tk * (C // groups) * rows * S * acc
    patch_rows, cols = (tr - 1) * sh + (rows - 1) * dh + 1, (tc - 1) * sw + (S - 1) * dw + 1
    # NCHW channel planes padded to one 4-byte bank past a multiple of 32 (a warp's 4 channels in 4 banks)
    e = acc  # staged widened to the accumulation type
    bank, period = (4 // e if e < 4 else 1), 128 // e
    plane = patch_rows * cols if channels_last else -(-(patch_rows * cols - bank) // period) * period + bank
    return -(-first // 16) * 16 + _most_staged_channels(C, K, groups, tk) * plane * acc


def direct_takes(C, K, R, S, stride, dilation, groups, dtype):
    """The forward's (and the input gradient's) rule: narrow groups whose one-filter-row stage fits
    in either layout."""
    return groups > 1 and C // groups <= DIRECT_MAX_GROUP_CHANNELS and all(
        _direct_stage_bytes(C, K, R, S, stride, dilation, groups, dtype, cl, 1) <= DIRECT_MAX_SHARED
        for cl in (True, False))


def direct_wgrad_takes(C, K, R, S, stride, dilation, groups, dtype, channels_last):
    tk = DIRECT_TILE[channels_last][0]
    return (groups > 1 and C // groups <= DIRECT_MAX_GROUP_CHANNELS and tk * (C // groups) * S <= DIRECT_WGRAD_TAPS
            and _direct_stage_bytes(C, K, R, S, stride, dilation, groups, dtype, channels_last, 1, wgrad=True)
            <= DIRECT_MAX_SHARED)


def direct_kernel(C, K, R, S, stride, dilation, groups, dtype, channels_last):
    """The direct forward's name: square 3x3 / 5x5 / 7x7 filters at stride 1 and 3x3 / 5x5 at
    stride 2, unit dilation, unrolled (the whole filter staged at once, within the larger budget);
    any other filter at unit strides and dilations walked row by row ("_sliding"); else looped."""
    st = _pairs(stride)
    square = R == S and st[0] == st[1] and _pairs(dilation) == (1, 1)
    unrolled = square and ((st[0] == 1 and S in (3, 5, 7)) or (st[0] == 2 and S in (3, 5))) and \
        _direct_stage_bytes(C, K, R, S, stride, dilation, groups, dtype, channels_last, R) <= DIRECT_MAX_SHARED
    unit = st == (1, 1) and _pairs(dilation) == (1, 1)
    suffix = ("_s%d" % S + ("_stride2" if st[0] == 2 else "")) if unrolled else "_sliding" if unit else ""
    return "direct_%s%s<%s>" % ("nhwc_32x8x16" if channels_last else "nchw_8x8x32", suffix, DTYPE_TAG[dtype])


def expected_kernel(case, dtype, tf32=False, channels_last=False, wgmma=False):
    """Tensor cores for 16-bit types with groups == 1 and C % 8 == 0 -- the Hopper (wgmma) kernel
    where `wgmma` (it is available and on), else mma.sync -- and for float32 as TF32 when allowed
    with C % 4 == 0 (operands converted to channels-last); the 1x1 GEMM variants for unpadded 1x1
    filters, the tile by the heuristics above; CUDA cores otherwise."""
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    one_by_one = (R, S) == (1, 1) and padding in (0, "valid", (0, 0, 0, 0))
    if wgmma and dtype in (torch.float16, torch.bfloat16) and groups == 1 and C % 8 == 0:
        tile_n = wgmma_tile(case)[1]
        kind = "fprop_wgmma1x1" if one_by_one else "fprop_wgmma"
        return f"{kind}_128x{tile_n}x64_s{WGMMA_STAGES[tile_n]}<{DTYPE_TAG[dtype]}>"
    tc = "fprop_tc1x1" if one_by_one else "fprop_tc"
    tile = tensor_core_tile(case)
    row_bytes = 128 if tile == (64, 64) else 64
    if dtype in (torch.float16, torch.bfloat16) and groups == 1 and C % 8 == 0:
        return f"{tc}_{tile[0]}x{tile[1]}x{row_bytes // 2}_s3<{DTYPE_TAG[dtype]}>"
    if dtype == torch.float32 and tf32 and groups == 1 and C % 4 == 0:
        return f"{tc}_{tile[0]}x{tile[1]}x{row_bytes // 4}_s3<tf32>"
    if direct_takes(C, K, R, S, stride, dilation, groups, dtype):
        return direct_kernel(C, K, R, S, stride, dilation, groups, dtype, channels_last)
    return f"fprop_simt_64x64x16<{DTYPE_TAG[dtype]}>"


def expected_backward_kernels(case, dtype, wgmma=False):
    """(dgrad, wgrad) for the shared cases (NCHW operands): grad_input on the direct kernels for
    narrow groups (a prefix: a phase's kernel), by stride phases on the tensor-core forward for
    16-bit types with groups == 1 and K % 8 == 0 (the Hopper kernel where `wgmma`), the CUDA-core
    kernels otherwise; grad_weight on
    the direct wgrad for narrow groups, else CUDA cores (no case's batch is a whole channel
    vector)."""
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    assert N % 8 != 0, "a batch of whole channel vectors would take the tensor-core wgrad"
    tag = DTYPE_TAG[dtype]
    if direct_takes(K, C, R, S, 1, dilation, groups, dtype):  # the phases' bound: stride 1, every tap
        dgrad = "direct_nchw"
    elif dtype in (torch.float16, torch.bfloat16) and groups == 1 and K % 8 == 0:
        dgrad = "fprop_wgmma" if wgmma else "fprop_tc"
    else:
        dgrad = f"dgrad_simt_64x64x16<{tag}>"
    wgrad = f"direct_wgrad_nchw_8x8x32<{tag}>" if direct_wgrad_takes(C, K, R, S, stride, dilation, groups, dtype, False) \
        else f"wgrad_simt_64x64x16_splitk<{tag}>"
    return dgrad, wgrad
