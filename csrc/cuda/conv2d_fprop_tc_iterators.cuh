// The tensor-core forward's global-to-shared loaders, CUTLASS's conv iterators in spirit: each
// loader thread owns one 16-byte reduction column (`vec`) of a few tile rows, kPasses rows
// kRowsPerPass apart. The row state (output positions' window origins, filters' offsets) is
// computed once per block; every main-loop step decodes its reduction column once
// (ReductionColumn) and both iterators issue their cp.async copies from it, zero-filling what
// lies outside the tensor (padding, ragged tiles). This is where precomputed tap deltas and
// masks will go when the main loop gets faster; the kernel only says which stage to fill.
#pragma once
#include <cstdint>

#include "../common/conv_params.h"
#include "conv_indexing.cuh"
#include "ptx.cuh"

namespace cnnops {
namespace cuda {

// Reduction index k = (r * S + s) * C + c of one 16-byte vector: consecutive k share the tap.
struct ReductionColumn {
  bool ok;  // k < R*S*C
  int64_t c, r, s;
};

// kOneByOne: R = S = 1, so k is the channel and no division is needed. Otherwise 32-bit
// divisions (R*S*C < 2^31, checked on the host): a 64-bit one is a long subroutine on a GPU.
template <bool kOneByOne>
__device__ __forceinline__ ReductionColumn decode_reduction_column(int64_t k, int64_t RSC, const Conv2dParams& p) {
  ReductionColumn col;
  col.ok = k < RSC;
  const int32_t k32 = int32_t(k), C32 = int32_t(p.C), S32 = int32_t(p.S);
  const int32_t rs = kOneByOne || !col.ok ? 0 : k32 / C32;
  col.c = kOneByOne ? k : (col.ok ? k32 - rs * C32 : 0);
  col.r = kOneByOne ? 0 : rs / S32;
  col.s = kOneByOne ? 0 : rs - int32_t(col.r) * S32;
  return col;
}

// The A operand: output positions m_first + kRowsPerPass * i of the implicit GEMM, each reading
// the NHWC input pixel under its window's tap (r, s), channels c .. c + kVec - 1.
template <typename T, bool kOneByOne, int kPasses, int kRowsPerPass>
struct ActivationIterator {
  // Window origins fit in 32 bits (|origin| <= H + pad, W + pad); offsets stay 64-bit.
  int64_t base[kPasses];
  int32_t h0[kPasses], w0[kPasses];
  bool ok[kPasses];

  __device__ __forceinline__ ActivationIterator(int64_t m_first, const Conv2dParams& p) {
    const int64_t NPQ = p.npq();
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int64_t m = m_first + kRowsPerPass * i;
      ok[i] = m < NPQ;
      const OutputPosition o = decode_output_position(ok[i] ? m : 0, p);
      const WindowOrigin origin = window_origin(o, p);
      base[i] = o.n * p.x.n;
      // a 1x1 GEMM's pixel is fixed: its offset is folded in once (always inside the image)
      if (kOneByOne) base[i] += origin.h * p.x.h + origin.w * p.x.w;
      h0[i] = int32_t(origin.h);
      w0[i] = int32_t(origin.w);
    }
  }

  // Copies column `col` of this thread's rows into rows[kRowsPerPass * i][at] (the stage's tile
  // from this thread's first row), 16 bytes each, zeros where the tap falls in the padding.
  template <typename Smem, int kPitch>
  __device__ __forceinline__ void copy(Smem (*rows)[kPitch], int at, const ReductionColumn& col, const T* x,
                                       const Conv2dParams& p) const {
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      bool in = col.ok && ok[i];
      const T* src = x + base[i] + col.c;
      if (!kOneByOne) {
        const int64_t h = h0[i] + col.r * p.dil_h, wc = w0[i] + col.s * p.dil_w;
        in = in && h >= 0 && h < p.H && wc >= 0 && wc < p.W;
        src += h * p.x.h + wc * p.x.w;
      }
      ptx::cp_async<16>(&rows[kRowsPerPass * i][at], in ? src : x, in ? 16 : 0);
    }
  }
};

// The B operand: filters f_first + kRowsPerPass * i (KRSC), each reading its tap (r, s),
// channels c .. c + kVec - 1.
template <typename T, int kPasses, int kRowsPerPass>
struct FilterIterator {
  int64_t base[kPasses];
  bool ok[kPasses];

  __device__ __forceinline__ FilterIterator(int64_t f_first, const Conv2dParams& p) {
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int64_t f = f_first + kRowsPerPass * i;
      ok[i] = f < p.K;
      base[i] = (ok[i] ? f : 0) * p.w.n;
    }
  }

  template <typename Smem, int kPitch>
  __device__ __forceinline__ void copy(Smem (*rows)[kPitch], int at, const ReductionColumn& col, const T* w,
                                       const Conv2dParams& p) const {
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const bool in = col.ok && ok[i];
      const T* src = in ? w + base[i] + col.r * p.w.h + col.s * p.w.w + col.c : w;
      ptx::cp_async<16>(&rows[kRowsPerPass * i][at], src, in ? 16 : 0);
    }
  }
};

}  // namespace cuda
}  // namespace cnnops
