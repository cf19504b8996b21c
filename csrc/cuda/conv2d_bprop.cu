// The CUDA-core convolution-backward kernels (the gather dgrad, the split-K wgrad and its ordered
// reduction) instantiated per dtype. Which path a shape takes -- these, or the tensor-core forward
// kernels run as stride-phase dgrad (dgrad_phases.cpp) and batch-as-channels wgrad
// (wgrad_as_fprop.cpp) -- is chosen in conv2d_bprop_plan.cpp.
#include "conv2d_bprop_kernels.cuh"

namespace cnnops {
namespace cuda {

LaunchResult conv2d_dgrad(const Conv2dBpropArgs& args, void* stream) {
  return with_element_type(args.dtype, [&](auto type) {
    return launch_dgrad_simt<typename decltype(type)::type>(args, static_cast<cudaStream_t>(stream));
  });
}

LaunchResult conv2d_wgrad(const Conv2dBpropArgs& args, void* stream) {
  return with_element_type(args.dtype, [&](auto type) {
    return launch_wgrad_simt<typename decltype(type)::type>(args, static_cast<cudaStream_t>(stream));
  });
}

LaunchResult conv2d_wgrad_reduce(const Conv2dBpropArgs& args, int64_t splits, void* stream) {
  return with_element_type(args.dtype, [&](auto type) {
    return launch_wgrad_reduce<typename decltype(type)::type>(args, splits, static_cast<cudaStream_t>(stream));
  });
}

size_t conv2d_wgrad_workspace_bytes(const Conv2dParams& p, DType dtype) { return wgrad_simt_workspace_bytes(p, dtype); }

}  // namespace cuda
}  // namespace cnnops
