// The device side of the pooling ops without the CUDA-specific parts (see conv2d_host.h): checks,
// outputs in torch's layout (poisoned in tests), parameters, the launch on a given stream.
// Compiled into the CUDA extension and into the simulator module.
#pragma once
#include <ATen/ATen.h>

#include <tuple>

namespace cnnops {
namespace cuda {

std::tuple<at::Tensor, at::Tensor> max_pool2d_forward_device(const at::Tensor& input, at::IntArrayRef kernel,
                                                             at::IntArrayRef stride, at::IntArrayRef padding,
                                                             at::IntArrayRef dilation, bool ceil_mode, void* stream);
// The values alone (op max_pool2d_values): no indices allocated or written.
at::Tensor max_pool2d_values_device(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                    at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode, void* stream);
at::Tensor max_pool2d_backward_device(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices,
                                      at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                                      at::IntArrayRef dilation, bool ceil_mode, void* stream);
at::Tensor avg_pool2d_forward_device(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                     at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                                     c10::optional<int64_t> divisor_override, void* stream);
at::Tensor avg_pool2d_backward_device(const at::Tensor& grad_output, const at::Tensor& input, at::IntArrayRef kernel,
                                      at::IntArrayRef stride, at::IntArrayRef padding, bool ceil_mode,
                                      bool count_include_pad, c10::optional<int64_t> divisor_override, void* stream);
at::Tensor adaptive_avg_pool2d_forward_device(const at::Tensor& input, at::IntArrayRef output_size, void* stream);
at::Tensor adaptive_avg_pool2d_backward_device(const at::Tensor& grad_output, const at::Tensor& input, void* stream);

}  // namespace cuda
}  // namespace cnnops
