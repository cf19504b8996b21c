// Fills Conv2dParams / Pool2dParams from tensors. Host-only and ATen-dependent: included by the
// .cpp bindings of every backend, never by a .cu file.
#pragma once
#include <ATen/ATen.h>

#include "conv_params.h"
#include "pool_params.h"

namespace cnnops {

inline Strides4 strides4(const at::Tensor& t) {
  return Strides4{t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// padding = [top, left, bottom, right]. `y` may be an undefined tensor (strides left zero).
inline Conv2dParams make_conv2d_params(const at::Tensor& x, const at::Tensor& w,
                                       const at::Tensor& y, at::IntArrayRef stride,
                                       at::IntArrayRef padding, at::IntArrayRef dilation,
                                       int64_t groups) {
  Conv2dParams p{};
  p.N = x.size(0);
  p.C = x.size(1);
  p.H = x.size(2);
  p.W = x.size(3);
  p.K = w.size(0);
  p.R = w.size(2);
  p.S = w.size(3);
  p.groups = groups;
  p.stride_h = stride[0];
  p.stride_w = stride[1];
  p.pad_top = padding[0];
  p.pad_left = padding[1];
  p.pad_bottom = padding[2];
  p.pad_right = padding[3];
  p.dil_h = dilation[0];
  p.dil_w = dilation[1];
  p.P = conv_out_size(p.H, p.pad_top + p.pad_bottom, p.R, p.stride_h, p.dil_h);
  p.Q = conv_out_size(p.W, p.pad_left + p.pad_right, p.S, p.stride_w, p.dil_w);
  p.x = strides4(x);
  p.w = strides4(w);
  if (y.defined()) p.y = strides4(y);
  return p;
}

inline Pool2dParams make_pool2d_params(const at::Tensor& x, at::IntArrayRef kernel,
                                       at::IntArrayRef stride, at::IntArrayRef padding,
                                       at::IntArrayRef dilation, bool ceil_mode) {
  Pool2dParams p{};
  p.N = x.size(0);
  p.C = x.size(1);
  p.H = x.size(2);
  p.W = x.size(3);
  p.kernel_h = kernel[0];
  p.kernel_w = kernel[1];
  p.stride_h = stride[0];
  p.stride_w = stride[1];
  p.pad_h = padding[0];
  p.pad_w = padding[1];
  p.dil_h = dilation[0];
  p.dil_w = dilation[1];
  p.P = pool_out_size(p.H, p.pad_h, p.kernel_h, p.stride_h, p.dil_h, ceil_mode);
  p.Q = pool_out_size(p.W, p.pad_w, p.kernel_w, p.stride_w, p.dil_w, ceil_mode);
  p.x = strides4(x);
  return p;
}

// The memory format torch gives a conv / pool output for these operands (channels_last wins
// when either the input or the weight is channels_last, as in ATen's CPU and cuDNN paths).
inline at::MemoryFormat output_memory_format(const at::Tensor& x, const at::Tensor& w = {}) {
  if (x.suggest_memory_format() == at::MemoryFormat::ChannelsLast) return at::MemoryFormat::ChannelsLast;
  if (w.defined() && w.suggest_memory_format() == at::MemoryFormat::ChannelsLast)
    return at::MemoryFormat::ChannelsLast;
  return at::MemoryFormat::Contiguous;
}

}  // namespace cnnops
