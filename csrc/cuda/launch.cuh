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

// launch() that names the kernel for the simulator's memory counters and launch log: for the
// kernels a launcher runs before the one its LaunchResult names (a split-K pass before its
// reduce, a second pass of a gradient), which launch_result would leave unnamed.
template <typename... KernelArgs, typename... Args>
inline cudaError_t launch_named(const char* name, void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem,
                                cudaStream_t stream, Args&&... args) {
  const cudaError_t err = launch(kernel, grid, block, smem, stream, std::forward<Args>(args)...);
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::name_last_launched_kernel(name);
#else
  (void)name;
#endif
  return err;
}

// A LaunchResult from a CUDA status: success, or CUDA's message. The last kernel launched takes
// the name (the memory counters' and launch log's).
inline LaunchResult launch_result(cudaError_t err, const char* kernel) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::name_last_launched_kernel(kernel);
#endif
  return LaunchResult{err == cudaSuccess ? nullptr : cudaGetErrorString(err), kernel};
}

}  // namespace cuda
}  // namespace cnnops
