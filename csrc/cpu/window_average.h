// Average over a window, forward and backward, for average and adaptive average pooling: the
// two differ only in their window (avg_pool_window / adaptive_pool_window in pool_params.h).
// One (n, c) plane per task; the backward gathers into a float plane in a fixed order, so it is
// deterministic and accumulates reduced-precision gradients in float.
#pragma once
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../common/pool_params.h"

namespace cnnops {
namespace cpu {

using WindowFn = bool (*)(const Pool2dParams&, int64_t, int64_t, AvgWindow*);

template <typename scalar_t>
void window_average_forward(const Pool2dParams& p, const scalar_t* x, scalar_t* y, WindowFn window) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      const scalar_t* xp = x + n * p.x.n + c * p.x.c;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          AvgWindow win;
          acc_t out = 0;
          if (window(p, oh, ow, &win)) {
            acc_t sum = 0;
            for (int64_t ih = win.ih0; ih < win.ih1; ++ih) {
              const scalar_t* row = xp + ih * p.x.h;
              for (int64_t iw = win.iw0; iw < win.iw1; ++iw) sum += static_cast<acc_t>(row[iw * p.x.w]);
            }
            out = sum / static_cast<acc_t>(win.divisor);
          }
          y[n * p.y.n + c * p.y.c + oh * p.y.h + ow * p.y.w] = static_cast<scalar_t>(out);
        }
    }
  });
}

template <typename scalar_t>
void window_average_backward(const Pool2dParams& p, const scalar_t* go, scalar_t* gi, WindowFn window) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(p.H * p.W);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          AvgWindow win;
          if (!window(p, oh, ow, &win)) continue;
          const acc_t g = static_cast<acc_t>(go[n * p.y.n + c * p.y.c + oh * p.y.h + ow * p.y.w]) /
                          static_cast<acc_t>(win.divisor);
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
