// Schemas of the pooling op family (max with int64 indices, average, adaptive average), forward
// and backward as separate ops. See conv2d_schema.cpp for where the rest is registered.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(cnnops, m) {
  m.def(
      "max_pool2d_forward(Tensor input, int[2] kernel_size, int[2] stride, int[2] padding, "
      "int[2] dilation, bool ceil_mode) -> (Tensor, Tensor)");
  // The values alone, for inference (return_indices=False, no gradient): no int64 indices are
  // allocated or written, a third of max_pool2d_forward's bytes for float32. Not differentiable.
  m.def(
      "max_pool2d_values(Tensor input, int[2] kernel_size, int[2] stride, int[2] padding, "
      "int[2] dilation, bool ceil_mode) -> Tensor");
  // The window arguments let a backend gather, for each input element, from the few windows that
  // can hold it (deterministic, no atomics) instead of scattering from every output.
  m.def(
      "max_pool2d_backward(Tensor grad_output, Tensor input, Tensor indices, int[2] kernel_size, int[2] stride, "
      "int[2] padding, int[2] dilation, bool ceil_mode) -> Tensor");
  m.def(
      "avg_pool2d_forward(Tensor input, int[2] kernel_size, int[2] stride, int[2] padding, "
      "bool ceil_mode, bool count_include_pad, int? divisor_override) -> Tensor");
  m.def(
      "avg_pool2d_backward(Tensor grad_output, Tensor input, int[2] kernel_size, int[2] stride, "
      "int[2] padding, bool ceil_mode, bool count_include_pad, int? divisor_override) -> Tensor");
  m.def("adaptive_avg_pool2d_forward(Tensor input, int[2] output_size) -> Tensor");
  m.def("adaptive_avg_pool2d_backward(Tensor grad_output, Tensor input) -> Tensor");
}
