// grad_weight of a narrow-group convolution (the shapes of conv2d_direct.h) without the implicit
// GEMM: each block owns a tile of output channels and a pass of filter rows, each thread up to
// kDirectWgradTapsPerThread of those taps (k, c, r, s) in registers; the block walks its split of
// the output tiles, staging grad_output and the input rows the taps read in shared memory, and
// stores its taps' partial sums. conv2d_wgrad_reduce then adds the splits in split order and
// rounds once: deterministic, no atomics.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../common/conv_params.h"
#include "conv2d_bprop.h"

namespace cnnops {
namespace cuda {

constexpr int kDirectWgradTapsPerThread = 16;

// How the direct wgrad splits a shape: `splits` ranges of output tiles (blockIdx.y), `passes`
// groups of `rows_per_pass` filter rows (blockIdx.z), the partial sums' workspace
// ([splits][K][C/g][R][S] in the accumulation type); `fits` where one filter row's taps fit the
// threads' registers and its stage fits shared memory.
struct DirectWgradPlan {
  bool channels_last = false;
  int64_t splits = 0, passes = 0, rows_per_pass = 0;
  int64_t shared_bytes = 0;
  size_t workspace_bytes = 0;
  bool fits = false;
};

DirectWgradPlan conv2d_direct_wgrad_plan(const Conv2dParams& p, DType dtype);

// grad_weight into args.dw (strides args.dw_strides) through args.workspace
// (conv2d_direct_wgrad_plan's bytes): the partial-sum launch, then conv2d_wgrad_reduce.
LaunchResult conv2d_direct_wgrad(const Conv2dBpropArgs& args, void* stream);

}  // namespace cuda
}  // namespace cnnops
