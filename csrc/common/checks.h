// Argument checks at the op boundary, shared by every backend. The Python layer checks first
// with torch's own messages; these guard direct torch.ops.cnnops calls so that bad input is an
// exception, never a crash or an out-of-bounds access.
#pragma once
#include <ATen/ATen.h>

#include "conv_params.h"
#include "epilogue.h"
#include "params_from_tensors.h"
#include "pool_params.h"

namespace cnnops {

inline void check_pair(at::IntArrayRef v, size_t n, const char* what, int64_t min_value) {
  TORCH_CHECK(v.size() == n, "cnnops: ", what, " must have ", n, " elements, got ", v.size());
  for (auto e : v) TORCH_CHECK(e >= min_value, "cnnops: ", what, " must be >= ", min_value, ", got ", v);
}

inline void check_conv2d_args(const at::Tensor& x, const at::Tensor& w,
                              const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                              at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  TORCH_CHECK(x.dim() == 4, "cnnops.conv2d: expected a 4-D input, got ", x.dim(), "-D");
  TORCH_CHECK(w.dim() == 4, "cnnops.conv2d: expected a 4-D weight, got ", w.dim(), "-D");
  TORCH_CHECK(x.scalar_type() == w.scalar_type(), "cnnops.conv2d: input dtype ", x.scalar_type(),
              " and weight dtype ", w.scalar_type(), " should be the same");
  TORCH_CHECK(x.device() == w.device(), "cnnops.conv2d: input and weight are on different devices");
  check_pair(stride, 2, "stride", 1);
  check_pair(padding, 4, "padding", 0);
  check_pair(dilation, 2, "dilation", 1);
  TORCH_CHECK(groups >= 1, "cnnops.conv2d: groups must be positive, got ", groups);
  TORCH_CHECK(w.size(0) % groups == 0, "cnnops.conv2d: out_channels ", w.size(0),
              " not divisible by groups ", groups);
  TORCH_CHECK(x.size(1) == w.size(1) * groups, "cnnops.conv2d: input has ", x.size(1),
              " channels, weight expects ", w.size(1) * groups, " (groups=", groups, ")");
  TORCH_CHECK(w.size(2) > 0 && w.size(3) > 0, "cnnops.conv2d: empty kernel");
  if (bias.has_value() && bias->defined()) {
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == w.size(0),
                "cnnops.conv2d: bias must have shape [", w.size(0), "]");
    TORCH_CHECK(bias->scalar_type() == x.scalar_type(), "cnnops.conv2d: bias dtype ",
                bias->scalar_type(), " should match input dtype ", x.scalar_type());
    TORCH_CHECK(bias->device() == x.device(), "cnnops.conv2d: bias is on a different device");
  }
  const int64_t P = conv_out_size(x.size(2), padding[0] + padding[2], w.size(2), stride[0], dilation[0]);
  const int64_t Q = conv_out_size(x.size(3), padding[1] + padding[3], w.size(3), stride[1], dilation[1]);
  TORCH_CHECK(P > 0 && Q > 0, "cnnops.conv2d: kernel (dilated) larger than the padded input");
}

// The fused epilogue's arguments (epilogue.h): a known activation code, and a residual of the
// output's shape, dtype and device.
inline void check_epilogue_args(const at::Tensor& x, const Conv2dParams& p, int64_t activation,
                                const c10::optional<at::Tensor>& residual) {
  TORCH_CHECK(activation >= 0 && activation < kActivationCount, "cnnops.conv2d_bias_act: activation code must be ",
              activation_codes(), ", got ", activation);
  if (!residual.has_value() || !residual->defined()) return;
  const at::Tensor& r = *residual;
  TORCH_CHECK(r.dim() == 4 && r.size(0) == p.N && r.size(1) == p.K && r.size(2) == p.P && r.size(3) == p.Q,
              "cnnops.conv2d_bias_act: residual must have the output's shape [", p.N, ", ", p.K, ", ", p.P, ", ", p.Q,
              "], got ", r.sizes());
  TORCH_CHECK(r.scalar_type() == x.scalar_type(), "cnnops.conv2d_bias_act: residual dtype ", r.scalar_type(),
              " should match input dtype ", x.scalar_type());
  TORCH_CHECK(r.device() == x.device(), "cnnops.conv2d_bias_act: residual is on a different device than the input");
}

// conv2d_backward's grad_output against the forward's arguments (already checked).
inline void check_conv2d_grad_output(const at::Tensor& grad_output, const at::Tensor& input, const Conv2dParams& p) {
  TORCH_CHECK(grad_output.dim() == 4, "cnnops.conv2d backward: expected a 4-D grad_output, got ", grad_output.dim(), "-D");
  TORCH_CHECK(grad_output.size(0) == p.N && grad_output.size(1) == p.K && grad_output.size(2) == p.P &&
                  grad_output.size(3) == p.Q,
              "cnnops.conv2d backward: grad_output has shape ", grad_output.sizes(), ", expected [", p.N, ", ", p.K,
              ", ", p.P, ", ", p.Q, "]");
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(), "cnnops.conv2d backward: grad_output dtype ",
              grad_output.scalar_type(), " should match input dtype ", input.scalar_type());
  TORCH_CHECK(grad_output.device() == input.device(), "cnnops.conv2d backward: grad_output is on a different device");
}

