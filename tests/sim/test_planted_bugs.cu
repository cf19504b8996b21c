// Planted bugs must fail the way they should: refused barriers and shuffles (with file:line),
// deadlocks, reads of unwritten shared memory (poison), stack overflow, and -- in the sanitizer
// flavours -- an out-of-bounds write (ASan) and a missing __syncthreads (TSan).
#include <csignal>
#include <string>
#include <vector>

#include "cuda/launch.cuh"
#include "device_buffer.h"
#include "sim_test.h"

using cnnops::cuda::launch;
namespace sim = cnnops::sim;

namespace {

void quiet() {
  sim::Options o;
  o.print_errors = false;
  sim::set_options(o);
}

std::string here(int line) { return std::string(__FILE__) + ":" + std::to_string(line); }

// Expects the launch to have failed as a kernel fault, checks the message, and recovers.
void expect_kernel_fault(cudaError_t launched, const std::vector<std::string>& message_parts) {
  CHECK_EQ(launched, cudaErrorLaunchFailure);
  const std::string message = sim::last_error_message();
  for (const std::string& part : message_parts) CHECK_CONTAINS(message, part);
  // Sticky, as on a GPU, until the simulator is reset.
  void* p = nullptr;
  CHECK_EQ(cudaMalloc(&p, 4), cudaErrorLaunchFailure);
  CHECK_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  sim::reset_device();
  CHECK_EQ(cudaDeviceSynchronize(), cudaSuccess);
  CHECK_EQ(cudaGetLastError(), cudaSuccess);
}

// ---- __syncthreads reached by part of a block ----
constexpr int kDivergentBarrierLine = __LINE__ + 3;
__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

TEST(divergent_syncthreads_is_refused_with_file_and_line) {
  quiet();
  DeviceBuffer<int> out(32);
  expect_kernel_fault(launch(divergent_barrier_kernel, dim3(2), dim3(32), 0, nullptr, out.get()),
                      {"divergent __syncthreads in block (0,0,0)", here(kDivergentBarrierLine),
                       here(kDivergentBarrierLine + 2), "16 threads"});
}

constexpr int kEarlyExitBarrierLine = __LINE__ + 3;
__global__ void early_exit_barrier_kernel(int n) {
  if (int(threadIdx.x) >= n) return;
  __syncthreads();
}

TEST(syncthreads_after_some_threads_exited_is_refused) {
  quiet();
  expect_kernel_fault(launch(early_exit_barrier_kernel, dim3(1), dim3(64), 0, nullptr, 40),
                      {here(kEarlyExitBarrierLine), "waited on by 40 threads", "24 threads of the block exited",
                       "thread (40,0,0)"});
}

// ---- warp collectives naming lanes that cannot take part ----
constexpr int kShuffleExitedLine = __LINE__ + 4;
__global__ void shuffle_with_exited_lane_kernel(float* out) {
  if (threadIdx.x >= 16) return;
  float v = float(threadIdx.x);
  v += __shfl_down_sync(0xffffffffu, v, 1);
  out[threadIdx.x] = v;
}

TEST(shuffle_naming_an_exited_lane_is_refused) {
  quiet();
  DeviceBuffer<float> out(32);
  expect_kernel_fault(launch(shuffle_with_exited_lane_kernel, dim3(1), dim3(32), 0, nullptr, out.get()),
                      {"__shfl_down_sync at " + here(kShuffleExitedLine), "names lane 16", "which has exited"});
}

__global__ void shuffle_outside_own_mask_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0x0000ffffu, int(threadIdx.x), 0);  // lanes 16..31 are not in their own mask
}

TEST(shuffle_mask_without_the_calling_lane_is_refused) {
  quiet();
  DeviceBuffer<int> out(32);
  expect_kernel_fault(launch(shuffle_outside_own_mask_kernel, dim3(1), dim3(32), 0, nullptr, out.get()),
                      {"__shfl_sync", "does not name the calling lane 16"});
}

__global__ void shuffle_reading_lane_outside_mask_kernel(int* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_down_sync(0x0000ffffu, int(threadIdx.x), 8, 32);
}

TEST(shuffle_reading_a_lane_outside_the_mask_is_refused) {
  quiet();
  DeviceBuffer<int> out(32);
  expect_kernel_fault(launch(shuffle_reading_lane_outside_mask_kernel, dim3(1), dim3(32), 0, nullptr, out.get()),
                      {"reads lane 16, which is not in the mask 0x0000ffff"});
}

__global__ void full_mask_in_partial_warp_kernel(int* out) {
  out[threadIdx.x] = __ballot_sync(0xffffffffu, 1);  // the block's second warp has only 8 lanes
}

TEST(mask_naming_lanes_past_the_block_is_refused) {
  quiet();
  DeviceBuffer<int> out(40);
  expect_kernel_fault(launch(full_mask_in_partial_warp_kernel, dim3(1), dim3(40), 0, nullptr, out.get()),
                      {"__ballot_sync", "names lane 8, which does not exist"});
}

