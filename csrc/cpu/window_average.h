// Average over a window, forward and backward, for average and adaptive average pooling: the
// two differ only in their windows, which are separable (AvgSpan in common/pool_params.h), so
// the spans of every output row and column are tabulated once per call and the per-output loop
// does no window arithmetic. One (n, c) plane per task; the backward gathers into a float plane
// in a fixed order, so it is deterministic and accumulates reduced-precision gradients in float.
#pragma once
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../common/pool_params.h"
#include "pool2d_cpu.h"

namespace cnnops {
namespace cpu {

// The row spans (one per output row) and column spans (one per output column) of a pooling.
struct WindowTable {
  std::vector<AvgSpan> rows, cols;

  static WindowTable average(const Pool2dParams& p) {
    WindowTable t;
    for (int64_t oh = 0; oh < p.P; ++oh) t.rows.push_back(avg_pool_span(oh, p.stride_h, p.pad_h, p.kernel_h, p.H));
    for (int64_t ow = 0; ow < p.Q; ++ow) t.cols.push_back(avg_pool_span(ow, p.stride_w, p.pad_w, p.kernel_w, p.W));
    return t;
  }
  static WindowTable adaptive(const Pool2dParams& p) {
    WindowTable t;
    for (int64_t oh = 0; oh < p.P; ++oh) t.rows.push_back(adaptive_pool_span(oh, p.H, p.P));
    for (int64_t ow = 0; ow < p.Q; ++ow) t.cols.push_back(adaptive_pool_span(ow, p.W, p.Q));
    return t;
  }
};

// Sums n values, step elements apart, in acc_t. Long contiguous runs (a global average's whole
// plane, a window of whole rows) use 8 partial sums that the compiler keeps in vector registers;
// the order is fixed by n alone, so results are identical run to run.
template <typename acc_t, typename scalar_t>
inline acc_t strided_sum(const scalar_t* x, int64_t n, int64_t step) {
  if (step != 1 || n < 32) {
    acc_t sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<acc_t>(x[i * step]);
    return sum;
  }
  acc_t part[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += static_cast<acc_t>(x[i + k]);
  for (; i < n; ++i) part[0] += static_cast<acc_t>(x[i]);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

template <typename scalar_t>
void window_average_forward(const Pool2dParams& p, const scalar_t* x, scalar_t* y, const WindowTable& t) {
  using acc_t = at::opmath_type<scalar_t>;
  const bool dense_rows = p.x.w == 1 && p.x.h == p.W;  // whole rows of a plane are one run
  at::parallel_for(0, p.N * p.C, planes_per_task(p), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      const scalar_t* xp = x + n * p.x.n + c * p.x.c;
      scalar_t* yp = y + n * p.y.n + c * p.y.c;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          AvgWindow win;
          acc_t out = 0;
          if (avg_window_from_spans(p, t.rows[oh], t.cols[ow], &win)) {
            acc_t sum = 0;
            if (dense_rows && win.iw0 == 0 && win.iw1 == p.W) {
              sum = strided_sum<acc_t>(xp + win.ih0 * p.W, (win.ih1 - win.ih0) * p.W, 1);
            } else {
              for (int64_t ih = win.ih0; ih < win.ih1; ++ih) {
                const scalar_t* row = xp + ih * p.x.h;
                for (int64_t iw = win.iw0; iw < win.iw1; ++iw) sum += static_cast<acc_t>(row[iw * p.x.w]);
              }
            }
            out = sum / static_cast<acc_t>(win.divisor);
          }
          yp[oh * p.y.h + ow * p.y.w] = static_cast<scalar_t>(out);
        }
    }
  });
}

template <typename scalar_t>
void window_average_backward(const Pool2dParams& p, const scalar_t* go, scalar_t* gi, const WindowTable& t) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, planes_per_task(p), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(p.H * p.W);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      const scalar_t* gop = go + n * p.y.n + c * p.y.c;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          AvgWindow win;
          if (!avg_window_from_spans(p, t.rows[oh], t.cols[ow], &win)) continue;
          const acc_t g = static_cast<acc_t>(gop[oh * p.y.h + ow * p.y.w]) / static_cast<acc_t>(win.divisor);
          for (int64_t ih = win.ih0; ih < win.ih1; ++ih)
            for (int64_t iw = win.iw0; iw < win.iw1; ++iw) acc[ih * p.W + iw] += g;
        }
      scalar_t* gp = gi + n * p.x.n + c * p.x.c;
      for (int64_t ih = 0; ih < p.H; ++ih)
        for (int64_t iw = 0; iw < p.W; ++iw) gp[ih * p.x.h + iw * p.x.w] = static_cast<scalar_t>(acc[ih * p.W + iw]);
    }
  });
}

}  // namespace cpu
}  // namespace cnnops
