// Every thread-local variable of the simulator runtime, in one place: shared_memory.cpp poisons
// the whole TLS block of a kernel's module before each block (that is where static __shared__
// variables live) and must skip exactly these. Anything else thread-local in the runtime would be
// clobbered while a kernel runs.
#pragma once
#include <cstddef>
#include <vector>

#include "cuda_runtime_sim.h"

extern "C" {
// Dynamic shared memory of the running launch. Every `extern __shared__` array of a kernel is
// linked to this symbol (dynamic_shared_link_flags.sh), so all names alias, as on a GPU.
extern __thread unsigned char cnnops_sim_dynamic_shared[];
}

namespace cnnops {
namespace sim {

class ThreadRuntime;

extern __thread ThreadRuntime* tls_thread_runtime;  // created on first use (thread_runtime.cpp)
extern __thread cudaError_t tls_last_error;          // what cudaGetLastError() returns next

struct MemoryRange {
  char* begin;
  size_t bytes;
};
// The calling OS thread's instances of the variables above, plus threadIdx & co.
std::vector<MemoryRange> simulator_tls_ranges();

}  // namespace sim
}  // namespace cnnops
