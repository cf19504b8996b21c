// CPU bfloat16 weight gradient on pair dot-product blocks (AMX tiles or AVX512-BF16 vectors,
// gemm/bf16_block.h): per group, dW[K/g, R*S*C/g] = dY^T[K/g, N*P*Q] * windows[N*P*Q, R*S*C/g],
// the reduction over output positions, columns ordered (r, s, c).
//
// A is grad_output transposed once per call into rows of positions (one row per filter, zero
// rows and columns up to whole blocks), read by the blocks in place. B is staged per task and
// slice of positions: each position's window (channels-last input; other layouts are copied
// channels-last first) is gathered as a row of the task's columns, and two rows at a time are
// interleaved into the pairs the instructions read. The reduction runs slice by slice through
// the same float accumulators (stored and reloaded between slices, which is exact), and where
// the shape has few column ranges it is split into parts added in a fixed order afterwards: the
// split depends on the shape only, so results are bit-identical across thread counts.
#pragma once
#include <c10/util/BFloat16.h>

#include "../common/conv_params.h"

namespace cnnops {
namespace cpu {

// Whether the block weight gradient takes a bfloat16 convolution (where bf16_block_engine() is
// set and the grouped and depthwise kernels do not take it).
bool wgrad_bf16_blocks_take(const Conv2dParams& p);

// gw[k, c, r, s] (strides gws) for every filter of every group.
void grad_weight_bf16_blocks(const Conv2dParams& p, const c10::BFloat16* go, const c10::BFloat16* x,
                             c10::BFloat16* gw, const Strides4& gws);

}  // namespace cpu
}  // namespace cnnops
