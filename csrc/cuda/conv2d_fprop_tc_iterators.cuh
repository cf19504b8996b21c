// The tensor-core forward's global-to-shared loaders, CUTLASS's conv iterators in spirit: each
// loader thread owns one 16-byte reduction column (`vec`) of a few tile rows, kPasses rows
// kRowsPerPass apart. The row state (output positions' window origins, filters' offsets) is
// computed once per block; the reduction position (ReductionCursor) is decoded once and then
// walked a k-tile per main-loop step without division, and both iterators issue their
// cp.async copies from it, zero-filling what lies outside the tensor (padding, ragged tiles);
// the kernel only says which stage to fill.
#pragma once
#include <cstdint>

#include "../common/conv_params.h"
#include "conv_indexing.cuh"
#include "ptx.cuh"

namespace cnnops {
namespace cuda {

// The reduction position of one loader thread's 16-byte column, k = (r * S + s) * C + c, walked
// one k-tile at a time: the first position is decoded once, before the main loop (two 32-bit
// divisions: R*S*C < 2^31, checked on the host); every later one adds the tile depth to c and
// carries into s and r -- CUTLASS's "optimized" conv iterators in spirit, no division in the
// loop. The tap's window offsets (r * dil_h, s * dil_w) and element offsets into the input
// (r * dil_h * x.h + s * dil_w * x.w + c, from a window origin's pixel) and into a filter
// (r * w.h + s * w.w + c) move with it. kOneByOne: k is the channel itself.
template <bool kOneByOne>
struct ReductionCursor {
  int32_t c, r, s;     // r >= R (1x1: c >= C): past the reduction
  int32_t dh, dw;      // r * dil_h, s * dil_w
  int64_t x_tap, w_tap;  // element offsets of (r, s, c); unused (and compiled away) for 1x1

  // The element offsets of (r, s, c) into the input (from a window origin) and into a filter.
  __device__ __forceinline__ int64_t x_at() const { return kOneByOne ? c : x_tap; }
  __device__ __forceinline__ int64_t w_at() const { return kOneByOne ? c : w_tap; }

  __device__ __forceinline__ ReductionCursor(int32_t k, const Conv2dParams& p) {
    const int32_t C32 = int32_t(p.C), S32 = int32_t(p.S);
    const int32_t rs = kOneByOne ? 0 : k / C32;
    c = k - rs * C32;
    r = kOneByOne ? 0 : rs / S32;
    s = rs - r * S32;
    dh = r * int32_t(p.dil_h);
    dw = s * int32_t(p.dil_w);
    x_tap = dh * p.x.h + dw * p.x.w + c;
    w_tap = r * p.w.h + s * p.w.w + c;
  }

  __device__ __forceinline__ bool ok(const Conv2dParams& p) const { return kOneByOne ? c < p.C : r < p.R; }

  __device__ __forceinline__ void advance(int32_t step, const Conv2dParams& p) {
    c += step;
    if constexpr (!kOneByOne) {
      x_tap += step;
      w_tap += step;
      while (c >= p.C) {  // the next tap (more than once per step when C < step)
        c -= int32_t(p.C);
        ++s;
        dw += int32_t(p.dil_w);
        x_tap += p.dil_w * p.x.w - p.C;
        w_tap += p.w.w - p.C;
        if (s == p.S) {
          s = 0;
          dw = 0;
          ++r;
          dh += int32_t(p.dil_h);
          x_tap += p.dil_h * p.x.h - p.S * p.dil_w * p.x.w;
          w_tap += p.w.h - p.S * p.w.w;
        }
      }
    }
  }
};

// The A operand: output positions m_first + kRowsPerPass * i of the implicit GEMM, each reading
// the NHWC input pixel under its window's tap (r, s), channels c .. c + kVec - 1.
template <typename T, bool kOneByOne, int kPasses, int kRowsPerPass>
struct ActivationIterator {
  // Window origins fit in 32 bits (|origin| <= H + pad, W + pad). origin_px[i] points at the
  // window origin's pixel (outside the image where the window starts in the padding: only taps inside
  // are read), so a copy's address is one add of the cursor's offset.
  const T* origin_px[kPasses];
  int32_t h0[kPasses], w0[kPasses];
  bool ok[kPasses];

  __device__ __forceinline__ ActivationIterator(int64_t m_first, const T* x, const Conv2dParams& p) {
    const int64_t NPQ = p.npq();
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int64_t m = m_first + kRowsPerPass * i;
      ok[i] = m < NPQ;
      const OutputPosition o = decode_output_position(ok[i] ? m : 0, p);
      const WindowOrigin origin = window_origin(o, p);
      origin_px[i] = x + (o.n * p.x.n + origin.h * p.x.h + origin.w * p.x.w);
      h0[i] = int32_t(origin.h);
      w0[i] = int32_t(origin.w);
    }
  }

  // Copies the cursor's column of this thread's rows into rows[kRowsPerPass * i][at] (the stage's
  // tile from this thread's first row), 16 bytes each, zeros where the tap falls in the padding
  // or past the tensor: a copy of 0 source bytes reads nothing, so its address is not selected
  // away (CUTLASS's zero-fill copies do the same).
  template <typename Smem, int kPitch>
  __device__ __forceinline__ void copy(Smem (*rows)[kPitch], int at, const ReductionCursor<kOneByOne>& col,
                                       const Conv2dParams& p) const {
    const bool col_ok = col.ok(p);
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      bool in = col_ok && ok[i];
      if (!kOneByOne)  // 0 <= h < H and 0 <= w < W, each as one unsigned compare
        in = in && uint32_t(h0[i] + col.dh) < uint32_t(p.H) && uint32_t(w0[i] + col.dw) < uint32_t(p.W);
      ptx::cp_async<16>(&rows[kRowsPerPass * i][at], origin_px[i] + col.x_at(), in ? 16 : 0);
    }
  }
};

// The B operand: filters f_first + kRowsPerPass * i (KRSC), each reading its tap (r, s),
// channels c .. c + kVec - 1.
template <typename T, int kPasses, int kRowsPerPass>
struct FilterIterator {
  const T* filter[kPasses];  // past the last filter for rows past K: never read (ok[i] false)
  bool ok[kPasses];

  __device__ __forceinline__ FilterIterator(int64_t f_first, const T* w, const Conv2dParams& p) {
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int64_t f = f_first + kRowsPerPass * i;
      ok[i] = f < p.K;
      filter[i] = w + f * p.w.n;
    }
  }

  template <typename Smem, int kPitch, bool kOneByOne>
  __device__ __forceinline__ void copy(Smem (*rows)[kPitch], int at, const ReductionCursor<kOneByOne>& col,
                                       const Conv2dParams& p) const {
    const bool col_ok = col.ok(p);
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const bool in = col_ok && ok[i];
      ptx::cp_async<16>(&rows[kRowsPerPass * i][at], filter[i] + col.w_at(), in ? 16 : 0);
    }
  }
};

}  // namespace cuda
}  // namespace cnnops
