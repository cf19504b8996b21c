// The host interface of the CUDA pooling kernels (max with int64 indices, average, adaptive
// average; forward and backward). Free of torch and CUDA headers, like conv2d_fprop.h.
#pragma once
#include <cstdint>

#include "../common/pool_params.h"
#include "conv2d_fprop.h"

namespace cnnops {
namespace cuda {

enum class PoolKind : int { kMax, kAvg, kAdaptiveAvg };

struct Pool2dArgs {
  Pool2dParams p;  // p.x: strides of the input (forward) or grad_input (backward); p.y: of the
                   // output (forward) or grad_output (backward)
  DType dtype;
  PoolKind kind;
  const void* x;       // forward: input
  void* y;             // forward: output
  int64_t* indices;    // max forward: written, or null when not asked for; max backward: read (as const)
  Strides4 ind;        // strides of indices
  const void* dy;      // backward: grad_output
  void* dx;            // backward: grad_input (every element written)
};

// y (and, for max, indices) from x; torch's window rules (common/pool_params.h), NaN propagating
// and first-maximum indices as torch's.
LaunchResult pool2d_forward(const Pool2dArgs& args, void* stream);

// dx from dy: each input element gathers from the windows that can contain it, in a fixed
// order -- no atomics, no zero-fill launch, deterministic.
LaunchResult pool2d_backward(const Pool2dArgs& args, void* stream);

}  // namespace cuda
}  // namespace cnnops
