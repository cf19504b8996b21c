// The convolution-backward kernel families and their launchers, one .cu each; conv2d_bprop.cu
// picks them. CUDA cores for now (every dtype, layout and argument); deterministic throughout.
#pragma once
#include <cuda_runtime.h>

#include "conv2d_bprop.h"
#include "conv2d_fprop_kernels.cuh"

namespace cnnops {
namespace cuda {

template <typename T>
LaunchResult launch_dgrad_simt(const Conv2dBpropArgs& args, cudaStream_t stream);
template <typename T>
LaunchResult launch_wgrad_simt(const Conv2dBpropArgs& args, cudaStream_t stream);
size_t wgrad_simt_workspace_bytes(const Conv2dParams& p, DType dtype);
template <typename T>
LaunchResult launch_wgrad_reduce(const Conv2dBpropArgs& args, int64_t splits, cudaStream_t stream);

}  // namespace cuda
}  // namespace cnnops
