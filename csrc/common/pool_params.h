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

// One axis of an average-pooling window: [start, end) inside the input, and `padded`, its length
// clipped to the padded input instead (count_include_pad's factor). Windows are separable, so a
// backend may tabulate the spans of every row and column once per call.
struct AvgSpan {
  int64_t start, end, padded;
};

// avg_pool2d (torch's rules): the window is clipped to the padded input for the
// count_include_pad divisor and to the input itself for the sum.
CNNOPS_HD_INLINE AvgSpan avg_pool_span(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in) {
  int64_t start = o * stride - pad;
  int64_t end = start + kernel < in + pad ? start + kernel : in + pad;
  const int64_t padded = end - start;
  start = start > 0 ? start : 0;
  end = end < in ? end : in;
  return AvgSpan{start, end, padded};
}

// adaptive_avg_pool2d: [floor(o*in/out), ceil((o+1)*in/out)), never empty, never padded.
CNNOPS_HD_INLINE AvgSpan adaptive_pool_span(int64_t o, int64_t in, int64_t out) {
  const int64_t start = adaptive_start(o, in, out), end = adaptive_end(o, in, out);
  return AvgSpan{start, end, end - start};
}

// The window of a row span and a column span; divisor_override (non-zero, negative allowed)
// replaces the divisor. Returns false for a window that holds no input element.
CNNOPS_HD_INLINE bool avg_window_from_spans(const Pool2dParams& p, const AvgSpan& rows, const AvgSpan& cols,
                                            AvgWindow* win) {
  if (rows.start >= rows.end || cols.start >= cols.end) return false;
  win->ih0 = rows.start;
  win->ih1 = rows.end;
  win->iw0 = cols.start;
  win->iw1 = cols.end;
  win->divisor = p.divisor_override != 0
                     ? p.divisor_override
                     : (p.count_include_pad ? rows.padded * cols.padded
                                            : (rows.end - rows.start) * (cols.end - cols.start));
  return true;
}

CNNOPS_HD_INLINE bool avg_pool_window(const Pool2dParams& p, int64_t oh, int64_t ow, AvgWindow* win) {
  return avg_window_from_spans(p, avg_pool_span(oh, p.stride_h, p.pad_h, p.kernel_h, p.H),
                               avg_pool_span(ow, p.stride_w, p.pad_w, p.kernel_w, p.W), win);
}

CNNOPS_HD_INLINE bool adaptive_pool_window(const Pool2dParams& p, int64_t oh, int64_t ow, AvgWindow* win) {
  return avg_window_from_spans(p, adaptive_pool_span(oh, p.H, p.P), adaptive_pool_span(ow, p.W, p.Q), win);
}

}  // namespace cnnops
