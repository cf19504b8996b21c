// Registers the CUDA kernels for the cnnops ops (schemas in csrc/ops/): the device guard and the
// current stream are added here; everything else is the shared host code (conv2d_host.cpp).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "conv2d_host.h"
#include "pool2d_host.h"

namespace cnnops {
namespace cuda {
namespace {

void* current_stream(const at::Tensor& t) {
  return static_cast<void*>(c10::cuda::getCurrentCUDAStream(t.device().index()).stream());
}

at::Tensor conv2d_forward_cuda(const at::Tensor& input, const at::Tensor& weight,
                               const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                               at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  TORCH_CHECK(input.is_cuda() && weight.is_cuda(), "cnnops.conv2d: input and weight must both be CUDA tensors");
  const c10::cuda::CUDAGuard guard(input.device());
  return conv2d_forward_device(input, weight, bias, stride, padding, dilation, groups, current_stream(input));
}

at::Tensor conv2d_bias_act_cuda(const at::Tensor& input, const at::Tensor& weight,
                                const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, int64_t activation,
                                const c10::optional<at::Tensor>& residual) {
  TORCH_CHECK(input.is_cuda() && weight.is_cuda(), "cnnops.conv2d_bias_act: input and weight must both be CUDA tensors");
  const c10::cuda::CUDAGuard guard(input.device());
  return conv2d_bias_act_device(input, weight, bias, stride, padding, dilation, groups, activation, residual,
                                current_stream(input));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, std::array<bool, 3> output_mask) {
  TORCH_CHECK(grad_output.is_cuda() && input.is_cuda() && weight.is_cuda(),
              "cnnops.conv2d backward: grad_output, input and weight must all be CUDA tensors");
  const c10::cuda::CUDAGuard guard(input.device());
  return conv2d_backward_device(grad_output, input, weight, stride, padding, dilation, groups, output_mask,
                                current_stream(input));
}

// Pooling: every op on the input's device, on its current stream.
#define CNNOPS_ON_DEVICE_OF(t) \
  TORCH_CHECK((t).is_cuda(), "cnnops pooling: expected CUDA tensors"); \
  const c10::cuda::CUDAGuard guard((t).device())

std::tuple<at::Tensor, at::Tensor> max_pool2d_forward_cuda(const at::Tensor& input, at::IntArrayRef kernel,
                                                           at::IntArrayRef stride, at::IntArrayRef padding,
                                                           at::IntArrayRef dilation, bool ceil_mode) {
  CNNOPS_ON_DEVICE_OF(input);
  return max_pool2d_forward_device(input, kernel, stride, padding, dilation, ceil_mode, current_stream(input));
}

at::Tensor max_pool2d_values_cuda(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                  at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode) {
  CNNOPS_ON_DEVICE_OF(input);
  return max_pool2d_values_device(input, kernel, stride, padding, dilation, ceil_mode, current_stream(input));
}

at::Tensor max_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices,
                                    at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                                    at::IntArrayRef dilation, bool ceil_mode) {
  CNNOPS_ON_DEVICE_OF(input);
  return max_pool2d_backward_device(grad_output, input, indices, kernel, stride, padding, dilation, ceil_mode,
                                    current_stream(input));
}

at::Tensor avg_pool2d_forward_cuda(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                   at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                                   c10::optional<int64_t> divisor_override) {
  CNNOPS_ON_DEVICE_OF(input);
  return avg_pool2d_forward_device(input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override,
                                   current_stream(input));
}

at::Tensor avg_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& input, at::IntArrayRef kernel,
                                    at::IntArrayRef stride, at::IntArrayRef padding, bool ceil_mode,
                                    bool count_include_pad, c10::optional<int64_t> divisor_override) {
  CNNOPS_ON_DEVICE_OF(input);
  return avg_pool2d_backward_device(grad_output, input, kernel, stride, padding, ceil_mode, count_include_pad,
                                    divisor_override, current_stream(input));
}

at::Tensor adaptive_avg_pool2d_forward_cuda(const at::Tensor& input, at::IntArrayRef output_size) {
  CNNOPS_ON_DEVICE_OF(input);
  return adaptive_avg_pool2d_forward_device(input, output_size, current_stream(input));
}

at::Tensor adaptive_avg_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& input) {
  CNNOPS_ON_DEVICE_OF(input);
  return adaptive_avg_pool2d_backward_device(grad_output, input, current_stream(input));
}

#undef CNNOPS_ON_DEVICE_OF

}  // namespace
}  // namespace cuda
}  // namespace cnnops

TORCH_LIBRARY_IMPL(cnnops, CUDA, m) {
  m.impl("conv2d_forward", &cnnops::cuda::conv2d_forward_cuda);
  m.impl("conv2d_bias_act", &cnnops::cuda::conv2d_bias_act_cuda);
  m.impl("conv2d_backward", &cnnops::cuda::conv2d_backward_cuda);
  m.impl("max_pool2d_forward", &cnnops::cuda::max_pool2d_forward_cuda);
  m.impl("max_pool2d_values", &cnnops::cuda::max_pool2d_values_cuda);
  m.impl("max_pool2d_backward", &cnnops::cuda::max_pool2d_backward_cuda);
  m.impl("avg_pool2d_forward", &cnnops::cuda::avg_pool2d_forward_cuda);
  m.impl("avg_pool2d_backward", &cnnops::cuda::avg_pool2d_backward_cuda);
  m.impl("adaptive_avg_pool2d_forward", &cnnops::cuda::adaptive_avg_pool2d_forward_cuda);
  m.impl("adaptive_avg_pool2d_backward", &cnnops::cuda::adaptive_avg_pool2d_backward_cuda);
}
