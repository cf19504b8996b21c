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

// The rows (or columns) of a max-pooling window that lie inside the input: start, start + dil,
// ... < end; start is the first tap at or past 0 (padding taps are skipped, as torch does).
struct MaxSpan {
  int64_t start, end;
};

CNNOPS_HD_INLINE MaxSpan max_pool_span(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t dil,
                                       int64_t in) {
  int64_t start = o * stride - pad;
  const int64_t last = start + (kernel - 1) * dil + 1;
  if (start < 0) start += ((-start + dil - 1) / dil) * dil;
  return MaxSpan{start, last < in ? last : in};
}

// The window of one average-pooling output, clipped to the input, and the divisor it is
// averaged with. Shared by every backend so all follow torch's rules identically.
struct AvgWindow {
  int64_t ih0, ih1, iw0, iw1, divisor;
};

// avg_pool2d (torch's rules): the window is clipped to the padded input for the
// count_include_pad divisor and to the input itself for the sum; divisor_override (non-zero,
// negative allowed) replaces the divisor. Returns false for a window that holds no input element.
CNNOPS_HD_INLINE bool avg_pool_window(const Pool2dParams& p, int64_t oh, int64_t ow, AvgWindow* win) {
  int64_t ih0 = oh * p.stride_h - p.pad_h, iw0 = ow * p.stride_w - p.pad_w;
  int64_t ih1 = ih0 + p.kernel_h < p.H + p.pad_h ? ih0 + p.kernel_h : p.H + p.pad_h;
  int64_t iw1 = iw0 + p.kernel_w < p.W + p.pad_w ? iw0 + p.kernel_w : p.W + p.pad_w;
  const int64_t pool_size = (ih1 - ih0) * (iw1 - iw0);
  ih0 = ih0 > 0 ? ih0 : 0;
  iw0 = iw0 > 0 ? iw0 : 0;
  ih1 = ih1 < p.H ? ih1 : p.H;
  iw1 = iw1 < p.W ? iw1 : p.W;
  if (ih0 >= ih1 || iw0 >= iw1) return false;
  win->ih0 = ih0;
  win->ih1 = ih1;
  win->iw0 = iw0;
  win->iw1 = iw1;
  win->divisor = p.divisor_override != 0 ? p.divisor_override
                                         : (p.count_include_pad ? pool_size : (ih1 - ih0) * (iw1 - iw0));
  return true;
}

// adaptive_avg_pool2d: rows [floor(oh*H/P), ceil((oh+1)*H/P)), likewise columns; never empty.
CNNOPS_HD_INLINE bool adaptive_pool_window(const Pool2dParams& p, int64_t oh, int64_t ow, AvgWindow* win) {
  win->ih0 = adaptive_start(oh, p.H, p.P);
  win->ih1 = adaptive_end(oh, p.H, p.P);
  win->iw0 = adaptive_start(ow, p.W, p.Q);
  win->iw1 = adaptive_end(ow, p.W, p.Q);
  win->divisor = (win->ih1 - win->ih0) * (win->iw1 - win->iw0);
  return true;
}

}  // namespace cnnops