constexpr int kDeadlockShuffleLine = __LINE__ + 4;
__global__ void deadlock_kernel(int* out) {
  int v = int(threadIdx.x);
  if (threadIdx.x == 0)
    v = __shfl_sync(0xffffffffu, v, 1);  // lane 1 never comes: it waits at the barrier below
  __syncthreads();
  out[threadIdx.x] = v;
}

TEST(deadlock_between_a_shuffle_and_a_barrier_is_reported) {
  quiet();
  DeviceBuffer<int> out(32);
  expect_kernel_fault(launch(deadlock_kernel, dim3(1), dim3(32), 0, nullptr, out.get()),
                      {"deadlock in block (0,0,0)", here(kDeadlockShuffleLine), "waits at __syncthreads at " +
                       here(kDeadlockShuffleLine + 1)});
}

// ---- reads of shared memory nobody wrote in this block ----
// A broken warp-synchronous reduction: only the first Half slots are written, all 2 * Half are
// summed. Static shared memory in a template, the form the section tricks of a prototype missed.
template <int Half>
__global__ void broken_reduction_kernel(float* out, bool write_all) {
  __shared__ float partial[2 * Half];
  partial[threadIdx.x] = 1.0f / (2 * Half);
  if (write_all) partial[threadIdx.x + Half] = 1.0f / (2 * Half);
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0;
    for (int i = 0; i < 2 * Half; ++i) sum += partial[i];
    out[blockIdx.x] = sum;
  }
}

TEST(unwritten_static_shared_memory_reads_as_nan) {
  DeviceBuffer<float> out(2);
  // A first launch leaves every slot holding 1/64 ...
  CHECK_EQ(launch(broken_reduction_kernel<32>, dim3(1), dim3(32), 0, nullptr, out.get(), true), cudaSuccess);
  CHECK_EQ(out.download()[0], 1.0f);
  // ... so without poisoning the broken launch would return a plausible 1.
  CHECK_EQ(launch(broken_reduction_kernel<32>, dim3(2), dim3(32), 0, nullptr, out.get(), false), cudaSuccess);
  for (float v : out.download()) CHECK(v != v);

  sim::Options no_poison;
  no_poison.poison_shared_memory = false;
  sim::set_options(no_poison);
  CHECK_EQ(launch(broken_reduction_kernel<32>, dim3(1), dim3(32), 0, nullptr, out.get(), true), cudaSuccess);
  CHECK_EQ(launch(broken_reduction_kernel<32>, dim3(1), dim3(32), 0, nullptr, out.get(), false), cudaSuccess);
  CHECK_EQ(out.download()[0], 1.0f);  // the stale-data trap the poison exists for
}

__shared__ int namespace_scope_shared[8];

__global__ void namespace_scope_shared_kernel(int* out) {
  if (blockIdx.x == 0) namespace_scope_shared[threadIdx.x] = 7;
  __syncthreads();
  out[blockIdx.x * 8 + threadIdx.x] = namespace_scope_shared[threadIdx.x];
}

TEST(namespace_scope_shared_memory_is_fresh_per_block) {
  DeviceBuffer<int> out(16);
  CHECK_EQ(launch(namespace_scope_shared_kernel, dim3(2), dim3(8), 0, nullptr, out.get()), cudaSuccess);
  const std::vector<int> got = out.download();
  for (int t = 0; t < 8; ++t) {
    CHECK_EQ(got[t], 7);
    CHECK_EQ(got[8 + t], -1);  // block 1 wrote nothing: it reads the poison, not block 0's data
  }
}

