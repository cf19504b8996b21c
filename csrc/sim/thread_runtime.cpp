#include "thread_runtime.h"

#include <pthread.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "builtin_variables.h"
#include "intrinsic_entry_points.h"
#include "mbarrier.h"
#include "sanitizer_hooks.h"
#include "sim_tls.h"

namespace cnnops {
namespace sim {

namespace {

void destroy_thread_runtime(void* runtime) {
  delete static_cast<ThreadRuntime*>(runtime);
  tls_thread_runtime = nullptr;
}

pthread_key_t thread_exit_key() {
  static const pthread_key_t key = [] {
    pthread_key_t k;
    pthread_key_create(&k, &destroy_thread_runtime);
    return k;
  }();
  return key;
}

// A device intrinsic called where no simulated thread runs: a bug in the calling code, not a
// kernel fault, and there is no launch to fail.
[[noreturn]] void outside_kernel(const char* what, const char* file, int line) {
  std::fprintf(stderr, "cnnops sim: %s called at %s:%d outside a simulated kernel\n", what, file, line);
  std::abort();
}

BlockScheduler& running_scheduler(const char* what, const char* file, int line) {
  ThreadRuntime* runtime = tls_thread_runtime;
  if (runtime == nullptr || !runtime->scheduler.in_simulated_thread()) outside_kernel(what, file, line);
  return runtime->scheduler;
}

}  // namespace

ThreadRuntime& this_thread_runtime() {
  if (tls_thread_runtime == nullptr) {
    tls_thread_runtime = new ThreadRuntime;
    pthread_setspecific(thread_exit_key(), tls_thread_runtime);
  }
  return *tls_thread_runtime;
}

namespace {
// The calling simulated thread's linear index in its block (x fastest).
unsigned linear_thread_id() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }
}  // namespace

namespace detail {

int block_barrier(BarrierKind kind, int predicate, const char* file, int line) {
  return running_scheduler("__syncthreads", file, line).arrive_at_block_barrier(kind, predicate, file, line);
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int operand, int width, const char* file,
                         int line) {
  return running_scheduler("a warp collective", file, line)
      .arrive_at_warp_collective(op, mask, value, operand, width, file, line);
}

void device_fault(const char* what, const char* file, int line) {
  running_scheduler(what, file, line).device_fault(what, file, line);
}

void cp_async(void* dst, const void* src, int bytes, int src_bytes, const char* file, int line) {
  if (bytes != 4 && bytes != 8 && bytes != 16)
    device_fault("cp.async with a copy size other than 4, 8 or 16 bytes", file, line);
  if (src_bytes < 0 || src_bytes > bytes) device_fault("cp.async with src-size outside [0, copy size]", file, line);
  if (reinterpret_cast<uintptr_t>(dst) % bytes != 0 || (src_bytes > 0 && reinterpret_cast<uintptr_t>(src) % bytes != 0))
    device_fault("cp.async with a source or destination not aligned to the copy size", file, line);
  running_scheduler("cp.async", file, line);
  tls_thread_runtime->async_copies.issue(linear_thread_id(), dst, src, bytes, src_bytes);
  // The shared side is written whole (zero-fill included); the global side reads src_bytes.
  static const char* const kNames[] = {"cp.async.4", "cp.async.8", "cp.async.16"};
  const char* name = kNames[bytes == 4 ? 0 : bytes == 8 ? 1 : 2];
  record_memory_access(MemorySpace::kShared, AccessKind::kStore, name, dst, bytes, file, line);
  record_memory_access(MemorySpace::kGlobal, AccessKind::kLoad, name, src, src_bytes, file, line);
}

void record_memory_access(MemorySpace space, AccessKind kind, const char* instruction, const void* address, int bytes,
                          const char* file, int line) {
  ThreadRuntime* runtime = tls_thread_runtime;
  if (runtime == nullptr || !runtime->memory.enabled() || !runtime->scheduler.in_simulated_thread()) return;
  runtime->memory.record(linear_thread_id(), space, kind, instruction, reinterpret_cast<uintptr_t>(address), bytes,
                         file, line);
}

void cp_async_commit_group() {
  running_scheduler("cp.async.commit_group", __FILE__, __LINE__);
  tls_thread_runtime->async_copies.commit(linear_thread_id());
}

void cp_async_wait_group(int pending) {
  running_scheduler("cp.async.wait_group", __FILE__, __LINE__);
  tls_thread_runtime->async_copies.wait(linear_thread_id(), pending);
}

uint32_t shared_address(const void* p, const char* file, int line) {
  running_scheduler("a shared-memory address", file, line);
  const auto* byte = static_cast<const unsigned char*>(p);
  if (byte < cnnops_sim_dynamic_shared || byte >= cnnops_sim_dynamic_shared + kDynamicSharedCapacity)
    device_fault("a shared-memory address of a pointer outside dynamic shared memory (the simulator gives addresses "
                 "to dynamic shared memory only)", file, line);
  return uint32_t(byte - cnnops_sim_dynamic_shared);
}

void fence_proxy_async() {
  running_scheduler("fence.proxy.async", __FILE__, __LINE__);
  tls_thread_runtime->async_proxy.fence_proxy();
}

namespace {
Mbarrier read_mbarrier(const uint64_t* barrier, const char* what, const char* file, int line) {
  if (reinterpret_cast<uintptr_t>(barrier) % 8 != 0) device_fault("an mbarrier not aligned to 8 bytes", file, line);
  Mbarrier m;
  if (!decode_mbarrier(*barrier, &m)) {
    static char message[160];
    std::snprintf(message, sizeof(message), "%s on an mbarrier that mbarrier.init never initialised (or that was "
                  "overwritten)", what);
    device_fault(message, file, line);
  }
  return m;
}
}  // namespace

void mbarrier_init(uint64_t* barrier, unsigned count, const char* file, int line) {
  running_scheduler("mbarrier.init", file, line);
  if (reinterpret_cast<uintptr_t>(barrier) % 8 != 0) device_fault("an mbarrier not aligned to 8 bytes", file, line);
  if (count < 1 || count > kMbarrierMaxCount)
    device_fault("mbarrier.init with a count outside [1, 2^20 - 1]", file, line);
  *barrier = encode_mbarrier(Mbarrier{count, count, 0});
}

void mbarrier_arrive(uint64_t* barrier, const char* file, int line) {
  BlockScheduler& scheduler = running_scheduler("mbarrier.arrive", file, line);
  Mbarrier m = read_mbarrier(barrier, "mbarrier.arrive", file, line);
  sanitizer::tsan_release(barrier);
  if (--m.missing == 0) {  // the phase completes
    m.parity ^= 1u;
    m.missing = m.expected;
  }
  *barrier = encode_mbarrier(m);
  scheduler.yield_thread();
}

void mbarrier_wait_parity(uint64_t* barrier, unsigned parity, const char* file, int line) {
  BlockScheduler& scheduler = running_scheduler("mbarrier.try_wait.parity", file, line);
  const Mbarrier m = read_mbarrier(barrier, "mbarrier.try_wait.parity", file, line);
  if (m.parity != (parity & 1u)) {
    sanitizer::tsan_acquire(barrier);
    return;
  }
  scheduler.wait_at_mbarrier(barrier, parity, file, line);
}

void wgmma_fence() {
  running_scheduler("wgmma.fence", __FILE__, __LINE__);
  tls_thread_runtime->async_proxy.fence_operands(linear_thread_id());
}

void wgmma_issue(const WgmmaOp& op) {
  running_scheduler("wgmma.mma_async", op.file, op.line);
  if (const char* error = tls_thread_runtime->async_proxy.issue(linear_thread_id(), op))
    device_fault(error, op.file, op.line);
}

void wgmma_commit_group() {
  running_scheduler("wgmma.commit_group", __FILE__, __LINE__);
  tls_thread_runtime->async_proxy.commit(linear_thread_id());
}

void wgmma_wait_group(int pending, const char* file, int line) {
  BlockScheduler& scheduler = running_scheduler("wgmma.wait_group", file, line);
  // The operations complete as late as the block allows (async_proxy.h).
  if (tls_thread_runtime->async_proxy.must_wait(linear_thread_id(), pending)) scheduler.wait_until_idle();
  if (const char* error = tls_thread_runtime->async_proxy.wait(linear_thread_id(), pending))
    device_fault(error, file, line);
}

unsigned active_mask() {
  ThreadRuntime* runtime = tls_thread_runtime;
  return runtime != nullptr ? runtime->scheduler.active_mask() : 0;
}

}  // namespace detail
}  // namespace sim
}  // namespace cnnops
