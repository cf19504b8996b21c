// The Hopper forward: the tensor-core implicit GEMM of conv2d_fprop_tc_kernel.cuh rebuilt on
// warpgroup MMA (sm_90a), for float16 / bfloat16 channels-last operands. Included by one .cu per
// element type (conv2d_fprop_wgmma_f16.cu, _bf16.cu); conv2d_fprop_wgmma.cu holds the host side.
//
// A block is three warpgroups, warp-specialised:
// - the producer (warpgroup 0) fills a ring of kStages shared-memory stages, each one k-tile (128
//   bytes of reduction per row) of the A tile (kTileM output positions) and the B tile (kTileN
//   filters), with the loaders of the mma.sync kernel (conv2d_fprop_tc_iterators.cuh: cp.async,
//   zero-fill for padding and ragged tiles, the tap walk without division). Their XOR-swizzled
//   128-byte rows (SwizzledRows<T, 128>: chunk c of row r at c ^ (r % 8)) are exactly wgmma's
//   128-byte-swizzle K-major layout when a stage starts on a 1024-byte boundary. It keeps kLag
//   k-tiles of copies in flight behind the newest, and hands a stage over once its copies have
//   landed: fence.proxy.async (the copies are ordinary writes, wgmma reads through the async
//   proxy), then an arrival on full[s];
// - two consumers (warpgroups 1, 2; 64 output rows each, all kTileN filters) wait on full[s],
//   issue the k-tile's wgmma.m64nNk16 (4 per k-tile, each 32 bytes further along the rows), and
//   release the previous k-tile's stage through empty[s] once wgmma.wait_group(1) says its
//   operations are done -- so one k-tile's MMAs overlap the next one's issue;
// - the epilogue: when both consumers are done reading the stages (an mbarrier, since the
//   producer has left), each consumer warp stages its 16 x kTileN accumulators through the idle
//   stages and writes 16-byte vectors (conv2d_fprop_tc_epilogue.cuh). A wgmma accumulator
//   fragment is the mma.sync m16n8 C fragment repeated along N (d[4j + e] = fragment j's c_e),
//   so the epilogue is the mma.sync kernel's, with a 16 x kTileN warp tile.
// The loads are cp.async, not TMA: the im2col tensor-map path is the next step (TMA's im2col mode
// covers only part of what the loaders do -- splits, output phases, arbitrary strides); this
// version already moves the MMA issue off the critical path and the operand fetch off the
// registers (no ldmatrix). Sums follow k order (wgmma k16 in k order, k-tiles in order), like
// the mma.sync kernel.
#pragma once
#include <cstdint>

#include "../common/gmma_descriptor.h"
#include "conv2d_fprop_tc_kernel.cuh"
#include "ptx_sm90.cuh"

