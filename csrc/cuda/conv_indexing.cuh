// Index arithmetic of the implicit-GEMM view of a convolution, shared by the CUDA kernels:
//   M = N*P*Q output positions (q fastest), reduction CRS = (C/g)*R*S filter taps (s fastest).
// 64-bit throughout: N*P*Q and tensor offsets can pass 2^31.
#pragma once
#include <cstdint>

#include "../common/conv_params.h"

namespace cnnops {
namespace cuda {

struct OutputPosition {
  int64_t n, p, q;
};

// Position m of an N x rows x cols grid, the column fastest: (n, p, q) = (image, row, column).
CNNOPS_HD_INLINE OutputPosition decode_grid_position(int64_t m, int64_t rows, int64_t cols) {
  OutputPosition o;
  const int64_t np = m / cols;
  o.q = m - np * cols;
  o.n = np / rows;
  o.p = np - o.n * rows;
  return o;
}

CNNOPS_HD_INLINE OutputPosition decode_output_position(int64_t m, const Conv2dParams& p) {
  return decode_grid_position(m, p.P, p.Q);
}

// Input coordinates of the window's top-left tap (may be negative: padding).
struct WindowOrigin {
  int64_t h, w;
};

CNNOPS_HD_INLINE WindowOrigin window_origin(const OutputPosition& o, const Conv2dParams& p) {
  return WindowOrigin{o.p * p.stride_h - p.pad_top, o.q * p.stride_w - p.pad_left};
}

struct FilterTap {
  int64_t c, r, s;  // channel within the group, kernel row, kernel column
};

CNNOPS_HD_INLINE FilterTap decode_filter_tap(int64_t crs, const Conv2dParams& p) {
  FilterTap t;
  const int64_t RS = p.R * p.S;
  t.c = crs / RS;
  const int64_t rs = crs - t.c * RS;
  t.r = rs / p.S;
  t.s = rs - t.r * p.S;
  return t;
}

}  // namespace cuda
}  // namespace cnnops
