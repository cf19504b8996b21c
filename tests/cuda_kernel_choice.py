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
    """128 x 128 tiles when K >= 128 and they give every SM a block; else 128 x 64 when those do;
    else 64 x 64."""
    P, Q = out_size(case)
    npq, K = case[0] * P * Q, case[4]
    if K >= 128 and -(-npq // 128) * -(-K // 128) >= SM_COUNT:
        return (128, 128)
    large_blocks = -(-npq // 128) * -(-K // 64)
    return (64, 64) if large_blocks < SM_COUNT else (128, 64)


def expected_kernel(case, dtype, tf32=False):
    """Tensor cores for 16-bit types with groups == 1 and C % 8 == 0, and for float32 as TF32 when
    allowed with C % 4 == 0 (operands converted to channels-last) -- the 1x1 GEMM variant for
    unpadded 1x1 filters, the tile by the heuristic above; CUDA cores otherwise."""
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    tc = "fprop_tc1x1" if (R, S) == (1, 1) and padding in (0, "valid", (0, 0, 0, 0)) else "fprop_tc"
    tile = "%dx%d" % tensor_core_tile(case)
    if dtype in (torch.float16, torch.bfloat16) and groups == 1 and C % 8 == 0:
        return f"{tc}_{tile}x32_s3<{DTYPE_TAG[dtype]}>"
    if dtype == torch.float32 and tf32 and groups == 1 and C % 4 == 0:
        return f"{tc}_{tile}x16_s3<tf32>"
    return f"fprop_simt_64x64x16<{DTYPE_TAG[dtype]}>"


def expected_backward_kernels(case, dtype):
    """(dgrad, wgrad) for the shared cases: grad_input by stride phases on the tensor-core forward
    for 16-bit types with groups == 1 and K % 8 == 0 (a prefix: the phase's kernel), the CUDA-core
    kernels otherwise; grad_weight on CUDA cores (no case's batch is a whole channel vector)."""
    N, K, groups = case[0], case[4], case[10]
    assert N % 8 != 0, "a batch of whole channel vectors would take the tensor-core wgrad"
    tag = DTYPE_TAG[dtype]
    dgrad = "fprop_tc" if dtype in (torch.float16, torch.bfloat16) and groups == 1 and K % 8 == 0 else \
        f"dgrad_simt_64x64x16<{tag}>"
    return dgrad, f"wgrad_simt_64x64x16_splitk<{tag}>"
