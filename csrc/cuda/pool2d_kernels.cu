// Pooling on the GPU: max (int64 indices), average and adaptive average, forward and backward.
//
// Memory-bound, so one thread per output (forward) or per input element (backward), visited in
// the tensor's own memory order -- channels fastest for NHWC, columns fastest for NCHW -- so that
// neighbouring threads touch neighbouring addresses. Where alignment allows, a forward thread
// takes 16 bytes of outputs instead: kVec channels (NHWC) or kVec columns of one output row
// (NCHW, for the common window shapes along W). Window rules are the shared ones of
// common/pool_params.h (the CPU kernels use the same), so every backend pools identically.
//
// Backward is a gather: each input element sums, in (oh, ow) order, the gradients of the few
// windows that can contain it -- no atomics, no zero-fill launch, and the same order as the CPU
// kernels' scatter, so results are deterministic; aligned NHWC tensors gather 16-byte channel
// vectors, NCHW rows 16-byte row vectors for the forward's row-vector window shapes. Global
// average pooling (one output per plane,
// as at the end of ResNet / GoogLeNet) has its own reduction kernels.
#include <cstdint>

#include "../common/pool_params.h"
#include "dtypes.cuh"
#include "launch.cuh"
#include "pool2d.h"
#include "vector_access.cuh"

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

template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    max_pool_forward_kernel(const Pool2dParams p, const T* __restrict__ x, T* __restrict__ y,
                            int64_t* __restrict__ ind, const Strides4 ind_s, const bool channels_last) {
  using A = acc_t<T>;
  CNNOPS_FOR_EACH(i, p.N * p.C * p.P * p.Q) {
    const Coord o = element(i, p.C, p.P, p.Q, channels_last);
    const MaxSpan rows = max_pool_span(o.h, p.stride_h, p.pad_h, p.kernel_h, p.dil_h, p.H);
    const MaxSpan cols = max_pool_span(o.w, p.stride_w, p.pad_w, p.kernel_w, p.dil_w, p.W);
    const T* plane = x + o.n * p.x.n + o.c * p.x.c;
    // The first maximum in (row, column) order; a NaN wins, the last one seen (as torch).
    A best = -A(INFINITY);
    int64_t where = rows.start * p.W + cols.start;
    for (int64_t h = rows.start; h < rows.end; h += p.dil_h)
      for (int64_t w = cols.start; w < cols.end; w += p.dil_w) {
        const A v = widen(plane[h * p.x.h + w * p.x.w]);
        if (v > best || v != v) {
          best = v;
          where = h * p.W + w;
        }
      }
    y[offset(p.y, o)] = from_acc<T>(best);
    if (ind != nullptr) ind[offset(ind_s, o)] = where;
  }
}

// NHWC with the channel vectors aligned: each thread pools kVec = 16 / sizeof(T) consecutive
// channels of one output position, reading every window tap as one 16-byte load and storing the
// outputs as one 16-byte store (the int64 indices as kVec stores). The same rules as the scalar
// kernels, channel by channel.
template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    max_pool_forward_nhwc_vec_kernel(const Pool2dParams p, const T* __restrict__ x, T* __restrict__ y,
                                     int64_t* __restrict__ ind, const Strides4 ind_s) {
  using A = acc_t<T>;
  constexpr int kVec = Vec16<T>::kCount;
  const int64_t groups = p.C / kVec;
  CNNOPS_FOR_EACH(i, p.N * p.P * p.Q * groups) {
    const Coord o = element(i, groups, p.P, p.Q, true);  // o.c counts channel vectors
    const int64_t c0 = o.c * kVec;
    const MaxSpan rows = max_pool_span(o.h, p.stride_h, p.pad_h, p.kernel_h, p.dil_h, p.H);
    const MaxSpan cols = max_pool_span(o.w, p.stride_w, p.pad_w, p.kernel_w, p.dil_w, p.W);
    const T* base = x + o.n * p.x.n + c0;
    A best[kVec];
    int64_t where[kVec];
    for (int v = 0; v < kVec; ++v) best[v] = -A(INFINITY), where[v] = rows.start * p.W + cols.start;
    for (int64_t h = rows.start; h < rows.end; h += p.dil_h)
      for (int64_t w = cols.start; w < cols.end; w += p.dil_w) {
        const Vec16<T> pack = *reinterpret_cast<const Vec16<T>*>(base + h * p.x.h + w * p.x.w);
        for (int v = 0; v < kVec; ++v) {
          const A val = widen(pack.v[v]);
          if (val > best[v] || val != val) best[v] = val, where[v] = h * p.W + w;
        }
      }
    Vec16<T> out;
    for (int v = 0; v < kVec; ++v) out.v[v] = from_acc<T>(best[v]);
    const Coord first{o.n, c0, o.h, o.w};
    *reinterpret_cast<Vec16<T>*>(y + offset(p.y, first)) = out;
    if (ind != nullptr) {
      int64_t* ind_out = ind + offset(ind_s, first);
      for (int v = 0; v < kVec; ++v) ind_out[v * ind_s.c] = where[v];
    }
  }
}

