// Runs the threads of one block, each on its own fiber, and implements what makes them a block
// and warps: __syncthreads (all live threads meet at the same call), warp collectives (every lane
// named in the mask meets with the same operation), and the diagnosis of everything that would
// hang or be undefined on a GPU (divergent barriers, exited partners, deadlocks).
//
// Scheduling is in rounds: each runnable thread, in linear-id order (x fastest; reversed on
// request), runs until it blocks in a barrier or collective or exits, and then switches directly
// to the next runnable thread of the round; the last one switches back to the host. Between
// rounds the host completes every barrier / collective whose participants have all arrived --
// only there, so every thread released together resumes within one round, before any of them can
// arrive at its next barrier (the TSan modelling below relies on this). With warps_run_ahead a
// round holds one warp only (the lowest with a runnable lane), and its collectives complete right
// after its round: it runs on until a block barrier stops it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fiber.h"
#include "intrinsic_entry_points.h"
#include "vector_types.h"

namespace cnnops {
namespace sim {

class BlockScheduler {
 public:
  explicit BlockScheduler(Fiber& host);
  ~BlockScheduler();
  BlockScheduler(const BlockScheduler&) = delete;
  BlockScheduler& operator=(const BlockScheduler&) = delete;

  // Prepares the fibers for a launch with blocks of `block_dim` threads calling invoke(closure).
  void begin_launch(dim3 block_dim, bool reverse_thread_order, bool warps_run_ahead, size_t stack_bytes,
                    void (*invoke)(const void*), const void* closure);
  // Runs all threads of one block to completion. False: the block was aborted; fault_message()
  // says why (with the file:line of the offending call).
  bool run_block(uint3 block_index);
  const std::string& fault_message() const { return fault_message_; }
  // Since begin_launch(), counted per arriving thread.
  uint64_t syncthreads_arrivals() const { return syncthreads_arrivals_; }
  uint64_t warp_collective_arrivals() const { return warp_collective_arrivals_; }
  bool in_simulated_thread() const { return current_ != nullptr; }

  // Called by the running simulated thread (intrinsic_entry_points.h); they return once the
  // barrier / collective has completed.
  int arrive_at_block_barrier(detail::BarrierKind kind, int predicate, const char* file, int line);
  uint64_t arrive_at_warp_collective(detail::WarpOp op, unsigned mask, uint64_t value, int operand, int width,
                                     const char* file, int line);
  unsigned active_mask() const;
  // mbarrier.try_wait.parity in a loop: returns once the phase of parity `parity` of the mbarrier
  // at `barrier` has completed (mbarrier.h). The thread waits like at a barrier; when no thread
  // of the block can run and the phase is still incomplete, the block fails as a deadlock.
  void wait_at_mbarrier(const uint64_t* barrier, unsigned parity, const char* file, int line);
  // Parks the calling thread until no thread of the block can run any more (the latest legal
  // moment): for the completion of asynchronous work such as wgmma, so that what the block does
  // meanwhile -- a stage released and refilled too early -- happens before the work reads it.
  void wait_until_idle();
  // Lets the rest of the round run before the calling thread goes on (it stays runnable): after
  // an mbarrier.arrive, so that the threads it releases can act before it does.
  void yield_thread();
  // Fails the block that has just run (run_block returned true) with `message`: for what is
  // checked at its end (wgmma operations never waited for).
  void fail_block(const std::string& message);
  // A device-side error the kernel's own code detected (a misaligned ldmatrix row, a cp.async
  // size no GPU has): aborts the block like any other fault, with the caller's file:line.
  [[noreturn]] void device_fault(const char* what, const char* file, int line);

 private:
  struct SimThread;
  enum class GroupStatus { kCompleted, kWaiting, kFault };

  static void thread_entry(void* sim_thread);
  [[noreturn]] void run_thread(SimThread& self);
  void make_current(SimThread& thread);
  Fiber& next_fiber_in_round();
  // Records the fault and abandons the running thread. printf-style on purpose: the abandoned
  // fiber's frames are never unwound, so it must not own heap memory (std::string temporaries).
  [[noreturn]] void abort_block_from_thread(const char* format, ...) __attribute__((format(printf, 2, 3)));

  bool resolve_waits();
  bool collect_round();
  bool complete_round_collectives();
  GroupStatus try_complete_warp_group(SimThread& member);
  bool release_block_barrier();
  void diagnose_stuck_collective(const SimThread& waiter);
  void diagnose_stuck_mbarrier(const SimThread& waiter);
  bool release_mbarrier_waits(bool* progressed);
  bool release_idle_waits();
  void fail(const std::string& message);

  unsigned lanes_of_warp(unsigned warp) const;
  std::string describe(const SimThread& thread) const;
  std::string block_name() const;

  Fiber& host_;
  std::vector<std::unique_ptr<SimThread>> threads_;  // pool; the first thread_count_ run
  size_t pool_stack_bytes_ = 0;
  unsigned thread_count_ = 0;
  bool reverse_thread_order_ = false;
  bool warps_run_ahead_ = false;
  void (*invoke_)(const void*) = nullptr;
  const void* closure_ = nullptr;

  uint3 block_index_{};
  SimThread* current_ = nullptr;
  std::vector<unsigned> round_;  // linear ids runnable in this round, in resume order
  size_t round_position_ = 0;
  unsigned live_ = 0;
  unsigned exited_ = 0;
  unsigned barrier_generation_ = 0;
  bool fault_ = false;
  std::string fault_message_;
  uint64_t syncthreads_arrivals_ = 0;
  uint64_t warp_collective_arrivals_ = 0;

  // TSan synchronisation objects; only their addresses matter (sanitizer_hooks.h). Kernel start
  // and end order the host with every thread; block barriers alternate between two objects so
  // that a thread already past the next barrier cannot leak its later writes to a thread still
  // leaving this one; __syncwarp uses two objects per lane for the same reason.
  char block_start_sync_ = 0;
  char block_end_sync_ = 0;
  char barrier_sync_[2] = {0, 0};
  std::vector<char> syncwarp_sync_;
};

}  // namespace sim
}  // namespace cnnops