__global__ void unwritten_dynamic_shared_kernel(float* out) {
  extern __shared__ float dynamic_partial[];
  dynamic_partial[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = dynamic_partial[threadIdx.x] + dynamic_partial[threadIdx.x + blockDim.x];
}

TEST(unwritten_dynamic_shared_memory_reads_as_nan) {
  DeviceBuffer<float> out(32);
  CHECK_EQ(launch(unwritten_dynamic_shared_kernel, dim3(1), dim3(32), 64 * sizeof(float), nullptr, out.get()),
           cudaSuccess);
  for (float v : out.download()) CHECK(v != v);
}

thread_local int host_thread_local = 42;

__global__ void touch_shared_kernel(int* out) {
  __shared__ int scratch[4];
  scratch[threadIdx.x] = int(threadIdx.x);
  out[threadIdx.x] = scratch[threadIdx.x];
}

TEST(host_thread_locals_of_the_module_survive_a_launch) {
  host_thread_local = 43;
  DeviceBuffer<int> out(4);
  CHECK_EQ(launch(touch_shared_kernel, dim3(3), dim3(4), 0, nullptr, out.get()), cudaSuccess);
  CHECK_EQ(host_thread_local, 43);  // poisoned while the blocks ran, restored after
}

// ---- stack overflow: the guard page below each fiber stack turns it into SIGSEGV ----
__device__ __attribute__((noinline)) int deep_recursion(int depth) {
  volatile char frame[1024];
  frame[0] = char(depth);
  if (depth == 0) return frame[0];
  return deep_recursion(depth - 1) + frame[0];
}

__global__ void stack_overflow_kernel(int* out) { out[threadIdx.x] = deep_recursion(1 << 12); }  // ~4 MB of stack

CHILD_PROCESS(stack_overflow) {
  DeviceBuffer<int> out(1);
  launch(stack_overflow_kernel, dim3(1), dim3(1), 0, nullptr, out.get());
  std::printf("the kernel returned\n");
}

TEST(stack_overflow_crashes_instead_of_corrupting) {
  const simtest::ChildResult child = simtest::run_in_child("stack_overflow");
  CHECK(!(child.exited && child.exit_code == 0));
  CHECK(child.output.find("the kernel returned") == std::string::npos);
  if (std::string(simtest::flavour()) == "plain") CHECK_EQ(child.signal, SIGSEGV);
  if (std::string(simtest::flavour()) == "asan") CHECK_CONTAINS(child.output, "AddressSanitizer");
}

// ---- ASan: a write one element past the end of a cudaMalloc'd buffer ----
__global__ void out_of_bounds_write_kernel(float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = 1.0f;  // missing `if (i < n)`: the last block writes past the buffer
  (void)n;
}

CHILD_PROCESS(out_of_bounds_write) {
  DeviceBuffer<float> out(100);
  launch(out_of_bounds_write_kernel, dim3(4), dim3(32), 0, nullptr, out.get(), 100);
}

TEST(asan_reports_out_of_bounds_global_write) {
  if (std::string(simtest::flavour()) != "asan") SKIP("ASan flavour only");
  const simtest::ChildResult child = simtest::run_in_child("out_of_bounds_write");
  CHECK(child.exited && child.exit_code != 0);
  CHECK_CONTAINS(child.output, "ERROR: AddressSanitizer: heap-buffer-overflow");
  CHECK_CONTAINS(child.output, "out_of_bounds_write_kernel");
}

__global__ void dynamic_shared_overrun_kernel(float* out) {
  extern __shared__ float small_dynamic[];
  small_dynamic[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = small_dynamic[threadIdx.x + 1];  // the last thread reads past the 32 floats requested
}

CHILD_PROCESS(dynamic_shared_overrun) {
  DeviceBuffer<float> out(32);
  launch(dynamic_shared_overrun_kernel, dim3(1), dim3(32), 32 * sizeof(float), nullptr, out.get());
}

TEST(asan_reports_dynamic_shared_memory_overrun) {
  if (std::string(simtest::flavour()) != "asan") SKIP("ASan flavour only");
  const simtest::ChildResult child = simtest::run_in_child("dynamic_shared_overrun");
  CHECK(child.exited && child.exit_code != 0);
  CHECK_CONTAINS(child.output, "ERROR: AddressSanitizer: use-after-poison");
  CHECK_CONTAINS(child.output, "dynamic_shared_overrun_kernel");
}

// ---- TSan: a shared-memory exchange with and without its __syncthreads ----
template <bool WithBarrier>
__global__ void neighbour_exchange_kernel(int* out) {
  __shared__ int slots[64];
  slots[threadIdx.x] = int(threadIdx.x);
  if (WithBarrier) __syncthreads();
  out[threadIdx.x] = slots[(threadIdx.x + 1) % 64];
}

template <bool WithSyncwarp>
__global__ void warp_exchange_kernel(int* out) {
  __shared__ int lanes[32];
  lanes[threadIdx.x] = int(threadIdx.x);
  if (WithSyncwarp) __syncwarp();
  out[threadIdx.x] = lanes[31 - threadIdx.x];
}

// argument: 1 with the barrier, 0 without.
CHILD_PROCESS(neighbour_exchange) {
  DeviceBuffer<int> out(64);
  launch(argument ? neighbour_exchange_kernel<true> : neighbour_exchange_kernel<false>, dim3(2), dim3(64), 0, nullptr,
         out.get());
}

CHILD_PROCESS(warp_exchange) {
  DeviceBuffer<int> out(32);
  launch(argument ? warp_exchange_kernel<true> : warp_exchange_kernel<false>, dim3(2), dim3(32), 0, nullptr, out.get());
}

void expect_tsan_race_only_without_synchronisation(const char* child) {
  if (std::string(simtest::flavour()) != "tsan") SKIP("TSan flavour only");
  const simtest::ChildResult racy = simtest::run_in_child(child, 0);
  CHECK_CONTAINS(racy.output, "WARNING: ThreadSanitizer: data race");
  CHECK_CONTAINS(racy.output, "_exchange_kernel<false>");
  CHECK_CONTAINS(racy.output, "simulated thread");  // the fibers are named in the report
  CHECK(racy.exited && racy.exit_code != 0);
  const simtest::ChildResult fixed = simtest::run_in_child(child, 1);
  CHECK_EQ(fixed.output, "");
  CHECK(fixed.exited && fixed.exit_code == 0);
}

TEST(tsan_reports_a_missing_syncthreads_and_passes_the_fixed_kernel) {
  expect_tsan_race_only_without_synchronisation("neighbour_exchange");
}

TEST(tsan_reports_a_missing_syncwarp_and_passes_the_fixed_kernel) {
  expect_tsan_race_only_without_synchronisation("warp_exchange");
}

}  // namespace
