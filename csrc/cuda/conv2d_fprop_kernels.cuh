// The convolution-forward kernel families and their launchers, one .cu each (so they compile in
// parallel); conv2d_fprop.cu picks one per shape. Every launcher takes the torch-free
// Conv2dFpropArgs and returns what it ran (or why it could not).
#pragma once
#include <cuda_runtime.h>

#include "conv2d_fprop.h"

namespace cnnops {
namespace cuda {

// CUDA-core implicit GEMM for every dtype, layout and shape (any strides, padding, dilation,
// groups): the IEEE float32 / float64 path and the fallback of the tensor-core kernels.
template <typename T>
LaunchResult launch_fprop_simt(const Conv2dFpropArgs& args, cudaStream_t stream);

// A LaunchResult from a CUDA status: success, or CUDA's message.
inline LaunchResult launch_result(cudaError_t err, const char* kernel) {
  return LaunchResult{err == cudaSuccess ? nullptr : cudaGetErrorString(err), kernel};
}

}  // namespace cuda
}  // namespace cnnops
