// Correct kernels against CPU references: tiled transpose and GEMM (__syncthreads), warp
// shuffles and votes, block barriers with predicates, atomics, 3-D blocks, __constant__ memory.
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "cuda/launch.cuh"
#include "device_buffer.h"
#include "sim_test.h"

using cnnops::cuda::launch;

namespace {

std::vector<float> iota_floats(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * float(int(i * 37 % 101) - 50);
  return v;
}

// ---- tiled transpose: out[c][r] = in[r][c] through a padded shared tile ----
constexpr int kTile = 32;
constexpr int kRowsPerPass = 8;

__global__ void transpose_kernel(const float* in, float* out, int rows, int cols) {
  __shared__ float tile[kTile][kTile + 1];
  const int c = blockIdx.x * kTile + threadIdx.x;
  for (int dr = 0; dr < kTile; dr += kRowsPerPass) {
    const int r = blockIdx.y * kTile + threadIdx.y + dr;
    if (r < rows && c < cols) tile[threadIdx.y + dr][threadIdx.x] = in[r * cols + c];
  }
  __syncthreads();
  const int out_c = blockIdx.y * kTile + threadIdx.x;  // a row index of `in`
  for (int dr = 0; dr < kTile; dr += kRowsPerPass) {
    const int out_r = blockIdx.x * kTile + threadIdx.y + dr;  // a column index of `in`
    if (out_r < cols && out_c < rows) out[out_r * rows + out_c] = tile[threadIdx.x][threadIdx.y + dr];
  }
}

TEST(transpose_tiled_matches_cpu) {
  const int rows = 70, cols = 45;
  const std::vector<float> in = iota_floats(size_t(rows) * cols, 0.5f);
  DeviceBuffer<float> d_in(in), d_out(in.size());
  const dim3 grid((cols + kTile - 1) / kTile, (rows + kTile - 1) / kTile);
  CHECK_EQ(launch(transpose_kernel, grid, dim3(kTile, kRowsPerPass), 0, nullptr, d_in.get(), d_out.get(), rows, cols),
           cudaSuccess);
  const std::vector<float> out = d_out.download();
  int wrong = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) wrong += out[size_t(c) * rows + r] != in[size_t(r) * cols + c];
  CHECK_EQ(wrong, 0);
}

// ---- tiled GEMM: C[M][N] = A[M][K] * B[K][N] ----
constexpr int kGemmTile = 16;

template <int Tile>
__global__ void gemm_kernel(const float* a, const float* b, float* c, int m, int n, int k) {
  __shared__ float a_tile[Tile][Tile];
  __shared__ float b_tile[Tile][Tile];
  const int row = blockIdx.y * Tile + threadIdx.y;
  const int col = blockIdx.x * Tile + threadIdx.x;
  float acc = 0.0f;
  for (int k0 = 0; k0 < k; k0 += Tile) {
    a_tile[threadIdx.y][threadIdx.x] = (row < m && k0 + int(threadIdx.x) < k) ? a[row * k + k0 + threadIdx.x] : 0.0f;
    b_tile[threadIdx.y][threadIdx.x] = (col < n && k0 + int(threadIdx.y) < k) ? b[(k0 + threadIdx.y) * n + col] : 0.0f;
    __syncthreads();
    for (int kk = 0; kk < Tile; ++kk) acc += a_tile[threadIdx.y][kk] * b_tile[kk][threadIdx.x];
    __syncthreads();
  }
  if (row < m && col < n) c[row * n + col] = acc;
}

std::vector<float> run_gemm(const std::vector<float>& a, const std::vector<float>& b, int m, int n, int k) {
  DeviceBuffer<float> d_a(a), d_b(b), d_c(size_t(m) * n);
  const dim3 grid((n + kGemmTile - 1) / kGemmTile, (m + kGemmTile - 1) / kGemmTile);
  const cudaError_t err = launch(gemm_kernel<kGemmTile>, grid, dim3(kGemmTile, kGemmTile), 0, nullptr,
                                 static_cast<const float*>(d_a.get()), static_cast<const float*>(d_b.get()), d_c.get(),
                                 m, n, k);
  CHECK_EQ(err, cudaSuccess);
  return d_c.download();
}

