// The CUDA-core GEMM step shared by the SIMT convolution kernels (forward, dgrad, wgrad): 256
// threads as 16 x 16, each owning a 4 x 4 block of a 64 x 64 tile, the reduction staged through
// two [kTileK][64] shared tiles. Rows of `left` pair with the first index of the accumulators,
// rows of `right` with the second; u and v pick the thread's columns (u + 16 i, v + 16 j).
#pragma once
#include "../common/macros.h"

namespace cnnops {
namespace cuda {

constexpr int kSimtTile = 64, kSimtTileK = 16, kSimtThreads = 256;

template <typename A>
__device__ __forceinline__ void simt_tile_step(A (&acc)[4][4], const A (&left)[kSimtTileK][kSimtTile],
                                               const A (&right)[kSimtTileK][kSimtTile], int u, int v) {
  for (int kk = 0; kk < kSimtTileK; ++kk) {
    A a[4], b[4];
    for (int i = 0; i < 4; ++i) a[i] = left[kk][u + 16 * i];
    for (int j = 0; j < 4; ++j) b[j] = right[kk][v + 16 * j];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
  }
}

// Zeroes a thread's accumulators.
template <typename A>
__device__ __forceinline__ void simt_tile_clear(A (&acc)[4][4]) {
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = A(0);
}

}  // namespace cuda
}  // namespace cnnops
