// The device side of the conv2d ops without the CUDA-specific parts: argument checks, output
// allocation in torch's layout (poisoned in tests), the parameter struct and the launch on a
// given stream. Compiled into the CUDA extension (register.cpp adds the device guard and the
// current stream) and into the simulator module cnnops._sim (CPU tensors, null stream), so the
// tests run the very host code the GPU runs.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <string>
#include <tuple>

#include "conv2d_direct.h"
#include "host_common.h"

namespace cnnops {
namespace cuda {

at::Tensor conv2d_forward_device(const at::Tensor& input, const at::Tensor& weight,
                                 const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                 void* stream);

// The fused forward, act(conv2d + bias + residual): activation 0 = none, 1 = relu.
at::Tensor conv2d_bias_act_device(const at::Tensor& input, const at::Tensor& weight,
                                  const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                  at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                  int64_t activation, const c10::optional<at::Tensor>& residual, void* stream);

// grad_input, grad_weight, grad_bias (those output_mask asks for; empty tensors for the others).
std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward_device(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, std::array<bool, 3> output_mask, void* stream);

// The kernel configuration conv2d_forward_device would run for these arguments ("" for an
// empty output), without launching it.
std::string conv2d_forward_plan(const at::Tensor& input, const at::Tensor& weight,
                                const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

// The direct kernels' staging plan for this forward (conv2d_direct.h's DirectPlan; `fits` false
// where they do not take it): what the performance model reads.
DirectPlan conv2d_direct_forward_plan(const at::Tensor& input, const at::Tensor& weight, at::IntArrayRef stride,
                                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

// How conv2d_backward_device would compute these gradients (conv2d_bprop_plan's describe()),
// without launching anything.
std::string conv2d_backward_plan(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                                 at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                 int64_t groups, std::array<bool, 3> output_mask);

}  // namespace cuda
}  // namespace cnnops
