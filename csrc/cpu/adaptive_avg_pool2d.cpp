// CPU adaptive average pooling: argument checks and dispatch; the window rule is
// adaptive_pool_window (common/pool_params.h) and the loops window_average.h.
#include <ATen/Dispatch.h>

#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "pool2d_cpu.h"
#include "window_average.h"

namespace cnnops {
namespace cpu {
namespace {

Pool2dParams adaptive_params(const at::Tensor& input, int64_t P, int64_t Q) {
  Pool2dParams p{};
  p.N = input.size(0);
  p.C = input.size(1);
  p.H = input.size(2);
  p.W = input.size(3);
  p.P = P;
  p.Q = Q;
  p.x = strides4(input);
  return p;
}

}  // namespace

at::Tensor adaptive_avg_pool2d_forward(const at::Tensor& input, at::IntArrayRef output_size) {
  TORCH_CHECK(input.dim() == 4, "cnnops.adaptive_avg_pool2d: expected a 4-D input, got ", input.dim(), "-D");
  TORCH_CHECK(output_size.size() == 2 && output_size[0] >= 0 && output_size[1] >= 0,
              "cnnops.adaptive_avg_pool2d: output_size must be two non-negative ints, got ", output_size);
  TORCH_CHECK(input.size(2) > 0 && input.size(3) > 0,
              "cnnops.adaptive_avg_pool2d: input spatial size must be non-zero");
  Pool2dParams p = adaptive_params(input, output_size[0], output_size[1]);
  at::Tensor y = empty_output({p.N, p.C, p.P, p.Q}, input.options().memory_format(output_memory_format(input)));
  if (y.numel() == 0) return y;
  p.y = strides4(y);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_adaptive_avg_pool2d_cpu", [&] {
    window_average_forward<scalar_t>(p, input.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>(),
                                     adaptive_pool_window);
  });
  return y;
}

at::Tensor adaptive_avg_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input) {
  TORCH_CHECK(input.dim() == 4 && grad_output.dim() == 4, "cnnops.adaptive_avg_pool2d backward: expected 4-D tensors");
  TORCH_CHECK(grad_output.size(0) == input.size(0) && grad_output.size(1) == input.size(1),
              "cnnops.adaptive_avg_pool2d backward: grad_output and input disagree on N or C");
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(),
              "cnnops.adaptive_avg_pool2d backward: grad_output and input dtypes differ");
  at::Tensor gi = empty_output(input.sizes(), input.options().memory_format(output_memory_format(input)));
  if (gi.numel() == 0) return gi;
  if (grad_output.numel() == 0) return gi.zero_();
  Pool2dParams p = adaptive_params(gi, grad_output.size(2), grad_output.size(3));
  p.y = strides4(grad_output);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_adaptive_avg_pool2d_backward_cpu", [&] {
    window_average_backward<scalar_t>(p, grad_output.const_data_ptr<scalar_t>(), gi.mutable_data_ptr<scalar_t>(),
                                      adaptive_pool_window);
  });
  return gi;
}

}  // namespace cpu
}  // namespace cnnops
