// Hopper in the simulator: wgmma (descriptors, accumulator fragments, asynchrony), mbarrier
// phases and the async-proxy fence, through the warp-specialised GEMM of wgmma_gemm.cuh and
// small kernels, with the bugs each model exists to catch planted one by one.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/launch.cuh"
#include "device_buffer.h"
#include "sim_test.h"
#include "wgmma_gemm.cuh"

using cnnops::cuda::launch;
namespace sim = cnnops::sim;
namespace ptx = cnnops::cuda::ptx;
using wgmma_gemm::Bug;

namespace {

void quiet() {
  sim::Options o;
  o.print_errors = false;
  sim::set_options(o);
}

// Deterministic small values, exact in every operand type (multiples of 1/8 in [-2, 2)).
float value(uint64_t i) { return float(int((i * 2654435761u) >> 7) % 32 - 16) / 8.0f; }

template <typename T>
T from_float(float v) {
  return cnnops::cuda::FromFloat<T>::convert(v);
}

struct Problem {
  int m, n, k;
};

template <typename T, int kN, int kStages, Bug kBug>
struct GemmRun {
  cudaError_t status;
  std::string message;  // of a failed launch (the device is reset before the buffers are freed)
  std::vector<float> c, reference;
};

// Runs the GEMM on A[i][k] = value(i * K + k), B[j][k] = value(7 + j * K + k) and the
// reference: the simulator's tensor-core order, every product added in k order onto float.
template <typename T, int kN, int kStages, Bug kBug>
GemmRun<T, kN, kStages, kBug> run_gemm(Problem p) {
  using S = wgmma_gemm::Shape<T, kN, kStages>;
  std::vector<T> a(size_t(p.m) * p.k), b(size_t(p.n) * p.k);
  std::vector<float> fa(a.size()), fb(b.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = from_float<T>(fa[i] = value(i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = from_float<T>(fb[i] = value(7 + i));
  DeviceBuffer<T> da(a), db(b);
  DeviceBuffer<float> dc(size_t(p.m) * p.n);
  auto kernel = wgmma_gemm::wgmma_gemm_kernel<T, kN, kStages, kBug>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, S::kSharedBytes);
  const dim3 grid((p.n + kN - 1) / kN, (p.m + wgmma_gemm::kBlockM - 1) / wgmma_gemm::kBlockM);
  GemmRun<T, kN, kStages, kBug> run;
  run.status = launch(kernel, grid, dim3(256), S::kSharedBytes, nullptr,
                      wgmma_gemm::Args{da.get(), db.get(), dc.get(), p.m, p.n, p.k});
  if (run.status != cudaSuccess) {
    run.message = sim::last_error_message();
    sim::reset_device();
    return run;
  }
  run.c = dc.download();
  run.reference.resize(run.c.size());
  for (int i = 0; i < p.m; ++i)
    for (int j = 0; j < p.n; ++j) {
      float acc = 0.0f;
      for (int k = 0; k < p.k; ++k) acc += fa[size_t(i) * p.k + k] * fb[size_t(j) * p.k + k];
      run.reference[size_t(i) * p.n + j] = acc;
    }
  return run;
}

template <typename Run>
long mismatches(const Run& run) {
  long bad = 0;
  for (size_t i = 0; i < run.c.size(); ++i) bad += !(run.c[i] == run.reference[i]);
  return bad;
}

// M, N not multiples of the tile; more k-tiles than stages (the ring wraps, phases alternate);
// a partial last k-tile.
constexpr Problem k16Bit{100, 200, 264};
constexpr Problem kTf32{70, 300, 100};

TEST(wgmma_gemm_bf16_n128_matches_reference_bit_for_bit) {
  sim::reset_counters();
  auto run = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kNone>(k16Bit);
  REQUIRE(run.status == cudaSuccess);
  CHECK_EQ(mismatches(run), 0L);
  // 2 x 2 blocks, 5 k-tiles of 4 instructions each, counted once per warpgroup.
  CHECK_EQ(sim::counter(sim::Counter::kWgmma), uint64_t(2 * 2 * 5 * 4));
}

TEST(wgmma_gemm_f16_n64_matches_reference_bit_for_bit) {
  auto run = run_gemm<cnnops::cuda::half_t, 64, 2, Bug::kNone>(k16Bit);
  REQUIRE(run.status == cudaSuccess);
  CHECK_EQ(mismatches(run), 0L);
}

TEST(wgmma_gemm_tf32_n256_matches_reference_bit_for_bit) {
  auto run = run_gemm<float, 256, 4, Bug::kNone>(kTf32);
  REQUIRE(run.status == cudaSuccess);
  CHECK_EQ(mismatches(run), 0L);
}

TEST(wgmma_gemm_gives_the_same_bits_under_every_schedule) {
  const auto plain = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kNone>(k16Bit);
  REQUIRE(plain.status == cudaSuccess);
  for (int schedule = 0; schedule < 3; ++schedule) {
    sim::Options o;
    o.reverse_thread_order = schedule == 0;
    o.warps_run_ahead = schedule == 1;
    o.reverse_block_order = schedule == 2;
    sim::set_options(o);
    const auto other = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kNone>(k16Bit);
    REQUIRE(other.status == cudaSuccess);
    CHECK(std::memcmp(other.c.data(), plain.c.data(), plain.c.size() * sizeof(float)) == 0);
  }
}

TEST(wgmma_operands_written_without_the_proxy_fence_read_poison) {
  auto run = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kNoProxyFence>(k16Bit);
  REQUIRE(run.status == cudaSuccess);
  long non_finite = 0;
  for (float v : run.c) non_finite += !std::isfinite(v);
  CHECK_EQ(non_finite, long(run.c.size()));
}

TEST(wgmma_operands_in_the_wrong_swizzle_give_wrong_products) {
  auto run = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kUnswizzled>(k16Bit);
  REQUIRE(run.status == cudaSuccess);
  CHECK(mismatches(run) > long(run.c.size()) / 2);
}

TEST(a_stage_released_before_its_wgmma_completed_is_overwritten) {
  auto run = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kEarlyRelease>(k16Bit);
  REQUIRE(run.status == cudaSuccess);
  CHECK(mismatches(run) > 0);
}

TEST(accumulators_read_before_wgmma_wait_group_are_nan) {
  auto run = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kReadBeforeWait>(k16Bit);
  REQUIRE(run.status == cudaSuccess);
  long nan = 0;
  for (float v : run.c) nan += std::isnan(v);
  CHECK_EQ(nan, long(run.c.size()));
}

TEST(waiting_on_the_wrong_mbarrier_phase_is_a_deadlock) {
  quiet();
  auto run = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kWrongParity>(k16Bit);
  CHECK_EQ(run.status, cudaErrorLaunchFailure);
  CHECK_CONTAINS(run.message, "deadlock in block");
  CHECK_CONTAINS(run.message, "mbarrier.try_wait.parity at tests/sim/wgmma_gemm.cuh:");
}

TEST(wgmma_without_wgmma_fence_is_refused) {
  quiet();
  auto run = run_gemm<cnnops::cuda::bf16_t, 128, 3, Bug::kNoWgmmaFence>(k16Bit);
  CHECK_EQ(run.status, cudaErrorLaunchFailure);
  CHECK_CONTAINS(run.message, "without a wgmma.fence");
  CHECK_CONTAINS(run.message, "tests/sim/wgmma_gemm.cuh:");
}

// ---- mbarrier on its own ----

// A two-barrier ping-pong over four phases: warp 0 writes a value and completes a phase of
// `ready`; warp 1 reads it and completes a phase of `taken`. Each wait must return exactly when
// its phase completes -- before it, warp 1 would read the previous value; after it, nothing
// would run -- and the first wait on `taken` (parity 1, the phase "before" the first) at once.
__global__ void mbarrier_ping_pong_kernel(int* seen) {
  __shared__ uint64_t ready, taken;
  __shared__ int value;
  if (threadIdx.x == 0) {
    ptx::mbarrier_init(&ready, 1);
    ptx::mbarrier_init(&taken, 1);
  }
  __syncthreads();
  for (int i = 0; i < 4; ++i) {
    if (threadIdx.x < 32) {
      ptx::mbarrier_wait(&taken, (i & 1) ^ 1);
      if (threadIdx.x == 0) {
        value = 10 * (i + 1);
        ptx::mbarrier_arrive(&ready);
      }
    } else {
      ptx::mbarrier_wait(&ready, i & 1);
      if (threadIdx.x == 32) {
        seen[i] = value;
        ptx::mbarrier_arrive(&taken);
      }
    }
  }
}

TEST(mbarrier_wait_returns_when_its_phase_completes) {
  DeviceBuffer<int> seen(4);
  for (int schedule = 0; schedule < 3; ++schedule) {
    sim::Options o;
    o.reverse_thread_order = schedule == 1;
    o.warps_run_ahead = schedule == 2;
    sim::set_options(o);
    REQUIRE(launch(mbarrier_ping_pong_kernel, dim3(1), dim3(64), 0, nullptr, seen.get()) == cudaSuccess);
    CHECK(seen.download() == std::vector<int>({10, 20, 30, 40}));
  }
}

constexpr int kMissingArriveLine = __LINE__ + 7;
__global__ void missing_arrive_kernel() {
  __shared__ uint64_t barrier;
  if (threadIdx.x == 0) ptx::mbarrier_init(&barrier, 2);
  __syncthreads();
  if (threadIdx.x == 0) ptx::mbarrier_arrive(&barrier);  // the second arrival never comes
  if (threadIdx.x >= 32) {
    ptx::mbarrier_wait(&barrier, 0);
  }
}

TEST(a_missing_mbarrier_arrival_is_a_deadlock_naming_the_wait) {
  quiet();
  CHECK_EQ(launch(missing_arrive_kernel, dim3(1), dim3(64), 0, nullptr), cudaErrorLaunchFailure);
  const std::string message = sim::last_error_message();
  CHECK_CONTAINS(message, "deadlock in block (0,0,0)");
  CHECK_CONTAINS(message, std::string(__FILE__) + ":" + std::to_string(kMissingArriveLine));
  CHECK_CONTAINS(message, "still misses 1 of 2 arrivals");
  sim::reset_device();
}

__global__ void uninitialised_mbarrier_kernel() {
  __shared__ uint64_t barrier;
  ptx::mbarrier_arrive(&barrier);
}

TEST(an_mbarrier_used_before_init_is_refused) {
  quiet();
  CHECK_EQ(launch(uninitialised_mbarrier_kernel, dim3(1), dim3(32), 0, nullptr), cudaErrorLaunchFailure);
  CHECK_CONTAINS(sim::last_error_message(), "mbarrier.init never initialised");
  sim::reset_device();
}

__global__ void wgmma_never_waited_kernel() {
  extern __shared__ __align__(1024) unsigned char smem[];
  float d[32] = {};
  const uint64_t desc = cnnops::gmma_descriptor(ptx::shared_address(smem), cnnops::GmmaSwizzleMode::k128B,
                                                cnnops::gmma_kmajor_strides(cnnops::GmmaSwizzleMode::k128B, 64));
  ptx::wgmma_fence();
  ptx::wgmma<ptx::WgmmaType::kBF16, 64>(d, desc, desc, false);
  ptx::wgmma_commit_group();
}

TEST(a_thread_that_exits_with_wgmma_in_flight_fails_the_launch) {
  quiet();
  CHECK_EQ(launch(wgmma_never_waited_kernel, dim3(1), dim3(128), 8192, nullptr), cudaErrorLaunchFailure);
  CHECK_CONTAINS(sim::last_error_message(), "exited with wgmma.mma_async operations");
  sim::reset_device();
}

__global__ void wgmma_partial_warpgroup_kernel() {
  extern __shared__ __align__(1024) unsigned char smem[];
  float d[32] = {};
  const uint64_t desc = cnnops::gmma_descriptor(ptx::shared_address(smem), cnnops::GmmaSwizzleMode::k128B,
                                                cnnops::gmma_kmajor_strides(cnnops::GmmaSwizzleMode::k128B, 64));
  ptx::wgmma_fence();
  ptx::wgmma<ptx::WgmmaType::kBF16, 64>(d, desc, desc, false);
  ptx::wgmma_commit_group();
  ptx::wgmma_wait_group<0>();
}

TEST(wgmma_needs_a_whole_warpgroup) {
  quiet();
  CHECK_EQ(launch(wgmma_partial_warpgroup_kernel, dim3(1), dim3(96), 8192, nullptr), cudaErrorLaunchFailure);
  CHECK_CONTAINS(sim::last_error_message(), "4 whole warps");
  sim::reset_device();
}

// A descriptor reaching past the launch's dynamic shared memory, or with a base offset (not
// modelled), fails the launch at the wait that would have read it.
__global__ void wgmma_descriptor_kernel(uint32_t start, uint64_t extra_bits) {
  extern __shared__ __align__(1024) unsigned char smem[];
  float d[32] = {};
  const uint64_t desc = cnnops::gmma_descriptor(ptx::shared_address(smem) + start, cnnops::GmmaSwizzleMode::k128B,
                                                cnnops::gmma_kmajor_strides(cnnops::GmmaSwizzleMode::k128B, 64)) |
                        extra_bits;
  ptx::wgmma_fence();
  ptx::wgmma<ptx::WgmmaType::kBF16, 64>(d, desc, desc, false);
  ptx::wgmma_commit_group();
  ptx::wgmma_wait_group<0>();
}

TEST(wgmma_operands_outside_dynamic_shared_memory_or_with_a_base_offset_are_refused) {
  quiet();
  // 64 rows of 128 bytes from 4096: past the launch's 8192 bytes.
  CHECK_EQ(launch(wgmma_descriptor_kernel, dim3(1), dim3(128), 8192, nullptr, 4096u, uint64_t(0)),
           cudaErrorLaunchFailure);
  CHECK_CONTAINS(sim::last_error_message(), "row 32 past the block's 8192 bytes of dynamic shared memory");
  sim::reset_device();
  CHECK_EQ(launch(wgmma_descriptor_kernel, dim3(1), dim3(128), 8192, nullptr, 0u, uint64_t(1) << 49),
           cudaErrorLaunchFailure);
  CHECK_CONTAINS(sim::last_error_message(), "base offset is not 0");
  sim::reset_device();
  CHECK_EQ(launch(wgmma_descriptor_kernel, dim3(1), dim3(128), 8192, nullptr, 0u, uint64_t(0)), cudaSuccess);
}

__global__ void static_shared_address_kernel() {
  __shared__ uint64_t word;
  (void)ptx::shared_address(&word);
}

TEST(shared_addresses_are_given_to_dynamic_shared_memory_only) {
  quiet();
  CHECK_EQ(launch(static_shared_address_kernel, dim3(1), dim3(32), 0, nullptr), cudaErrorLaunchFailure);
  CHECK_CONTAINS(sim::last_error_message(), "outside dynamic shared memory");
  sim::reset_device();
}

}  // namespace