namespace cnnops {
namespace cuda {

// Per-shape wgmma configuration: kTileN filters per block (the wgmma's N), kStages stages.
template <int kTileN_, int kStages_>
struct WgmmaTile {
  static constexpr int kConsumers = 2;  // warpgroups of 64 output rows (one wgmma's M) each
  static constexpr int kTileM = 64 * kConsumers, kTileN = kTileN_, kStages = kStages_;
  static constexpr int kThreads = 128 * (kConsumers + 1);  // and the producer warpgroup
  static constexpr int kRowBytes = 128;                    // a k-tile: one 128-byte swizzle row
  static constexpr int kVecsPerRow = kRowBytes / 16, kRowsPerPass = 128 / kVecsPerRow;
  static constexpr int kPassesA = kTileM / kRowsPerPass, kPassesB = kTileN / kRowsPerPass;
  static constexpr int kStageBytesA = kTileM * kRowBytes, kStageBytesB = kTileN * kRowBytes;
  static constexpr int kLag = kStages - 2;  // k-tiles of copies in flight behind the newest
  // Stages, then full[kStages], empty[kStages], done; + 1024: the stages start on the 1024-byte
  // repeat of the swizzle, in shared-address space.
  static constexpr size_t kSharedBytes = size_t(kStages) * (kStageBytesA + kStageBytesB) + (2 * kStages + 1) * 8 + 1024;
  // Registers by role (setmaxnreg): 128 threads x (kProducerRegs + kConsumers x kConsumerRegs)
  // within the SM's 64K. The producer's loaders keep a 64-bit pointer and bounds per tile row
  // (40 registers spill them); the consumers hold kTileN / 2 accumulators.
  static constexpr int kProducerRegs = 96, kConsumerRegs = 208;
  static_assert(kTileN == 64 || kTileN == 128, "wgmma N of 64 or 128 (see WgmmaTileSquare)");
  static_assert(kStages >= 3, "the producer keeps at least one k-tile in flight behind the newest");
  static_assert(128 * (kProducerRegs + kConsumers * kConsumerRegs) <= 65536, "the register file");
};

// 128 x 128 where K fills it and it gives every SM a block, else 128 x 64. One resident block per
// SM (161 and 145 KB of shared memory). A 128 x 256 tile (two 64 x 256 consumers) fits neither
// register budget with these loaders: its consumers need more than 208 registers for 128
// accumulators and the epilogue, its producer more than 96 for 24 rows of loader state, and 128 x
// (96 + 2 x 208) is the whole register file; it waits for a leaner producer (TMA).
using WgmmaTileSquare = WgmmaTile<128, 5>;
using WgmmaTileNarrow = WgmmaTile<64, 6>;

// The one heuristic of the wgmma path: the square tile where K fills it and it gives every SM a
// block, else the narrow one. Tiles change speed, never results (every one sums in k order).
template <typename F>
auto with_wgmma_tile(int64_t npq, int64_t K, int64_t sms, F&& f) {
  if (K >= WgmmaTileSquare::kTileN && blocks_of<WgmmaTileSquare>(npq, K) >= sms) return f(WgmmaTileSquare{});
  return f(WgmmaTileNarrow{});
}

namespace {

template <typename T>
constexpr ptx::WgmmaType wgmma_type() {
  return std::is_same<T, half_t>::value ? ptx::WgmmaType::kF16 : ptx::WgmmaType::kBF16;
}

template <typename T, bool kOneByOne, typename Tile>
__global__ void __launch_bounds__(Tile::kThreads, 1)
    fprop_wgmma_kernel(const Conv2dParams problem, const T* __restrict__ x, const T* __restrict__ w,
                       const T* __restrict__ bias, T* __restrict__ y, const EpilogueParams ep,
                       const ReductionSplits splits, const OutputPhases phases) {
#if defined(CNNOPS_SIM) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
  int64_t x_at = 0, w_at = 0, y_at = 0;
  const Conv2dParams p = block_problem(problem, splits, phases, int(blockIdx.z), x_at, w_at, y_at);
  x += x_at;
  w += w_at;
  using Smem = typename TcTraits<T>::Smem;
  using Rows = SwizzledRows<T, Tile::kRowBytes>;
  constexpr int kStages = Tile::kStages, kTileM = Tile::kTileM, kTileN = Tile::kTileN;
  constexpr int kVec = TcTraits<T>::kVec, kTileK = tile_k<T, Tile::kRowBytes>(), kPitch = Rows::kPitch;
  const int64_t m0 = int64_t(blockIdx.x) * kTileM, n0 = int64_t(blockIdx.y) * kTileN;
  if (m0 >= p.npq()) return;  // a phase smaller than the launch's largest: the whole block leaves
  const int k_tiles = int((p.R * p.S * p.C + kTileK - 1) / kTileK);  // R*S*C < 2^31 (host check)

  extern __shared__ __align__(16) unsigned char fprop_wgmma_shared[];
  unsigned char* base = fprop_wgmma_shared + (1024 - ptx::shared_address(fprop_wgmma_shared) % 1024) % 1024;
  auto* as = reinterpret_cast<Smem(*)[kTileM][kPitch]>(base);
  auto* bs = reinterpret_cast<Smem(*)[kTileN][kPitch]>(base + kStages * Tile::kStageBytesA);
  uint64_t* full = reinterpret_cast<uint64_t*>(base + kStages * (Tile::kStageBytesA + Tile::kStageBytesB));
  uint64_t* empty = full + kStages;
  uint64_t* done = empty + kStages;  // every consumer has finished reading the stages
  constexpr unsigned kConsumerThreads = 128 * Tile::kConsumers;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(&full[s], 128);               // every producer thread, once its copies landed
      ptx::mbarrier_init(&empty[s], kConsumerThreads);  // every consumer thread, once its MMAs are done
    }
    ptx::mbarrier_init(done, kConsumerThreads);
  }
  __syncthreads();

