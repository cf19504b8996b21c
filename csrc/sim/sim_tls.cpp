#include "sim_tls.h"

#include "builtin_variables.h"
#include "sim_api.h"

__thread uint3 threadIdx;
__thread uint3 blockIdx;
__thread dim3 blockDim;
__thread dim3 gridDim;

extern "C" {
// 1024-byte aligned, so that shared address 0 (shared_address(): the offset in this buffer) and
// the host pointer agree on the bits a 128-byte swizzle reads.
__attribute__((aligned(1024))) __thread unsigned char cnnops_sim_dynamic_shared[cnnops::sim::kDynamicSharedCapacity];
}

namespace cnnops {
namespace sim {

__thread ThreadRuntime* tls_thread_runtime;
__thread cudaError_t tls_last_error;

std::vector<MemoryRange> simulator_tls_ranges() {
  auto range = [](void* begin, size_t bytes) { return MemoryRange{static_cast<char*>(begin), bytes}; };
  return {
      range(&threadIdx, sizeof(threadIdx)),
      range(&blockIdx, sizeof(blockIdx)),
      range(&blockDim, sizeof(blockDim)),
      range(&gridDim, sizeof(gridDim)),
      range(cnnops_sim_dynamic_shared, kDynamicSharedCapacity),
      range(&tls_thread_runtime, sizeof(tls_thread_runtime)),
      range(&tls_last_error, sizeof(tls_last_error)),
  };
}

}  // namespace sim
}  // namespace cnnops

// g++ calls a translation unit's TLS initialiser, `__tls_init`, before it touches an
// `extern thread_local` variable with internal linkage -- which is what `extern __shared__` in a
// kernel inside an anonymous namespace becomes -- but only defines that function in units that
// have dynamic TLS initialisation, which kernel code never has. This empty definition satisfies
// the reference; a unit that does define its own keeps it (it is a local symbol there).
extern "C" __attribute__((used, externally_visible)) void __tls_init() {}
