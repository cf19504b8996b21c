// Global average pooling on the GPU (one output per plane, as at the end of ResNet / GoogLeNet:
// adaptive average pooling to 1 x 1): its own reduction kernels, a warp per plane or a thread per
// channel, instead of the window kernels' one thread per output.
#include <cstdint>

#include "../common/pool_params.h"
#include "dtypes.cuh"
#include "launch.cuh"
#include "pool2d_common.cuh"
#include "pool2d_kernels.cuh"

namespace cnnops {
namespace cuda {
namespace {

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

}  // namespace

template <typename T>
LaunchResult launch_global_avg_pool_channels(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  return launch_result(launch(global_avg_pool_channels_kernel<T>, grid_for(p.N * p.C), dim3(kThreads), 0, stream,
                              p, x, y),
                       "global_avg_pool_channels");
}

template <typename T>
LaunchResult launch_global_avg_pool_planes(const Pool2dArgs& a, cudaStream_t stream) {
  const Pool2dParams& p = a.p;
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  return launch_result(launch(global_avg_pool_planes_kernel<T>, grid_for(p.N * p.C * 32), dim3(kThreads), 0, stream,
                              p, x, y),
                       "global_avg_pool_planes");
}

#define INSTANTIATE(T) \
  template LaunchResult launch_global_avg_pool_channels<T>(const Pool2dArgs&, cudaStream_t); \
  template LaunchResult launch_global_avg_pool_planes<T>(const Pool2dArgs&, cudaStream_t);
CNNOPS_FOR_EACH_ELEMENT_TYPE(INSTANTIATE)
#undef INSTANTIATE

}  // namespace cuda
}  // namespace cnnops
