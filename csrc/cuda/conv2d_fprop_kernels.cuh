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
template <typename T>
const char* fprop_simt_name();

// Tensor-core implicit GEMM (cp.async; ldmatrix + mma.sync m16n8k16 for float16 / bfloat16,
// mma.sync m16n8k8 TF32 for float32 when allowed) with channels-last operands: groups == 1,
// C % 8 == 0 (float32: C % 4 == 0), every 16-byte channel vector aligned.
// fprop_tc_supports_shape: the shape and dtype qualify (the layout may still need converting);
// fprop_tc_supports: these very operands can be read as they are.
bool fprop_tc_supports_shape(const Conv2dParams& p, DType dtype, bool allow_tf32);
bool fprop_tc_supports(const Conv2dFpropArgs& args);
template <typename T>
LaunchResult launch_fprop_tc(const Conv2dFpropArgs& args, cudaStream_t stream);
template <typename T>
const char* fprop_tc_name(const Conv2dFpropArgs& args);  // fprop_tc1x1_... for the 1x1 GEMM path

// The Hopper forward (sm_90a: wgmma fed by a warp-specialised cp.async producer) for what the
// mma.sync kernel takes in float16 / bfloat16, where fprop_wgmma_available(): a compute
// capability 9.0 device, a build with sm_90a code, not switched off (CNNOPS_WGMMA=0, or
// set_fprop_wgmma_enabled(false), conv2d_fprop.h; the simulator starts with it off).
bool fprop_wgmma_supports(const Conv2dFpropArgs& args);
template <typename T>
LaunchResult launch_fprop_wgmma(const Conv2dFpropArgs& args, cudaStream_t stream);
template <typename T>
const char* fprop_wgmma_name(const Conv2dFpropArgs& args);  // fprop_wgmma1x1_... for the 1x1 GEMM path

}  // namespace cuda
}  // namespace cnnops
