// grad_weight of narrow groups on the direct kernels' tiles (see conv2d_direct_wgrad.h).
//
// Block (channel tile, split, pass of filter rows): thread t owns taps t, t + 256, ... of the
// block's kChannels x C/g x rows x S taps, numbered so that a warp's lanes read consecutive shared
// words (channel fastest for channels-last operands, column fastest for NCHW). For every output
// tile of its split the block stages grad_output ([position][channel], widened) and the input
// rows the pass's taps read; each thread then adds, over the tile's valid positions in order, the
// products into its taps' registers. Positions outside the output take no part (torch's sums
// never touch the inputs only they would read).
#include <algorithm>
#include <string>

#include "../common/conv_params.h"
#include "conv2d_direct.h"
#include "conv2d_direct_tile.cuh"
#include "conv2d_direct_wgrad.h"
#include "dtypes.cuh"
#include "launch.cuh"

namespace cnnops {
namespace cuda {
namespace {

using namespace direct;

constexpr int kTaps = kDirectWgradTapsPerThread;
constexpr int64_t kTargetBlocks = 264;     // two waves of a 132-SM H100 / H200 (a constant: the
                                           // split boundaries fix the summation order)
constexpr int64_t kMinTilesPerSplit = 2;  // fewer, and the partial sums cost more than the split

// What every block shares, computed once on the host; block-local sizes 32-bit (no 64-bit
// division helper in the kernel: tiles and K are below 2^31, a stage fits in shared memory).
struct DirectWgradLaunch {
  Conv2dParams p;
  int Cg, Kg;
  int tiles_p, tiles_q, tiles;
  int splits, rows_per_pass;
  int cols;      // input columns a tile reads
  int dy_bytes;  // the staged grad_output's bytes (a multiple of 16), before the input's
  int S, stride_h, stride_w, dil_h, dil_w;
};

// Tap i of a block (channel tile k0, `taps` of them, rows r0 .. r0 + rc - 1 of the pass): filter
// k (-1: past the taps or the filters), its input channel c, row r (from r0) and column s.
struct WgradTap {
  int k, c, r, s;
};

template <bool kChannelsLast>
__device__ __forceinline__ WgradTap decode_tap(int i, int taps, const DirectWgradLaunch& L, int rc) {
  using Tile = DirectTile<kChannelsLast>;
  const int S = L.S;
  WgradTap t;
  int kt;
  if (kChannelsLast) {
    kt = i % Tile::kChannels;
    t.s = (i / Tile::kChannels) % S;
    t.r = (i / (Tile::kChannels * S)) % rc;
    t.c = i / (Tile::kChannels * S * rc);
  } else {
    t.s = i % S;
    t.r = (i / S) % rc;
    t.c = (i / (S * rc)) % L.Cg;
    kt = i / (S * rc * L.Cg);
  }
  const int64_t k = int64_t(blockIdx.x) * Tile::kChannels + kt;
  t.k = i < taps && k < L.p.K ? int(k) : -1;
  return t;
}

template <typename T, bool kChannelsLast>
__global__ void __launch_bounds__(kThreads)
    direct_wgrad_kernel(const DirectWgradLaunch L, const T* __restrict__ x, const T* __restrict__ dy,
                        acc_t<T>* __restrict__ partial) {
  using A = acc_t<T>;
  using Tile = DirectTile<kChannelsLast>;
  constexpr int kPositions = Tile::kRows * Tile::kCols;
  extern __shared__ __align__(16) unsigned char direct_wgrad_shared[];
  A* ys = reinterpret_cast<A*>(direct_wgrad_shared);                  // [position][channel]
  A* xs = reinterpret_cast<A*>(direct_wgrad_shared + L.dy_bytes);  // staged_index (widened)
  const Conv2dParams& p = L.p;

  const int k0 = int(blockIdx.x) * Tile::kChannels, split = int(blockIdx.y);
  const int k_count = p.K - k0 < Tile::kChannels ? int(p.K - k0) : Tile::kChannels;
  const int g0 = k0 / L.Kg;
  const int channels = ((k0 + k_count - 1) / L.Kg - g0 + 1) * L.Cg;
  const int r0 = int(blockIdx.z) * L.rows_per_pass;
  const int rc = p.R - r0 < L.rows_per_pass ? int(p.R - r0) : L.rows_per_pass;
  const int rows = int(staged_rows<kChannelsLast>(p, rc));
  const int taps = Tile::kChannels * L.Cg * rc * L.S;

  // This thread's taps, decoded once into where each reads ys and xs at a tile's first position.
  int y_at[kTaps], x_at[kTaps];
#pragma unroll
  for (int j = 0; j < kTaps; ++j) {
    const WgradTap tap = decode_tap<kChannelsLast>(threadIdx.x + j * kThreads, taps, L, rc);
    const bool ok = tap.k >= 0;  // the others read offset 0 and store nothing
    y_at[j] = ok ? tap.k - k0 : 0;
    x_at[j] = ok ? staged_index<kChannelsLast, A>((tap.k / L.Kg - g0) * L.Cg + tap.c, tap.r * L.dil_h, tap.s * L.dil_w,
                                               channels, rows, L.cols)
                 : 0;
  }
  A acc[kTaps];
#pragma unroll
  for (int j = 0; j < kTaps; ++j) acc[j] = A(0);

  const int t_begin = int(int64_t(split) * L.tiles / L.splits), t_end = int(int64_t(split + 1) * L.tiles / L.splits);
  for (int t = t_begin; t < t_end; ++t) {
    const int tq = t % L.tiles_q, tp = (t / L.tiles_q) % L.tiles_p;
    const int64_t n = t / L.tiles_q / L.tiles_p;
    const int64_t p0 = int64_t(tp) * Tile::kRows, q0 = int64_t(tq) * Tile::kCols;
    const int valid_rows = p.P - p0 < Tile::kRows ? int(p.P - p0) : Tile::kRows;
    const int valid_cols = p.Q - q0 < Tile::kCols ? int(p.Q - q0) : Tile::kCols;
    // grad_output of the tile's positions and channels (zeros past the output).
    for (int i = threadIdx.x; i < kPositions * Tile::kChannels; i += kThreads) {
      const int kt = i % Tile::kChannels, pos = i / Tile::kChannels;
      const int lr = pos / Tile::kCols, lc = pos % Tile::kCols;
      A v = A(0);
      if (lr < valid_rows && lc < valid_cols && kt < k_count)
        v = widen(ld_global(dy + n * p.y.n + (k0 + kt) * p.y.c + (p0 + lr) * p.y.h + (q0 + lc) * p.y.w));
      st_shared(ys + i, v);
    }
    stage_input<kChannelsLast>(xs, x + n * p.x.n + int64_t(g0) * L.Cg * p.x.c, p, channels, rows, L.cols,
                               p0 * p.stride_h - p.pad_top + int64_t(r0) * p.dil_h, q0 * p.stride_w - p.pad_left);
    __syncthreads();
    for (int lr = 0; lr < valid_rows; ++lr)
      for (int lc = 0; lc < valid_cols; ++lc) {
        const A* y_pos = ys + (lr * Tile::kCols + lc) * Tile::kChannels;
        const A* x_pos = xs + staged_index<kChannelsLast, A>(0, lr * L.stride_h, lc * L.stride_w, channels, rows, L.cols);
#pragma unroll
        for (int j = 0; j < kTaps; ++j) acc[j] += ld_shared(y_pos + y_at[j]) * ld_shared(x_pos + x_at[j]);
      }
    __syncthreads();  // the next tile overwrites the stage
  }

  const int64_t crs = int64_t(L.Cg) * p.R * p.S;
#pragma unroll
  for (int j = 0; j < kTaps; ++j) {
    const WgradTap tap = decode_tap<kChannelsLast>(threadIdx.x + j * kThreads, taps, L, rc);
    if (tap.k >= 0)
      st_global(partial + (split * p.K + tap.k) * crs + (int64_t(tap.c) * p.R + r0 + tap.r) * p.S + tap.s, acc[j]);
  }
}

template <bool kChannelsLast>
DirectWgradPlan plan_for(const Conv2dParams& p, DType dtype) {
  using Tile = DirectTile<kChannelsLast>;
  DirectWgradPlan plan;
  plan.channels_last = kChannelsLast;
  const int64_t acc = dtype == DType::kFloat64 ? 8 : 4;  // the staged input's element too
  const int64_t staged = most_staged_channels(p, Tile::kChannels);
  const int64_t cols = (Tile::kCols - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1;
  const int64_t dy_bytes = (int64_t(Tile::kRows) * Tile::kCols * Tile::kChannels * acc + 15) / 16 * 16;
  const int64_t row_taps = Tile::kChannels * p.channels_per_group() * p.S;
  const int64_t most_rows = std::min<int64_t>(p.R, kTaps * kThreads / std::max<int64_t>(row_taps, 1));
  // The most filter rows within kDirectSharedBytes, else within kDirectMaxSharedBytes.
  for (const int64_t budget : {kDirectSharedBytes, kDirectMaxSharedBytes})
    for (int64_t rows = most_rows; rows >= 1 && !plan.fits; --rows) {
      const int64_t bytes =
          dy_bytes + staged_elements<kChannelsLast>(staged, staged_rows<kChannelsLast>(p, rows), cols, acc) * acc;
      if (bytes <= budget) {
        plan.rows_per_pass = rows;
        plan.shared_bytes = bytes;
        plan.fits = true;
      }
    }
  if (!plan.fits) return plan;
  plan.passes = ceil_div(p.R, plan.rows_per_pass);
  const int64_t tiles = p.N * ceil_div(p.P, Tile::kRows) * ceil_div(p.Q, Tile::kCols);
  const int64_t blocks = ceil_div(p.K, Tile::kChannels) * plan.passes;
  plan.splits = std::max<int64_t>(1, std::min(ceil_div(kTargetBlocks, blocks), tiles / kMinTilesPerSplit));
  plan.splits = std::min<int64_t>(plan.splits, 65535);
  plan.workspace_bytes = size_t(plan.splits) * size_t(p.K) * size_t(p.crs()) * size_t(acc);
  return plan;
}

bool channels_last_operands(const Conv2dParams& p) { return p.x.c == 1 && p.C > 1; }

template <typename T, bool kChannelsLast>
LaunchResult run(const Conv2dBpropArgs& a, const DirectWgradPlan& plan, cudaStream_t stream) {
  using Tile = DirectTile<kChannelsLast>;
  static const std::string name_string = std::string(kChannelsLast ? "direct_wgrad_nhwc_32x8x16" : "direct_wgrad_nchw_8x8x32") +
                                         "<" + name_for<T>("f32", "f64", "f16", "bf16") + ">";
  const char* name = name_string.c_str();
  const Conv2dParams& p = a.p;
  const int64_t tiles_p = ceil_div(p.P, Tile::kRows), tiles_q = ceil_div(p.Q, Tile::kCols);
  const int64_t tiles = p.N * tiles_p * tiles_q;
  if (tiles > 0x7fffffff || p.K > 0x7fffffff)
    return LaunchResult{"grad_weight too large for one direct launch (N * ceil(P/8) * ceil(Q/cols) and K must be < 2^31)",
                        name};
  const DirectWgradLaunch L{p,
                            int(p.channels_per_group()),
                            int(p.filters_per_group()),
                            int(tiles_p),
                            int(tiles_q),
                            int(tiles),
                            int(plan.splits),
                            int(plan.rows_per_pass),
                            int((Tile::kCols - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1),
                            int((int64_t(Tile::kRows) * Tile::kCols * Tile::kChannels * int64_t(sizeof(acc_t<T>)) + 15) / 16 * 16),
                            int(p.S),
                            int(p.stride_h),
                            int(p.stride_w),
                            int(p.dil_h),
                            int(p.dil_w)};
  const int64_t channel_blocks = ceil_div(p.K, Tile::kChannels);
  if (channel_blocks > 0x7fffffff || plan.passes > 65535)
    return LaunchResult{"grad_weight too large for one direct launch (ceil(K/channels) < 2^31, filter-row passes <= 65535)",
                        name};
  auto* kernel = direct_wgrad_kernel<T, kChannelsLast>;
  if (plan.shared_bytes > kDirectSharedBytes) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(plan.shared_bytes));
    if (err != cudaSuccess) return LaunchResult{cudaGetErrorString(err), name};
  }
  const cudaError_t err = launch_named(name, kernel,
                                       dim3(unsigned(channel_blocks), unsigned(plan.splits), unsigned(plan.passes)),
                                       dim3(kThreads), size_t(plan.shared_bytes), stream, L,
                                       static_cast<const T*>(a.x), static_cast<const T*>(a.dy),
                                       static_cast<acc_t<T>*>(a.workspace));
  if (err != cudaSuccess) return LaunchResult{cudaGetErrorString(err), name};
  const LaunchResult reduced = conv2d_wgrad_reduce(a, plan.splits, stream);
  return LaunchResult{reduced.error, name};
}

}  // namespace

DirectWgradPlan conv2d_direct_wgrad_plan(const Conv2dParams& p, DType dtype) {
  if (p.groups <= 1 || p.channels_per_group() > kDirectMaxGroupChannels) return DirectWgradPlan{};
  return channels_last_operands(p) ? plan_for<true>(p, dtype) : plan_for<false>(p, dtype);
}

LaunchResult conv2d_direct_wgrad(const Conv2dBpropArgs& args, void* stream) {
  const DirectWgradPlan plan = conv2d_direct_wgrad_plan(args.p, args.dtype);
  if (!plan.fits) return LaunchResult{"the direct wgrad does not take this convolution", "direct_wgrad"};
  return with_element_type(args.dtype, [&](auto type) {
    using T = typename decltype(type)::type;
    return plan.channels_last ? run<T, true>(args, plan, static_cast<cudaStream_t>(stream))
                              : run<T, false>(args, plan, static_cast<cudaStream_t>(stream));
  });
}

}  // namespace cuda
}  // namespace cnnops