  const int warpgroup = int(threadIdx.x) / 128, tid = int(threadIdx.x) % 128;
  if (warpgroup == 0) {
    ptx::setmaxnreg_dec<Tile::kProducerRegs>();
    // Loader: reduction column `vec` of rows row0 + kRowsPerPass i (all with row0's swizzle).
    const int vec = tid % Tile::kVecsPerRow, row0 = tid / Tile::kVecsPerRow;
    const int at = Rows::at(row0, vec * kVec);
    const ActivationIterator<T, kOneByOne, Tile::kPassesA, Tile::kRowsPerPass> a_loader(m0 + row0, x, p);
    const FilterIterator<T, kOneByOne, Tile::kPassesB, Tile::kRowsPerPass> b_loader(n0 + row0, w, p);
    const ReductionWalk walk(p);
    ReductionCursor<kOneByOne> column(vec * kVec, p, walk);
    int stage = 0, ready = 0;  // the stage k-tile kt fills; the oldest one not yet handed over
    unsigned parity = 0;        // of the ring's current lap
    for (int kt = 0; kt < k_tiles; ++kt) {
      ptx::mbarrier_wait(&empty[stage], parity ^ 1u);  // the first lap's stages start empty
      if constexpr (kOneByOne) column = ReductionCursor<kOneByOne>(kt * kTileK + vec * kVec, p, walk);
      a_loader.copy(&as[stage][row0], at, column, walk);
      b_loader.copy(&bs[stage][row0], at, column);
      if constexpr (!kOneByOne) column.advance(kTileK, walk);
      ptx::cp_async_commit();
      if (kt >= Tile::kLag) {  // k-tile kt - kLag has landed: hand it over
        ptx::cp_async_wait<Tile::kLag>();
        ptx::fence_proxy_async();
        ptx::mbarrier_arrive(&full[ready]);
        ready = ready + 1 == kStages ? 0 : ready + 1;
      }
      if (++stage == kStages) {
        stage = 0;
        parity ^= 1u;
      }
    }
    ptx::cp_async_wait<0>();
    ptx::fence_proxy_async();
    for (int kt = k_tiles < Tile::kLag ? 0 : k_tiles - Tile::kLag; kt < k_tiles; ++kt) {
      ptx::mbarrier_arrive(&full[ready]);
      ready = ready + 1 == kStages ? 0 : ready + 1;
    }
  } else {
    ptx::setmaxnreg_inc<Tile::kConsumerRegs>();
    const int consumer = warpgroup - 1;
    // The warp's 16 x kTileN accumulators as the mma.sync epilogue's fragments [1][kTileN / 8][4]
    // and, the same registers, as wgmma's d[kTileN / 2].
    float acc[1][kTileN / 8][4];
    float(&d)[kTileN / 2] = reinterpret_cast<float(&)[kTileN / 2]>(acc);
    #pragma unroll
    for (int i = 0; i < kTileN / 2; ++i) d[i] = 0.0f;
    constexpr GmmaTileStrides kStrides = gmma_kmajor_strides(GmmaSwizzleMode::k128B, 64);
    const uint32_t a_first = ptx::shared_address(&as[0][64 * consumer][0]);
    const uint32_t b_first = ptx::shared_address(&bs[0][0][0]);
    int stage = 0, previous = kStages - 1;
    unsigned parity = 0;
    for (int kt = 0; kt < k_tiles; ++kt) {
      ptx::mbarrier_wait(&full[stage], parity);
      ptx::wgmma_fence();
      ptx::fence_accumulators(d);
      const uint32_t a_at = a_first + uint32_t(stage * Tile::kStageBytesA);
      const uint32_t b_at = b_first + uint32_t(stage * Tile::kStageBytesB);
      #pragma unroll
      for (int kk = 0; kk < kTileK / TcTraits<T>::kMmaK; ++kk)  // 32 bytes of reduction each
        ptx::wgmma<wgmma_type<T>(), kTileN>(d, gmma_descriptor(a_at + 32 * kk, GmmaSwizzleMode::k128B, kStrides),
                                            gmma_descriptor(b_at + 32 * kk, GmmaSwizzleMode::k128B, kStrides), true);
      ptx::wgmma_commit_group();
      ptx::wgmma_wait_group<1>();  // k-tile kt - 1's operations are done: its stage is free
      ptx::fence_accumulators(d);
      if (kt > 0) ptx::mbarrier_arrive(&empty[previous]);
      previous = stage;
      if (++stage == kStages) {
        stage = 0;
        parity ^= 1u;
      }
    }
    ptx::wgmma_wait_group<0>();
    ptx::fence_accumulators(d);
    ptx::mbarrier_arrive(done);
    ptx::mbarrier_wait(done, 0);  // both consumers are done with the stages: reuse them for staging
    const int warp = int(threadIdx.x) / 32 - 4;  // 0 .. 4 kConsumers - 1
    float* staging = reinterpret_cast<float*>(base) + warp * staging_floats<kTileN>();
    staged_epilogue<T>(acc, staging, tid % 32, KernelEpilogue<T>(bias, ep), m0 + 64 * consumer + 16 * (tid / 32), n0,
                       p, y, y_at);
  }
#else
  (void)problem, (void)x, (void)w, (void)bias, (void)y, (void)ep, (void)splits, (void)phases;
  __trap();  // the launcher picks this kernel only where the build has sm_90a code
#endif
}

template <typename T, typename Tile>
constexpr void check_staging() {
  static_assert(Tile::kConsumers * 4 * staging_floats<Tile::kTileN>() * sizeof(float) <=
                    size_t(Tile::kStages) * (Tile::kStageBytesA + Tile::kStageBytesB),
                "the epilogue's staging buffers must fit in the stages");
}

// A kernel's name: fprop_wgmma[1x1]_<M>x<N>x<K>_s<stages><type>.
template <typename T, bool kOneByOne, typename Tile>
const char* wgmma_kernel_name() {
  static const std::string name = std::string(kOneByOne ? "fprop_wgmma1x1_" : "fprop_wgmma_") +
                                  std::to_string(Tile::kTileM) + "x" + std::to_string(Tile::kTileN) + "x" +
                                  std::to_string(tile_k<T, Tile::kRowBytes>()) + "_s" + std::to_string(Tile::kStages) +
                                  "<" + TcTraits<T>::kName + ">";
  return name.c_str();
}

template <typename F>
auto with_wgmma_kernel_choice(const Conv2dFpropArgs& a, const TcLaunchShape& shape, F&& f) {
  return bool_switch(shape.one_by_one, [&](auto kOneByOne) {
    return with_wgmma_tile(shape.rows, a.p.K, shape.sms, [&](auto tile) { return f(kOneByOne, tile); });
  });
}

}  // namespace