template <typename T, bool kAdaptive>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    avg_pool_forward_nhwc_vec_kernel(const Pool2dParams p, const T* __restrict__ x, T* __restrict__ y) {
  using A = acc_t<T>;
  constexpr int kVec = Vec16<T>::kCount;
  const int64_t groups = p.C / kVec;
  CNNOPS_FOR_EACH(i, p.N * p.P * p.Q * groups) {
    const Coord o = element(i, groups, p.P, p.Q, true);
    const int64_t c0 = o.c * kVec;
    A sum[kVec];
    for (int v = 0; v < kVec; ++v) sum[v] = A(0);
    AvgWindow win;
    const bool any = kAdaptive ? adaptive_pool_window(p, o.h, o.w, &win) : avg_pool_window(p, o.h, o.w, &win);
    if (any) {
      const T* base = x + o.n * p.x.n + c0;
      for (int64_t h = win.ih0; h < win.ih1; ++h)
        for (int64_t w = win.iw0; w < win.iw1; ++w) {
          const Vec16<T> pack = *reinterpret_cast<const Vec16<T>*>(base + h * p.x.h + w * p.x.w);
          for (int v = 0; v < kVec; ++v) sum[v] += widen(pack.v[v]);
        }
    }
    Vec16<T> out;
    for (int v = 0; v < kVec; ++v) out.v[v] = from_acc<T>(any ? sum[v] / A(win.divisor) : A(0));
    *reinterpret_cast<Vec16<T>*>(y + offset(p.y, Coord{o.n, c0, o.h, o.w})) = out;
  }
}

// NCHW with aligned rows and one of a few window shapes along W (RowWindow below: VGG's 2/2,
// ResNet's and GoogLeNet's 3/2 with and without padding, Inception's 3/1 pad 1): each thread
// pools kVec consecutive outputs of one output row, reading each window row as kStride 16-byte
// loads plus at most one column either side, and storing the outputs as one 16-byte store (or
// one by one in a row's last, partial vector). Rows follow the scalar kernels' rules (any kernel_h, stride_h, pad_h, dil_h, ceil mode), and the
// taps are visited in the same (row, column) order, so values, indices and sums are the scalar
// kernels' bit for bit. Tap indices are compile-time constants in the unrolled loops, so the
// loads stay in registers (the static SASS check finds no local memory).
//
// RowTaps: the inputs one thread's kVec windows read along one row, as column offsets r from
// the first window's unpadded start: r in [0, kStride * kVec) from the 16-byte loads, r = -1 (the
// left padding column of padded windows) and r = kStride * kVec (the last window's reach past the
// loads) as single loads. A side column or load outside the row holds `neutral` -- -inf for max,
// 0 for average -- which changes no maximum, index or sum, so it stands for the scalar kernels'
// skipped taps.
template <typename T, int kStride, int kKernel, int kPad>
struct RowTaps {
  static constexpr int kVec = Vec16<T>::kCount;
  static constexpr int kLoaded = kStride * kVec;
  static constexpr bool kLeft = kPad == 1;
  static constexpr bool kRight = kKernel - 1 - kPad == kStride;
  static_assert(kPad == 0 || kPad == 1, "one side column at most");
  static_assert(kKernel - 1 - kPad <= kStride, "the last window reaches one column past the loads at most");
  Vec16<T> packs[kStride];
  T left, right;
  // packs_inside: how many of the loads lie inside the row (fewer only in a row's last, partial
  // vector; the row length is a whole number of vectors there, so a load is all in or all out).
  CNNOPS_HD_INLINE RowTaps(const T* row, int packs_inside, bool left_inside, bool right_inside, T neutral) {
#pragma unroll
    for (int s = 0; s < kStride; ++s) {
      if (s < packs_inside) {
        packs[s] = *reinterpret_cast<const Vec16<T>*>(row + s * kVec);
      } else {
#pragma unroll
        for (int v = 0; v < kVec; ++v) packs[s].v[v] = neutral;
      }
    }
    left = kLeft && left_inside ? row[-1] : neutral;
    right = kRight && right_inside ? row[kLoaded] : neutral;
  }
  CNNOPS_HD_INLINE T tap(int r) const { return r < 0 ? left : r >= kLoaded ? right : packs[r / kVec].v[r % kVec]; }
};

