// Schemas of the convolution op family. Kernels are registered per backend (cpu/register.cpp,
// cuda/register.cpp); fake (meta) kernels, autograd and autocast are registered from Python
// (cnnops/ops.py).
//
// padding is [top, left, bottom, right]: asymmetric padding is how padding='same' with an even
// dilated kernel is expressed without padding the input in memory. Backward returns empty
// tensors for the gradients that output_mask does not ask for.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(cnnops, m) {
  m.def(
      "conv2d_forward(Tensor input, Tensor weight, Tensor? bias, int[2] stride, int[4] padding, "
      "int[2] dilation, int groups) -> Tensor");
  // The fused forward: act(conv2d + bias + residual), activation 0 = none, 1 = relu; residual
  // has the output's shape. Its backward is made of conv2d_backward and elementwise ops.
  m.def(
      "conv2d_bias_act(Tensor input, Tensor weight, Tensor? bias, int[2] stride, int[4] padding, "
      "int[2] dilation, int groups, int activation, Tensor? residual) -> Tensor");
  m.def(
      "conv2d_backward(Tensor grad_output, Tensor input, Tensor weight, int[2] stride, "
      "int[4] padding, int[2] dilation, int groups, bool[3] output_mask) -> (Tensor, Tensor, Tensor)");
}
