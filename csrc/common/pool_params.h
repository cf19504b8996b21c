// Pool2dParams: the one description of a 2-D pooling window sweep that every backend reads.
// Torch-free (see conv_params.h for the conventions); used by max, average and adaptive
// average pooling, forward and backward.
#pragma once
#include <cstdint>

#include "conv_params.h"

namespace cnnops {

struct Pool2dParams {
  int64_t N, C, H, W;  // input
  int64_t P, Q;        // output height and width
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t dil_h, dil_w;
  bool count_include_pad;
  int64_t divisor_override;  // 0: none
  Strides4 x, y;             // element strides of input (or grad_input) and output
};

// torch's pooling_output_shape: floor or ceil mode, where in ceil mode the last window must
// start inside the input or the left padding.
CNNOPS_HD_INLINE int64_t pool_out_size(int64_t in, int64_t pad, int64_t kernel, int64_t stride,
                                       int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  const int64_t q = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Adaptive pooling window [start, end) of output index o along an axis of `in` -> `out`.
CNNOPS_HD_INLINE int64_t adaptive_start(int64_t o, int64_t in, int64_t out) {
  return (o * in) / out;
}
CNNOPS_HD_INLINE int64_t adaptive_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

}  // namespace cnnops