// A row whose output width is not a whole number of vectors ends in a partial vector: its
// threads fill the loads past the row with `neutral` and store only the outputs that exist, one
// by one (such output rows are not 16-byte aligned: vec_store is false).
template <typename T, bool kMax, int kStride, int kKernel, int kPad>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    pool_forward_nchw_wvec_kernel(const Pool2dParams p, const T* __restrict__ x, T* __restrict__ y,
                                  int64_t* __restrict__ ind, const Strides4 ind_s, const bool vec_store) {
  using A = acc_t<T>;
  using Taps = RowTaps<T, kStride, kKernel, kPad>;
  constexpr int kVec = Vec16<T>::kCount;
  const int64_t groups = (p.Q + kVec - 1) / kVec;
  const T neutral = from_acc<T>(kMax ? -A(INFINITY) : A(0));
  CNNOPS_FOR_EACH(i, p.N * p.C * p.P * groups) {
    const Coord o = element(i, p.C, p.P, groups, false);  // o.w counts output vectors
    const int64_t ow0 = o.w * kVec;
    const int valid = p.Q - ow0 < kVec ? int(p.Q - ow0) : kVec;  // outputs that exist
    const int64_t c0 = kStride * ow0;  // the input column of tap offset r = 0
    const int64_t whole = (p.W - c0) / kVec;  // loads that fit in the row from c0 on
    const int packs_inside = whole < kStride ? int(whole) : kStride;
    const bool left_inside = c0 > 0, right_inside = c0 + Taps::kLoaded < p.W;
    const T* base = x + o.n * p.x.n + o.c * p.x.c + c0;
    A acc[kVec];
    int64_t where[kVec];
    Vec16<T> out;
    if (kMax) {
      const MaxSpan rows = max_pool_span(o.h, p.stride_h, p.pad_h, p.kernel_h, p.dil_h, p.H);
#pragma unroll
      for (int v = 0; v < kVec; ++v)
        acc[v] = -A(INFINITY), where[v] = rows.start * p.W + max_pool_span(ow0 + v, kStride, kPad, kKernel, 1, p.W).start;
      for (int64_t h = rows.start; h < rows.end; h += p.dil_h) {
        const Taps row(base + h * p.x.h, packs_inside, left_inside, right_inside, neutral);
#pragma unroll
        for (int v = 0; v < kVec; ++v)
#pragma unroll
          for (int t = 0; t < kKernel; ++t) {
            const int r = kStride * v - kPad + t;
            const A val = widen(row.tap(r));
            if (val > acc[v] || val != val) acc[v] = val, where[v] = h * p.W + c0 + r;
          }
      }
#pragma unroll
      for (int v = 0; v < kVec; ++v) out.v[v] = from_acc<T>(acc[v]);
    } else {
      const AvgSpan rows = avg_pool_span(o.h, p.stride_h, p.pad_h, p.kernel_h, p.H);
#pragma unroll
      for (int v = 0; v < kVec; ++v) acc[v] = A(0);
      for (int64_t h = rows.start; h < rows.end; ++h) {
        const Taps row(base + h * p.x.h, packs_inside, left_inside, right_inside, neutral);
#pragma unroll
        for (int v = 0; v < kVec; ++v)
#pragma unroll
          for (int t = 0; t < kKernel; ++t) acc[v] += widen(row.tap(kStride * v - kPad + t));
      }
#pragma unroll
      for (int v = 0; v < kVec; ++v) {
        AvgWindow win;
        const bool any = v < valid &&  // past a partial vector's end: no window, nothing stored
                         avg_window_from_spans(p, rows, avg_pool_span(ow0 + v, kStride, kPad, kKernel, p.W), &win);
        out.v[v] = from_acc<T>(any ? acc[v] / A(win.divisor) : A(0));
      }
    }
    if (vec_store) {
      *reinterpret_cast<Vec16<T>*>(y + o.n * p.y.n + o.c * p.y.c + o.h * p.y.h + ow0) = out;
    } else {
#pragma unroll
      for (int v = 0; v < kVec; ++v)
        if (v < valid) y[offset(p.y, Coord{o.n, o.c, o.h, ow0 + v})] = out.v[v];
    }
    if (kMax && ind != nullptr) {
#pragma unroll
      for (int v = 0; v < kVec; ++v)
        if (v < valid) ind[offset(ind_s, Coord{o.n, o.c, o.h, ow0 + v})] = where[v];
    }
  }
}

// The output indices o whose window [o * stride - pad, ... + (kernel - 1) * dil] can hold input
// coordinate `in`: lo .. hi (empty when lo > hi).
struct OutRange {
  int64_t lo, hi;
};

CNNOPS_HD_INLINE OutRange windows_holding(int64_t in, int64_t stride, int64_t pad, int64_t span, int64_t out) {
  const int64_t first = in + pad - span + 1;  // o * stride >= first
  OutRange r;
  r.lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  r.hi = (in + pad) / stride;
  if (r.hi > out - 1) r.hi = out - 1;
  return r;
}

// The backward gathers take kLanes consecutive channels of one input position per thread: 1 (any
// layout and strides), or Vec16<T>::kCount for aligned NHWC tensors, where each window costs one
// 16-byte load of grad_output (and 16-byte loads of the indices) and one window test and divisor
// serve every lane. Per channel the windows are visited in the same (oh, ow) order either way, so
// both widths give the same bits.
template <int kLanes, typename T>
CNNOPS_HD_INLINE Lanes<T, kLanes> load_lanes(const T* at) {
  return *reinterpret_cast<const Lanes<T, kLanes>*>(at);
}

// The input position (and first channel) of gather thread i.
template <int kLanes>
CNNOPS_HD_INLINE Coord gather_element(int64_t i, const Pool2dParams& p, bool channels_last) {
  Coord e = element(i, p.C / kLanes, p.H, p.W, channels_last);
  e.c *= kLanes;
  return e;
}

