// CPU convolution kernels, registered for the CPU dispatch key in cpu/register.cpp.
#pragma once
#include <ATen/ATen.h>

#include "../common/conv_params.h"

#include <array>
#include <tuple>

namespace cnnops {
namespace cpu {

at::Tensor conv2d_forward(const at::Tensor& input, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                          at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

// y = act(conv2d(input, weight) + bias + residual); activation 0 = none, 1 = relu.
at::Tensor conv2d_bias_act(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                           at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                           int64_t activation, const c10::optional<at::Tensor>& residual);

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask);

// The forward kernels on a prepared Conv2dParams (no bias, no epilogue), every element of y
// written: the input gradient of a stride-1 convolution runs through them
// (conv2d_backward.cpp).
template <typename scalar_t>
void conv2d_forward_into(const Conv2dParams& p, const scalar_t* x, const scalar_t* w, scalar_t* y);

}  // namespace cpu
}  // namespace cnnops
