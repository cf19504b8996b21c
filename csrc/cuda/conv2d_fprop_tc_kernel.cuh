// The tensor-core forward's kernel template, its traits and its launcher, included by one .cu per
// element type (conv2d_fprop_tc_f16.cu, _bf16.cu, _tf32.cu: their builds run in parallel);
// conv2d_fprop_tc.cu holds what the three share on the host (which shapes qualify, the launch's
// shape for the tile heuristic).
//
// Convolution forward on tensor cores, fp32 accumulation: an implicit GEMM
//   Y[N*P*Q, K] = A[N*P*Q, R*S*C] * B[R*S*C, K],  A = im2col of NHWC X (never materialised),
//   B = the KRSC filters,
// for channels-last operands whose channel count fills 16-byte vectors (C % 8 == 0 for
// float16 / bfloat16, C % 4 == 0 for float32 as TF32), so that every vector of consecutive
// reduction elements (one filter tap, 8 or 4 channels) is one aligned 16-byte copy.
//
// Block tiles of M positions x N filters x one shared row of reduction, 64 or 128 bytes (32 or 64
// 16-bit elements, 16 or 32 TF32): 256 x 128 (4 x 2 warps, stages in dynamic shared memory),
// 128 x 128, 128 x 64 (2 x 2 warps, 64-byte rows), 64 x 64 (2 x 2 warps, 128-byte rows)
// (conv2d_fprop_tc_tiles.h), a 3-stage cp.async pipeline (padding taps are zero-filled by the copy
// itself). 16-bit types: fragments by ldmatrix.x4, mma.sync.m16n8k16. float32: fragments by
// 32-bit shared loads rounded with cvt.rna.tf32, mma.sync.m16n8k8.tf32 -- what torch's cuDNN
// convolutions do when TF32 is allowed. Every tile sums an output's products in the same order
// (k-slices of the mma's depth, in k order), so the tile changes speed, never bits. Shared rows
// are unpadded, with their 16-byte chunks swizzled (SwizzledRows below), so that the cp.async
// writes, the ldmatrix reads and the TF32 fragment loads are all free of bank conflicts (the
// simulator's memory counters check it:
// tests/test_sim_memory_counters.py). Each thread decodes its A rows' positions once; the filter
// tap of its reduction column is decoded once per kernel and then walked a k-tile per step
// without division, shared by those rows (the loaders: conv2d_fprop_tc_iterators.cuh). The
// epilogue stages each warp's accumulators through the idle stages and writes 16-byte vectors of
// output channels (conv2d_fprop_tc_epilogue.cuh).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "../common/conv_params.h"
#include "../common/epilogue.h"
#include "../common/static_switch.h"
#include "conv2d_fprop_kernels.cuh"
#include "conv2d_fprop_tc_epilogue.cuh"
#include "conv2d_fprop_tc_iterators.cuh"
#include "conv2d_fprop_tc_tiles.h"
#include "conv_indexing.cuh"
#include "dtypes.cuh"
#include "launch.cuh"
#include "ptx.cuh"
#include "vector_access.cuh"