template <typename T, int kLanes>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    max_pool_backward_kernel(const Pool2dParams p, const T* __restrict__ dy, const int64_t* __restrict__ ind,
                             const Strides4 ind_s, T* __restrict__ dx, const bool channels_last) {
  using A = acc_t<T>;
  CNNOPS_FOR_EACH(i, p.N * (p.C / kLanes) * p.H * p.W) {
    const Coord e = gather_element<kLanes>(i, p, channels_last);
    const int64_t me = e.h * p.W + e.w;
    const OutRange rows = windows_holding(e.h, p.stride_h, p.pad_h, (p.kernel_h - 1) * p.dil_h + 1, p.P);
    const OutRange cols = windows_holding(e.w, p.stride_w, p.pad_w, (p.kernel_w - 1) * p.dil_w + 1, p.Q);
    A sum[kLanes];
#pragma unroll
    for (int v = 0; v < kLanes; ++v) sum[v] = A(0);
    for (int64_t oh = rows.lo; oh <= rows.hi; ++oh) {
      if ((e.h + p.pad_h - oh * p.stride_h) % p.dil_h != 0) continue;  // between dilated taps
      for (int64_t ow = cols.lo; ow <= cols.hi; ++ow) {
        if ((e.w + p.pad_w - ow * p.stride_w) % p.dil_w != 0) continue;
        const Coord o{e.n, e.c, oh, ow};
        const Lanes<int64_t, kLanes> at = load_lanes<kLanes>(ind + offset(ind_s, o));
        bool mine = false;
#pragma unroll
        for (int v = 0; v < kLanes; ++v) mine |= at.v[v] == me;
        if (!mine) continue;  // grad_output is read only where this position won
        const Lanes<T, kLanes> g = load_lanes<kLanes>(dy + offset(p.y, o));
#pragma unroll
        for (int v = 0; v < kLanes; ++v)
          if (at.v[v] == me) sum[v] += widen(g.v[v]);
      }
    }
    Lanes<T, kLanes> out;
#pragma unroll
    for (int v = 0; v < kLanes; ++v) out.v[v] = from_acc<T>(sum[v]);
    *reinterpret_cast<Lanes<T, kLanes>*>(dx + offset(p.x, e)) = out;
  }
}

// With dilation a window can hold no input element at all (only padding, or taps stepping over the
// input): its output is -inf and its index is where its scan would have started, which may name an
// element outside the window. torch's backward adds that gradient at the index anyway (when it is
// inside the plane); the gather above never looks there, so this pass, one thread per plane in
// output order, adds it. Launched only when such windows exist.
template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    max_pool_empty_windows_kernel(const Pool2dParams p, const T* __restrict__ dy, const int64_t* __restrict__ ind,
                                  const Strides4 ind_s, T* __restrict__ dx) {
  CNNOPS_FOR_EACH(plane, p.N * p.C) {
    const int64_t n = plane / p.C, c = plane - n * p.C;
    for (int64_t oh = 0; oh < p.P; ++oh) {
      const MaxSpan rows = max_pool_span(oh, p.stride_h, p.pad_h, p.kernel_h, p.dil_h, p.H);
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        const MaxSpan cols = max_pool_span(ow, p.stride_w, p.pad_w, p.kernel_w, p.dil_w, p.W);
        if (rows.start < rows.end && cols.start < cols.end) continue;
        const Coord o{n, c, oh, ow};
        const int64_t at = ind[offset(ind_s, o)];
        if (at < 0 || at >= p.H * p.W) continue;
        const Coord e{n, c, at / p.W, at % p.W};
        T& dst = dx[offset(p.x, e)];
        dst = from_acc<T>(widen(dst) + widen(dy[offset(p.y, o)]));
      }
    }
  }
}

bool has_empty_max_windows(const Pool2dParams& p) {
  for (int64_t o = 0; o < p.P; ++o) {
    const MaxSpan s = max_pool_span(o, p.stride_h, p.pad_h, p.kernel_h, p.dil_h, p.H);
    if (s.start >= s.end) return true;
  }
  for (int64_t o = 0; o < p.Q; ++o) {
    const MaxSpan s = max_pool_span(o, p.stride_w, p.pad_w, p.kernel_w, p.dil_w, p.W);
    if (s.start >= s.end) return true;
  }
  return false;
}

// kAdaptive: adaptive_avg_pool2d's windows, else avg_pool2d's (a template parameter: one window
// rule per kernel keeps register pressure down).
template <typename T, bool kAdaptive>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    avg_pool_forward_kernel(const Pool2dParams p, const T* __restrict__ x, T* __restrict__ y,
                            const bool channels_last) {
  using A = acc_t<T>;
  CNNOPS_FOR_EACH(i, p.N * p.C * p.P * p.Q) {
    const Coord o = element(i, p.C, p.P, p.Q, channels_last);
    AvgWindow win;
    A out = A(0);
    if (kAdaptive ? adaptive_pool_window(p, o.h, o.w, &win) : avg_pool_window(p, o.h, o.w, &win)) {
      const T* plane = x + o.n * p.x.n + o.c * p.x.c;
      A sum = A(0);
      for (int64_t h = win.ih0; h < win.ih1; ++h)
        for (int64_t w = win.iw0; w < win.iw1; ++w) sum += widen(plane[h * p.x.h + w * p.x.w]);
      out = sum / A(win.divisor);
    }
    y[offset(p.y, o)] = from_acc<T>(out);
  }
}

