// CPU average pooling with torch's window rules: the window is clipped to the padded input for
// the count_include_pad divisor and to the input itself for the sum; divisor_override (any
// non-zero value, negative included) replaces the divisor. Backward spreads each output
// gradient over its window, one (n, c) plane per task in a fixed order (deterministic), with a
// float accumulator plane for reduced-precision dtypes.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "pool2d_cpu.h"

namespace cnnops {
namespace cpu {
namespace {

// The clipped window of output (oh, ow) and its divisor; false when the window is empty.
struct AvgWindow {
  int64_t ih0, ih1, iw0, iw1, divisor;
};

inline bool avg_window(const Pool2dParams& p, int64_t oh, int64_t ow, AvgWindow& win) {
  int64_t ih0 = oh * p.stride_h - p.pad_h, iw0 = ow * p.stride_w - p.pad_w;
  int64_t ih1 = std::min(ih0 + p.kernel_h, p.H + p.pad_h), iw1 = std::min(iw0 + p.kernel_w, p.W + p.pad_w);
  const int64_t pool_size = (ih1 - ih0) * (iw1 - iw0);
  ih0 = std::max<int64_t>(ih0, 0);
  iw0 = std::max<int64_t>(iw0, 0);
  ih1 = std::min(ih1, p.H);
  iw1 = std::min(iw1, p.W);
  if (ih0 >= ih1 || iw0 >= iw1) return false;
  win = {ih0, ih1, iw0, iw1,
         p.divisor_override != 0 ? p.divisor_override
                                 : (p.count_include_pad ? pool_size : (ih1 - ih0) * (iw1 - iw0))};
  return true;
}

template <typename scalar_t>
void avg_forward_kernel(const Pool2dParams& p, const scalar_t* x, scalar_t* y) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      const scalar_t* xp = x + n * p.x.n + c * p.x.c;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          AvgWindow win;
          acc_t out = 0;
          if (avg_window(p, oh, ow, win)) {
            acc_t sum = 0;
            for (int64_t ih = win.ih0; ih < win.ih1; ++ih)
              for (int64_t iw = win.iw0; iw < win.iw1; ++iw) sum += static_cast<acc_t>(xp[ih * p.x.h + iw * p.x.w]);
            out = sum / static_cast<acc_t>(win.divisor);
          }
          y[n * p.y.n + c * p.y.c + oh * p.y.h + ow * p.y.w] = static_cast<scalar_t>(out);
        }
    }
  });
}

template <typename scalar_t>
void avg_backward_kernel(const Pool2dParams& p, const scalar_t* go, scalar_t* gi) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(p.H * p.W);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          AvgWindow win;
          if (!avg_window(p, oh, ow, win)) continue;
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

Pool2dParams avg_params(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                        at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                        c10::optional<int64_t> divisor_override) {
  const int64_t one[2] = {1, 1};
  check_pool2d_args(input, kernel, stride, padding, one, ceil_mode);
  TORCH_CHECK(!divisor_override.has_value() || *divisor_override != 0,
              "cnnops.avg_pool2d: divisor must be not zero");
  Pool2dParams p = make_pool2d_params(input, kernel, stride, padding, one, ceil_mode);
  p.count_include_pad = count_include_pad;
  p.divisor_override = divisor_override.value_or(0);
  return p;
}

}  // namespace

at::Tensor avg_pool2d_forward(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                              at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                              c10::optional<int64_t> divisor_override) {
  Pool2dParams p = avg_params(input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
  at::Tensor y = empty_output({p.N, p.C, p.P, p.Q}, input.options().memory_format(output_memory_format(input)));
  if (y.numel() == 0) return y;
  p.y = strides4(y);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_avg_pool2d_cpu", [&] {
    avg_forward_kernel<scalar_t>(p, input.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>());
  });
  return y;
}

at::Tensor avg_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input,
                               at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                               bool ceil_mode, bool count_include_pad,
                               c10::optional<int64_t> divisor_override) {
  Pool2dParams p = avg_params(input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == p.N && grad_output.size(1) == p.C &&
                  grad_output.size(2) == p.P && grad_output.size(3) == p.Q,
              "cnnops.avg_pool2d backward: grad_output has shape ", grad_output.sizes(), ", expected [",
              p.N, ", ", p.C, ", ", p.P, ", ", p.Q, "]");
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(),
              "cnnops.avg_pool2d backward: grad_output and input dtypes differ");
  at::Tensor gi = empty_output(input.sizes(), input.options().memory_format(output_memory_format(input)));
  if (gi.numel() == 0) return gi;
  if (grad_output.numel() == 0) return gi.zero_();
  p.x = strides4(gi);
  p.y = strides4(grad_output);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_avg_pool2d_backward_cpu", [&] {
    avg_backward_kernel<scalar_t>(p, grad_output.const_data_ptr<scalar_t>(), gi.mutable_data_ptr<scalar_t>());
  });
  return gi;
}

}  // namespace cpu
}  // namespace cnnops