TEST(gemm_tiled_matches_cpu) {
  const int m = 37, n = 53, k = 29;
  const std::vector<float> a = iota_floats(size_t(m) * k, 0.25f), b = iota_floats(size_t(k) * n, 0.125f);
  const std::vector<float> c = run_gemm(a, b, m, n, k);
  double worst = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double ref = 0;
      for (int kk = 0; kk < k; ++kk) ref += double(a[size_t(i) * k + kk]) * b[size_t(kk) * n + j];
      worst = std::max(worst, std::fabs(ref - c[size_t(i) * n + j]) / (1.0 + std::fabs(ref)));
    }
  CHECK(worst < 1e-5);
}

TEST(block_and_thread_order_do_not_change_results) {
  const int m = 40, n = 36, k = 50;
  const std::vector<float> a = iota_floats(size_t(m) * k, 0.5f), b = iota_floats(size_t(k) * n, 0.25f);
  const std::vector<float> forward = run_gemm(a, b, m, n, k);
  cnnops::sim::Options reversed;
  reversed.reverse_block_order = true;
  reversed.reverse_thread_order = true;
  cnnops::sim::set_options(reversed);
  const std::vector<float> backward = run_gemm(a, b, m, n, k);
  CHECK(forward == backward);
}

TEST(launches_from_two_os_threads_run_independently) {
  // Each OS thread has its own fibers and its own thread_local shared memory.
  const int m = 33, n = 47, k = 40;
  const std::vector<float> a = iota_floats(size_t(m) * k, 0.5f), b = iota_floats(size_t(k) * n, 0.25f);
  const std::vector<float> expected = run_gemm(a, b, m, n, k);
  std::vector<float> results[2];
  std::thread workers[2];
  for (int w = 0; w < 2; ++w)
    workers[w] = std::thread([&, w] {
      for (int repeat = 0; repeat < 3; ++repeat) results[w] = run_gemm(a, b, m, n, k);
    });
  for (std::thread& worker : workers) worker.join();
  CHECK(results[0] == expected);
  CHECK(results[1] == expected);
}

__global__ void record_block_order_kernel(int* next_slot, int* order) {
  if (threadIdx.x == 0) order[atomicAdd(next_slot, 1)] = int(blockIdx.x + gridDim.x * blockIdx.y);
}

TEST(reverse_block_order_runs_blocks_last_to_first) {
  for (bool reverse : {false, true}) {
    cnnops::sim::Options o;
    o.reverse_block_order = reverse;
    cnnops::sim::set_options(o);
    DeviceBuffer<int> slot(std::vector<int>{0}), order(12);
    CHECK_EQ(launch(record_block_order_kernel, dim3(4, 3), dim3(32), 0, nullptr, slot.get(), order.get()),
             cudaSuccess);
    const std::vector<int> got = order.download();
    for (int i = 0; i < 12; ++i) CHECK_EQ(got[i], reverse ? 11 - i : i);
  }
}