template <typename T, bool kAdaptive, int kLanes>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    avg_pool_backward_kernel(const Pool2dParams p, const T* __restrict__ dy, T* __restrict__ dx,
                             const bool channels_last) {
  using A = acc_t<T>;
  CNNOPS_FOR_EACH(i, p.N * (p.C / kLanes) * p.H * p.W) {
    const Coord e = gather_element<kLanes>(i, p, channels_last);
    OutRange rows, cols;
    if (kAdaptive) {  // o holds h iff floor(o H / P) <= h < ceil((o + 1) H / P)
      rows = OutRange{(e.h * p.P) / p.H, ((e.h + 1) * p.P + p.H - 1) / p.H - 1};
      cols = OutRange{(e.w * p.Q) / p.W, ((e.w + 1) * p.Q + p.W - 1) / p.W - 1};
      if (rows.hi > p.P - 1) rows.hi = p.P - 1;
      if (cols.hi > p.Q - 1) cols.hi = p.Q - 1;
    } else {
      rows = windows_holding(e.h, p.stride_h, p.pad_h, p.kernel_h, p.P);
      cols = windows_holding(e.w, p.stride_w, p.pad_w, p.kernel_w, p.Q);
    }
    A sum[kLanes];
#pragma unroll
    for (int v = 0; v < kLanes; ++v) sum[v] = A(0);
    for (int64_t oh = rows.lo; oh <= rows.hi; ++oh)
      for (int64_t ow = cols.lo; ow <= cols.hi; ++ow) {
        AvgWindow win;
        if (!(kAdaptive ? adaptive_pool_window(p, oh, ow, &win) : avg_pool_window(p, oh, ow, &win))) continue;
        if (e.h < win.ih0 || e.h >= win.ih1 || e.w < win.iw0 || e.w >= win.iw1) continue;
        const Lanes<T, kLanes> g = load_lanes<kLanes>(dy + offset(p.y, Coord{e.n, e.c, oh, ow}));
#pragma unroll
        for (int v = 0; v < kLanes; ++v) sum[v] += widen(g.v[v]) / A(win.divisor);
      }
    Lanes<T, kLanes> out;
#pragma unroll
    for (int v = 0; v < kLanes; ++v) out.v[v] = from_acc<T>(sum[v]);
    *reinterpret_cast<Lanes<T, kLanes>*>(dx + offset(p.x, e)) = out;
  }
}

// NCHW backward for the forward row-vector window shapes, when the windows tile the rows
// (stride * Q == W): each thread gathers the kStride * kVec input columns of one input row that
// start the windows of kVec consecutive outputs ow0 .. ow0 + kVec - 1, and stores them as kStride
// 16-byte stores. Per window row it reads those outputs' gradients (and indices) as 16-byte
// loads, plus output ow0 - 1 where overlapping windows reach back into the first column and
// output ow0 + kVec where padded windows reach the last. Which outputs hold which column is a
// compile-time fact of the window shape (Holds), so the unrolled loops keep everything in
// registers; per column the outputs are visited in the scalar gathers' (oh, ow) order, so the
// sums are theirs bit for bit.
template <int kStride, int kKernel, int kPad>
struct Holds {
  // Output u (relative to ow0) holds input column r (relative to kStride * ow0).
  CNNOPS_HD static constexpr bool at(int u, int r) {
    return kStride * u - kPad <= r && r <= kStride * u - kPad + kKernel - 1;
  }
  static constexpr bool kLeft = kKernel - 1 - kPad - kStride >= 0;  // output -1 reaches column 0
  static constexpr bool kRight = kPad >= 1;                         // output kVec reaches the last column
  // Only the outputs -1 .. kVec can hold a column of the group (output -2 ends before column 0,
  // output kVec + 1 starts after the last) -- the same reach limits as RowTaps'.
  static_assert(kPad == 0 || kPad == 1, "one neighbouring output on the right at most");
  static_assert(kKernel - 1 - kPad <= kStride, "one neighbouring output on the left at most");
};

// kVec values of one output row from ow0 on, and the ones either side where needed (else `fill`).
template <typename V, int kVec>
struct OutputRow {
  Lanes<V, kVec> mid;
  V left, right;
  CNNOPS_HD_INLINE OutputRow(const V* row, bool has_left, bool has_right, V fill)
      : mid(load_lanes<kVec>(row)), left(has_left ? row[-1] : fill), right(has_right ? row[kVec] : fill) {}
  CNNOPS_HD_INLINE V at(int u) const { return u < 0 ? left : u >= kVec ? right : mid.v[u]; }
};

