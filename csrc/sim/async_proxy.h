// Hopper's asynchronous proxy for the simulator: warpgroup MMA (wgmma.mma_async) with its
// fence / commit_group / wait_group rules, and the proxy fence between ordinary shared-memory
// writes and what the async proxy reads.
//
// - The async proxy reads dynamic shared memory through its own view, which a
//   fence.proxy.async.shared::cta by any thread of the block refreshes from shared memory as it
//   is at that moment. The view starts each block as the poison, so operands written by ordinary
//   stores (or cp.async) and never fenced read NaN; written after the last fence, they read the
//   stale values. (Stricter than one view per writing thread would be, looser than a GPU in one
//   way: another thread's unfenced writes that precede some thread's fence are seen.)
// - wgmma.mma_async computes nothing when issued: it poisons its accumulator registers (NaN: a
//   read before the covering wgmma.wait_group shows) and queues. wgmma.wait_group(N) runs every
//   queued operation of the thread's groups but the N newest, in issue order, reading A and B
//   through the view *then* -- an operand stage overwritten (and fenced) before the wait gives a
//   wrong product, as a GPU might -- and writes the accumulators back once nothing queued still
//   targets them. Products are summed in k order in float onto the previous value.
// - A wgmma needs a wgmma.fence by its thread since that thread's last wgmma.wait_group (or the
//   start of the kernel): the fence that orders the accumulator registers' other accesses.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cnnops {
namespace sim {

// One wgmma.mma_async .m64nNk*, K-major A and B from shared memory (descriptors), as issued by
// one thread of the warpgroup.
struct WgmmaOp {
  int n;                              // N: 8 .. 256; the thread holds N/2 accumulators
  int element_bytes;                  // 2 (f16, bf16) or 4 (tf32)
  float (*element)(const unsigned char*);  // an operand element's value (the tensor core's view)
  float* accumulators;
  uint64_t desc_a, desc_b;
  bool accumulate;  // scale-d: D = A*B + D (true) or D = A*B
  const char* file;
  int line;
};

class AsyncProxy {
 public:
  void begin_block(unsigned threads, const unsigned char* shared, size_t dynamic_bytes);
  void fence_proxy();  // fence.proxy.async.shared::cta

  // Each returns nullptr or what is wrong (a message valid until the next call).
  void fence_operands(unsigned thread);  // wgmma.fence
  const char* issue(unsigned thread, const WgmmaOp& op);
  void commit(unsigned thread);
  const char* wait(unsigned thread, int pending);
  // Whether wait(thread, pending) would complete any operation.
  bool must_wait(unsigned thread, int pending) const;
  // At the end of a block: a thread that exited with wgmma operations not waited for, or -1.
  long thread_with_pending_wgmma() const;

 private:
  struct Accumulators {  // a register set with queued operations writing it
    float* registers;
    int count;
    int queued;
    float values[128];
  };
  struct PerThread {
    bool fenced = false;
    std::vector<WgmmaOp> open;                  // issued since the last commit
    std::vector<std::vector<WgmmaOp>> groups;  // committed, oldest first
    std::vector<Accumulators> in_flight;
  };
  const char* run(PerThread& t, const WgmmaOp& op);

  std::vector<PerThread> threads_;
  std::vector<unsigned char> view_;  // dynamic shared memory as the async proxy sees it
  const unsigned char* shared_ = nullptr;
  unsigned block_threads_ = 0;
  char message_[512];
};

}  // namespace sim
}  // namespace cnnops
