// Schedules: a kernel that needs a __syncthreads between warps but has only __syncwarp passes
// under the default rounds (which keep warps in near lockstep) and reads poisoned shared memory
// when each warp runs ahead to the next block barrier (Options::warps_run_ahead) -- both are
// legal GPU schedules, so the kernel is wrong and the second schedule proves it.
#include <cmath>
#include <string>
#include <vector>

#include "cuda/launch.cuh"
#include "device_buffer.h"
#include "sim_test.h"

namespace {

namespace sim = cnnops::sim;

__global__ void missing_block_barrier_kernel(float* out) {
  __shared__ float s[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp == 1) s[lane] = float(lane);  // producer warp
  __syncwarp();                          // orders a warp only: the bug
  if (warp == 0) out[lane] = s[lane];    // consumer warp
}

int nans_after(bool warps_run_ahead) {
  sim::Options o = sim::options();
  o.warps_run_ahead = warps_run_ahead;
  sim::set_options(o);
  DeviceBuffer<float> out(32);
  CHECK_EQ(cnnops::cuda::launch(missing_block_barrier_kernel, dim3(1), dim3(64), 0, nullptr, out.get()), cudaSuccess);
  int nans = 0;
  for (float v : out.download()) nans += std::isnan(v);
  return nans;
}

__global__ void ordered_exchange_kernel(float* out) {
  __shared__ float s[64];
  s[threadIdx.x] = float(threadIdx.x);
  __syncthreads();
  float v = s[63 - threadIdx.x];
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  __syncthreads();
  s[threadIdx.x] = v;
  __syncthreads();
  out[threadIdx.x] = s[(threadIdx.x + 32) % 64];
}

}  // namespace

TEST(warps_running_ahead_expose_a_missing_block_barrier) {
  // The kernel races on purpose; TSan reports exactly that (a test of its own), so skip here.
  if (std::string(simtest::flavour()) == "tsan") SKIP("the kernel races on purpose");
  CHECK_EQ(nans_after(false), 0);  // lockstep hides it
  CHECK_EQ(nans_after(true), 32);  // warp 0 reads before warp 1 wrote
}

TEST(warps_running_ahead_keep_correct_kernels_correct) {
  std::vector<std::vector<float>> results;
  for (int mode = 0; mode < 3; ++mode) {
    sim::Options o = sim::options();
    o.warps_run_ahead = mode >= 1;
    o.reverse_thread_order = mode == 2;
    sim::set_options(o);
    DeviceBuffer<float> out(64);
    CHECK_EQ(cnnops::cuda::launch(ordered_exchange_kernel, dim3(2), dim3(64), 0, nullptr, out.get()), cudaSuccess);
    results.push_back(out.download());
  }
  CHECK(results[0] == results[1] && results[0] == results[2]);
  CHECK_EQ(results[0][0], float(31 + 30));  // s[(0 + 32) % 64] = v of thread 32 = s[31] + s[30]
}