template <typename T, bool kMax, int kStride, int kKernel, int kPad>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    pool_backward_nchw_wvec_kernel(const Pool2dParams p, const T* __restrict__ dy, const int64_t* __restrict__ ind,
                                   const Strides4 ind_s, T* __restrict__ dx) {
  using A = acc_t<T>;
  using H = Holds<kStride, kKernel, kPad>;
  constexpr int kVec = Vec16<T>::kCount;
  constexpr int kCols = kStride * kVec;
  const int64_t groups = p.Q / kVec;
  CNNOPS_FOR_EACH(i, p.N * p.C * p.H * groups) {
    const Coord e = element(i, p.C, p.H, groups, false);  // e.w counts output vectors
    const int64_t ow0 = e.w * kVec, c0 = kStride * ow0;
    const bool has_left = H::kLeft && ow0 > 0, has_right = H::kRight && ow0 + kVec < p.Q;
    const OutRange rows = windows_holding(e.h, p.stride_h, p.pad_h, kMax ? (p.kernel_h - 1) * p.dil_h + 1 : p.kernel_h, p.P);
    A sum[kCols];
#pragma unroll
    for (int r = 0; r < kCols; ++r) sum[r] = A(0);
    for (int64_t oh = rows.lo; oh <= rows.hi; ++oh) {
      if (kMax && (e.h + p.pad_h - oh * p.stride_h) % p.dil_h != 0) continue;  // between dilated taps
      const OutputRow<T, kVec> g(dy + e.n * p.y.n + e.c * p.y.c + oh * p.y.h + ow0, has_left, has_right, T());
      if (kMax) {
        const int64_t me = e.h * p.W + c0;  // the index of column r is me + r
        const OutputRow<int64_t, kVec> at(ind + e.n * ind_s.n + e.c * ind_s.c + oh * ind_s.h + ow0, has_left, has_right,
                                          int64_t(-1));
#pragma unroll
        for (int r = 0; r < kCols; ++r)
#pragma unroll
          for (int u = -1; u <= kVec; ++u)
            if (H::at(u, r) && at.at(u) == me + r) sum[r] += widen(g.at(u));
      } else {
        // Every window counted here holds this row and column (rows from windows_holding, columns
        // from Holds): the scalar gather's containment test always passes, only the divisor is needed.
        const AvgSpan row_span = avg_pool_span(oh, p.stride_h, p.pad_h, p.kernel_h, p.H);
#pragma unroll
        for (int u = -1; u <= kVec; ++u) {
          if ((u < 0 && !has_left) || (u == kVec && !has_right)) continue;
          AvgWindow win;
          if (!avg_window_from_spans(p, row_span, avg_pool_span(ow0 + u, kStride, kPad, kKernel, p.W), &win)) continue;
          const A grad = widen(g.at(u));
#pragma unroll
          for (int r = 0; r < kCols; ++r)
            if (H::at(u, r)) sum[r] += grad / A(win.divisor);
        }
      }
    }
    T* out = dx + e.n * p.x.n + e.c * p.x.c + e.h * p.x.h + c0;
#pragma unroll
    for (int s = 0; s < kStride; ++s) {
      Vec16<T> pack;
#pragma unroll
      for (int v = 0; v < kVec; ++v) pack.v[v] = from_acc<T>(sum[s * kVec + v]);
      *reinterpret_cast<Vec16<T>*>(out + s * kVec) = pack;
    }
  }
}

// Global average pooling, NCHW: one warp per (n, c) plane, lanes over the plane, then a fixed
// butterfly of shuffles.
template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    global_avg_pool_planes_kernel(const Pool2dParams p, const T* __restrict__ x, T* __restrict__ y) {
  using A = acc_t<T>;
  const int64_t plane = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const bool ok = plane < p.N * p.C;  // the whole warp takes the same branch
  if (!ok) return;
  const int64_t n = plane / p.C, c = plane - n * p.C, HW = p.H * p.W;
  const T* xp = x + n * p.x.n + c * p.x.c;
  A sum = A(0);
  for (int64_t i = lane; i < HW; i += 32) sum += widen(xp[(i / p.W) * p.x.h + (i % p.W) * p.x.w]);
  for (int delta = 16; delta > 0; delta /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, delta);
  if (lane == 0) y[n * p.y.n + c * p.y.c] = from_acc<T>(sum / A(HW));
}

// Global average pooling, NHWC: one thread per (n, c), consecutive threads on consecutive
// channels of each pixel.
template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    global_avg_pool_channels_kernel(const Pool2dParams p, const T* __restrict__ x, T* __restrict__ y) {
  using A = acc_t<T>;
  CNNOPS_FOR_EACH(i, p.N * p.C) {
    const int64_t n = i / p.C, c = i - n * p.C;
    const T* xp = x + n * p.x.n + c * p.x.c;
    A sum = A(0);
    for (int64_t h = 0; h < p.H; ++h)
      for (int64_t w = 0; w < p.W; ++w) sum += widen(xp[h * p.x.h + w * p.x.w]);
    y[n * p.y.n + c * p.y.c] = from_acc<T>(sum / A(p.H * p.W));
  }
}

#undef CNNOPS_FOR_EACH

// Enough blocks to cover `count` threads, capped (grid-stride loops do the rest).
dim3 grid_for(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < (int64_t(1) << 20) ? (blocks > 0 ? blocks : 1) : (int64_t(1) << 20)));
}

bool channels_last(const Strides4& s, int64_t C) { return C > 1 && s.c == 1; }

// Whether the 16-byte channel-vector kernels can read x and write y (and the indices) as they are.
template <typename T>
bool nhwc_vectors(const Pool2dArgs& a) {
  constexpr int v = Vec16<T>::kCount;
  const Pool2dParams& p = a.p;
  return p.C % v == 0 && vector_ok(p.x, a.x, v, VectorAxis::kChannels) && vector_ok(p.y, a.y, v, VectorAxis::kChannels) &&
         (a.kind != PoolKind::kMax || a.indices == nullptr || a.ind.c == 1);
}

// The window shapes along W that the NCHW row-vector kernel is built for, as (stride, kernel,
// pad): VGG's 2x2/2, ResNet's stem 3x3/2 pad 1, GoogLeNet's ceil-mode 3x3/2, Inception's branch
// 3x3/1 pad 1.
enum class RowWindow { kNone, k2s2p0, k3s2p1, k3s2p0, k3s1p1 };