inline void check_pool2d_args(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                              at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode) {
  TORCH_CHECK(x.dim() == 4, "cnnops pooling: expected a 4-D input, got ", x.dim(), "-D");
  check_pair(kernel, 2, "kernel_size", 1);
  check_pair(stride, 2, "stride", 1);
  check_pair(padding, 2, "padding", 0);
  check_pair(dilation, 2, "dilation", 1);
  for (int i = 0; i < 2; ++i)
    TORCH_CHECK(padding[i] <= kernel[i] / 2 && padding[i] * 2 <= dilation[i] * (kernel[i] - 1) + 1,
                "cnnops pooling: pad should be at most half of effective kernel size");
  const int64_t P = pool_out_size(x.size(2), padding[0], kernel[0], stride[0], dilation[0], ceil_mode);
  const int64_t Q = pool_out_size(x.size(3), padding[1], kernel[1], stride[1], dilation[1], ceil_mode);
  TORCH_CHECK(P > 0 && Q > 0, "cnnops pooling: output size is too small");
}

// max_pool2d_backward's tensors against each other and against the window arguments; returns
// the forward's parameters (x strides: the input's, y strides: grad_output's).
inline Pool2dParams check_max_pool2d_backward_args(const at::Tensor& grad_output, const at::Tensor& input,
                                                   const at::Tensor& indices, at::IntArrayRef kernel,
                                                   at::IntArrayRef stride, at::IntArrayRef padding,
                                                   at::IntArrayRef dilation, bool ceil_mode) {
  TORCH_CHECK(input.dim() == 4 && grad_output.dim() == 4, "cnnops.max_pool2d backward: expected 4-D tensors");
  TORCH_CHECK(indices.scalar_type() == at::kLong, "cnnops.max_pool2d backward: indices must be int64");
  TORCH_CHECK(indices.sizes() == grad_output.sizes(), "cnnops.max_pool2d backward: indices shape ", indices.sizes(),
              " differs from grad_output shape ", grad_output.sizes());
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(),
              "cnnops.max_pool2d backward: grad_output and input dtypes differ");
  TORCH_CHECK(grad_output.device() == input.device() && indices.device() == input.device(),
              "cnnops.max_pool2d backward: grad_output, input and indices must be on one device");
  check_pool2d_args(input, kernel, stride, padding, dilation, ceil_mode);
  Pool2dParams p = make_pool2d_params(input, kernel, stride, padding, dilation, ceil_mode);
  TORCH_CHECK(grad_output.size(0) == p.N && grad_output.size(1) == p.C && grad_output.size(2) == p.P &&
                  grad_output.size(3) == p.Q,
              "cnnops.max_pool2d backward: grad_output has shape ", grad_output.sizes(), ", the pooling gives [", p.N,
              ", ", p.C, ", ", p.P, ", ", p.Q, "]");
  p.y = strides4(grad_output);
  return p;
}

// avg_pool2d's arguments checked and turned into parameters (x strides: the input's).
inline Pool2dParams avg_pool2d_params(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                      at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                                      c10::optional<int64_t> divisor_override) {
  const int64_t one[2] = {1, 1};
  check_pool2d_args(input, kernel, stride, padding, one, ceil_mode);
  TORCH_CHECK(!divisor_override.has_value() || *divisor_override != 0, "cnnops.avg_pool2d: divisor must be not zero");
  Pool2dParams p = make_pool2d_params(input, kernel, stride, padding, one, ceil_mode);
  p.count_include_pad = count_include_pad;
  p.divisor_override = divisor_override.value_or(0);
  return p;
}

// avg_pool2d_backward's grad_output against the pooling's output shape and the input's dtype.
inline void check_avg_pool2d_grad_output(const at::Tensor& grad_output, const at::Tensor& input,
                                         const Pool2dParams& p) {
  TORCH_CHECK(grad_output.dim() == 4 && grad_output.size(0) == p.N && grad_output.size(1) == p.C &&
                  grad_output.size(2) == p.P && grad_output.size(3) == p.Q,
              "cnnops.avg_pool2d backward: grad_output has shape ", grad_output.sizes(), ", expected [", p.N, ", ",
              p.C, ", ", p.P, ", ", p.Q, "]");
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(),
              "cnnops.avg_pool2d backward: grad_output and input dtypes differ");
}

// Adaptive average pooling of `input` to P x Q (x strides: the input's).
inline Pool2dParams adaptive_pool2d_params(const at::Tensor& input, int64_t P, int64_t Q) {
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

inline void check_adaptive_avg_pool2d_args(const at::Tensor& input, at::IntArrayRef output_size) {
  TORCH_CHECK(input.dim() == 4, "cnnops.adaptive_avg_pool2d: expected a 4-D input, got ", input.dim(), "-D");
  TORCH_CHECK(output_size.size() == 2 && output_size[0] >= 0 && output_size[1] >= 0,
              "cnnops.adaptive_avg_pool2d: output_size must be two non-negative ints, got ", output_size);
  TORCH_CHECK(input.size(2) > 0 && input.size(3) > 0, "cnnops.adaptive_avg_pool2d: input spatial size must be non-zero");
}

inline void check_adaptive_avg_pool2d_grad_output(const at::Tensor& grad_output, const at::Tensor& input) {
  TORCH_CHECK(input.dim() == 4 && grad_output.dim() == 4, "cnnops.adaptive_avg_pool2d backward: expected 4-D tensors");
  TORCH_CHECK(grad_output.size(0) == input.size(0) && grad_output.size(1) == input.size(1),
              "cnnops.adaptive_avg_pool2d backward: grad_output and input disagree on N or C");
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(),
              "cnnops.adaptive_avg_pool2d backward: grad_output and input dtypes differ");
}

}  // namespace cnnops
