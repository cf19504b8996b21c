#include "pool2d_host.h"

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "host_common.h"
#include "pool2d.h"

namespace cnnops {
namespace cuda {
namespace {

Pool2dArgs args_for(const Pool2dParams& p, const at::Tensor& t, PoolKind kind, const char* op) {
  Pool2dArgs a{};
  a.p = p;
  a.dtype = dtype_of(t, op);
  a.kind = kind;
  return a;
}

// The forward of avg / adaptive pooling once the parameters are made.
at::Tensor average_forward(const at::Tensor& input, Pool2dParams p, PoolKind kind, const char* op, void* stream) {
  at::Tensor y = empty_output({p.N, p.C, p.P, p.Q}, input.options().memory_format(output_memory_format(input)));
  if (y.numel() == 0) return y;
  p.y = strides4(y);
  Pool2dArgs a = args_for(p, input, kind, op);
  a.x = input.const_data_ptr();
  a.y = y.mutable_data_ptr();
  record_launch(pool2d_forward(a, stream), op);
  return y;
}

// The backward of every pooling kind: grad_input in the input's layout, every element gathered.
at::Tensor gather_backward(const at::Tensor& grad_output, const at::Tensor& input, Pool2dParams p, PoolKind kind,
                           const at::Tensor& indices, const char* op, void* stream) {
  at::Tensor gi = empty_output(input.sizes(), input.options().memory_format(output_memory_format(input)));
  if (gi.numel() == 0) return gi;
  if (grad_output.numel() == 0) return gi.zero_();
  p.x = strides4(gi);
  p.y = strides4(grad_output);
  Pool2dArgs a = args_for(p, input, kind, op);
  a.dy = grad_output.const_data_ptr();
  a.dx = gi.mutable_data_ptr();
  if (indices.defined()) {
    a.indices = const_cast<int64_t*>(indices.const_data_ptr<int64_t>());  // read only in backward
    a.ind = strides4(indices);
  }
  record_launch(pool2d_backward(a, stream), op);
  return gi;
}

// Max pooling forward; the int64 indices only when asked for (else `ind` stays undefined and the
// kernels get a null pointer).
std::tuple<at::Tensor, at::Tensor> max_forward(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                               at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode,
                                               bool with_indices, const char* op, void* stream) {
  check_pool2d_args(input, kernel, stride, padding, dilation, ceil_mode);
  Pool2dParams p = make_pool2d_params(input, kernel, stride, padding, dilation, ceil_mode);
  const auto opts = input.options().memory_format(output_memory_format(input));
  at::Tensor y = empty_output({p.N, p.C, p.P, p.Q}, opts);
  at::Tensor ind = with_indices ? empty_output({p.N, p.C, p.P, p.Q}, opts.dtype(at::kLong)) : at::Tensor();
  if (y.numel() == 0) return {y, ind};
  p.y = strides4(y);
  Pool2dArgs a = args_for(p, input, PoolKind::kMax, op);
  a.x = input.const_data_ptr();
  a.y = y.mutable_data_ptr();
  if (with_indices) {
    a.indices = ind.mutable_data_ptr<int64_t>();
    a.ind = strides4(ind);
  }
  record_launch(pool2d_forward(a, stream), op);
  return {y, ind};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> max_pool2d_forward_device(const at::Tensor& input, at::IntArrayRef kernel,
                                                             at::IntArrayRef stride, at::IntArrayRef padding,
                                                             at::IntArrayRef dilation, bool ceil_mode, void* stream) {
  return max_forward(input, kernel, stride, padding, dilation, ceil_mode, true, "max_pool2d_forward", stream);
}

at::Tensor max_pool2d_values_device(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                    at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode, void* stream) {
  return std::get<0>(max_forward(input, kernel, stride, padding, dilation, ceil_mode, false, "max_pool2d_values",
                                 stream));
}

at::Tensor max_pool2d_backward_device(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices,
                                      at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                                      at::IntArrayRef dilation, bool ceil_mode, void* stream) {
  const Pool2dParams p =
      check_max_pool2d_backward_args(grad_output, input, indices, kernel, stride, padding, dilation, ceil_mode);
  return gather_backward(grad_output, input, p, PoolKind::kMax, indices, "max_pool2d_backward", stream);
}

at::Tensor avg_pool2d_forward_device(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                     at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                                     c10::optional<int64_t> divisor_override, void* stream) {
  const Pool2dParams p = avg_pool2d_params(input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
  return average_forward(input, p, PoolKind::kAvg, "avg_pool2d_forward", stream);
}

at::Tensor avg_pool2d_backward_device(const at::Tensor& grad_output, const at::Tensor& input, at::IntArrayRef kernel,
                                      at::IntArrayRef stride, at::IntArrayRef padding, bool ceil_mode,
                                      bool count_include_pad, c10::optional<int64_t> divisor_override, void* stream) {
  const Pool2dParams p = avg_pool2d_params(input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
  check_avg_pool2d_grad_output(grad_output, input, p);
  return gather_backward(grad_output, input, p, PoolKind::kAvg, at::Tensor(), "avg_pool2d_backward", stream);
}

at::Tensor adaptive_avg_pool2d_forward_device(const at::Tensor& input, at::IntArrayRef output_size, void* stream) {
  check_adaptive_avg_pool2d_args(input, output_size);
  return average_forward(input, adaptive_pool2d_params(input, output_size[0], output_size[1]), PoolKind::kAdaptiveAvg,
                         "adaptive_avg_pool2d_forward", stream);
}

at::Tensor adaptive_avg_pool2d_backward_device(const at::Tensor& grad_output, const at::Tensor& input, void* stream) {
  check_adaptive_avg_pool2d_grad_output(grad_output, input);
  const Pool2dParams p = adaptive_pool2d_params(input, grad_output.size(2), grad_output.size(3));
  return gather_backward(grad_output, input, p, PoolKind::kAdaptiveAvg, at::Tensor(), "adaptive_avg_pool2d_backward",
                         stream);
}

}  // namespace cuda
}  // namespace cnnops
