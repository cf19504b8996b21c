#include "thread_runtime.h"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>

#include "intrinsic_entry_points.h"
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

namespace detail {

int block_barrier(BarrierKind kind, int predicate, const char* file, int line) {
  return running_scheduler("__syncthreads", file, line).arrive_at_block_barrier(kind, predicate, file, line);
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int operand, int width, const char* file,
                         int line) {
  return running_scheduler("a warp collective", file, line)
      .arrive_at_warp_collective(op, mask, value, operand, width, file, line);
}

unsigned active_mask() {
  ThreadRuntime* runtime = tls_thread_runtime;
  return runtime != nullptr ? runtime->scheduler.active_mask() : 0;
}

}  // namespace detail
}  // namespace sim
}  // namespace cnnops