// Which row-vector kernel applies: one of those shapes, undilated along W, on 16-byte aligned
// input rows whose loads stay inside the row -- a whole number of vectors per row (a row's last
// output vector may then be partial), or all loads before the row's end (stride * Q <= W with
// whole output vectors). The backward also needs windows that tile the rows (stride * Q == W:
// every input column is gathered), whole output vectors on aligned grad_output rows and, for max
// pooling, index rows of whole aligned vectors.
template <typename T>
RowWindow nchw_row_window(const Pool2dArgs& a, bool backward) {
  constexpr int v = Vec16<T>::kCount;
  const Pool2dParams& p = a.p;
  if (a.kind == PoolKind::kAdaptiveAvg || p.dil_w != 1 || !vector_ok(p.x, backward ? a.dx : a.x, v, VectorAxis::kWidth))
    return RowWindow::kNone;
  if (!backward && !(p.W % v == 0 || (p.stride_w * p.Q <= p.W && p.Q % v == 0))) return RowWindow::kNone;
  if (backward && !(p.stride_w * p.Q == p.W && p.Q % v == 0 && vector_ok(p.y, a.dy, v, VectorAxis::kWidth) &&
                    (a.kind != PoolKind::kMax || vector_ok(a.ind, a.indices, v, VectorAxis::kWidth, 8 * v))))
    return RowWindow::kNone;
  const int64_t s = p.stride_w, k = p.kernel_w, pad = p.pad_w;
  if (s == 2 && k == 2 && pad == 0) return RowWindow::k2s2p0;
  if (s == 2 && k == 3 && pad == 1) return RowWindow::k3s2p1;
  if (s == 2 && k == 3 && pad == 0) return RowWindow::k3s2p0;
  if (s == 1 && k == 3 && pad == 1) return RowWindow::k3s1p1;
  return RowWindow::kNone;
}

template <typename T, int kStride, int kKernel, int kPad>
LaunchResult launch_nchw_row_vectors(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  constexpr int v = Vec16<T>::kCount;
  const dim3 grid = grid_for(p.N * p.C * p.P * ((p.Q + v - 1) / v));
  // Whole output vectors on 16-byte aligned rows: one store each.
  const bool vec_store = p.Q % v == 0 && vector_ok(p.y, a.y, v, VectorAxis::kWidth);
  if (a.kind == PoolKind::kMax)
    return launch_result(launch(pool_forward_nchw_wvec_kernel<T, true, kStride, kKernel, kPad>, grid, dim3(kThreads), 0,
                                stream, p, x, y, a.indices, a.ind, vec_store),
                         "max_pool_forward_nchw_wvec16");
  return launch_result(launch(pool_forward_nchw_wvec_kernel<T, false, kStride, kKernel, kPad>, grid, dim3(kThreads), 0,
                              stream, p, x, y, static_cast<int64_t*>(nullptr), Strides4{}, vec_store),
                       "avg_pool_forward_nchw_wvec16");
}

template <typename T>
LaunchResult forward(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const bool cl = channels_last(p.y, p.C);
  const bool vec = nhwc_vectors<T>(a) && !(a.kind == PoolKind::kAdaptiveAvg && p.P == 1 && p.Q == 1);
  const dim3 vec_grid = grid_for(p.N * p.P * p.Q * (p.C / Vec16<T>::kCount));
  if (!vec) switch (nchw_row_window<T>(a, false)) {
      case RowWindow::k2s2p0: return launch_nchw_row_vectors<T, 2, 2, 0>(a, stream);
      case RowWindow::k3s2p1: return launch_nchw_row_vectors<T, 2, 3, 1>(a, stream);
      case RowWindow::k3s2p0: return launch_nchw_row_vectors<T, 2, 3, 0>(a, stream);
      case RowWindow::k3s1p1: return launch_nchw_row_vectors<T, 1, 3, 1>(a, stream);
      case RowWindow::kNone: break;
    }
  if (a.kind == PoolKind::kMax) {
    if (vec)
      return launch_result(launch(max_pool_forward_nhwc_vec_kernel<T>, vec_grid, dim3(kThreads), 0, stream, p, x, y,
                                  a.indices, a.ind),
                           "max_pool_forward_nhwc_vec16");
    return launch_result(launch(max_pool_forward_kernel<T>, grid_for(p.N * p.C * p.P * p.Q), dim3(kThreads), 0,
                                stream, p, x, y, a.indices, a.ind, cl),
                         "max_pool_forward");
  }
  if (vec && a.kind == PoolKind::kAdaptiveAvg)
    return launch_result(launch(avg_pool_forward_nhwc_vec_kernel<T, true>, vec_grid, dim3(kThreads), 0, stream, p, x, y),
                         "adaptive_avg_pool_forward_nhwc_vec16");
  if (vec)
    return launch_result(launch(avg_pool_forward_nhwc_vec_kernel<T, false>, vec_grid, dim3(kThreads), 0, stream, p, x, y),
                         "avg_pool_forward_nhwc_vec16");
  if (a.kind == PoolKind::kAdaptiveAvg && p.P == 1 && p.Q == 1) {
    if (channels_last(p.x, p.C))
      return launch_result(launch(global_avg_pool_channels_kernel<T>, grid_for(p.N * p.C), dim3(kThreads), 0, stream,
                                  p, x, y),
                           "global_avg_pool_channels");
    return launch_result(launch(global_avg_pool_planes_kernel<T>, grid_for(p.N * p.C * 32), dim3(kThreads), 0, stream,
                                p, x, y),
                         "global_avg_pool_planes");
  }
  const dim3 grid = grid_for(p.N * p.C * p.P * p.Q);
  if (a.kind == PoolKind::kAdaptiveAvg)
    return launch_result(launch(avg_pool_forward_kernel<T, true>, grid, dim3(kThreads), 0, stream, p, x, y, cl),
                         "adaptive_avg_pool_forward");
  return launch_result(launch(avg_pool_forward_kernel<T, false>, grid, dim3(kThreads), 0, stream, p, x, y, cl),
                       "avg_pool_forward");
}

