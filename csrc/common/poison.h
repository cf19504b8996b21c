// Output poisoning for tests: when enabled (cnnops._C.set_poison_outputs(True)), every output
// buffer that a kernel is supposed to overwrite completely is filled with NaN (floating types) or
// -1 (int64 indices) right after allocation, so an element the kernel forgets to write shows up.
#pragma once
#include <ATen/ATen.h>

namespace cnnops {

bool poison_outputs_enabled();
void set_poison_outputs(bool on);

// at::empty, poisoned when poisoning is enabled.
at::Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& options);

}  // namespace cnnops

namespace cnnops {
// at::zeros that honours the memory format in `options` (at::zeros ignores it).
inline at::Tensor zeros_output(at::IntArrayRef sizes, const at::TensorOptions& options) {
  return at::empty(sizes, options).zero_();
}
}  // namespace cnnops