template <typename T>
const char* fprop_wgmma_name(const Conv2dFpropArgs& a) {
  return with_wgmma_kernel_choice(a, fprop_tc_launch_shape(a), [](auto kOneByOne, auto tile) {
    return wgmma_kernel_name<T, kOneByOne, decltype(tile)>();
  });
}

template <typename T>
LaunchResult launch_fprop_wgmma(const Conv2dFpropArgs& a, cudaStream_t stream) {
  const TcLaunchShape shape = fprop_tc_launch_shape(a);
  return with_wgmma_kernel_choice(a, shape, [&](auto kOneByOne, auto tile) {
    using Tile = decltype(tile);
    check_staging<T, Tile>();
    const char* name = wgmma_kernel_name<T, kOneByOne, Tile>();
    if (a.phases.count > 0 && a.splits.count() != 1)
      return LaunchResult{"a launch takes output phases or reduction splits, not both", name};
    const int64_t blocks_m = (shape.grid_rows + Tile::kTileM - 1) / Tile::kTileM;
    const int64_t blocks_n = (a.p.K + Tile::kTileN - 1) / Tile::kTileN;
    const int64_t blocks_z = a.phases.count > 0 ? a.phases.count : a.splits.count();
    if (blocks_m > 0x7fffffff || blocks_n > 65535 || blocks_z > 65535)
      return LaunchResult{"the convolution is too large for one launch (N*P*Q / tile must be < 2^31, K / tile and "
                          "the reduction splits <= 65535)",
                          name};
    auto* kernel = fprop_wgmma_kernel<T, kOneByOne, Tile>;
    const cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(Tile::kSharedBytes));
    if (err != cudaSuccess) return LaunchResult{cudaGetErrorString(err), name};
    return launch_result(launch(kernel, dim3(unsigned(blocks_m), unsigned(blocks_n), unsigned(blocks_z)),
                                dim3(Tile::kThreads), Tile::kSharedBytes, stream, a.p, static_cast<const T*>(a.x),
                                static_cast<const T*>(a.w), static_cast<const T*>(a.bias), static_cast<T*>(a.y), a.ep,
                                a.splits, a.phases),
                         name);
  });
}

}  // namespace cuda
}  // namespace cnnops
