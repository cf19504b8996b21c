// CPU pooling kernels, registered for the CPU dispatch key in cpu/register.cpp.
#pragma once
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>

#include "../common/pool_params.h"

namespace cnnops {
namespace cpu {

// The grain of the kernels' at::parallel_for over (n, c) planes: enough planes per task to
// touch ~32K elements, so that small maps (LeNet's, a global average over 7x7) run on the
// calling thread instead of paying a thread wake-up that costs more than the work. Each plane
// is computed alone, so the split never changes a result.
inline int64_t planes_per_task(const Pool2dParams& p) {
  return std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, p.H * p.W + p.P * p.Q));
}

// The element offset of flattened plane index idx (= h * W + w) under strides s; without a
// division where rows are dense (s.h == W * s.w: every freshly allocated tensor), since a 64-bit
// division per element costs more than the rest of a max-pooling scatter.
inline int64_t plane_offset(const Strides4& s, int64_t W, int64_t idx) {
  return s.h == W * s.w ? idx * s.w : (idx / W) * s.h + (idx % W) * s.w;
}

// The running index type of a vectorised max forward, passed to f as RunningIndex<idx_t, kWanted>:
// int32 beside float maxima (lanes of one width, so the selects vectorise) while a plane's
// indices fit, int64 otherwise; none tracked (kWanted false) when no indices are asked for.
template <typename IdxT, bool kIndices>
struct RunningIndex {
  using type = IdxT;
  static constexpr bool kWanted = kIndices;
};

template <typename acc_t, typename F>
void with_running_index(const Pool2dParams& p, bool wanted, F&& f) {
  if (!wanted)
    f(RunningIndex<int32_t, false>());
  else if (sizeof(acc_t) == 4 && p.H * p.W <= std::numeric_limits<int32_t>::max())
    f(RunningIndex<int32_t, true>());
  else
    f(RunningIndex<int64_t, true>());
}

std::tuple<at::Tensor, at::Tensor> max_pool2d_forward(const at::Tensor& input, at::IntArrayRef kernel,
                                                      at::IntArrayRef stride, at::IntArrayRef padding,
                                                      at::IntArrayRef dilation, bool ceil_mode);
at::Tensor max_pool2d_values(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                             at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode);
at::Tensor max_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices,
                               at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                               at::IntArrayRef dilation, bool ceil_mode);

at::Tensor avg_pool2d_forward(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                              at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                              c10::optional<int64_t> divisor_override);
at::Tensor avg_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input,
                               at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                               bool ceil_mode, bool count_include_pad,
                               c10::optional<int64_t> divisor_override);

at::Tensor adaptive_avg_pool2d_forward(const at::Tensor& input, at::IntArrayRef output_size);
at::Tensor adaptive_avg_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input);

}  // namespace cpu
}  // namespace cnnops
