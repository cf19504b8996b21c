// grad_weight on tensor cores, with the forward kernels doing the work. With the batch as the
// channels, grad_weight is itself a convolution:
//   dW[k, c, r, s] = sum_{n, p, q} dY[n, k, p, q] * X[n, c, p*sh - pt + r*dh, q*sw - pl + s*dw]
//                  = conv(X', W')[c, k, r, s],  X'[c, n, h, w] = X[n, c, h, w] (C as the batch),
//                    W'[k, n, p, q] = dY[n, k, p, q] (grad_output as K filters of N x P x Q),
// with stride and dilation swapped and an R x S output. Where that output's tiles alone would
// leave the GPU short of blocks, the reduction is split -- into chunks of whole channel vectors of
// the batch and bands of output rows (the problem's filter rows) -- and the splits run as one
// launch (ReductionSplits: blockIdx.z), each storing its float partial sums (unrounded) into a
// workspace that conv2d_wgrad_reduce adds in split order and rounds once: deterministic, no
// atomics. Torch-side (it lays out X' and W'); run by conv2d_host.cpp where conv2d_bprop_plan()
// chose it, with the plan's splits.
#pragma once
#include <ATen/ATen.h>

#include "conv2d_bprop_plan.h"
#include "conv2d_fprop.h"

namespace cnnops {
namespace cuda {

// Computes grad_weight into `gw` in the plan's batch chunks and returns the forward kernel used.
const char* wgrad_as_fprop(const at::Tensor& grad_output, const at::Tensor& input, at::Tensor& gw,
                           const Conv2dParams& p, const Conv2dBpropPlan& plan, DType dtype, bool allow_tf32,
                           void* stream);

}  // namespace cuda
}  // namespace cnnops
