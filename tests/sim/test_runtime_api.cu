// The launch checks a GPU makes (block and grid limits, dynamic shared memory and its opt-in),
// the runtime API's error semantics, device properties, counters, and the cost of a barrier.
#include <chrono>
#include <cstdio>
#include <vector>

#include "cuda/launch.cuh"
#include "device_buffer.h"
#include "sim_test.h"

using cnnops::cuda::launch;
namespace sim = cnnops::sim;

namespace {

__global__ void write_index_kernel(int* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = i;
}

TEST(launch_rejects_block_and_grid_limits) {
  sim::Options quiet;
  quiet.print_errors = false;
  sim::set_options(quiet);
  DeviceBuffer<int> out(2048);
  CHECK_EQ(launch(write_index_kernel, dim3(1), dim3(32, 33), 0, nullptr, out.get()), cudaErrorInvalidConfiguration);
  CHECK_CONTAINS(sim::last_error_message(), "block of 1056 threads exceeds maxThreadsPerBlock 1024");
  CHECK_EQ(cudaGetLastError(), cudaSuccess);  // launch() already consumed it; config errors are not sticky
  CHECK_EQ(launch(write_index_kernel, dim3(1), dim3(1025), 0, nullptr, out.get()), cudaErrorInvalidConfiguration);
  CHECK_EQ(launch(write_index_kernel, dim3(1), dim3(1, 1, 65), 0, nullptr, out.get()), cudaErrorInvalidConfiguration);
  CHECK_EQ(launch(write_index_kernel, dim3(1), dim3(0), 0, nullptr, out.get()), cudaErrorInvalidConfiguration);
  CHECK_EQ(launch(write_index_kernel, dim3(0), dim3(32), 0, nullptr, out.get()), cudaErrorInvalidConfiguration);
  CHECK_EQ(launch(write_index_kernel, dim3(1, 65536), dim3(32), 0, nullptr, out.get()), cudaErrorInvalidConfiguration);
  CHECK_EQ(launch(write_index_kernel, dim3(1, 1, 65536), dim3(32), 0, nullptr, out.get()),
           cudaErrorInvalidConfiguration);
  CHECK_EQ(launch(write_index_kernel, dim3(2), dim3(1024), 0, nullptr, out.get()), cudaSuccess);
  const std::vector<int> got = out.download();
  for (int i = 0; i < 2048; ++i) CHECK_EQ(got[i], i);
}

TEST(device_properties_default_to_an_h100_and_can_be_changed) {
  cudaDeviceProp p;
  CHECK_EQ(cudaGetDeviceProperties(&p, 0), cudaSuccess);
  CHECK_EQ(p.multiProcessorCount, 132);
  CHECK_EQ(p.sharedMemPerMultiprocessor, size_t(228) << 10);
  CHECK_EQ(p.sharedMemPerBlockOptin, size_t(227) << 10);
  CHECK_EQ(p.sharedMemPerBlock, size_t(48) << 10);
  CHECK_EQ(p.maxThreadsPerBlock, 1024);
  CHECK_EQ(p.maxGridSize[0], 2147483647);
  CHECK_EQ(p.maxGridSize[1], 65535);
  CHECK_EQ(p.major * 10 + p.minor, 90);
  int value = 0;
  CHECK_EQ(cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0), cudaSuccess);
  CHECK_EQ(value, 227 << 10);
  CHECK_EQ(cudaDeviceGetAttribute(&value, cudaDevAttrWarpSize, 0), cudaSuccess);
  CHECK_EQ(value, 32);
  CHECK_EQ(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  CHECK_EQ(value, 132);
  int count = 0, device = -1;
  CHECK_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  CHECK_EQ(cudaGetDevice(&device), cudaSuccess);
  CHECK(count == 1 && device == 0);

  sim::Options quiet;
  quiet.print_errors = false;
  sim::set_options(quiet);
  CHECK_EQ(cudaSetDevice(1), cudaErrorInvalidDevice);
  cudaGetLastError();
  cudaDeviceProp small = sim::default_device_properties();
  small.maxThreadsPerBlock = 256;
  CHECK_EQ(sim::set_device_properties(small), cudaSuccess);
  DeviceBuffer<int> out(512);
  CHECK_EQ(launch(write_index_kernel, dim3(1), dim3(512), 0, nullptr, out.get()), cudaErrorInvalidConfiguration);
  CHECK_EQ(launch(write_index_kernel, dim3(2), dim3(256), 0, nullptr, out.get()), cudaSuccess);
  small.sharedMemPerBlockOptin = size_t(1) << 20;  // beyond what the simulator can back
  CHECK_EQ(sim::set_device_properties(small), cudaErrorInvalidValue);
  cudaGetLastError();
}

// ---- dynamic shared memory: opt-in above 48 KB, every extern name aliases the same bytes ----
__global__ void reverse_through_dynamic_smem_kernel(const float* in, float* out, int n) {
  extern __shared__ float staged[];
  for (int i = threadIdx.x; i < n; i += blockDim.x) staged[i] = in[i];
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = staged[n - 1 - i];
}

__device__ unsigned char* raw_dynamic_smem() {
  extern __shared__ __align__(16) unsigned char raw_bytes[];
  return raw_bytes;
}

__global__ void dynamic_smem_aliases_kernel(int* out) {
  extern __shared__ int words[];
  if (threadIdx.x == 0) words[3] = 0x01020304;
  __syncthreads();
  if (threadIdx.x == 0) {
    out[0] = raw_dynamic_smem()[12];  // little-endian low byte of words[3]
    out[1] = int(reinterpret_cast<uintptr_t>(words) % 128);
  }
}

TEST(dynamic_shared_memory_needs_opt_in_above_48_kb) {
  sim::Options quiet;
  quiet.print_errors = false;
  sim::set_options(quiet);
  const int n = 16 * 1024;  // 64 KB of floats
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = float(i);
  DeviceBuffer<float> d_in(in), d_out(n);
  const size_t bytes = n * sizeof(float);
  auto run = [&] {
    return launch(reverse_through_dynamic_smem_kernel, dim3(1), dim3(256), bytes, nullptr,
                  static_cast<const float*>(d_in.get()), d_out.get(), n);
  };
  CHECK_EQ(run(), cudaErrorInvalidValue);
  CHECK_CONTAINS(sim::last_error_message(), "cudaFuncAttributeMaxDynamicSharedMemorySize");
  // More than the device allows per block is refused, opt-in or not.
  CHECK_EQ(cudaFuncSetAttribute(reverse_through_dynamic_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                228 << 10),
           cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK_EQ(cudaFuncSetAttribute(reverse_through_dynamic_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                int(bytes)),
           cudaSuccess);
  CHECK_EQ(run(), cudaSuccess);
  const std::vector<float> out = d_out.download();
  for (int i = 0; i < n; ++i) CHECK_EQ(out[i], float(n - 1 - i));
  CHECK_EQ(launch(reverse_through_dynamic_smem_kernel, dim3(1), dim3(32), (227 << 10) + 4, nullptr,
                  static_cast<const float*>(d_in.get()), d_out.get(), 4),
           cudaErrorInvalidValue);
}

TEST(extern_shared_names_alias_one_128_byte_aligned_buffer) {
  DeviceBuffer<int> out(2);
  CHECK_EQ(launch(dynamic_smem_aliases_kernel, dim3(1), dim3(64), 64, nullptr, out.get()), cudaSuccess);
  const std::vector<int> got = out.download();
  CHECK_EQ(got[0], 4);
  CHECK_EQ(got[1], 0);
}

// ---- runtime API semantics ----
TEST(runtime_api_checks_device_pointers_and_keeps_last_error) {
  sim::Options quiet;
  quiet.print_errors = false;
  sim::set_options(quiet);
  int* device = nullptr;
  CHECK_EQ(cudaMalloc(&device, 16 * sizeof(int)), cudaSuccess);
  CHECK_EQ(reinterpret_cast<uintptr_t>(device) % 256, 0u);
  int host[16] = {};
  CHECK_EQ(cudaMemcpy(device, host, sizeof(host), cudaMemcpyHostToDevice), cudaSuccess);
  CHECK_EQ(cudaMemcpy(device + 1, host, sizeof(host), cudaMemcpyHostToDevice), cudaErrorInvalidValue);  // overruns
  CHECK_CONTAINS(sim::last_error_message(), "not inside a cudaMalloc'd buffer");
  CHECK_EQ(cudaMemcpy(host, host + 8, 4 * sizeof(int), cudaMemcpyDeviceToHost), cudaErrorInvalidValue);  // not device
  CHECK_EQ(cudaMemcpy(device, host, 4, cudaMemcpyKind(7)), cudaErrorInvalidMemcpyDirection);
  CHECK_EQ(cudaPeekAtLastError(), cudaErrorInvalidMemcpyDirection);
  CHECK_EQ(cudaGetLastError(), cudaErrorInvalidMemcpyDirection);
  CHECK_EQ(cudaGetLastError(), cudaSuccess);
  CHECK_EQ(cudaMemset(device, 0, 16 * sizeof(int)), cudaSuccess);
  CHECK_EQ(cudaMemset(device, 0, 17 * sizeof(int)), cudaErrorInvalidValue);
  CHECK_EQ(cudaFree(host), cudaErrorInvalidValue);
  CHECK_EQ(cudaFree(device), cudaSuccess);
  CHECK_EQ(cudaFree(nullptr), cudaSuccess);
  cudaGetLastError();
  cudaStream_t stream;
  CHECK_EQ(cudaStreamCreate(&stream), cudaSuccess);
  CHECK_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  CHECK_EQ(cudaStreamDestroy(stream), cudaSuccess);
  CHECK_EQ(std::string(cudaGetErrorString(cudaErrorLaunchFailure)), "unspecified launch failure");
  CHECK_EQ(std::string(cudaGetErrorName(cudaErrorInvalidConfiguration)), "cudaErrorInvalidConfiguration");
}

TEST(fresh_allocations_are_poisoned) {
  DeviceBuffer<float> buffer(8);
  const std::vector<float> got = buffer.download();
  for (float v : got) CHECK(v != v);  // NaN
}

// ---- counters ----
__global__ void counted_kernel(int* out) {
  __syncthreads();
  const int v = __shfl_xor_sync(0xffffffffu, int(threadIdx.x), 1);
  __syncwarp();
  atomicAdd(out, v);
  sim::count(sim::Counter::kMmaSync, 2);  // what a PTX wrapper would do
}

TEST(counters_count_what_ran) {
  DeviceBuffer<int> out(std::vector<int>{0});
  sim::reset_counters();
  CHECK_EQ(launch(counted_kernel, dim3(3), dim3(64), 0, nullptr, out.get()), cudaSuccess);
  CHECK_EQ(sim::counter(sim::Counter::kLaunches), 1u);
  CHECK_EQ(sim::counter(sim::Counter::kBlocks), 3u);
  CHECK_EQ(sim::counter(sim::Counter::kThreads), 192u);
  CHECK_EQ(sim::counter(sim::Counter::kSyncthreads), 192u);
  CHECK_EQ(sim::counter(sim::Counter::kWarpCollectives), 384u);
  CHECK_EQ(sim::counter(sim::Counter::kAtomics), 192u);
  CHECK_EQ(sim::counter(sim::Counter::kMmaSync), 384u);
  CHECK_EQ(sim::counter(sim::Counter::kLdmatrix), 0u);
  CHECK_EQ(std::string(sim::counter_name(sim::Counter::kCpAsync)), "cp_async");
  CHECK_EQ(out.download()[0], 3 * (63 * 64 / 2));
  sim::reset_counters();
  CHECK_EQ(sim::counter(sim::Counter::kBlocks), 0u);
}

// ---- the cost of a barrier, per thread ----
__global__ void barrier_loop_kernel(int iterations, int* sink) {
  int acc = 0;
  for (int i = 0; i < iterations; ++i) {
    acc += int(threadIdx.x);
    __syncthreads();
  }
  if (threadIdx.x == 0) *sink = acc;
}

TEST(barrier_cost_per_thread) {
  DeviceBuffer<int> sink(1);
  const int threads = 256, iterations = 400;
  const auto start = std::chrono::steady_clock::now();
  CHECK_EQ(launch(barrier_loop_kernel, dim3(1), dim3(threads), 0, nullptr, iterations, sink.get()), cudaSuccess);
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
                    (double(threads) * iterations);
  std::printf("     __syncthreads: %.1f ns per thread (%d threads x %d barriers, %s)\n", ns, threads, iterations,
              simtest::flavour());
}

__global__ void empty_kernel() {}

TEST(block_overhead_per_thread) {
  const int threads = 128, blocks = 500;
  const auto start = std::chrono::steady_clock::now();
  CHECK_EQ(launch(empty_kernel, dim3(blocks), dim3(threads), 0, nullptr), cudaSuccess);
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  std::printf("     empty kernel: %.1f ns per thread, %.1f us per block (%d blocks x %d threads, %s)\n",
              ns / (double(threads) * blocks), ns / blocks / 1000, blocks, threads, simtest::flavour());
}

}  // namespace
