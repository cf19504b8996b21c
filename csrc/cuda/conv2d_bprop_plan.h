// The one place that chooses how the CUDA convolution backward runs for a shape: which kernels
// compute grad_input, grad_weight and grad_bias, in how many launches, over which chunks. Torch-
// and CUDA-free (sizes only, no pointers), so the choice can be printed and tested without
// running it; conv2d_host.cpp carries a plan out (dgrad_phases.cpp, wgrad_as_fprop.cpp and the
// CUDA-core kernels of conv2d_bprop.h do the work).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../common/conv_params.h"
#include "../common/dgrad_phases.h"
#include "dtypes.cuh"

namespace cnnops {
namespace cuda {

enum class BpropPath : int {
  kNotAsked,    // the gradient is not wanted (output_mask) or has no elements
  kZeros,       // nothing is summed into it (an empty reduction): zero-filled
  kTensorCores, // the tensor-core forward kernels on a reformulated problem
  kCudaCores,   // the CUDA-core backward kernels (any dtype, layout, groups)
  kDirect,      // narrow groups: the direct kernels of conv2d_direct.h (dgrad: dgrad_direct.h)
};

struct Conv2dBpropPlan {
  BpropPath dgrad = BpropPath::kNotAsked;
  BpropPath wgrad = BpropPath::kNotAsked;
  BpropPath bias = BpropPath::kNotAsked;  // kCudaCores: the CUDA-core wgrad kernel's bias reduction

  // dgrad on tensor cores: a stride-1 forward per stride phase (ph, pw), ph < phases_h,
  // pw < phases_w; a phase that no filter tap reaches is zero-filled instead. The phases with taps
  // run OutputPhases::kMax to a launch (in (ph, pw) order): dgrad_launches launches.
  int64_t dgrad_phases_h = 0, dgrad_phases_w = 0;
  int64_t dgrad_launches = 0;

  // wgrad on tensor cores: the batch and the output rows as the reduction, split into
  // `wgrad_chunks` chunks of `wgrad_chunk_images` images by `wgrad_row_splits` bands of
  // `wgrad_split_rows` output rows (the last of each may be shorter), all of them one launch
  // (ReductionSplits), every split storing float partial sums that one reduce launch adds in split
  // order.
  int64_t wgrad_chunks = 0, wgrad_chunk_images = 0;
  int64_t wgrad_row_splits = 0, wgrad_split_rows = 0;
  int64_t wgrad_splits() const { return wgrad_chunks * wgrad_row_splits; }

  // wgrad on the direct kernels: `wgrad_splits` ranges of output tiles by `wgrad_passes` groups of
  // filter rows in one launch, then the ordered sum of the splits (conv2d_direct_wgrad.h).
  int64_t wgrad_direct_splits = 0, wgrad_direct_passes = 0;

  // The CUDA-core wgrad launch (grad_weight on CUDA cores and/or grad_bias) and its split-K.
  bool wgrad_simt_launch() const { return wgrad == BpropPath::kCudaCores || bias == BpropPath::kCudaCores; }

  // One line, e.g. "dgrad=tensor_cores(phases 2x2 in 1 launch) wgrad=tensor_cores(chunks 4x8 rows 6x10) bias=cuda_cores"
  // (" rows ..." only where the output rows are split).
  std::string describe() const;
};

// The plan for grad_output [N, K, P, Q], input [N, C, H, W], weight [K, C/g, R, S] (p), the gradients
// asked for, the dtype, and whether float32 may run as TF32. A function of these alone -- not of
// the device -- so every GPU (and the simulator) sums each gradient in the same order and gives
// the same bits.
Conv2dBpropPlan conv2d_bprop_plan(const Conv2dParams& p, DType dtype, bool allow_tf32, bool grad_input,
                                  bool grad_weight, bool grad_bias);

// The forward problems the tensor-core paths run (sizes only; conv2d_bprop_plan asks the forward
// whether its tensor-core kernels take them).
// dgrad: each stride phase convolves grad_output (K channels, P x Q) into C channels.
Conv2dParams dgrad_phase_problem(const Conv2dParams& p);
// The same with the full filter (R x S, dilation) at stride 1: no phase's taps span more, so
// where the direct kernels take this problem they take every phase.
Conv2dParams dgrad_direct_bound(const Conv2dParams& p);
// wgrad: X' = [C, N, H, W] (C as the batch, N as the channels) by W' = [K, N, P, Q] (grad_output
// as K filters of N x P x Q), stride and dilation swapped, an R x S output; a chunk of the batch
// sets C to its images.
Conv2dParams wgrad_forward_problem(const Conv2dParams& p);

}  // namespace cuda
}  // namespace cnnops
