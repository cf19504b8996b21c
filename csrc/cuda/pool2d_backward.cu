// Pooling backward on the GPU as a gather: each input element sums, in (oh, ow) order, the gradients
// of the few windows that can contain it -- no atomics, no zero-fill launch, and the same order as the
// CPU kernels' scatter, so results are deterministic; aligned NHWC tensors gather 16-byte channel
// vectors, NCHW rows 16-byte row vectors for the forward's row-vector window shapes. Max pooling's
// windows that hold no input element get one extra pass.
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
  // output kVec + 1 starts after the last) -- the same reach limits as RowTaps' (pool2d_forward.cu).
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

#undef CNNOPS_FOR_EACH

// Max pooling's gather, then the pass for windows that hold no input element, if any.
template <typename T>
LaunchResult with_empty_windows(cudaError_t err, const Pool2dArgs& a, cudaStream_t stream, const char* name) {
  const Pool2dParams& p = a.p;
  if (err == cudaSuccess && a.kind == PoolKind::kMax && has_empty_max_windows(p)) {
#if defined(CNNOPS_SIM)
    ::cnnops::sim::detail::name_last_launched_kernel(name);  // the gather, launched by the caller
#endif
    err = launch_named("max_pool_empty_windows", max_pool_empty_windows_kernel<T>, grid_for(p.N * p.C),
                       dim3(kThreads), 0, stream, p, static_cast<const T*>(a.dy),
                       static_cast<const int64_t*>(a.indices), a.ind, static_cast<T*>(a.dx));
    return LaunchResult{err == cudaSuccess ? nullptr : cudaGetErrorString(err), name};
  }
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

}  // namespace

template <typename T>
LaunchResult launch_pool_backward_gather(const Pool2dArgs& a, cudaStream_t stream) {
  switch (a.kind) {
    case PoolKind::kMax: return gather_backward<T, 1>(a, stream, "max_pool_backward_gather");
    case PoolKind::kAdaptiveAvg: return gather_backward<T, 1>(a, stream, "adaptive_avg_pool_backward_gather");
    case PoolKind::kAvg: break;
  }
  return gather_backward<T, 1>(a, stream, "avg_pool_backward_gather");
}

template <typename T>
LaunchResult launch_pool_backward_gather_nhwc_vec(const Pool2dArgs& a, cudaStream_t stream) {
  constexpr int v = Vec16<T>::kCount;
  switch (a.kind) {
    case PoolKind::kMax: return gather_backward<T, v>(a, stream, "max_pool_backward_gather_nhwc_vec16");
    case PoolKind::kAdaptiveAvg:
      return gather_backward<T, v>(a, stream, "adaptive_avg_pool_backward_gather_nhwc_vec16");
    case PoolKind::kAvg: break;
  }
  return gather_backward<T, v>(a, stream, "avg_pool_backward_gather_nhwc_vec16");
}

template <typename T>
LaunchResult launch_pool_backward_gather_nchw_wvec(const Pool2dArgs& a, RowWindow window, cudaStream_t stream) {
  return with_row_window(
      window,
      [&](auto shape) {
        using W = decltype(shape);
        return row_gather_backward<T, W::kStride, W::kKernel, W::kPad>(a, stream);
      },
      [&] {
        return LaunchResult{"no row-vector pooling kernel for this window shape",
                            a.kind == PoolKind::kMax ? "max_pool_backward_gather_nchw_wvec16"
                                                     : "avg_pool_backward_gather_nchw_wvec16"};
      });
}

#define INSTANTIATE(T) \
  template LaunchResult launch_pool_backward_gather<T>(const Pool2dArgs&, cudaStream_t); \
  template LaunchResult launch_pool_backward_gather_nhwc_vec<T>(const Pool2dArgs&, cudaStream_t); \
  template LaunchResult launch_pool_backward_gather_nchw_wvec<T>(const Pool2dArgs&, RowWindow, cudaStream_t);
CNNOPS_FOR_EACH_ELEMENT_TYPE(INSTANTIATE)
#undef INSTANTIATE

}  // namespace cuda
}  // namespace cnnops
