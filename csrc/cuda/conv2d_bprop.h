// The host interface of the CUDA convolution backward: grad_input (dgrad), grad_weight (wgrad)
// and grad_bias. Free of torch and CUDA headers, like conv2d_fprop.h, so the same host code
// serves the CUDA extension and the simulator module.
#pragma once
#include <cstddef>

#include "../common/conv_params.h"
#include "conv2d_fprop.h"

namespace cnnops {
namespace cuda {

struct Conv2dBpropArgs {
  Conv2dParams p;  // p.x: input strides, p.w: weight strides, p.y: grad_output strides
  DType dtype;
  const void* dy;  // grad_output [N, K, P, Q]
  const void* x;   // input (read by wgrad)
  const void* w;   // weight (read by dgrad)
  void* dx;        // grad_input [N, C, H, W] with strides dx_strides, or null
  Strides4 dx_strides;
  void* dw;  // grad_weight [K, C/g, R, S] with strides dw_strides, or null
  Strides4 dw_strides;
  void* db;         // grad_bias [K], contiguous, or null
  void* workspace;  // wgrad's split-K partial sums: conv2d_wgrad_workspace_bytes()
};

// grad_input = the transposed convolution of grad_output with the filters. Every element of dx
// is written (no zero-fill needed).
LaunchResult conv2d_dgrad(const Conv2dBpropArgs& args, void* stream);

// grad_weight (when dw is set) and grad_bias (when db is set). Large N*P*Q reductions are split
// across blocks; the partial sums go to the workspace and a second launch adds them in a fixed
// order, so results are bit-identical run to run (no atomics).
LaunchResult conv2d_wgrad(const Conv2dBpropArgs& args, void* stream);
size_t conv2d_wgrad_workspace_bytes(const Conv2dParams& p, DType dtype);

// grad_weight = the in-order sum of `splits` float partials laid out [split][K][C/g][R][S]
// (args.workspace), rounded once into args.dw: the second pass of the tensor-core wgrad.
LaunchResult conv2d_wgrad_reduce(const Conv2dBpropArgs& args, int64_t splits, void* stream);

}  // namespace cuda
}  // namespace cnnops
