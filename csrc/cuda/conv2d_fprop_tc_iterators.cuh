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

// The problem's sizes and the tap walk's offset steps in 32 bits, computed once per block, so that
// the main loop compares and adds 32-bit registers only (64-bit parameters cost a compare pair or
// an add-with-carry pair per use). fprop_tc_supports_shape checks on the host that every value
// and every tap offset fits (taps_fit_32).
struct ReductionWalk {
  int32_t C, R, S, H, W, dil_h, dil_w;
  // What the input / filter offsets change by when s moves on (c wraps) and when r moves on after
  // s wrapped.
  int32_t x_next_s, x_next_r, w_next_s, w_next_r;

  __device__ __forceinline__ explicit ReductionWalk(const Conv2dParams& p)
      : C(int32_t(p.C)), R(int32_t(p.R)), S(int32_t(p.S)), H(int32_t(p.H)), W(int32_t(p.W)),
        dil_h(int32_t(p.dil_h)), dil_w(int32_t(p.dil_w)),
        x_next_s(int32_t(p.dil_w * p.x.w - p.C)), x_next_r(int32_t(p.dil_h * p.x.h - p.S * p.dil_w * p.x.w)),
        w_next_s(int32_t(p.w.w - p.C)), w_next_r(int32_t(p.w.h - p.S * p.w.w)) {}
};

// The reduction position of one loader thread's 16-byte column, k = (r * S + s) * C + c, walked
// one k-tile at a time: the first position is decoded once, before the main loop (two 32-bit
// divisions: R*S*C < 2^31, checked on the host); every later one adds the tile depth to c and
// carries into s and r -- CUTLASS's "optimized" conv iterators in spirit, no division in the
// loop. The tap's window offsets (r * dil_h, s * dil_w) and element offsets into the input
// (r * dil_h * x.h + s * dil_w * x.w + c, from a window origin's pixel) and into a filter
// (r * w.h + s * w.w + c) move with it, all in 32 bits. kOneByOne: k is the channel itself.
template <bool kOneByOne>
struct ReductionCursor {
  int32_t c, r, s;       // r >= R (1x1: c >= C): past the reduction
  int32_t dh, dw;        // r * dil_h, s * dil_w
  int32_t x_tap, w_tap;  // element offsets of (r, s, c); unused (and compiled away) for 1x1

  // The element offsets of (r, s, c) into the input (from a window origin) and into a filter.
  __device__ __forceinline__ int32_t x_at() const { return kOneByOne ? c : x_tap; }
  __device__ __forceinline__ int32_t w_at() const { return kOneByOne ? c : w_tap; }

  __device__ __forceinline__ ReductionCursor(int32_t k, const Conv2dParams& p, const ReductionWalk& g) {
    const int32_t rs = kOneByOne ? 0 : k / g.C;
    c = k - rs * g.C;
    r = kOneByOne ? 0 : rs / g.S;
    s = rs - r * g.S;
    dh = r * g.dil_h;
    dw = s * g.dil_w;
    x_tap = int32_t(dh * p.x.h + dw * p.x.w + c);
    w_tap = int32_t(r * p.w.h + s * p.w.w + c);
  }

  __device__ __forceinline__ bool ok(const ReductionWalk& g) const { return kOneByOne ? c < g.C : r < g.R; }

  __device__ __forceinline__ void advance(int32_t step, const ReductionWalk& g) {
    c += step;
    if constexpr (!kOneByOne) {
      x_tap += step;
      w_tap += step;
      while (c >= g.C) {  // the next tap (more than once per step when C < step)
        c -= g.C;
        ++s;
        dw += g.dil_w;
        x_tap += g.x_next_s;
        w_tap += g.w_next_s;
        if (s == g.S) {
          s = 0;
          dw = 0;
          ++r;
          dh += g.dil_h;
          x_tap += g.x_next_r;
          w_tap += g.w_next_r;
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
  // window origin's pixel (outside the image where the window starts in the padding: only taps
  // inside are read), so a copy's address is one add of the cursor's offset. A row past the
  // output positions reads nothing: its h0 is H, which fails the bounds test for every tap, and
  // its 1x1 copy takes no channel (end = 0; else C).
  const T* origin_px[kPasses];
  int32_t h0[kPasses], w0[kPasses];
  int32_t end[kPasses];

  __device__ __forceinline__ ActivationIterator(int64_t m_first, const T* x, const Conv2dParams& p) {
    const int64_t NPQ = p.npq();
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int64_t m = m_first + kRowsPerPass * i;
      const bool ok = m < NPQ;
      const OutputPosition o = decode_output_position(ok ? m : 0, p);
      const WindowOrigin origin = window_origin(o, p);
      origin_px[i] = ptx::opaque(x + (o.n * p.x.n + origin.h * p.x.h + origin.w * p.x.w));
      h0[i] = ok ? int32_t(origin.h) : int32_t(p.H);
      w0[i] = int32_t(origin.w);
      end[i] = ok ? int32_t(p.C) : 0;
    }
  }

  // Copies the cursor's column of this thread's rows into rows[kRowsPerPass * i][at] (the stage's
  // tile from this thread's first row), 16 bytes each, zeros where the tap falls in the padding
  // or past the tensor: a copy of 0 source bytes reads nothing, so its address is not selected
  // away (CUTLASS's zero-fill copies do the same).
  template <typename Smem, int kPitch>
  __device__ __forceinline__ void copy(Smem (*rows)[kPitch], int at, const ReductionCursor<kOneByOne>& col,
                                       const ReductionWalk& g) const {
    const bool col_ok = col.ok(g);
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      // 1x1: c < C of a real row. Else 0 <= h < H and 0 <= w < W, each one unsigned compare
      // (h0 + dh < 2^32: both are below 2^31).
      const bool in = kOneByOne ? col.c < end[i]
                                : col_ok && uint32_t(h0[i]) + uint32_t(col.dh) < uint32_t(g.H) &&
                                      uint32_t(w0[i] + col.dw) < uint32_t(g.W);
      ptx::cp_async<16>(&rows[kRowsPerPass * i][at], origin_px[i] + col.x_at(), in ? 16 : 0);
    }
  }
};

// The B operand: filters f_first + kRowsPerPass * i (KRSC), each reading its tap (r, s),
// channels c .. c + kVec - 1.
template <typename T, bool kOneByOne, int kPasses, int kRowsPerPass>
struct FilterIterator {
  const T* filter[kPasses];  // past the last filter for rows past K: never read
  // A row reads while the cursor's position (1x1: c, else r) is below its end: C or R for a
  // filter, 0 for a row past K -- one 32-bit compare per copy.
  int32_t end[kPasses];

  __device__ __forceinline__ FilterIterator(int64_t f_first, const T* w, const Conv2dParams& p) {
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const int64_t f = f_first + kRowsPerPass * i;
      filter[i] = ptx::opaque(w + f * p.w.n);
      end[i] = f < p.K ? int32_t(kOneByOne ? p.C : p.R) : 0;
    }
  }

  template <typename Smem, int kPitch>
  __device__ __forceinline__ void copy(Smem (*rows)[kPitch], int at, const ReductionCursor<kOneByOne>& col) const {
    #pragma unroll
    for (int i = 0; i < kPasses; ++i) {
      const bool in = (kOneByOne ? col.c : col.r) < end[i];
      ptx::cp_async<16>(&rows[kRowsPerPass * i][at], filter[i] + col.w_at(), in ? 16 : 0);
    }
  }
};

}  // namespace cuda
}  // namespace cnnops
