// CPU average pooling: argument checks and dispatch; the window rules are avg_pool_window
// (common/pool_params.h) and the loops window_average.h.
#include <ATen/Dispatch.h>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "pool2d_cpu.h"
#include "window_average.h"

namespace cnnops {
namespace cpu {
namespace {

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
    window_average_forward<scalar_t>(p, input.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>(), avg_pool_window);
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
    window_average_backward<scalar_t>(p, grad_output.const_data_ptr<scalar_t>(), gi.mutable_data_ptr<scalar_t>(),
                                      avg_pool_window);
  });
  return gi;
}

}  // namespace cpu
}  // namespace cnnops