// ---- block reduction: warp shuffles, then one partial per warp through shared memory ----
__device__ float warp_sum_down(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

__global__ void block_sum_kernel(const float* in, float* out, int n) {
  __shared__ float warp_partials[32];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < n ? in[i] : 0.0f;
  v = warp_sum_down(v);
  const int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
  if (lane == 0) warp_partials[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / warpSize;
    v = lane < warps ? warp_partials[lane] : 0.0f;
    v = warp_sum_down(v);
    if (lane == 0) out[blockIdx.x] = v;
  }
}

TEST(block_reduction_with_shfl_down) {
  const int n = 1000, threads = 256, blocks = (n + threads - 1) / threads;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = float(i % 17) - 3.0f;  // exact in float
  DeviceBuffer<float> d_in(in), d_out(blocks);
  CHECK_EQ(launch(block_sum_kernel, dim3(blocks), dim3(threads), 0, nullptr, static_cast<const float*>(d_in.get()),
                  d_out.get(), n),
           cudaSuccess);
  const std::vector<float> out = d_out.download();
  for (int b = 0; b < blocks; ++b) {
    float ref = 0;
    for (int i = b * threads; i < std::min(n, (b + 1) * threads); ++i) ref += in[i];
    CHECK_EQ(out[b], ref);
  }
}

// Every shuffle flavour, with widths below 32, against the PTX definition written out by hand.
__global__ void shuffle_semantics_kernel(int* out) {
  const int lane = threadIdx.x;
  const int value = 100 + lane;
  out[0 * 32 + lane] = __shfl_sync(0xffffffffu, value, 5);               // broadcast lane 5
  out[1 * 32 + lane] = __shfl_sync(0xffffffffu, value, lane + 3, 8);     // within segments of 8
  out[2 * 32 + lane] = __shfl_up_sync(0xffffffffu, value, 3, 16);        // own value below offset
  out[3 * 32 + lane] = __shfl_down_sync(0xffffffffu, value, 5, 16);      // own value past the segment
  out[4 * 32 + lane] = __shfl_xor_sync(0xffffffffu, value, 1);           // butterfly
  out[5 * 32 + lane] = __shfl_xor_sync(0xffffffffu, value, 16, 16);      // partner outside: own unless earlier
  const double wide = __shfl_sync(0xffffffffu, 0.5 * lane, 31);          // 64-bit payload
  out[6 * 32 + lane] = int(wide * 2);
}

TEST(shuffle_semantics_match_ptx) {
  DeviceBuffer<int> d_out(7 * 32);
  CHECK_EQ(launch(shuffle_semantics_kernel, dim3(1), dim3(32), 0, nullptr, d_out.get()), cudaSuccess);
  const std::vector<int> out = d_out.download();
  for (int lane = 0; lane < 32; ++lane) {
    CHECK_EQ(out[0 * 32 + lane], 105);
    CHECK_EQ(out[1 * 32 + lane], 100 + (lane & ~7) + ((lane + 3) & 7));
    CHECK_EQ(out[2 * 32 + lane], 100 + ((lane % 16) >= 3 ? lane - 3 : lane));
    CHECK_EQ(out[3 * 32 + lane], 100 + ((lane % 16) + 5 < 16 ? lane + 5 : lane));
    CHECK_EQ(out[4 * 32 + lane], 100 + (lane ^ 1));
    CHECK_EQ(out[5 * 32 + lane], 100 + (lane >= 16 ? lane - 16 : lane));
    CHECK_EQ(out[6 * 32 + lane], 31);
  }
}

// ---- votes and predicated barriers in a 3-D block (warps are cut from the x-fastest order) ----
__global__ void votes_kernel(unsigned* ballots, int* any_all, int* block_votes) {
  const int linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int predicate = linear % 3 == 0;
  const unsigned ballot = __ballot_sync(0xffffffffu, predicate);
  const int any = __any_sync(0xffffffffu, linear == 40);
  const int all = __all_sync(0xffffffffu, linear < 64);
  const int count = __syncthreads_count(predicate);
  const int and_ = __syncthreads_and(linear < 1000);
  const int or_ = __syncthreads_or(linear == 77);
  if (linear % 32 == 0) {
    ballots[linear / 32] = ballot;
    any_all[2 * (linear / 32)] = any;
    any_all[2 * (linear / 32) + 1] = all;
  }
  if (linear == 0) {
    block_votes[0] = count;
    block_votes[1] = and_;
    block_votes[2] = or_;
  }
}

TEST(ballot_any_all_and_syncthreads_count) {
  const dim3 block(8, 4, 4);  // 128 threads, 4 warps
  DeviceBuffer<unsigned> ballots(4);
  DeviceBuffer<int> any_all(8), block_votes(3);
  CHECK_EQ(launch(votes_kernel, dim3(1), block, 0, nullptr, ballots.get(), any_all.get(), block_votes.get()),
           cudaSuccess);
  const std::vector<unsigned> b = ballots.download();
  const std::vector<int> aa = any_all.download(), bv = block_votes.download();
  for (int w = 0; w < 4; ++w) {
    unsigned ref = 0;
    for (int lane = 0; lane < 32; ++lane) ref |= unsigned((32 * w + lane) % 3 == 0) << lane;
    CHECK_EQ(b[w], ref);
    CHECK_EQ(aa[2 * w], w == 1);      // lane 8 of warp 1 is linear 40
    CHECK_EQ(aa[2 * w + 1], w < 2);   // linear < 64: warps 0 and 1
  }
  CHECK_EQ(bv[0], 43);  // multiples of 3 in [0, 128)
  CHECK_EQ(bv[1], 1);
  CHECK_EQ(bv[2], 1);
}

__global__ void syncwarp_exchange_kernel(int* out) {
  __shared__ int slots[64];
  slots[threadIdx.x] = int(threadIdx.x) * 10;
  __syncwarp();
  out[threadIdx.x] = slots[threadIdx.x ^ 1];
}

TEST(syncwarp_orders_a_warp_exchange) {
  DeviceBuffer<int> out(64);
  CHECK_EQ(launch(syncwarp_exchange_kernel, dim3(1), dim3(64), 0, nullptr, out.get()), cudaSuccess);
  const std::vector<int> got = out.download();
  for (int t = 0; t < 64; ++t) CHECK_EQ(got[t], (t ^ 1) * 10);
}

// ---- atomics ----
__global__ void atomics_kernel(const int* keys, int n, int* histogram, float* float_sum, double* double_sum,
                               int* extremes, unsigned long long* big, int* cas_winner) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(&histogram[keys[i]], 1);
  atomicAdd(float_sum, 0.5f);
  atomicAdd(double_sum, 0.25);
  atomicMax(&extremes[0], keys[i] * 7 - i);
  atomicMin(&extremes[1], keys[i] * 7 - i);
  atomicAdd(big, 1ull << 33);
  atomicCAS(cas_winner, -1, i);  // exactly one thread wins
}

