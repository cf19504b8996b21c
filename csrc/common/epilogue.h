// The fused epilogue of a convolution forward, shared by every backend:
//   y = act(conv(x, w) + bias + residual)
// computed in the accumulation type and rounded once to the output dtype. The residual has the
// output's shape [N, K, P, Q] and any strides. Torch-free: .cu files include it.
#pragma once
#include <cstdint>

#include "conv_params.h"
#include "macros.h"

namespace cnnops {

enum class Activation : int32_t { kNone = 0, kRelu = 1 };

struct EpilogueParams {
  const void* residual;  // null: no residual
  Strides4 r;            // element strides of the residual
  Activation act;
  // Store the float accumulators unrounded: y is then a float buffer (not the input dtype), the
  // partial sums of a split reduction that a second pass adds in order (the tensor-core wgrad).
  bool store_float;
};

// ReLU as torch's: NaN stays NaN (max(NaN, 0) would give 0 on some paths).
template <typename A>
CNNOPS_HD_INLINE A apply_activation(A v, Activation act) {
  return act == Activation::kRelu && v < A(0) ? A(0) : v;
}

}  // namespace cnnops
