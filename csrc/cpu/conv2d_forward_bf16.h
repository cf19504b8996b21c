// CPU bfloat16 convolution forward on pair dot-product blocks (AMX tiles or AVX512-BF16 vectors,
// gemm/bf16_block.h): per group, Y[N*P*Q, K/g] = A[N*P*Q, R*S*C/g] *
// B[R*S*C/g, K/g], the reduction ordered (r, s, c). A's rows are the windows of a channels-last
// input (other layouts are copied channels-last first): 16 consecutive positions of one output
// row whose windows lie inside the input are an A tile in place (row stride = the W stride), the
// others are staged with zeros in the padding; a task stages once and runs every filter's column
// tiles over its rows. The weights are packed once per call as B tiles. float accumulation
// throughout, one rounding in the epilogue.
#pragma once
#include <c10/util/BFloat16.h>

#include <cstdint>

#include "../common/conv_params.h"
#include "../common/epilogue.h"

namespace cnnops {
namespace cpu {

// Whether the block forward takes a bfloat16 convolution (where bf16_block_engine() is set).
// Channels-last input with at least 16 filters (fewer leave most of each 32-column block idle:
// LeNet's 6-filter stem ran faster widened); for other layouts the channels-last copy of the
// input and the transposing epilogue cost a pass over the input and the output each, which the
// blocks repay once each output sums enough products -- C*R*S >= 128 with K >= 128 or a spatial
// kernel. Measured with AMX on a 2-core Sapphire Rapids (the 1x1 layers of 64->256 and 256->64
// channels ran faster widened to float, ResNet-50's other layers 1.2-2x faster on the tiles) and
// with AVX512-BF16 on a 2-core AMD EPYC (the same split: NCHW 1x1 layers of 64-480 channels
// 5-30% slower on the blocks, the channels-last ones 2.5-3.5x faster).
inline bool forward_bf16_blocks_take(const Conv2dParams& p) {
  return (p.x.c == 1 && p.K >= 16) || (p.crs() >= 128 && (p.K >= 128 || p.R * p.S > 1));
}

void forward_bf16_blocks(const Conv2dParams& p, const c10::BFloat16* x, const c10::BFloat16* w, const c10::BFloat16* bias,
                      c10::BFloat16* y, const EpilogueParams& ep);

// A channels-last copy of a strided bfloat16 input (any layout), so that window staging reads
// channels contiguously; `xt` holds N * H * W * C elements, pixel (n, h, w) at
// ((n * H + h) * W + w) * C.
void bf16_to_channels_last(const Conv2dParams& p, const uint16_t* x, uint16_t* xt);

}  // namespace cpu
}  // namespace cnnops
