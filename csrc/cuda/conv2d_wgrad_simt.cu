// Convolution grad_weight and grad_bias on CUDA cores.
//
// grad_weight is the implicit GEMM dW[K/g, (C/g)*R*S] = dY[K/g, N*P*Q] * im2col(X)[N*P*Q, (C/g)*R*S]
// per group: 64 filters x 64 filter taps per block, the N*P*Q reduction staged 16 positions at a
// time. When the output tiles alone would leave the GPU idle, the reduction is split into
// `splits` contiguous ranges (grid.z); each block writes its partial sums (float, double for
// float64) to a workspace and wgrad_reduce_kernel adds the splits in order and rounds once: no
// atomics, no block waiting on another, bit-identical results run to run.
//
// grad_bias: one block per filter sums dY over N*P*Q, each thread a strided range in order, then a
// fixed-shape tree in shared memory: deterministic too.
#include <type_traits>

#include "../common/conv_params.h"
#include "conv2d_bprop.h"
#include "conv2d_bprop_kernels.cuh"
#include "conv_indexing.cuh"
#include "dtypes.cuh"
#include "launch.cuh"
#include "simt_tile.cuh"

namespace cnnops {
namespace cuda {
namespace {

constexpr int kTile = 64, kTileK = 16, kThreads = 256, kLoadRows = kThreads / kTile;
constexpr int64_t kMinPositionsPerSplit = 1024;
constexpr int64_t kTargetBlocks = 264;  // two waves of an H100's 132 SMs
static_assert(kTileK == kSimtTileK && kThreads == kSimtThreads, "the tile of simt_tile.cuh");

template <typename T>
__global__ void __launch_bounds__(kThreads)
    wgrad_simt_kernel(const Conv2dParams p, const T* __restrict__ dy, const T* __restrict__ x,
                      acc_t<T>* __restrict__ partial, const int64_t splits, const int64_t positions_per_split) {
  using A = acc_t<T>;
  alignas(16) __shared__ A ys[kTileK][kTile];
  alignas(16) __shared__ A xs[kTileK][kTile];

  const int tid = threadIdx.x;
  const int64_t g = blockIdx.z / splits, split = blockIdx.z % splits;
  const int64_t Kg = p.filters_per_group(), CRS = p.crs(), NPQ = p.npq();
  const int64_t f0 = int64_t(blockIdx.y) * kTile, t0 = int64_t(blockIdx.x) * kTile;
  const int64_t m_begin = split * positions_per_split;
  const int64_t m_end = m_begin + positions_per_split < NPQ ? m_begin + positions_per_split : NPQ;

  // Loader: column `col` is one filter of ys and one filter tap of xs (decoded once).
  const int col = tid % kTile, row0 = tid / kTile;
  const bool f_ok = f0 + col < Kg;
  const T* dy_filter = dy + (g * Kg + (f_ok ? f0 + col : 0)) * p.y.c;
  const bool t_ok = t0 + col < CRS;
  const FilterTap tap = decode_filter_tap(t_ok ? t0 + col : 0, p);
  const T* x_chan = x + (g * p.channels_per_group() + tap.c) * p.x.c;

  const int tx = tid % 16, ty = tid / 16;  // taps tx + 16 j, filters ty + 16 i
  A acc[4][4];
  simt_tile_clear(acc);

  for (int64_t m0 = m_begin; m0 < m_end; m0 += kTileK) {
    for (int pass = 0; pass < kTileK / kLoadRows; ++pass) {
      const int row = row0 + kLoadRows * pass;
      const int64_t m = m0 + row;
      A yv = A(0), xv = A(0);
      if (m < m_end) {
        const OutputPosition o = decode_output_position(m, p);
        if (f_ok) yv = widen(dy_filter[o.n * p.y.n + o.p * p.y.h + o.q * p.y.w]);
        const WindowOrigin origin = window_origin(o, p);
        const int64_t h = origin.h + tap.r * p.dil_h, wc = origin.w + tap.s * p.dil_w;
        if (t_ok && h >= 0 && h < p.H && wc >= 0 && wc < p.W) xv = widen(x_chan[o.n * p.x.n + h * p.x.h + wc * p.x.w]);
      }
      ys[row][col] = yv;
      xs[row][col] = xv;
    }
    __syncthreads();
    simt_tile_step(acc, ys, xs, ty, tx);
    __syncthreads();
  }

  // partial[split][k][crs]
  for (int i = 0; i < 4; ++i) {
    const int64_t f = f0 + ty + 16 * i;
    if (f >= Kg) continue;
    A* row = partial + (split * p.K + g * Kg + f) * CRS;
    for (int j = 0; j < 4; ++j) {
      const int64_t t = t0 + tx + 16 * j;
      if (t < CRS) row[t] = acc[i][j];
    }
  }
}

// dW[k, c, r, s] = sum over splits, in split order, rounded once.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    wgrad_reduce_kernel(const Conv2dParams p, const acc_t<T>* __restrict__ partial, const int64_t splits,
                        T* __restrict__ dw, const Strides4 dws) {
  using A = acc_t<T>;
  const int64_t CRS = p.crs(), total = p.K * CRS;
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= total) return;
  A sum = A(0);
  for (int64_t s = 0; s < splits; ++s) sum += partial[s * total + i];
  const int64_t k = i / CRS;
  const FilterTap tap = decode_filter_tap(i - k * CRS, p);
  dw[k * dws.n + tap.c * dws.c + tap.r * dws.h + tap.s * dws.w] = from_acc<T>(sum);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    bias_grad_kernel(const Conv2dParams p, const T* __restrict__ dy, T* __restrict__ db) {
  using A = acc_t<T>;
  __shared__ A sums[kThreads];
  const int64_t k = blockIdx.x, NPQ = p.npq();
  A sum = A(0);
  for (int64_t m = threadIdx.x; m < NPQ; m += kThreads) {
    const OutputPosition o = decode_output_position(m, p);
    sum += widen(dy[o.n * p.y.n + k * p.y.c + o.p * p.y.h + o.q * p.y.w]);
  }
  sums[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) sums[threadIdx.x] += sums[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[k] = from_acc<T>(sums[0]);
}

// How many ranges the N*P*Q reduction is split into: enough blocks to fill the GPU, at least
// kMinPositionsPerSplit positions each. A function of the shape only, so results are too.
int64_t wgrad_splits(const Conv2dParams& p) {
  const int64_t tiles = ((p.crs() + kTile - 1) / kTile) * ((p.filters_per_group() + kTile - 1) / kTile) * p.groups;
  const int64_t want = (kTargetBlocks + tiles - 1) / tiles;
  const int64_t most = (p.npq() + kMinPositionsPerSplit - 1) / kMinPositionsPerSplit;
  int64_t splits = want < most ? want : most;
  if (splits < 1) splits = 1;
  while (splits > 1 && p.groups * splits > 65535) --splits;
  return splits;
}

template <typename T>
const char* wgrad_simt_name() {
  return name_for<T>("wgrad_simt_64x64x16_splitk<f32>", "wgrad_simt_64x64x16_splitk<f64>",
                     "wgrad_simt_64x64x16_splitk<f16>", "wgrad_simt_64x64x16_splitk<bf16>");
}

}  // namespace

size_t wgrad_simt_workspace_bytes(const Conv2dParams& p, DType dtype) {
  const size_t elem = dtype == DType::kFloat64 ? sizeof(double) : sizeof(float);
  return size_t(wgrad_splits(p)) * size_t(p.K) * size_t(p.crs()) * elem;
}

template <typename T>
LaunchResult launch_wgrad_simt(const Conv2dBpropArgs& a, cudaStream_t stream) {
  const char* name = wgrad_simt_name<T>();
  const Conv2dParams& p = a.p;
  if (a.db != nullptr) {
    if (p.K > 0x7fffffff) return LaunchResult{"grad_bias: too many filters for one launch", name};
    const cudaError_t err = launch_named("bias_grad", bias_grad_kernel<T>, dim3(unsigned(p.K)), dim3(kThreads), 0,
                                         stream, p, static_cast<const T*>(a.dy), static_cast<T*>(a.db));
    if (err != cudaSuccess || a.dw == nullptr)
      return LaunchResult{err == cudaSuccess ? nullptr : cudaGetErrorString(err), name};
  }
  if (a.dw == nullptr) return LaunchResult{nullptr, name};
  const int64_t splits = wgrad_splits(p);
  const int64_t per_split = (p.npq() + splits - 1) / splits;
  const int64_t blocks_t = (p.crs() + kTile - 1) / kTile, blocks_f = (p.filters_per_group() + kTile - 1) / kTile;
  const int64_t reduce_blocks = (p.K * p.crs() + kThreads - 1) / kThreads;
  if (blocks_t > 0x7fffffff || blocks_f > 65535 || p.groups * splits > 65535 || reduce_blocks > 0x7fffffff)
    return LaunchResult{"grad_weight too large for one launch", name};
  using A = acc_t<T>;
  A* partial = static_cast<A*>(a.workspace);
  cudaError_t err = launch_named(name, wgrad_simt_kernel<T>,
                                 dim3(unsigned(blocks_t), unsigned(blocks_f), unsigned(p.groups * splits)),
                                 dim3(kThreads), 0, stream, p, static_cast<const T*>(a.dy), static_cast<const T*>(a.x),
                                 partial, splits, per_split);
  if (err == cudaSuccess)
    err = launch_named("wgrad_reduce", wgrad_reduce_kernel<T>, dim3(unsigned(reduce_blocks)), dim3(kThreads), 0,
                       stream, p, static_cast<const A*>(partial), splits, static_cast<T*>(a.dw), a.dw_strides);
  return LaunchResult{err == cudaSuccess ? nullptr : cudaGetErrorString(err), name};
}

template <typename T>
LaunchResult launch_wgrad_reduce(const Conv2dBpropArgs& a, int64_t splits, cudaStream_t stream) {
  const Conv2dParams& p = a.p;
  const int64_t reduce_blocks = (p.K * p.crs() + kThreads - 1) / kThreads;
  if (reduce_blocks > 0x7fffffff) return LaunchResult{"grad_weight too large for one launch", "wgrad_reduce"};
  using A = acc_t<T>;
  return launch_result(launch(wgrad_reduce_kernel<T>, dim3(unsigned(reduce_blocks)), dim3(kThreads), 0, stream, p,
                              static_cast<const A*>(a.workspace), splits, static_cast<T*>(a.dw), a.dw_strides),
                       "wgrad_reduce");
}

#define INSTANTIATE(T) \
  template LaunchResult launch_wgrad_reduce<T>(const Conv2dBpropArgs&, int64_t, cudaStream_t); \
  template LaunchResult launch_wgrad_simt<T>(const Conv2dBpropArgs&, cudaStream_t);
CNNOPS_FOR_EACH_ELEMENT_TYPE(INSTANTIATE)
#undef INSTANTIATE

}  // namespace cuda
}  // namespace cnnops
