// The one place that launches CUDA kernels. Host launch code calls cnnops::cuda::launch(...)
// instead of writing <<<...>>> itself, so that the CPU simulator (issue: csrc/sim) can swap
// this body for its own launcher and run the unmodified launch code and kernels on the CPU.
#pragma once
#include <cuda_runtime.h>

#include <utility>

namespace cnnops {
namespace cuda {

template <typename... KernelArgs, typename... Args>
inline cudaError_t launch(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, Args&&... args) {
  kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace cnnops
