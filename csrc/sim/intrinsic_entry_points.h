// The out-of-line runtime functions behind the inline device intrinsics (sync_functions.h,
// warp_functions.h). Each blocks the calling simulated thread until its block / warp partners
// arrive. They live in the runtime library, which the TSan flavour does not instrument: values
// cross between simulated threads only through these calls, never through memory TSan sees.
#pragma once
#include <cstdint>

#include "async_proxy.h"
#include "sim_api.h"

namespace cnnops {
namespace sim {
namespace detail {

enum class BarrierKind : int { kSync, kCount, kAnd, kOr };

// __syncthreads and friends. Returns the count / and / or of `predicate` over the block.
int block_barrier(BarrierKind kind, int predicate, const char* file, int line);

enum class WarpOp : int { kSyncWarp, kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll };

// One warp-synchronous operation: every lane named in `mask` must arrive with the same op, mask
// and width. `value` carries the lane's operand bits (shuffles) or predicate (votes); `operand`
// is the source lane, delta or lane mask of a shuffle. Returns the lane's result bits.
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int operand, int width, const char* file,
                         int line);

// __activemask(): the lanes of the caller's warp that have not exited.
unsigned active_mask();

// Aborts the running block with `what` and the caller's file:line (a device-side error that a
// GPU would turn into a fault or garbage, detected by a simulator body of a PTX wrapper).
[[noreturn]] void device_fault(const char* what, const char* file, int line);

// cp.async: the copy lands in shared memory only when a later cp_async_wait_group() of the same
// simulated thread covers its group; until then the destination holds the poison pattern, so a
// read before the wait shows. `src_bytes` < `bytes` zero-fills the rest (the src-size operand).
void cp_async(void* dst, const void* src, int bytes, int src_bytes, const char* file, int line);
void cp_async_commit_group();
// Completes every committed group but the `pending` most recent ones.
void cp_async_wait_group(int pending);

// Hopper (csrc/cuda/ptx_sm90.cuh; async_proxy.h and mbarrier.h say what is modelled).
// The shared-memory address of `p`, which must lie in the launch's dynamic shared memory: the
// simulator numbers dynamic shared memory from address 0.
uint32_t shared_address(const void* p, const char* file, int line);
void fence_proxy_async();
void mbarrier_init(uint64_t* barrier, unsigned count, const char* file, int line);
void mbarrier_arrive(uint64_t* barrier, const char* file, int line);
// Returns once the phase of parity `parity` has completed (the loop over try_wait.parity).
void mbarrier_wait_parity(uint64_t* barrier, unsigned parity, const char* file, int line);
void wgmma_fence();
void wgmma_issue(const WgmmaOp& op);
void wgmma_commit_group();
void wgmma_wait_group(int pending, const char* file, int line);

// One lane's part in a warp-level memory instruction (memory_counters.h), for the memory
// counters; a no-op unless Options::count_memory_accesses is on and a kernel is running.
// `instruction` and `file` must be string literals. bytes = 0: the lane takes part in the
// instruction without touching memory.
void record_memory_access(MemorySpace space, AccessKind kind, const char* instruction, const void* address, int bytes,
                          const char* file, int line);

// Names the calling OS thread's most recently launched kernel in the memory counters (its
// launcher knows the configuration's name; the simulator has only a function pointer).
void name_last_launched_kernel(const char* name);

}  // namespace detail
}  // namespace sim
}  // namespace cnnops
