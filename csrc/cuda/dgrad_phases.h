// grad_input on tensor cores by stride-phase decomposition (CUTLASS's strided dgrad idea), with the
// forward kernels doing the work. For each phase (ph, pw) of the stride grid, the input positions
// h = ph + i * stride_h receive gradient only through the filter taps r with
// (ph + pad - r * dil) divisible by the stride, and those taps reach grad_output rows
// i + off(r) with equally spaced offsets: the phase is a stride-1 forward convolution of
// grad_output with the sub-filter W[k, c, taps] transposed to [C, K, R', S'], written through the
// phase's strided view of grad_input. No multiply touches the zeros a transposed convolution
// would insert. The phases with taps run up to OutputPhases::kMax to a launch (one launch for a
// stride of 2), so that a strided layer's grad_input fills the GPU as its forward does.
// Torch-side (it slices the filters); run by conv2d_host.cpp where conv2d_bprop_plan() chose it.
#pragma once
#include <ATen/ATen.h>

#include "conv2d_bprop_plan.h"
#include "conv2d_fprop.h"

namespace cnnops {
namespace cuda {

// Computes grad_input into `gi` by the plan's phases and returns the forward kernel used (that
// of the last launch; "zero_fill" when no phase has a tap).
const char* dgrad_by_phases(const at::Tensor& grad_output, const at::Tensor& weight, at::Tensor& gi,
                            const Conv2dParams& p, const Conv2dBpropPlan& plan, DType dtype, bool allow_tf32,
                            void* stream);

}  // namespace cuda
}  // namespace cnnops
