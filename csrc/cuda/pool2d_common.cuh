// What the pooling kernel families share. Memory-bound, they run one thread per output (forward) or
// per input element (backward), visited in the tensor's own memory order -- channels fastest for
// NHWC, columns fastest for NCHW -- so that neighbouring threads touch neighbouring addresses; element()
// decodes that order. In an anonymous namespace: each pool2d*.cu file gets its own copy.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../common/macros.h"
#include "../common/pool_params.h"

namespace cnnops {
namespace cuda {
namespace {

constexpr int kThreads = 256;
// Stated explicitly: without a minimum, ptxas squeezed the average-pooling backward to 64-80
// registers for occupancy and spilled (its 64-bit index math); with one it uses what it needs.
constexpr int kMinBlocksPerSm = 1;

// The (n, c, h, w) of the i-th element of an N x C x H x W tensor in its memory order.
struct Coord {
  int64_t n, c, h, w;
};

CNNOPS_HD_INLINE Coord element(int64_t i, int64_t C, int64_t H, int64_t W, bool channels_last) {
  Coord e;
  if (channels_last) {
    e.c = i % C;
    i /= C;
    e.w = i % W;
    i /= W;
    e.h = i % H;
    e.n = i / H;
  } else {
    e.w = i % W;
    i /= W;
    e.h = i % H;
    i /= H;
    e.c = i % C;
    e.n = i / C;
  }
  return e;
}

CNNOPS_HD_INLINE int64_t offset(const Strides4& s, const Coord& e) { return e.n * s.n + e.c * s.c + e.h * s.h + e.w * s.w; }

// Grid-stride loop over `count` elements with 64-bit indices.
#define CNNOPS_FOR_EACH(i, count)                                                             \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (count);              \
       i += int64_t(gridDim.x) * blockDim.x)

// Enough blocks to cover `count` threads, capped (grid-stride loops do the rest).
inline dim3 grid_for(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < (int64_t(1) << 20) ? (blocks > 0 ? blocks : 1) : (int64_t(1) << 20)));
}

inline bool channels_last(const Strides4& s, int64_t C) { return C > 1 && s.c == 1; }

}  // namespace
}  // namespace cuda
}  // namespace cnnops
