// Pooling on the GPU (max with int64 indices, average, adaptive average; forward and backward): the one
// place that chooses the kernel family for a shape, layout and alignment -- 16-byte NHWC channel vectors,
// 16-byte NCHW row vectors, the global-average reductions or the scalar kernels. The family files
// (pool2d_kernels.cuh) launch what they are told.
#include <cstdint>

#include "../common/pool_params.h"
#include "dtypes.cuh"
#include "pool2d_common.cuh"
#include "pool2d_kernels.cuh"
#include "vector_access.cuh"

namespace cnnops {
namespace cuda {
namespace {

// Whether the 16-byte channel-vector kernels can read x and write y (and the indices) as they are.
template <typename T>
bool nhwc_vectors(const Pool2dArgs& a) {
  constexpr int v = Vec16<T>::kCount;
  const Pool2dParams& p = a.p;
  return p.C % v == 0 && vector_ok(p.x, a.x, v, VectorAxis::kChannels) && vector_ok(p.y, a.y, v, VectorAxis::kChannels) &&
         (a.kind != PoolKind::kMax || a.indices == nullptr || a.ind.c == 1);
}

// Which row-vector kernel applies: one of the RowWindow shapes (pool2d_kernels.cuh), undilated along
// W, on 16-byte aligned input rows whose loads stay inside the row -- a whole number of vectors per
// row (a row's last output vector may then be partial), or all loads before the row's end (stride *
// Q <= W with whole output vectors). The backward also needs windows that tile the rows (stride * Q
// == W: every input column is gathered), whole output vectors on aligned grad_output rows and, for
// max pooling, index rows of whole aligned vectors.
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

template <typename T>
LaunchResult forward(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const bool vec = nhwc_vectors<T>(a) && !(a.kind == PoolKind::kAdaptiveAvg && p.P == 1 && p.Q == 1);
  if (vec) return launch_pool_forward_nhwc_vec<T>(a, stream);
  const RowWindow window = nchw_row_window<T>(a, false);
  if (window != RowWindow::kNone) return launch_pool_forward_nchw_wvec<T>(a, window, stream);
  if (a.kind == PoolKind::kAdaptiveAvg && p.P == 1 && p.Q == 1) {
    if (channels_last(p.x, p.C)) return launch_global_avg_pool_channels<T>(a, stream);
    return launch_global_avg_pool_planes<T>(a, stream);
  }
  return launch_pool_forward<T>(a, stream);
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

template <typename T>
LaunchResult backward(const Pool2dArgs& a, cudaStream_t stream) {
  if (nhwc_gather_vectors<T>(a)) return launch_pool_backward_gather_nhwc_vec<T>(a, stream);
  const RowWindow window = nchw_row_window<T>(a, true);
  if (window != RowWindow::kNone) return launch_pool_backward_gather_nchw_wvec<T>(a, window, stream);
  return launch_pool_backward_gather<T>(a, stream);
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
