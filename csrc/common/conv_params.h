// Conv2dParams: the one description of a 2-D convolution that every backend reads.
//
// Filled once on the host from tensors (see conv_params_from_tensors.h); read by the CPU kernels,
// the CUDA launchers and the simulator alike, so the backends cannot disagree on what a
// convolution is. Torch-free on purpose: .cu files include it.
//
// Conventions (all sizes and strides are element counts, 64-bit so that sizes past 2^31 index
// correctly):
//   input  x : [N, C, H, W]          (any strides: NCHW, NHWC or a non-contiguous view)
//   weight w : [K, C / groups, R, S] (any strides)
//   output y : [N, K, P, Q]
// Padding may be asymmetric ('same' with an even effective kernel): only the top/left padding
// moves the window; the bottom/right padding only changes P and Q.
#pragma once
#include <cstdint>

#include "macros.h"

namespace cnnops {

struct Strides4 {
  int64_t n, c, h, w;
};

struct Conv2dParams {
  int64_t N, C, H, W;  // input
  int64_t K, R, S;     // output channels, kernel height and width
  int64_t P, Q;        // output height and width
  int64_t groups;
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  int64_t dil_h, dil_w;
  Strides4 x, w, y;  // element strides of input, weight and output (or grad_output)

  CNNOPS_HD int64_t channels_per_group() const { return C / groups; }
  CNNOPS_HD int64_t filters_per_group() const { return K / groups; }
  // Length of the GEMM reduction of the forward pass: (C/groups) * R * S.
  CNNOPS_HD int64_t crs() const { return (C / groups) * R * S; }
  // Number of output positions: N * P * Q (the GEMM "columns").
  CNNOPS_HD int64_t npq() const { return N * P * Q; }
};

// Output extent of a convolution or pooling window sweep along one axis (floor mode).
// Returns a value <= 0 when the padded input is smaller than the dilated kernel.
CNNOPS_HD_INLINE int64_t conv_out_size(int64_t in, int64_t pad_total, int64_t kernel,
                                       int64_t stride, int64_t dilation) {
  const int64_t span = in + pad_total - dilation * (kernel - 1) - 1;
  // Floor division that is correct for negative spans as well.
  const int64_t q = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  return q + 1;
}

}  // namespace cnnops
