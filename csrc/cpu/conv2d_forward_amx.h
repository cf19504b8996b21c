// CPU bfloat16 convolution forward on AMX tiles: per group, Y[N*P*Q, K/g] = A[N*P*Q, R*S*C/g] *
// B[R*S*C/g, K/g], the reduction ordered (r, s, c). Each task stages the windows of its output
// positions (rows of A, any input layout, zeros in the padding) as A tiles once and runs every
// filter's column tiles over them; the weights are packed once per call as B tiles. float
// accumulation throughout, one rounding in the epilogue.
#pragma once
#include <c10/util/BFloat16.h>

#include "../common/conv_params.h"
#include "../common/epilogue.h"

namespace cnnops {
namespace cpu {

void forward_amx_bf16(const Conv2dParams& p, const c10::BFloat16* x, const c10::BFloat16* w, const c10::BFloat16* bias,
                      c10::BFloat16* y, const EpilogueParams& ep);

}  // namespace cpu
}  // namespace cnnops
