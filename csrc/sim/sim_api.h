// The simulator's own API, for tests and tools: options, counters, the message of the last
// refused launch, device properties, and the reset after a simulated kernel fault.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "cuda_runtime_sim.h"

namespace cnnops {
namespace sim {

struct Options {
  bool reverse_block_order = false;   // run blocks last to first (results must not change)
  bool reverse_thread_order = false;  // resume the threads of a block last to first
  // Run the lowest-numbered runnable warp ahead until it blocks at a __syncthreads (its warp
  // collectives complete as soon as its own lanes arrive), then the next warp. Every schedule
  // is legal on a GPU; the default rounds keep warps in near lockstep, this one separates them as
  // far as a block's barriers allow, so a missing __syncthreads between warps reads poison.
  bool warps_run_ahead = false;
  bool poison_shared_memory = true;   // 0xFF over static and dynamic shared memory before each block
  bool poison_allocations = true;     // 0xFF over every cudaMalloc'd buffer
  bool print_errors = true;           // also print each refused launch / kernel fault to stderr
  size_t fiber_stack_bytes = 64 << 10;  // stack of every simulated thread (8 KB suffice at -O2)
};
Options options();
void set_options(const Options& options);

// What ran. Counted per simulated thread (a __syncthreads reached by 256 threads counts 256).
enum class Counter : int {
  kLaunches,
  kBlocks,
  kThreads,
  kSyncthreads,      // __syncthreads, _count, _and, _or
  kWarpCollectives,  // __shfl*_sync, __ballot_sync, __any_sync, __all_sync, __syncwarp
  kAtomics,          // atomic*()
  kMmaSync,          // reserved for the PTX wrappers: mma.sync
  kLdmatrix,         //                                ldmatrix
  kCpAsync,          //                                cp.async
  kNumCounters
};
const char* counter_name(Counter counter);
uint64_t counter(Counter counter);
void reset_counters();

namespace detail {
extern uint64_t counter_values[int(Counter::kNumCounters)];
}  // namespace detail

// Adds n to a counter. Safe from any simulated or OS thread (a relaxed atomic, which TSan
// understands), cheap enough for per-instruction use by the PTX wrappers.
inline void count(Counter counter, uint64_t n = 1) {
  __atomic_fetch_add(&detail::counter_values[int(counter)], n, __ATOMIC_RELAXED);
}

// The explanation of the most recent error the simulator reported (a refused launch, a kernel
// fault such as a divergent __syncthreads, an invalid API argument); empty if none.
std::string last_error_message();

// A kernel fault is sticky, as on a GPU: every later API call returns it. Tests that provoke one
// on purpose call reset_device() to go on. Allocations stay valid.
void reset_device();

// An H100 SXM (132 SMs, 228 KB shared memory per SM, 227 KB per block after opt-in, 48 KB
// without). Tests may substitute another device; set_device_properties() returns
// cudaErrorInvalidValue for limits the simulator cannot honour.
cudaDeviceProp default_device_properties();
cudaError_t set_device_properties(const cudaDeviceProp& properties);

// Number of cudaMalloc'd buffers not yet freed.
size_t live_allocation_count();

// Upper bound on dynamic shared memory per block (sharedMemPerBlockOptin may not exceed it).
constexpr size_t kDynamicSharedCapacity = 256 << 10;

}  // namespace sim
}  // namespace cnnops
