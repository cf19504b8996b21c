// A warp-specialised wgmma GEMM that exercises every Hopper wrapper of csrc/cuda/ptx_sm90.cuh
// the way the sm_90a convolution will: a producer warpgroup fills a ring of shared-memory stages
// with cp.async in the 128-byte-swizzled K-major layout, fences them for the async proxy and
// signals full[s]; a consumer warpgroup waits on full[s], runs wgmma on descriptors and releases
// the stage through empty[s]. C (M x N, float, row-major) = A (M x K) * B (N x K)^T, both K-major.
// The simulator tests (test_wgmma.cu) run it with planted bugs; the convolution built on the same
// wrappers (csrc/cuda/conv2d_fprop_wgmma_kernel.cuh) is what tests/test_cuda_static.py reads in
// the sm_90a SASS.
#pragma once
#include <cstdint>

#include "common/gmma_descriptor.h"
#include "cuda/dtypes.cuh"
#include "cuda/ptx.cuh"
#include "cuda/ptx_sm90.cuh"

namespace wgmma_gemm {

// What a test may break on purpose (kNone on a GPU).
enum class Bug {
  kNone,
  kNoProxyFence,      // the producer signals full[s] without fence.proxy.async
  kUnswizzled,        // the producer writes plain rows under a 128-byte-swizzle descriptor
  kWrongParity,       // the consumer waits on the parity of the next phase of full[s]
  kNoWgmmaFence,      // no wgmma.fence before a batch
  kReadBeforeWait,    // the epilogue reads the accumulators before wgmma.wait_group
  kEarlyRelease,      // the consumer releases a stage before its wgmma has completed
};

template <typename T>
constexpr cnnops::cuda::ptx::WgmmaType wgmma_type() {
  if constexpr (sizeof(T) == 4) return cnnops::cuda::ptx::WgmmaType::kTF32;
  else if constexpr (std::is_same_v<T, cnnops::cuda::half_t>) return cnnops::cuda::ptx::WgmmaType::kF16;
  else return cnnops::cuda::ptx::WgmmaType::kBF16;
}

struct Args {
  const void* a;  // M x K
  const void* b;  // N x K
  float* c;       // M x N
  int m, n, k;    // k % (16 / sizeof(T)) == 0
};

constexpr int kRowBytes = 128;  // one k-tile row: a whole 128-byte swizzle row
constexpr int kBlockM = 64;     // one consumer warpgroup: one wgmma's M

template <typename T, int kN, int kStages>
struct Shape {
  static constexpr int kTileK = kRowBytes / int(sizeof(T));
  static constexpr int kInstrK = 32 / int(sizeof(T));
  static constexpr int kStageA = kBlockM * kRowBytes, kStageB = kN * kRowBytes;
  static constexpr int kBarriers = kStages * 16;  // full[] then empty[]
  // + 1024: the stages must start on the 1024-byte repeat of the swizzle.
  static constexpr int kSharedBytes = kStages * (kStageA + kStageB) + kBarriers + 1024;
};

template <typename T, int kN, int kStages, Bug kBug>
__global__ void __launch_bounds__(256, 1) wgmma_gemm_kernel(Args args) {
  using S = Shape<T, kN, kStages>;
  namespace ptx = cnnops::cuda::ptx;
  extern __shared__ __align__(16) unsigned char wgmma_gemm_smem[];
  // Align the stages in shared-address space (the swizzle reads address bits).
  const uint32_t raw = ptx::shared_address(wgmma_gemm_smem);
  unsigned char* base = wgmma_gemm_smem + ((1024 - raw % 1024) % 1024);
  unsigned char* stage_a = base;
  unsigned char* stage_b = base + kStages * S::kStageA;
  uint64_t* full = reinterpret_cast<uint64_t*>(stage_b + kStages * S::kStageB);
  uint64_t* empty = full + kStages;

  const int thread = int(threadIdx.x) % 128;
  const bool producer = threadIdx.x < 128;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(&full[s], 128);   // every producer thread
      ptx::mbarrier_init(&empty[s], 128);  // every consumer thread
    }
  }
  __syncthreads();

  const int m0 = int(blockIdx.y) * kBlockM, n0 = int(blockIdx.x) * kN;
  const int k_tiles = (args.k + S::kTileK - 1) / S::kTileK;
  constexpr int kChunkElems = 16 / int(sizeof(T));
  if (producer) {
    for (int kt = 0; kt < k_tiles; ++kt) {
      const int s = kt % kStages;
      ptx::mbarrier_wait(&empty[s], ((kt / kStages) & 1) ^ 1);
      // 16-byte chunk c of tile row r goes to chunk c ^ (r % 8) of the row (the 128-byte swizzle).
      auto copy_rows = [&](unsigned char* dst, const T* src, int rows, int row0, int row_limit) {
        for (int i = thread; i < rows * 8; i += 128) {
          const int r = i / 8, c = i % 8;
          const int row = row0 + r, k = kt * S::kTileK + c * kChunkElems;
          const bool in = row < row_limit && k < args.k;
          const int slot = kBug == Bug::kUnswizzled ? c : c ^ (r % 8);
          ptx::cp_async<16>(dst + r * kRowBytes + slot * 16, in ? src + int64_t(row) * args.k + k : src,
                            in ? 16 : 0);
        }
      };
      copy_rows(stage_a + s * S::kStageA, static_cast<const T*>(args.a), kBlockM, m0, args.m);
      copy_rows(stage_b + s * S::kStageB, static_cast<const T*>(args.b), kN, n0, args.n);
      ptx::cp_async_commit();
      ptx::cp_async_wait<0>();
      if (kBug != Bug::kNoProxyFence) ptx::fence_proxy_async();
      ptx::mbarrier_arrive(&full[s]);
    }
    return;
  }

  float d[kN / 2];
  for (int i = 0; i < kN / 2; ++i) d[i] = 0.0f;
  const auto strides_a = cnnops::gmma_kmajor_strides(cnnops::GmmaSwizzleMode::k128B, kBlockM);
  const auto strides_b = cnnops::gmma_kmajor_strides(cnnops::GmmaSwizzleMode::k128B, kN);
  for (int kt = 0; kt < k_tiles; ++kt) {
    const int s = kt % kStages;
    ptx::mbarrier_wait(&full[s], ((kt / kStages) & 1) ^ (kBug == Bug::kWrongParity ? 1 : 0));
    if (kBug != Bug::kNoWgmmaFence) ptx::wgmma_fence();
    ptx::fence_accumulators(d);
    const uint32_t a_addr = ptx::shared_address(stage_a + s * S::kStageA);
    const uint32_t b_addr = ptx::shared_address(stage_b + s * S::kStageB);
#pragma unroll
    for (int kk = 0; kk < S::kTileK / S::kInstrK; ++kk) {  // each step: 32 bytes further along k
      const uint64_t da = cnnops::gmma_descriptor(a_addr + kk * 32, cnnops::GmmaSwizzleMode::k128B, strides_a);
      const uint64_t db = cnnops::gmma_descriptor(b_addr + kk * 32, cnnops::GmmaSwizzleMode::k128B, strides_b);
      ptx::wgmma<wgmma_type<T>(), kN>(d, da, db, true);
    }
    ptx::wgmma_commit_group();
    if (kBug == Bug::kEarlyRelease) ptx::mbarrier_arrive(&empty[s]);
    ptx::wgmma_wait_group<0>();
    ptx::fence_accumulators(d);
    if (kBug != Bug::kEarlyRelease) ptx::mbarrier_arrive(&empty[s]);
  }
  if (kBug == Bug::kReadBeforeWait) {  // one more batch, read before its wait
    ptx::wgmma_fence();
    const uint32_t a_addr = ptx::shared_address(stage_a);
    ptx::wgmma<wgmma_type<T>(), kN>(
        d, cnnops::gmma_descriptor(a_addr, cnnops::GmmaSwizzleMode::k128B, strides_a),
        cnnops::gmma_descriptor(ptx::shared_address(stage_b), cnnops::GmmaSwizzleMode::k128B, strides_b), false);
    ptx::wgmma_commit_group();
  }
  const int warp = thread / 32, lane = thread % 32;
  for (int i = 0; i < kN / 2; ++i) {
    const int row = m0 + 16 * warp + lane / 4 + 8 * ((i / 2) % 2);
    const int col = n0 + 8 * (i / 4) + 2 * (lane % 4) + i % 2;
    if (row < args.m && col < args.n) args.c[int64_t(row) * args.n + col] = d[i];
  }
  if (kBug == Bug::kReadBeforeWait) ptx::wgmma_wait_group<0>();
}

}  // namespace wgmma_gemm
