// CPU convolution kernels, registered for the CPU dispatch key in cpu/register.cpp.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <tuple>

namespace cnnops {
namespace cpu {

at::Tensor conv2d_forward(const at::Tensor& input, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                          at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask);

}  // namespace cpu
}  // namespace cnnops
