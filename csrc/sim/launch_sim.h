// The simulator's kernel launcher: the body of cnnops::cuda::launch() under CNNOPS_SIM.
//
// The arguments are converted to the kernel's parameter types once (as a triple-chevron launch does) and
// kept in a closure; every simulated thread calls the kernel with its own copies of them.
#pragma once
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime_sim.h"

namespace cnnops {
namespace sim {
namespace detail {

struct KernelLaunch {
  const void* kernel;  // identifies the kernel (function attributes) and its module (shared memory)
  dim3 grid;
  dim3 block;
  size_t dynamic_shared_bytes;
  cudaStream_t stream;
  void (*invoke)(const void* closure);  // calls the kernel once, for the current simulated thread
  const void* closure;
};

// Validates the launch like a GPU, runs every block, and records the outcome as the calling
// thread's last error (cudaGetLastError). Returns that outcome.
cudaError_t launch(const KernelLaunch& launch);

}  // namespace detail

template <typename... KernelArgs, typename... Args>
cudaError_t launch_kernel(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t dynamic_shared_bytes,
                          cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(KernelArgs) == sizeof...(Args), "wrong number of kernel arguments");
  struct Closure {
    void (*kernel)(KernelArgs...);
    std::tuple<std::decay_t<KernelArgs>...> args;
  };
  const Closure closure{kernel, std::tuple<std::decay_t<KernelArgs>...>(std::forward<Args>(args)...)};
  const auto invoke = [](const void* p) {
    const Closure& c = *static_cast<const Closure*>(p);
    std::apply(c.kernel, c.args);
  };
  return detail::launch({reinterpret_cast<const void*>(kernel), grid, block, dynamic_shared_bytes, stream, invoke,
                         &closure});
}

}  // namespace sim
}  // namespace cnnops
