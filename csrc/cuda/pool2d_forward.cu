// Pooling forward on the GPU: max (int64 indices), average and adaptive average, one thread per
// output. Where alignment allows, a thread takes 16 bytes of outputs instead: kVec channels (NHWC)
// or kVec columns of one output row (NCHW, for the common window shapes along W). Window rules are
// the shared ones of common/pool_params.h (the CPU kernels use the same), so every backend pools identically.
#include <cstdint>

#include "../common/pool_params.h"
#include "dtypes.cuh"
#include "launch.cuh"
#include "pool2d_common.cuh"
#include "pool2d_kernels.cuh"
#include "vector_access.cuh"

namespace cnnops {
namespace cuda {
namespace {

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

// NCHW with aligned rows and one of a few window shapes along W (RowWindow in pool2d_kernels.cuh: VGG's 2/2,
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

#undef CNNOPS_FOR_EACH

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

}  // namespace

template <typename T>
LaunchResult launch_pool_forward(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const bool cl = channels_last(p.y, p.C);
  if (a.kind == PoolKind::kMax)
    return launch_result(launch(max_pool_forward_kernel<T>, grid_for(p.N * p.C * p.P * p.Q), dim3(kThreads), 0,
                                stream, p, x, y, a.indices, a.ind, cl),
                         "max_pool_forward");
  const dim3 grid = grid_for(p.N * p.C * p.P * p.Q);
  if (a.kind == PoolKind::kAdaptiveAvg)
    return launch_result(launch(avg_pool_forward_kernel<T, true>, grid, dim3(kThreads), 0, stream, p, x, y, cl),
                         "adaptive_avg_pool_forward");
  return launch_result(launch(avg_pool_forward_kernel<T, false>, grid, dim3(kThreads), 0, stream, p, x, y, cl),
                       "avg_pool_forward");
}

template <typename T>
LaunchResult launch_pool_forward_nhwc_vec(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const dim3 vec_grid = grid_for(p.N * p.P * p.Q * (p.C / Vec16<T>::kCount));
  if (a.kind == PoolKind::kMax)
    return launch_result(launch(max_pool_forward_nhwc_vec_kernel<T>, vec_grid, dim3(kThreads), 0, stream, p, x, y,
                                a.indices, a.ind),
                         "max_pool_forward_nhwc_vec16");
  if (a.kind == PoolKind::kAdaptiveAvg)
    return launch_result(launch(avg_pool_forward_nhwc_vec_kernel<T, true>, vec_grid, dim3(kThreads), 0, stream, p, x, y),
                         "adaptive_avg_pool_forward_nhwc_vec16");
  return launch_result(launch(avg_pool_forward_nhwc_vec_kernel<T, false>, vec_grid, dim3(kThreads), 0, stream, p, x, y),
                       "avg_pool_forward_nhwc_vec16");
}

template <typename T>
LaunchResult launch_pool_forward_nchw_wvec(const Pool2dArgs& a, RowWindow window, cudaStream_t stream) {
  return with_row_window(
      window,
      [&](auto shape) {
        using W = decltype(shape);
        return launch_nchw_row_vectors<T, W::kStride, W::kKernel, W::kPad>(a, stream);
      },
      [&] {
        return LaunchResult{"no row-vector pooling kernel for this window shape",
                            a.kind == PoolKind::kMax ? "max_pool_forward_nchw_wvec16" : "avg_pool_forward_nchw_wvec16"};
      });
}

#define INSTANTIATE(T) \
  template LaunchResult launch_pool_forward<T>(const Pool2dArgs&, cudaStream_t); \
  template LaunchResult launch_pool_forward_nhwc_vec<T>(const Pool2dArgs&, cudaStream_t); \
  template LaunchResult launch_pool_forward_nchw_wvec<T>(const Pool2dArgs&, RowWindow, cudaStream_t);
CNNOPS_FOR_EACH_ELEMENT_TYPE(INSTANTIATE)
#undef INSTANTIATE

}  // namespace cuda
}  // namespace cnnops