namespace cnnops {
namespace cuda {

// What the launchers of every element type need to know of a launch, worked out once
// (conv2d_fprop_tc.cu): whether every problem of it is a 1x1 GEMM, all its problems' output rows
// together (what the tile heuristic counts), the largest problem's (what the grid's x extent
// covers), and the device's SM count.
struct TcLaunchShape {
  bool one_by_one;
  int64_t rows, grid_rows, sms;
};
TcLaunchShape fprop_tc_launch_shape(const Conv2dFpropArgs& a);

namespace {


// What differs between the element types: the shared-memory element, the vector width in
// elements, and the mma shape's depth. A tile's rows hold Tile::kRowBytes of reduction (its k-tile
// depth in elements follows: kTileK below).
template <typename T>
struct TcTraits {  // float16 / bfloat16
  using Smem = uint16_t;
  static constexpr int kVec = 8, kMmaK = 16;
  static constexpr const char* kName = std::is_same<T, half_t>::value ? "f16" : "bf16";
};
template <>
struct TcTraits<float> {  // float32 read as TF32
  using Smem = float;
  static constexpr int kVec = 4, kMmaK = 8;
  static constexpr const char* kName = "tf32";
};
// The reduction elements of one shared row (a k-tile) of element type T in rows of kRowBytes.
template <typename T, int kRowBytes>
constexpr int tile_k() {
  return kRowBytes / int(sizeof(typename TcTraits<T>::Smem));
}

// The shared tiles' layout, CUTLASS's XOR swizzle: row r's 16-byte chunk c (elements c * kVec ..)
// is stored at chunk c ^ ((r / L) % V) of the row, with V = kRowBytes / 16 chunks per row and
// L = 128 / kRowBytes rows per 128-byte bank line -- 64-byte rows: c ^ ((r / 2) % 4), 128-byte
// rows: c ^ (r % 8). So:
// - a cp.async quarter-warp (8 lanes: L rows x V chunks) fills one line's 8 chunk slots, one each;
// - an ldmatrix 8x8 matrix (rows r .. r + 7 at one chunk, r a multiple of 8) lands on 8 distinct
//   slots: (r % L) picks the line's part, (r / L) % V the chunk;
// - a TF32 fragment load (rows g = 0..7 x words t = 0..3 of one chunk) covers all 32 banks.
// Unpadded, the tiles are 20% smaller than with 16-byte padding (which also left 2-way conflicts
// in the cp.async writes).
template <typename T, int kRowBytes>
struct SwizzledRows {
  static_assert(kRowBytes == 64 || kRowBytes == 128, "rows of 64 or 128 bytes");
  static constexpr int kVec = TcTraits<T>::kVec, kPitch = tile_k<T, kRowBytes>();
  static constexpr int kChunks = kRowBytes / 16, kRowsPerLine = 128 / kRowBytes;
  // The element offset within its row of element k of row `row`.
  static __device__ __forceinline__ int at(int row, int k) {
    return (((k / kVec) ^ ((row / kRowsPerLine) % kChunks)) * kVec) | (k % kVec);
  }
};

// Where a lane's fragment rows lie in its warp's tiles, per k-slice: element offsets from the
// warp tile's first row (a multiple of 8, so the swizzle follows from the row within it). They
// are fixed for the kernel, computed once before the main loop, which then only adds a stage's
// base and compile-time row steps.
//   16-bit: a / b = the lane's ldmatrix row address in the A / B tile.
//   TF32:   a / b = word t / t + 4 of row g (the same for both tiles: rows g and g + 8, and the
//           filter rows j * 8 + g, share row g's swizzle).
template <typename T, int kRowBytes>
struct FragmentOffsets {
  static constexpr int kSlices = tile_k<T, kRowBytes>() / TcTraits<T>::kMmaK;
  int a[kSlices], b[kSlices];

