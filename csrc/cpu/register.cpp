// Registers the CPU kernels for the cnnops ops (schemas in csrc/ops/).
#include <torch/library.h>

#include "conv2d_cpu.h"
#include "pool2d_cpu.h"

TORCH_LIBRARY_IMPL(cnnops, CPU, m) {
  m.impl("conv2d_forward", &cnnops::cpu::conv2d_forward);
  m.impl("conv2d_bias_act", &cnnops::cpu::conv2d_bias_act);
  m.impl("conv2d_backward", &cnnops::cpu::conv2d_backward);
  m.impl("max_pool2d_forward", &cnnops::cpu::max_pool2d_forward);
  m.impl("max_pool2d_values", &cnnops::cpu::max_pool2d_values);
  m.impl("max_pool2d_backward", &cnnops::cpu::max_pool2d_backward);
  m.impl("avg_pool2d_forward", &cnnops::cpu::avg_pool2d_forward);
  m.impl("avg_pool2d_backward", &cnnops::cpu::avg_pool2d_backward);
  m.impl("adaptive_avg_pool2d_forward", &cnnops::cpu::adaptive_avg_pool2d_forward);
  m.impl("adaptive_avg_pool2d_backward", &cnnops::cpu::adaptive_avg_pool2d_backward);
}
