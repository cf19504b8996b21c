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

// The input gradient of a stride-1 convolution is the forward convolution of grad_output with
// the filters transposed (K <-> C/g per group) and flipped (r -> R-1-r, s -> S-1-s), padded by
// dil * (kernel - 1) - pad on each side. Fills those parameters (grad_input at strides gi, the
// transposed filters at strides wt), or returns false where a padding would be negative (padding
// wider than the dilated kernel) or the stride is not 1.
bool dgrad_as_forward_params(const Conv2dParams& p, const Strides4& gi, const Strides4& wt, Conv2dParams* out);

}  // namespace cpu
}  // namespace cnnops
