// The simulator's own API, for tests and tools: options, counters, the message of the last
// refused launch, device properties, and the reset after a simulated kernel fault.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
  // Record every lane of the memory accesses the PTX wrappers and the kernels' epilogue report,
  // and cost them per warp-level instruction (memory_access_counts()). Off by default: it
  // roughly doubles the time of a memory-heavy launch.
  bool count_memory_accesses = false;
  // Run only this many blocks of each launch, spread evenly over the grid (block i * blocks /
  // sample_blocks for i < sample_blocks); 0 runs every block. For profiling a real layer's launch
  // from a sample of its blocks: the blocks left out write nothing, so outputs are incomplete.
  uint64_t sample_blocks = 0;
  // Validate, count and log each launch but run none of its blocks: for tests of how host code
  // schedules its work (launch_log), on problems too large to simulate.
  bool skip_blocks = false;
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
  kWgmma,            //                                wgmma.mma_async (per warpgroup)
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

// What a profiler would count of memory traffic, per kernel and per source line of an access
// (memory_counters.h says which accesses are seen and how lanes form warp-level instructions;
// memory_cost.h how they are costed). Counted while Options::count_memory_accesses is on.
enum class MemorySpace : int { kShared, kGlobal };
enum class AccessKind : int { kLoad, kStore };
struct MemoryAccessSite {
  std::string kernel;       // the launcher's name for the kernel, else "kernel@<address>"
  std::string file;         // where the access is written (a kernel's line, or its call of a helper)
  int line = 0;
  std::string instruction;  // "ldmatrix.x4", "cp.async.16", "ld.shared", "st.global", ...
  MemorySpace space = MemorySpace::kShared;
  AccessKind kind = AccessKind::kLoad;
  uint64_t instructions = 0;     // warp-level instructions
  uint64_t lane_accesses = 0;    // lanes that touched memory
  uint64_t bytes = 0;            // bytes the lanes asked for
  uint64_t wavefronts = 0;       // shared: wavefronts needed ...
  uint64_t ideal_wavefronts = 0; //         ... and without bank conflicts
  uint64_t sectors = 0;          // global: 32-byte sectors touched ...
  uint64_t ideal_sectors = 0;    //         ... and the minimum for the bytes moved
};
// Sorted by kernel, file, line, instruction.
std::vector<MemoryAccessSite> memory_access_counts();
void reset_memory_access_counts();

// The grids of the launches since the last reset_counters(), in launch order (the first 65536):
// how a host entry point spreads its work over the GPU, e.g. whether every launch of a layer's
// backward gives each SM a block.
struct LaunchRecord {
  std::string kernel;  // as in MemoryAccessSite
  unsigned grid_x = 0, grid_y = 0, grid_z = 0;
  size_t dynamic_shared_bytes = 0;  // what the launch asked for
  uint64_t blocks() const { return uint64_t(grid_x) * grid_y * grid_z; }
};
std::vector<LaunchRecord> launch_log();

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
