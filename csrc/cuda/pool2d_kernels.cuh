// The pooling kernel families and their launchers, one .cu each (so they compile in parallel);
// pool2d.cu picks one per shape, layout and alignment. Every launcher takes the torch-free
// Pool2dArgs, launches the kernel of its family for a.kind (max, average, adaptive average) and
// returns what it ran. Instantiated for float, double, half_t and bf16_t.
#pragma once
#include <cuda_runtime.h>

#include "pool2d.h"

namespace cnnops {
namespace cuda {

// The window shapes along W that the NCHW row-vector kernels are built for, as (stride, kernel,
// pad): VGG's 2x2/2, ResNet's stem 3x3/2 pad 1, GoogLeNet's ceil-mode 3x3/2, Inception's branch
// 3x3/1 pad 1.
enum class RowWindow { kNone, k2s2p0, k3s2p1, k3s2p0, k3s1p1 };

template <int kStride_, int kKernel_, int kPad_>
struct RowShape {
  static constexpr int kStride = kStride_, kKernel = kKernel_, kPad = kPad_;
};

// Calls f(RowShape<stride, kernel, pad>{}) for a window shape -- the one map from RowWindow to
// the compile-time shape the row kernels are instantiated for -- or none() for kNone.
template <typename F, typename G>
auto with_row_window(RowWindow window, F&& f, G&& none) -> decltype(none()) {
  switch (window) {
    case RowWindow::k2s2p0: return f(RowShape<2, 2, 0>{});
    case RowWindow::k3s2p1: return f(RowShape<2, 3, 1>{});
    case RowWindow::k3s2p0: return f(RowShape<2, 3, 0>{});
    case RowWindow::k3s1p1: return f(RowShape<1, 3, 1>{});
    case RowWindow::kNone: break;
  }
  return none();
}

// pool2d_forward.cu, the window kernels.
// One thread per output, any layout and strides: the fallback of the vector paths.
template <typename T>
LaunchResult launch_pool_forward(const Pool2dArgs& a, cudaStream_t stream);
// NHWC whose x, y (and indices) take aligned 16-byte channel vectors: kVec channels of one output per thread.
template <typename T>
LaunchResult launch_pool_forward_nhwc_vec(const Pool2dArgs& a, cudaStream_t stream);
// NCHW on aligned rows, window one of the RowWindow shapes (not kNone): kVec outputs of one row per thread.
template <typename T>
LaunchResult launch_pool_forward_nchw_wvec(const Pool2dArgs& a, RowWindow window, cudaStream_t stream);

// pool2d_backward.cu, the gathers (max pooling adds the pass for windows that hold no input element).
// One input element per thread, any layout and strides: the fallback of the vector paths.
template <typename T>
LaunchResult launch_pool_backward_gather(const Pool2dArgs& a, cudaStream_t stream);
// dy, dx (and indices) channels-last with whole, aligned 16-byte channel vectors: kVec channels per thread.
template <typename T>
LaunchResult launch_pool_backward_gather_nhwc_vec(const Pool2dArgs& a, cudaStream_t stream);
// NCHW rows tiled by one of the RowWindow shapes (not kNone), aligned: kStride * kVec input columns per thread.
template <typename T>
LaunchResult launch_pool_backward_gather_nchw_wvec(const Pool2dArgs& a, RowWindow window, cudaStream_t stream);

// pool2d_global.cu, global average pooling (adaptive average pooling to 1 x 1, forward).
// x channels-last: one thread per (n, c).
template <typename T>
LaunchResult launch_global_avg_pool_channels(const Pool2dArgs& a, cudaStream_t stream);
// Any other layout: one warp per (n, c) plane.
template <typename T>
LaunchResult launch_global_avg_pool_planes(const Pool2dArgs& a, cudaStream_t stream);

}  // namespace cuda
}  // namespace cnnops