TEST(atomics_match_cpu) {
  const int n = 777, buckets = 10;
  std::vector<int> keys(n);
  for (int i = 0; i < n; ++i) keys[i] = (i * 7919) % buckets;
  DeviceBuffer<int> d_keys(keys), histogram(std::vector<int>(buckets, 0));
  DeviceBuffer<float> float_sum(std::vector<float>{0.0f});
  DeviceBuffer<double> double_sum(std::vector<double>{0.0});
  DeviceBuffer<int> extremes(std::vector<int>{-1000000, 1000000}), winner(std::vector<int>{-1});
  DeviceBuffer<unsigned long long> big(std::vector<unsigned long long>{0});
  const uint64_t atomics_before = cnnops::sim::counter(cnnops::sim::Counter::kAtomics);
  CHECK_EQ(launch(atomics_kernel, dim3((n + 127) / 128), dim3(128), 0, nullptr, static_cast<const int*>(d_keys.get()),
                  n, histogram.get(), float_sum.get(), double_sum.get(), extremes.get(), big.get(), winner.get()),
           cudaSuccess);
  CHECK_EQ(cnnops::sim::counter(cnnops::sim::Counter::kAtomics) - atomics_before, uint64_t(7) * n);
  std::vector<int> ref(buckets, 0);
  int max_ref = -1000000, min_ref = 1000000;
  for (int i = 0; i < n; ++i) {
    ++ref[keys[i]];
    max_ref = std::max(max_ref, keys[i] * 7 - i);
    min_ref = std::min(min_ref, keys[i] * 7 - i);
  }
  CHECK(histogram.download() == ref);
  CHECK_EQ(float_sum.download()[0], 0.5f * n);
  CHECK_EQ(double_sum.download()[0], 0.25 * n);
  CHECK_EQ(extremes.download()[0], max_ref);
  CHECK_EQ(extremes.download()[1], min_ref);
  CHECK_EQ(big.download()[0], (unsigned long long)n << 33);
  const int w = winner.download()[0];
  CHECK(w >= 0 && w < n);
}

// ---- __constant__ memory ----
__constant__ float filter_taps[4];

__global__ void constant_memory_kernel(const float* in, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i + 3 < n) out[i] = filter_taps[0] * in[i] + filter_taps[1] * in[i + 1] + filter_taps[2] * in[i + 2] +
                          filter_taps[3] * in[i + 3];
}

TEST(constant_memory_via_cudaMemcpyToSymbol) {
  const float taps[4] = {1.0f, -2.0f, 0.5f, 4.0f};
  CHECK_EQ(cudaMemcpyToSymbol(filter_taps, taps, sizeof(taps)), cudaSuccess);
  float back[4] = {};
  CHECK_EQ(cudaMemcpyFromSymbol(back, filter_taps, sizeof(back)), cudaSuccess);
  CHECK_EQ(back[3], 4.0f);
  cnnops::sim::Options quiet;
  quiet.print_errors = false;
  cnnops::sim::set_options(quiet);
  CHECK_EQ(cudaMemcpyToSymbol(filter_taps, taps, sizeof(taps), 4), cudaErrorInvalidValue);  // overruns
  CHECK_EQ(cudaGetLastError(), cudaErrorInvalidValue);  // else the next launch() would return it
  const int n = 64;
  const std::vector<float> in = iota_floats(n, 1.0f);
  DeviceBuffer<float> d_in(in), d_out(n);
  CHECK_EQ(launch(constant_memory_kernel, dim3(1), dim3(n), 0, nullptr, static_cast<const float*>(d_in.get()),
                  d_out.get(), n),
           cudaSuccess);
  const std::vector<float> out = d_out.download();
  for (int i = 0; i + 3 < n; ++i)
    CHECK_EQ(out[i], taps[0] * in[i] + taps[1] * in[i + 1] + taps[2] * in[i + 2] + taps[3] * in[i + 3]);
}

}  // namespace
