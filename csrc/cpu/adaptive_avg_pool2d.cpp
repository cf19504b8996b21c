// CPU adaptive average pooling: argument checks and dispatch; the window rule is
// adaptive_pool_span (common/pool_params.h) and the loops window_average.h.
#include <ATen/Dispatch.h>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "channels_last_pool.h"
#include "pool2d_cpu.h"
#include "window_average.h"

namespace cnnops {
namespace cpu {

at::Tensor adaptive_avg_pool2d_forward(const at::Tensor& input, at::IntArrayRef output_size) {
  check_adaptive_avg_pool2d_args(input, output_size);
  Pool2dParams p = adaptive_pool2d_params(input, output_size[0], output_size[1]);
  at::Tensor y = empty_output({p.N, p.C, p.P, p.Q}, input.options().memory_format(output_memory_format(input)));
  if (y.numel() == 0) return y;
  p.y = strides4(y);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_adaptive_avg_pool2d_cpu", [&] {
    average_forward<scalar_t>(p, input.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>(), WindowTable::adaptive(p));
  });
  return y;
}

at::Tensor adaptive_avg_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input) {
  check_adaptive_avg_pool2d_grad_output(grad_output, input);
  at::Tensor gi = empty_output(input.sizes(), input.options().memory_format(output_memory_format(input)));
  if (gi.numel() == 0) return gi;
  if (grad_output.numel() == 0) return gi.zero_();
  Pool2dParams p = adaptive_pool2d_params(gi, grad_output.size(2), grad_output.size(3));
  p.y = strides4(grad_output);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_adaptive_avg_pool2d_backward_cpu", [&] {
    average_backward<scalar_t>(p, grad_output.const_data_ptr<scalar_t>(), gi.mutable_data_ptr<scalar_t>(),
                               WindowTable::adaptive(p));
  });
  return gi;
}

}  // namespace cpu
}  // namespace cnnops
