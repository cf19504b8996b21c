// A kernel launch: the checks a GPU makes before it runs anything, then every block in turn.
#include <cstdint>
#include <cstdio>

#include "builtin_variables.h"
#include "launch_sim.h"
#include "memory_counters.h"
#include "sim_state.h"
#include "sim_tls.h"
#include "thread_runtime.h"

namespace cnnops {
namespace sim {

namespace {

cudaError_t validate(const detail::KernelLaunch& launch, const cudaDeviceProp& device) {
  const dim3 b = launch.block;
  const dim3 g = launch.grid;
  if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > unsigned(device.maxThreadsDim[0]) ||
      b.y > unsigned(device.maxThreadsDim[1]) || b.z > unsigned(device.maxThreadsDim[2]))
    return report_errorf(cudaErrorInvalidConfiguration, "block dimensions (%u,%u,%u) outside [1, (%d,%d,%d)]", b.x,
                         b.y, b.z, device.maxThreadsDim[0], device.maxThreadsDim[1], device.maxThreadsDim[2]);
  const uint64_t threads = uint64_t(b.x) * b.y * b.z;
  if (threads > uint64_t(device.maxThreadsPerBlock))
    return report_errorf(cudaErrorInvalidConfiguration, "block of %llu threads exceeds maxThreadsPerBlock %d",
                         (unsigned long long)threads, device.maxThreadsPerBlock);
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > unsigned(device.maxGridSize[0]) ||
      g.y > unsigned(device.maxGridSize[1]) || g.z > unsigned(device.maxGridSize[2]))
    return report_errorf(cudaErrorInvalidConfiguration, "grid dimensions (%u,%u,%u) outside [1, (%d,%d,%d)]", g.x, g.y,
                         g.z, device.maxGridSize[0], device.maxGridSize[1], device.maxGridSize[2]);
  const size_t dynamic = launch.dynamic_shared_bytes;
  if (dynamic > device.sharedMemPerBlockOptin)
    return report_errorf(cudaErrorInvalidValue,
                         "%zu bytes of dynamic shared memory exceed the device's limit of %zu per block", dynamic,
                         device.sharedMemPerBlockOptin);
  const size_t allowed = max_dynamic_shared_bytes(launch.kernel);
  if (dynamic > allowed)
    return report_errorf(cudaErrorInvalidValue,
                         "%zu bytes of dynamic shared memory exceed the kernel's limit of %zu; above %zu bytes a "
                         "kernel must opt in first: cudaFuncSetAttribute(kernel, "
                         "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes)",
                         dynamic, allowed, device.sharedMemPerBlock);
  return cudaSuccess;
}

// What a block must not leave behind; false (with the block failed) if it did.
bool check_block_end(ThreadRuntime& runtime, uint64_t block) {
  const long thread = runtime.async_proxy.thread_with_pending_wgmma();
  if (thread < 0) return true;
  char message[256];
  std::snprintf(message, sizeof(message),
                "block %llu: thread %ld exited with wgmma.mma_async operations that no wgmma.wait_group covered "
                "(their results are undefined on a GPU)",
                (unsigned long long)block, thread);
  runtime.scheduler.fail_block(message);
  return false;
}

}  // namespace

namespace detail {

cudaError_t launch(const KernelLaunch& launch) {
  ThreadRuntime& runtime = this_thread_runtime();
  if (runtime.launching)
    return report_errorf(cudaErrorNotSupported, "a kernel launched a kernel: dynamic parallelism is not simulated");
  if (const cudaError_t sticky = sticky_error()) return tls_last_error = sticky;
  if (const cudaError_t invalid = validate(launch, device_properties())) return invalid;

  const Options opts = options();
  runtime.launching = true;
  runtime.host.adopt_current_thread();
  blockDim = launch.block;
  gridDim = launch.grid;
  runtime.scheduler.begin_launch(launch.block, opts.reverse_thread_order, opts.warps_run_ahead,
                                 opts.fiber_stack_bytes, launch.invoke, launch.closure);
  runtime.shared_memory.begin_launch(launch.kernel, launch.dynamic_shared_bytes, opts.poison_shared_memory);
  runtime.memory.begin_launch(launch.kernel, unsigned(uint64_t(launch.block.x) * launch.block.y * launch.block.z),
                              opts.count_memory_accesses);
  count(Counter::kLaunches);
  log_launch(launch.kernel, launch.grid.x, launch.grid.y, launch.grid.z, launch.dynamic_shared_bytes);

  const dim3 g = launch.grid;
  const uint64_t blocks = uint64_t(g.x) * g.y * g.z;
  const uint64_t threads_per_block = uint64_t(launch.block.x) * launch.block.y * launch.block.z;
  const bool sampled = opts.sample_blocks > 0 && opts.sample_blocks < blocks;
  const uint64_t runs = opts.skip_blocks ? 0 : sampled ? opts.sample_blocks : blocks;
  bool ok = true;
  for (uint64_t i = 0; i < runs && ok; ++i) {
    // 128-bit product: blocks * i can pass 2^64 for the largest grids.
    const uint64_t picked = sampled ? uint64_t((unsigned __int128)i * blocks / runs) : i;
    const uint64_t b = opts.reverse_block_order ? blocks - 1 - picked : picked;
    runtime.shared_memory.poison_for_block();
    runtime.async_copies.begin_block(unsigned(threads_per_block));
    runtime.async_proxy.begin_block(unsigned(threads_per_block), cnnops_sim_dynamic_shared,
                                    launch.dynamic_shared_bytes);
    if (runtime.memory.enabled()) runtime.memory.begin_block();
    count(Counter::kBlocks);
    count(Counter::kThreads, threads_per_block);
    ok = runtime.scheduler.run_block(uint3{unsigned(b % g.x), unsigned(b / g.x % g.y), unsigned(b / g.x / g.y)});
    if (ok) ok = check_block_end(runtime, b);
    if (runtime.memory.enabled()) runtime.memory.end_block(ok);
  }

  runtime.shared_memory.end_launch();
  count(Counter::kSyncthreads, runtime.scheduler.syncthreads_arrivals());
  count(Counter::kWarpCollectives, runtime.scheduler.warp_collective_arrivals());
  runtime.launching = false;
  if (!ok) return report_error(cudaErrorLaunchFailure, runtime.scheduler.fault_message(), /*sticky=*/true);
  return cudaSuccess;
}

}  // namespace detail
}  // namespace sim
}  // namespace cnnops
