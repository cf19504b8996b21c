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
#include "gemm/gemm_driver.h"

namespace cnnops {
namespace cpu {

// Whether the block forward takes a bfloat16 convolution (where bf16_block_engine() is set):
// those with at least 16 filters, in any layout. Fewer filters leave most of each 32-column
// block idle (LeNet's 6-filter stem ran faster widened to float). NCHW inputs and outputs pay a
// channels-last copy of the input and a transposing epilogue, which the blocks repay on every
// layer of the seed networks since both run as block transposes (measured on the 2-core AMD EPYC
// with AVX512-BF16: NCHW ResNet-50 forward 0.71 -> 0.84 of torch's speed once the 1x1 layers of
// 64-256 channels took the blocks too; with the element-wise copies they had been 5-30% slower on
// the blocks, and so had the 64->256 and 256->64 ones on AMX on a 2-core Sapphire Rapids).
inline bool forward_bf16_blocks_take(const Conv2dParams& p) { return p.K >= 16; }

void forward_bf16_blocks(const Conv2dParams& p, const c10::BFloat16* x, const c10::BFloat16* w, const c10::BFloat16* bias,
                      c10::BFloat16* y, const EpilogueParams& ep);

// A bfloat16 input's bits with its channels contiguous, so that window staging reads them in
// runs: the tensor itself where they already are, else a channels-last copy (pixel (n, h, w) at
// ((n * H + h) * W + w) * C; one pass over the input instead of a strided gather per window
// element), whose strides the constructor writes to p.x.
struct Bf16ChannelsLastInput {
  Scratch<uint16_t> copy;
  const uint16_t* x;
  Bf16ChannelsLastInput(Conv2dParams& p, const c10::BFloat16* input);
};

}  // namespace cpu
}  // namespace cnnops