// Whether the backward gathers can take channel vectors: grad_output, grad_input (and the
// indices) channels-last with whole, aligned vectors.
template <typename T>
bool nhwc_gather_vectors(const Pool2dArgs& a) {
  constexpr int v = Vec16<T>::kCount;
  const Pool2dParams& p = a.p;
  return p.C % v == 0 && vector_ok(p.x, a.dx, v, VectorAxis::kChannels) &&
         vector_ok(p.y, a.dy, v, VectorAxis::kChannels) &&
         (a.kind != PoolKind::kMax || vector_ok(a.ind, a.indices, v, VectorAxis::kChannels, 8 * v));
}

// Max pooling's gather, then the pass for windows that hold no input element, if any.
template <typename T>
LaunchResult with_empty_windows(cudaError_t err, const Pool2dArgs& a, cudaStream_t stream, const char* name) {
  const Pool2dParams& p = a.p;
  if (err == cudaSuccess && a.kind == PoolKind::kMax && has_empty_max_windows(p))
    err = launch(max_pool_empty_windows_kernel<T>, grid_for(p.N * p.C), dim3(kThreads), 0, stream, p,
                 static_cast<const T*>(a.dy), static_cast<const int64_t*>(a.indices), a.ind, static_cast<T*>(a.dx));
  return launch_result(err, name);
}

template <typename T, int kLanes>
LaunchResult gather_backward(const Pool2dArgs& a, cudaStream_t stream, const char* name) {
  const Pool2dParams& p = a.p;
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  const bool cl = kLanes > 1 || channels_last(p.x, p.C);
  const dim3 grid = grid_for(p.N * (p.C / kLanes) * p.H * p.W);
  if (a.kind == PoolKind::kMax)
    return with_empty_windows<T>(
        launch(max_pool_backward_kernel<T, kLanes>, grid, dim3(kThreads), 0, stream, p, dy, a.indices, a.ind, dx, cl), a,
        stream, name);
  if (a.kind == PoolKind::kAdaptiveAvg)
    return launch_result(launch(avg_pool_backward_kernel<T, true, kLanes>, grid, dim3(kThreads), 0, stream, p, dy, dx, cl),
                         name);
  return launch_result(launch(avg_pool_backward_kernel<T, false, kLanes>, grid, dim3(kThreads), 0, stream, p, dy, dx, cl),
                       name);
}

template <typename T, int kStride, int kKernel, int kPad>
LaunchResult row_gather_backward(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  const dim3 grid = grid_for(p.N * p.C * p.H * (p.Q / Vec16<T>::kCount));
  if (a.kind == PoolKind::kMax)
    return with_empty_windows<T>(launch(pool_backward_nchw_wvec_kernel<T, true, kStride, kKernel, kPad>, grid,
                                        dim3(kThreads), 0, stream, p, dy, a.indices, a.ind, dx),
                                 a, stream, "max_pool_backward_gather_nchw_wvec16");
  return launch_result(launch(pool_backward_nchw_wvec_kernel<T, false, kStride, kKernel, kPad>, grid, dim3(kThreads), 0,
                              stream, p, dy, static_cast<const int64_t*>(nullptr), Strides4{}, dx),
                       "avg_pool_backward_gather_nchw_wvec16");
}

template <typename T>
LaunchResult backward(const Pool2dArgs& a, cudaStream_t stream) {
  const bool vec = nhwc_gather_vectors<T>(a);
  if (!vec) switch (nchw_row_window<T>(a, true)) {
      case RowWindow::k2s2p0: return row_gather_backward<T, 2, 2, 0>(a, stream);
      case RowWindow::k3s2p1: return row_gather_backward<T, 2, 3, 1>(a, stream);
      case RowWindow::k3s2p0: return row_gather_backward<T, 2, 3, 0>(a, stream);
      case RowWindow::k3s1p1: return row_gather_backward<T, 1, 3, 1>(a, stream);
      case RowWindow::kNone: break;
    }
  switch (a.kind) {
    case PoolKind::kMax:
      return vec ? gather_backward<T, Vec16<T>::kCount>(a, stream, "max_pool_backward_gather_nhwc_vec16")
                 : gather_backward<T, 1>(a, stream, "max_pool_backward_gather");
    case PoolKind::kAdaptiveAvg:
      return vec ? gather_backward<T, Vec16<T>::kCount>(a, stream, "adaptive_avg_pool_backward_gather_nhwc_vec16")
                 : gather_backward<T, 1>(a, stream, "adaptive_avg_pool_backward_gather");
    case PoolKind::kAvg: break;
  }
  return vec ? gather_backward<T, Vec16<T>::kCount>(a, stream, "avg_pool_backward_gather_nhwc_vec16")
             : gather_backward<T, 1>(a, stream, "avg_pool_backward_gather");
}

}  // namespace

LaunchResult pool2d_forward(const Pool2dArgs& args, void* stream) {
  return with_element_type(args.dtype, [&](auto type) {
    return forward<typename decltype(type)::type>(args, static_cast<cudaStream_t>(stream));
  });
}

LaunchResult pool2d_backward(const Pool2dArgs& args, void* stream) {
  return with_element_type(args.dtype, [&](auto type) {
    return backward<typename decltype(type)::type>(args, static_cast<cudaStream_t>(stream));
  });
}

}  // namespace cuda
}  // namespace cnnops