  __device__ __forceinline__ explicit FragmentOffsets(int lane) {
    using Rows = SwizzledRows<T, kRowBytes>;
    constexpr int kPitch = Rows::kPitch;
    #pragma unroll
    for (int s = 0; s < kSlices; ++s) {
      const int kk = s * TcTraits<T>::kMmaK;
      if constexpr (std::is_same<T, float>::value) {
        const int g = lane / 4, t = lane % 4;
        a[s] = g * kPitch + Rows::at(g, kk + t);
        b[s] = g * kPitch + Rows::at(g, kk + t + 4);
      } else {
        // A: matrices 0-3 = rows 0-7 / 8-15 of a 16-row tile, at k and k + 8.
        // B: matrices 0-3 = filters 0-7 at k, k + 8, then filters 8-15 at k, k + 8.
        const int a_row = (lane % 8) + ((lane / 8) % 2) * 8, b_row = (lane / 16) * 8 + (lane % 8);
        a[s] = a_row * kPitch + Rows::at(a_row, kk + (lane / 16) * 8);
        b[s] = b_row * kPitch + Rows::at(b_row, kk + ((lane / 8) % 2) * 8);
      }
    }
  }
};

// One k-slice of a warp's tile: fragments from shared memory, then kFragsM x kFragsN mma.
template <typename T, int kRowBytes, int kFragsM, int kFragsN, typename Smem>
__device__ __forceinline__ void warp_mma_slice(float (&acc)[kFragsM][kFragsN][4], const Smem* a_tile,
                                               const Smem* b_tile, int slice,
                                               const FragmentOffsets<T, kRowBytes>& at) {
  constexpr int kPitch = SwizzledRows<T, kRowBytes>::kPitch;
  uint32_t a[kFragsM][4], b[kFragsN][2];
  if constexpr (std::is_same<T, float>::value) {
    // m16n8k8 tf32: a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4];
    // b0 = B[t][g], b1 = B[t+4][g] with B[k][n] stored as b_tile[n][k].
    const Smem* lo = a_tile + at.a[slice];
    const Smem* hi = a_tile + at.b[slice];
    #pragma unroll
    for (int i = 0; i < kFragsM; ++i) {
      const int r0 = i * 16 * kPitch, r8 = r0 + 8 * kPitch;
      a[i][0] = ptx::to_tf32(ptx::ld_shared(lo + r0)), a[i][1] = ptx::to_tf32(ptx::ld_shared(lo + r8));
      a[i][2] = ptx::to_tf32(ptx::ld_shared(hi + r0)), a[i][3] = ptx::to_tf32(ptx::ld_shared(hi + r8));
    }
    #pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
      const int col = j * 8 * kPitch;
      b[j][0] = ptx::to_tf32(ptx::ld_shared(b_tile + at.a[slice] + col));
      b[j][1] = ptx::to_tf32(ptx::ld_shared(b_tile + at.b[slice] + col));
    }
    #pragma unroll
    for (int i = 0; i < kFragsM; ++i)
      #pragma unroll
      for (int j = 0; j < kFragsN; ++j) ptx::mma_m16n8k8_tf32(acc[i][j], a[i], b[j], acc[i][j]);
  } else {
    #pragma unroll
    for (int i = 0; i < kFragsM; ++i) ptx::ldmatrix<4, false>(a[i], a_tile + at.a[slice] + i * 16 * kPitch);
    #pragma unroll
    for (int j = 0; j < kFragsN; j += 2) {
      uint32_t r[4];
      ptx::ldmatrix<4, false>(r, b_tile + at.b[slice] + j * 8 * kPitch);
      b[j][0] = r[0], b[j][1] = r[1], b[j + 1][0] = r[2], b[j + 1][1] = r[3];
    }
    #pragma unroll
    for (int i = 0; i < kFragsM; ++i)
      #pragma unroll
      for (int j = 0; j < kFragsN; ++j) {
        if constexpr (std::is_same<T, half_t>::value)
          ptx::mma_m16n8k16_f16(acc[i][j], a[i], b[j], acc[i][j]);
        else
          ptx::mma_m16n8k16_bf16(acc[i][j], a[i], b[j], acc[i][j]);
      }
  }
}

// A block's pipeline stages: the A and B tiles of every stage. Up to kStaticSharedBytes they are
// a static __shared__ variable; larger ones (the 256 x 128 tile's 72 KB) live in dynamic shared
// memory, which the launcher opts in to (cudaFuncAttributeMaxDynamicSharedMemorySize).
template <typename Smem, typename Tile, int kPitch>
struct StageTiles {
  Smem a[Tile::kStages][Tile::kTileM][kPitch];
  Smem b[Tile::kStages][Tile::kTileN][kPitch];
};
constexpr size_t kStaticSharedBytes = 48 * 1024;

template <typename T, typename Tile>
constexpr size_t dynamic_shared_bytes() {
  using Stages = StageTiles<typename TcTraits<T>::Smem, Tile, tile_k<T, Tile::kRowBytes>()>;
  return sizeof(Stages) <= kStaticSharedBytes ? 0 : sizeof(Stages);
}

// Split z of a launch (ReductionSplits): its slice of the channels and filter rows as a problem
// of its own, its operands and output moved to the slice. Taps [r0, r0 + R) of the filter are taps
// [0, R) of a window that starts r0 * dil_h rows lower: pad_top shrinks by as much.
__device__ __forceinline__ Conv2dParams split_problem(Conv2dParams p, const ReductionSplits& s, int z,
                                                      int64_t& x_at, int64_t& w_at, int64_t& y_at) {
  const int64_t c0 = (z % s.c_splits) * s.c_step, r0 = (z / s.c_splits) * s.r_step;
  p.C = min(s.c_step, p.C - c0);
  p.R = min(s.r_step, p.R - r0);
  p.pad_top -= r0 * p.dil_h;
  x_at = c0 * p.x.c;
  w_at = c0 * p.w.c + r0 * p.w.h;
  y_at = z * s.y_stride;
  return p;
}

// The problem block z of a launch solves: a phase's (OutputPhases), a split's (ReductionSplits),
// or the launch's own; x_at, w_at, y_at move the operands to it.
__device__ __forceinline__ Conv2dParams block_problem(const Conv2dParams& problem, const ReductionSplits& splits,
                                                      const OutputPhases& phases, int z, int64_t& x_at,
                                                      int64_t& w_at, int64_t& y_at) {
  if (phases.count > 0) {
    w_at = phases.phase[z].w_at;
    y_at = phases.phase[z].y_at;
    return phases.problem(problem, z);
  }
  return gridDim.z == 1 ? problem : split_problem(problem, splits, z, x_at, w_at, y_at);
}

// kOneByOne: the 1x1 bottleneck as a plain GEMM, [N*P*Q, C] x [C, K] over NHWC rows (R = S = 1,
// no padding: every position reads pixel (p * stride, q * stride), always inside the image; a
// strided convolution reads a strided view). The reduction index is the channel itself, so the
// tap walk and the bounds tests compile away. gridDim.z > 1: the launch's reduction splits or
// output phases (block_problem).
template <typename T, bool kOneByOne, typename Tile>
__global__ void __launch_bounds__(Tile::kThreads, Tile::kMinBlocksPerSm)
    fprop_tc_kernel(const Conv2dParams problem, const T* __restrict__ x, const T* __restrict__ w,
                    const T* __restrict__ bias, T* __restrict__ y, const EpilogueParams ep,
                    const ReductionSplits splits, const OutputPhases phases) {
  int64_t x_at = 0, w_at = 0, y_at = 0;
  const Conv2dParams p = block_problem(problem, splits, phases, int(blockIdx.z), x_at, w_at, y_at);
  x += x_at;
  w += w_at;
  constexpr int kTileM = Tile::kTileM, kTileN = Tile::kTileN, kStages = Tile::kStages;
  constexpr int kWarpsM = Tile::kWarpsM, kWarpM = Tile::kWarpM, kWarpN = Tile::kWarpN;
  constexpr int kFragsM = Tile::kFragsM, kFragsN = Tile::kFragsN, kVecsPerRow = Tile::kVecsPerRow;
  constexpr int kRowsPerPass = Tile::kRowsPerPass, kPassesA = Tile::kPassesA, kPassesB = Tile::kPassesB;
  using Smem = typename TcTraits<T>::Smem;
  constexpr int kRowBytes = Tile::kRowBytes;
  using Rows = SwizzledRows<T, kRowBytes>;
  constexpr int kVec = TcTraits<T>::kVec, kTileK = tile_k<T, kRowBytes>(), kPitch = Rows::kPitch;
  using Stages = StageTiles<Smem, Tile, kPitch>;
  Stages* tiles;
  if constexpr (dynamic_shared_bytes<T, Tile>() == 0) {
    alignas(16) __shared__ Stages static_tiles;
    tiles = &static_tiles;
  } else {
    extern __shared__ __align__(16) unsigned char fprop_tc_shared[];
    tiles = reinterpret_cast<Stages*>(fprop_tc_shared);
  }
  auto& as = tiles->a;
  auto& bs = tiles->b;

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int64_t RSC = p.R * p.S * p.C;
  const int64_t m0 = int64_t(blockIdx.x) * kTileM, n0 = int64_t(blockIdx.y) * kTileN;
  if (m0 >= p.npq()) return;  // a phase smaller than the launch's largest: the whole block leaves
  const int k_tiles = int((RSC + kTileK - 1) / kTileK);  // R*S*C < 2^31, checked on the host

  // Loader: reduction column `vec` (one 16-byte vector) of rows row0 + kRowsPerPass i, all with
  // row0's swizzle (kRowsPerPass is a multiple of 8).
  static_assert(kRowsPerPass % 8 == 0 && kWarpM % 8 == 0 && kWarpN % 8 == 0,
                "loader rows and warp tiles must start where the swizzle pattern does");
  const int vec = tid % kVecsPerRow, row0 = tid / kVecsPerRow;
  const int at = Rows::at(row0, vec * kVec);
  const ActivationIterator<T, kOneByOne, kPassesA, kRowsPerPass> a_loader(m0 + row0, x, p);
  const FilterIterator<T, kOneByOne, kPassesB, kRowsPerPass> b_loader(n0 + row0, w, p);
  const ReductionWalk walk(p);
  ReductionCursor<kOneByOne> column(vec * kVec, p, walk);
  // Fills `stage` with k-tile kt: called once per k-tile, in order. A 1x1's position is the
  // channel itself, computed from kt; the others walk theirs (ReductionCursor::advance).
  auto load_stage = [&](int stage, int kt) {
    if constexpr (kOneByOne) column = ReductionCursor<kOneByOne>(kt * kTileK + vec * kVec, p, walk);
    a_loader.copy(&as[stage][row0], at, column, walk);
    b_loader.copy(&bs[stage][row0], at, column);
    if constexpr (!kOneByOne) column.advance(kTileK, walk);
  };

  float acc[kFragsM][kFragsN][4];
  #pragma unroll
  for (int i = 0; i < kFragsM; ++i)
    #pragma unroll
    for (int j = 0; j < kFragsN; ++j)
      #pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  // Prologue: stages 0 .. kStages-2 in flight. One commit per step, even an empty one, keeps
  // the group count uniform so that wait<kStages-2> always means "step kt has landed".
  #pragma unroll
  for (int st = 0; st < kStages - 1; ++st) {
    if (st < k_tiles) load_stage(st, st);
    ptx::cp_async_commit();
  }

  const int wm = warp % kWarpsM, wn = warp / kWarpsM;
  const FragmentOffsets<T, kRowBytes> frag_at(lane);
  // The stage step kt reads (kt % kStages) and the one it fills (the step kStages - 1 ahead),
  // counted round instead of divided.
  int st = 0, fill = kStages - 1;
  for (int kt = 0; kt < k_tiles; ++kt) {
    ptx::cp_async_wait<kStages - 2>();
    __syncthreads();  // step kt visible to all; everyone is done reading step kt-1's stage
    if (kt + kStages - 1 < k_tiles) load_stage(fill, kt + kStages - 1);
    ptx::cp_async_commit();
    fill = fill + 1 == kStages ? 0 : fill + 1;

    #pragma unroll
    for (int slice = 0; slice < FragmentOffsets<T, kRowBytes>::kSlices; ++slice)
      warp_mma_slice<T, kRowBytes, kFragsM, kFragsN>(acc, &as[st][wm * kWarpM][0], &bs[st][wn * kWarpN][0], slice, frag_at);
    st = st + 1 == kStages ? 0 : st + 1;
  }
  // Epilogue, act(acc + bias + residual), staged through the (now idle) pipeline stages so that
  // every global access is a 16-byte vector of one output row (conv2d_fprop_tc_epilogue.cuh).
  ptx::cp_async_wait<0>();
  __syncthreads();  // every copy has landed and every warp is done reading the stages
  constexpr int kStagingFloats = staging_floats<kWarpN>();
  static_assert(Tile::kThreads / 32 * kStagingFloats * sizeof(float) <= sizeof(as),
                "the epilogue's staging buffers must fit in the A stages");
  float* staging = reinterpret_cast<float*>(&as[0][0][0]) + warp * kStagingFloats;
  staged_epilogue<T>(acc, staging, lane, KernelEpilogue<T>(bias, ep), m0 + wm * kWarpM, n0 + wn * kWarpN, p, y, y_at);
}

// A kernel's name, derived from what it is compiled with: fprop_tc[1x1]_<M>x<N>x<K>_s<stages><type>.
template <typename T, bool kOneByOne, typename Tile>
const char* kernel_name() {
  static const std::string name = std::string(kOneByOne ? "fprop_tc1x1_" : "fprop_tc_") + std::to_string(Tile::kTileM) +
                                  "x" + std::to_string(Tile::kTileN) + "x" + std::to_string(tile_k<T, Tile::kRowBytes>()) + "_s" +
                                  std::to_string(Tile::kStages) + "<" + TcTraits<T>::kName + ">";
  return name.c_str();
}

// Calls f(kOneByOne, Tile{}) with the kernel variant and tile configuration chosen for a launch:
// the 1x1 GEMM where every problem of it is one, the tile for all its output rows.
template <typename F>
auto with_kernel_choice(const Conv2dFpropArgs& a, const TcLaunchShape& shape, F&& f) {
  return bool_switch(shape.one_by_one, [&](auto kOneByOne) {
    return with_tile(shape.rows, a.p.K, shape.sms, [&](auto tile) { return f(kOneByOne, tile); });
  });
}

}  // namespace

template <typename T>
const char* fprop_tc_name(const Conv2dFpropArgs& a) {
  return with_kernel_choice(a, fprop_tc_launch_shape(a),
                            [](auto kOneByOne, auto tile) { return kernel_name<T, kOneByOne, decltype(tile)>(); });
}

template <typename T>
LaunchResult launch_fprop_tc(const Conv2dFpropArgs& a, cudaStream_t stream) {
  const TcLaunchShape shape = fprop_tc_launch_shape(a);
  return with_kernel_choice(a, shape, [&](auto kOneByOne, auto tile) {
    using Tile = decltype(tile);
    const char* name = kernel_name<T, kOneByOne, Tile>();
    if (a.phases.count > 0 && a.splits.count() != 1)
      return LaunchResult{"a launch takes output phases or reduction splits, not both", name};
    const int64_t blocks_m = (shape.grid_rows + Tile::kTileM - 1) / Tile::kTileM;
    const int64_t blocks_n = (a.p.K + Tile::kTileN - 1) / Tile::kTileN;
    const int64_t blocks_z = a.phases.count > 0 ? a.phases.count : a.splits.count();
    if (blocks_m > 0x7fffffff || blocks_n > 65535 || blocks_z > 65535)
      return LaunchResult{"the convolution is too large for one launch (N*P*Q / tile must be < 2^31, K / tile and "
                          "the reduction splits <= 65535)",
                          name};
    auto* kernel = fprop_tc_kernel<T, kOneByOne, Tile>;
    constexpr size_t shared = dynamic_shared_bytes<T, Tile>();
    if (shared > 0) {
      const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared));
      if (err != cudaSuccess) return LaunchResult{cudaGetErrorString(err), name};
    }
    return launch_result(launch(kernel, dim3(unsigned(blocks_m), unsigned(blocks_n), unsigned(blocks_z)),
                                dim3(Tile::kThreads), shared, stream, a.p, static_cast<const T*>(a.x),
                                static_cast<const T*>(a.w), static_cast<const T*>(a.bias), static_cast<T*>(a.y), a.ep,
                                a.splits, a.phases),
                         name);
  });
}

}  // namespace cuda
}  // namespace cnnops
