// What a profiler counts of memory traffic, counted by the simulator: every lane of a memory
// access that a PTX wrapper or the kernels' epilogue reports (ptx.cuh's ldmatrix, cp.async and
// ld_shared; dtypes.cuh's KernelConvert for the epilogue's global loads and stores) is recorded
// with its address; at the end of each block the lanes are put together into warp-level
// instructions and costed by the hardware's rules (memory_cost.h). Totals are kept per kernel and
// per source line of the access. Off unless Options::count_memory_accesses.
//
// Which lanes form one warp-level instruction: the k-th execution of an access site by each lane
// of a warp is that warp's k-th instruction at that site. That is exact wherever the lanes of a
// warp execute a site equally often (converged code, loops with warp-uniform trip counts); a
// site that some lanes skip conditionally (`if (m >= NPQ) continue;` on a ragged tile edge)
// shifts those lanes into later instructions there. A lane that takes part without touching
// memory (a cp.async that only zero-fills, ldmatrix lanes past the last matrix) reports 0 bytes,
// so it keeps its place.
#pragma once
#include <cstdint>
#include <vector>

#include "sim_api.h"

namespace cnnops {
namespace sim {

class MemoryAccessRecorder {
 public:
  // A launch of `kernel` whose blocks have `threads` threads; `enabled` from the options.
  void begin_launch(const void* kernel, unsigned threads, bool enabled);
  bool enabled() const { return enabled_; }
  void begin_block();
  // One lane's access. `instruction`, `file` are string literals (identity by address).
  void record(unsigned thread, MemorySpace space, AccessKind kind, const char* instruction, uintptr_t address,
              int bytes, const char* file, int line);
  // Costs the block's instructions and adds them to the process-wide totals. A block that
  // faulted is dropped (keep = false).
  void end_block(bool keep);
  const void* kernel() const { return kernel_; }

 private:
  struct Site {
    const char* file;
    int line;
    const char* instruction;
    MemorySpace space;
    AccessKind kind;
    std::vector<uint32_t> executions;  // per thread of the block: how often it reached the site
  };
  struct LaneAccess {
    uint32_t site, warp, execution, lane;
    uintptr_t address;
    int bytes;
  };

  uint32_t site_index(const char* file, int line, const char* instruction, MemorySpace space, AccessKind kind);

  bool enabled_ = false;
  const void* kernel_ = nullptr;
  unsigned threads_ = 0;
  std::vector<Site> sites_;
  // One list per simulated thread, grown only by that thread's fiber: a vector's regrowth copies
  // with memmove, which TSan intercepts even in this uninstrumented runtime, and fibers are not
  // ordered with each other (end_block, on the host, is ordered after all of them).
  std::vector<std::vector<LaneAccess>> per_thread_;
  std::vector<LaneAccess> accesses_;  // end_block's merge of the lists
};

namespace detail {
// The launch log (sim_api.h's launch_log): launch.cpp records each launch's grid and dynamic
// shared memory, and reset_counters() clears the log with the counters.
void log_launch(const void* kernel, unsigned grid_x, unsigned grid_y, unsigned grid_z, size_t dynamic_shared_bytes);
void clear_launch_log();
}  // namespace detail

}  // namespace sim
}  // namespace cnnops
