// The one place that launches CUDA kernels. Host launch code calls cnnops::cuda::launch(...)
// instead of writing <<<...>>> itself, so that the CPU simulator (csrc/sim) can run the unmodified
// launch code and kernels on the CPU: under CNNOPS_SIM this launches through the simulator,
// which runs the whole grid before returning and reports errors the same way.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "launch_result.h"

namespace cnnops {
namespace cuda {

template <typename... KernelArgs, typename... Args>
inline cudaError_t launch(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, Args&&... args) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::launch_kernel(kernel, grid, block, smem, stream, std::forward<Args>(args)...);
#else
  kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
#endif
  return cudaGetLastError();
}

// A LaunchResult from a CUDA status: success, or CUDA's message.
inline LaunchResult launch_result(cudaError_t err, const char* kernel) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::name_last_launched_kernel(kernel);  // the memory counters' kernel name
#endif
  return LaunchResult{err == cudaSuccess ? nullptr : cudaGetErrorString(err), kernel};
}

}  // namespace cuda
}  // namespace cnnops
