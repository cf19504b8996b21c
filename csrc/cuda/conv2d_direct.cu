// The direct convolution of narrow groups (see conv2d_direct.h): its tiles, the staging plan, the
// kernel and its launcher.
//
// A block owns kRows x kCols output positions of one image and kChannels output channels. For
// each stage of filter rows it copies the input rows those positions read (padding as zeros; all
// input channels of the groups its channels belong to) and the stage's filter taps into shared
// memory, then each thread adds the stage's taps into its 4 adjacent output columns of one
// channel (several output rows). Taps are summed in (channel, row, column) order on every path:
// the unrolled and the looped taps give the same bits, every run and device alike.
#include <algorithm>
#include <string>

#include "../common/conv_params.h"
#include "../common/epilogue.h"
#include "conv2d_direct.h"
#include "dtypes.cuh"
#include "conv2d_direct_tile.cuh"
#include "launch.cuh"
#include "vector_access.cuh"

namespace cnnops {
namespace cuda {
namespace {

using namespace direct;

// What every block of a launch shares, computed once on the host. The stage's sizes are 32-bit
// (they fit in shared memory, as every tap offset within a stage does).
struct DirectLaunch {
  Conv2dParams p;
  DirectFilters f;
  int Cg, Kg;
  int tiles_p, tiles_q;
  int rows_per_stage;  // filter rows staged at once
  int cols;            // input columns a tile reads
  int filter_bytes;    // the filter stage's bytes (a multiple of 16), before the input's
  int stride_h, stride_w, dil_h, dil_w, S;
  bool vector_store;  // NCHW: each thread's 4 adjacent outputs stored as one vector where aligned
};

// At least 2 blocks per SM: up to 128 registers a thread (the unrolled 5x5 and 7x7 filters hold
// 25 and 49 weights; left to itself ptxas capped a variant at 80 and spilled).
template <typename T, bool kChannelsLast, int kTaps, int kStride>
__global__ void __launch_bounds__(kThreads, 2)
    direct_kernel(const DirectLaunch L, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                  T* __restrict__ y, const EpilogueParams ep) {
  using A = acc_t<T>;
  using Tile = DirectTile<kChannelsLast>;
  extern __shared__ __align__(16) unsigned char direct_shared[];
  A* ws = reinterpret_cast<A*>(direct_shared);                    // [c][r][s][channel]
  A* xs = reinterpret_cast<A*>(direct_shared + L.filter_bytes);  // staged_index (widened)
  const Conv2dParams& p = L.p;

  // 32-bit decoding (the grid's x is below 2^31, K below 2^31): no 64-bit division helper.
  const int b = int(blockIdx.x), tq = b % L.tiles_q, tp = (b / L.tiles_q) % L.tiles_p;
  const int64_t n = b / L.tiles_q / L.tiles_p;
  const int64_t p0 = int64_t(tp) * Tile::kRows, q0 = int64_t(tq) * Tile::kCols;
  const int k0 = int(blockIdx.y) * Tile::kChannels;
  const int k_count = p.K - k0 < Tile::kChannels ? int(p.K - k0) : Tile::kChannels;  // the block's channels
  const int64_t g0 = k0 / L.Kg;
  const int k_skew = k0 % L.Kg;  // the first channel's place in its group
  const int channels = ((k_skew + k_count - 1) / L.Kg + 1) * L.Cg;  // input channels staged, from g0 * Cg
  const T* x_first = x + n * p.x.n + g0 * L.Cg * p.x.c;

  const typename Tile::Lane lane = Tile::lane(threadIdx.x);
  // Lanes past the last channel compute a copy of it and store nothing.
  const int kt = lane.channel < k_count ? lane.channel : k_count - 1;
  const int ic0 = (k_skew + kt) / L.Kg * L.Cg;  // this channel's group's first staged channel
  const int col0 = lane.col_group * kColsPerThread;
  const int col_step = kChannelsLast ? channels : 1;

  A acc[Tile::kRowsPerThread][kColsPerThread];
#pragma unroll
  for (int i = 0; i < Tile::kRowsPerThread; ++i)
#pragma unroll
    for (int j = 0; j < kColsPerThread; ++j) acc[i][j] = A(0);

  const int64_t h_origin = p0 * p.stride_h - p.pad_top, w_origin = q0 * p.stride_w - p.pad_left;
  for (int64_t r0 = 0; r0 < p.R; r0 += L.rows_per_stage) {
    const int rc = p.R - r0 < L.rows_per_stage ? int(p.R - r0) : L.rows_per_stage;
    const int rows = int(staged_rows<kChannelsLast>(p, rc));
    stage_input<kChannelsLast>(xs, x_first, p, channels, rows, L.cols, h_origin + r0 * p.dil_h, w_origin);
    // The stage's taps of the block's filters, channel fastest.
    const int taps = Tile::kChannels * L.Cg * rc * L.S;
    for (int i = threadIdx.x; i < taps; i += kThreads) {
      const int t = i % Tile::kChannels, s = (i / Tile::kChannels) % L.S;
      const int rest = i / (Tile::kChannels * L.S), r = rest % rc, c = rest / rc;
      const int k_rel = k_skew + (t < k_count ? t : k_count - 1);  // from g0's first filter
      const DirectFilters& f = L.f;
      st_shared(ws + i, widen(ld_global(w + f.at + (g0 + k_rel / L.Kg) * f.group + (k_rel % L.Kg) * f.filter +
                                        c * f.channel + (r0 + r) * f.row + s * f.col)));
    }
    __syncthreads();

    if constexpr (kTaps > 0) {
      // A kTaps x kTaps filter at stride kStride (both axes) and unit dilation, staged whole: the
      // thread's filter in registers, and each input row it reads loaded once and used by every
      // output row it reaches -- output row i through filter row j - i * kStride. Per accumulator
      // the taps still add in (channel, row, column) order.
      constexpr int kRowInputs = (Tile::kRowsPerThread - 1) * kStride + kTaps;
      constexpr int kColInputs = (kColsPerThread - 1) * kStride + kTaps;
      const int row0 = lane.row_lane * Tile::kRowsPerThread * kStride;
      for (int c = 0; c < L.Cg; ++c) {
        A wr[kTaps][kTaps];
#pragma unroll
        for (int r = 0; r < kTaps; ++r)
#pragma unroll
          for (int s = 0; s < kTaps; ++s) wr[r][s] = ld_shared(ws + ((c * kTaps + r) * kTaps + s) * Tile::kChannels + lane.channel);
#pragma unroll
        for (int j = 0; j < kRowInputs; ++j) {
          const A* x_row = xs + staged_index<kChannelsLast, A>(ic0 + c, row0 + j, col0 * kStride, channels, rows, L.cols);
          A xr[kColInputs];
#pragma unroll
          for (int u = 0; u < kColInputs; ++u) xr[u] = ld_shared(x_row + u * col_step);
#pragma unroll
          for (int i = 0; i < Tile::kRowsPerThread; ++i) {
            const int r = j - i * kStride;  // resolved at compile time
            if (r < 0 || r >= kTaps) continue;
#pragma unroll
            for (int s = 0; s < kTaps; ++s)
#pragma unroll
              for (int q = 0; q < kColsPerThread; ++q) acc[i][q] += wr[r][s] * xr[q * kStride + s];
          }
        }
      }
    } else if constexpr (kTaps < 0) {
      // Any R x S at unit strides and dilations (large kernels): each input row the thread reads
      // is walked once, 4 taps at a time (kColsPerThread + 3 inputs in registers), and each
      // window serves every output row it reaches -- output row i through filter row j - i --
      // with that row's 4 weights; the last S % 4 taps one at a time. Per accumulator the taps
      // still add in (channel, row, column) order.
      const int row0 = lane.row_lane * Tile::kRowsPerThread, s4 = L.S / 4 * 4;
      for (int c = 0; c < L.Cg; ++c)
        for (int j = 0; j < Tile::kRowsPerThread + rc - 1; ++j) {
          const A* x_row = xs + staged_index<kChannelsLast, A>(ic0 + c, row0 + j, col0, channels, rows, L.cols);
          const A* w_rows = ws + c * rc * L.S * Tile::kChannels + lane.channel;
          for (int s = 0; s < s4; s += 4) {
            A xr[kColsPerThread + 3];
#pragma unroll
            for (int u = 0; u < kColsPerThread + 3; ++u) xr[u] = ld_shared(x_row + (s + u) * col_step);
#pragma unroll
            for (int i = 0; i < Tile::kRowsPerThread; ++i) {
              const int r = j - i;  // the same for the whole warp: no divergence
              if (r < 0 || r >= rc) continue;
              A wv[4];
#pragma unroll
              for (int t = 0; t < 4; ++t) wv[t] = ld_shared(w_rows + (r * L.S + s + t) * Tile::kChannels);
#pragma unroll
              for (int t = 0; t < 4; ++t)
#pragma unroll
                for (int q = 0; q < kColsPerThread; ++q) acc[i][q] += wv[t] * xr[q + t];
            }
          }
          for (int s = s4; s < L.S; ++s) {
            A xr[kColsPerThread];
#pragma unroll
            for (int q = 0; q < kColsPerThread; ++q) xr[q] = ld_shared(x_row + (s + q) * col_step);
#pragma unroll
            for (int i = 0; i < Tile::kRowsPerThread; ++i) {
              const int r = j - i;
              if (r < 0 || r >= rc) continue;
              const A wv = ld_shared(w_rows + (r * L.S + s) * Tile::kChannels);
#pragma unroll
              for (int q = 0; q < kColsPerThread; ++q) acc[i][q] += wv * xr[q];
            }
          }
        }
    } else {
      for (int c = 0; c < L.Cg; ++c)
        for (int r = 0; r < rc; ++r) {
          const A* w_row = ws + (c * rc + r) * L.S * Tile::kChannels + lane.channel;
#pragma unroll
          for (int i = 0; i < Tile::kRowsPerThread; ++i) {
            const int row = (lane.row_lane * Tile::kRowsPerThread + i) * L.stride_h + r * L.dil_h;
            const A* x_row = xs + staged_index<kChannelsLast, A>(ic0 + c, row, col0 * L.stride_w, channels, rows, L.cols);
            for (int s = 0; s < L.S; ++s) {
              const A wv = ld_shared(w_row + s * Tile::kChannels);
#pragma unroll
              for (int q = 0; q < kColsPerThread; ++q)
                acc[i][q] += wv * ld_shared(x_row + (q * L.stride_w + s * L.dil_w) * col_step);
            }
          }
        }
    }
    __syncthreads();  // the next stage overwrites the tiles
  }

  if (lane.channel >= k_count) return;
  const int64_t k = k0 + kt;
  const KernelEpilogue<T> epilogue(bias, ep);
#pragma unroll
  for (int i = 0; i < Tile::kRowsPerThread; ++i) {
    const int64_t op = p0 + lane.row_lane * Tile::kRowsPerThread + i, oq0 = q0 + col0;
    if (op >= p.P) continue;
    const int64_t at = n * p.y.n + k * p.y.c + op * p.y.h + oq0 * p.y.w;
    if (!kChannelsLast && L.vector_store && oq0 + kColsPerThread <= p.Q) {
      Lanes<T, kColsPerThread> v;
#pragma unroll
      for (int j = 0; j < kColsPerThread; ++j)
        v.v[j] = from_acc<T>(epilogue(acc[i][j], k, epilogue.residual_pixel(n, op, oq0 + j)));
      st_global(reinterpret_cast<Lanes<T, kColsPerThread>*>(y + at), v);
      continue;
    }
#pragma unroll
    for (int j = 0; j < kColsPerThread; ++j) {
      if (oq0 + j >= p.Q) continue;
      epilogue.store(y, at + j * p.y.w, epilogue(acc[i][j], k, epilogue.residual_pixel(n, op, oq0 + j)));
    }
  }
}

// Zeros the N x C x rows x cols view at dx (a stride phase no filter tap reaches).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    zero_phase_kernel(T* __restrict__ dx, const Strides4 s, const int64_t C, const int64_t rows, const int64_t cols,
                      const int64_t count) {
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < count; i += int64_t(gridDim.x) * kThreads) {
    const int64_t q = i % cols, h = (i / cols) % rows, c = (i / (cols * rows)) % C, n = i / (cols * rows * C);
    dx[n * s.n + c * s.c + h * s.h + q * s.w] = from_acc<T>(acc_t<T>(0));
  }
}

template <bool kChannelsLast>
DirectPlan plan_for(const Conv2dParams& p, DType dtype) {
  using Tile = DirectTile<kChannelsLast>;
  DirectPlan plan;
  plan.channels_last = kChannelsLast;
  // Unrolled: square 3x3 / 5x5 / 7x7 filters at stride 1, 3x3 / 5x5 at stride 2, unit dilation.
  const bool square = p.R == p.S && p.stride_h == p.stride_w && p.dil_h == 1 && p.dil_w == 1;
  const int unrolled = square && ((p.stride_h == 1 && (p.S == 3 || p.S == 5 || p.S == 7)) ||
                                  (p.stride_h == 2 && (p.S == 3 || p.S == 5)))
                           ? int(p.S)
                           : 0;
  plan.staged_channels = most_staged_channels(p, Tile::kChannels);
  const int64_t acc = dtype == DType::kFloat64 ? 8 : 4;  // the staged input's element too
  const int64_t cols = (Tile::kCols - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1;
  const auto bytes = [&](int64_t rows, int64_t& filter, int64_t& input) {
    filter = (Tile::kChannels * p.channels_per_group() * rows * p.S * acc + 15) / 16 * 16;
    input = staged_elements<kChannelsLast>(plan.staged_channels, staged_rows<kChannelsLast>(p, rows), cols, acc) * acc;
    return filter + input;
  };
  // The most filter rows within kDirectSharedBytes; one row within kDirectMaxSharedBytes if not.
  for (int64_t rows = p.R; rows >= 1; --rows)
    if (bytes(rows, plan.filter_bytes, plan.input_bytes) <= kDirectSharedBytes) {
      plan.rows_per_stage = rows;
      plan.fits = true;
      break;
    }
  if (!plan.fits) {
    plan.rows_per_stage = 1;
    plan.fits = bytes(1, plan.filter_bytes, plan.input_bytes) <= kDirectMaxSharedBytes;
  }
  // The unrolled filters need the whole filter in one stage (up to kDirectMaxSharedBytes).
  if (unrolled && (plan.rows_per_stage == p.R || bytes(p.R, plan.filter_bytes, plan.input_bytes) <= kDirectMaxSharedBytes)) {
    plan.rows_per_stage = p.R;
    plan.fits = true;
    plan.unrolled_taps = unrolled;
    plan.unrolled_stride = int(p.stride_h);
  } else if (p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 && p.dil_w == 1) {
    plan.unrolled_taps = -1;  // input rows walked once, 4 taps at a time
    // Each staged input row serves as many output rows as the stage has filter rows: stage up to
    // kDirectMaxSharedBytes (2 blocks per SM, which the kernel's registers allow anyway).
    for (int64_t rows = p.R; rows > plan.rows_per_stage; --rows)
      if (bytes(rows, plan.filter_bytes, plan.input_bytes) <= kDirectMaxSharedBytes) {
        plan.rows_per_stage = rows;
        break;
      }
  }
  bytes(plan.rows_per_stage, plan.filter_bytes, plan.input_bytes);
  return plan;
}

// Threads along channels where the input's channels are its unit stride.
bool channels_last_input(const Conv2dParams& p) { return p.x.c == 1 && p.C > 1; }

template <typename T, bool kChannelsLast, int kTaps, int kStride>
const char* kernel_name() {
  static const std::string name =
      std::string(kChannelsLast ? "direct_nhwc_32x8x16" : "direct_nchw_8x8x32") +
      (kTaps > 0   ? "_s" + std::to_string(kTaps) + (kStride > 1 ? "_stride" + std::to_string(kStride) : std::string())
       : kTaps < 0 ? std::string("_sliding")
                   : std::string()) +
      "<" + name_for<T>("f32", "f64", "f16", "bf16") + ">";
  return name.c_str();
}

template <typename T, bool kChannelsLast, int kTaps, int kStride>
LaunchResult run_direct(const Conv2dDirectArgs& a, const DirectPlan& plan, cudaStream_t stream, bool launch_it) {
  using Tile = DirectTile<kChannelsLast>;
  const char* name = kernel_name<T, kChannelsLast, kTaps, kStride>();
  if (!launch_it) return LaunchResult{nullptr, name};
  const Conv2dParams& p = a.p;
  const DirectLaunch L{p,
                       a.filters,
                       int(p.channels_per_group()),
                       int(p.filters_per_group()),
                       int(ceil_div(p.P, Tile::kRows)),
                       int(ceil_div(p.Q, Tile::kCols)),
                       int(plan.rows_per_stage),
                       int((Tile::kCols - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1),
                       int(plan.filter_bytes),
                       int(p.stride_h),
                       int(p.stride_w),
                       int(p.dil_h),
                       int(p.dil_w),
                       int(p.S),
                       !kChannelsLast && vector_ok(p.y, a.y, kColsPerThread, VectorAxis::kWidth,
                                                   kColsPerThread * int64_t(sizeof(T)))};
  const int64_t blocks = p.N * ceil_div(p.P, Tile::kRows) * ceil_div(p.Q, Tile::kCols), channel_blocks = ceil_div(p.K, Tile::kChannels);
  if (blocks > 0x7fffffff || channel_blocks > 65535)
    return LaunchResult{"the convolution is too large for one direct launch (N * ceil(P/8) * ceil(Q/cols) must be "
                        "< 2^31, ceil(K/channels) <= 65535)",
                        name};
  const size_t shared = plan.shared_bytes();
  auto* kernel = direct_kernel<T, kChannelsLast, kTaps, kStride>;
  if (shared > size_t(kDirectSharedBytes)) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared));
    if (err != cudaSuccess) return LaunchResult{cudaGetErrorString(err), name};
  }
  return launch_result(launch(kernel, dim3(unsigned(blocks), unsigned(channel_blocks)), dim3(kThreads), shared, stream,
                              L, static_cast<const T*>(a.x), static_cast<const T*>(a.w),
                              static_cast<const T*>(a.bias), static_cast<T*>(a.y), a.ep),
                       name);
}

template <typename T, bool kChannelsLast>
LaunchResult with_taps(const Conv2dDirectArgs& a, const DirectPlan& plan, cudaStream_t stream, bool launch_it) {
  switch (plan.unrolled_taps * 10 + plan.unrolled_stride) {
    case 31: return run_direct<T, kChannelsLast, 3, 1>(a, plan, stream, launch_it);
    case 51: return run_direct<T, kChannelsLast, 5, 1>(a, plan, stream, launch_it);
    case 71: return run_direct<T, kChannelsLast, 7, 1>(a, plan, stream, launch_it);
    case 32: return run_direct<T, kChannelsLast, 3, 2>(a, plan, stream, launch_it);
    case 52: return run_direct<T, kChannelsLast, 5, 2>(a, plan, stream, launch_it);
    case -9: return run_direct<T, kChannelsLast, -1, 1>(a, plan, stream, launch_it);
    default: return run_direct<T, kChannelsLast, 0, 1>(a, plan, stream, launch_it);
  }
}

LaunchResult dispatch(const Conv2dDirectArgs& a, cudaStream_t stream, bool launch_it) {
  const DirectPlan plan = conv2d_direct_plan(a.p, a.dtype);
  if (!plan.fits || a.ep.store_float)
    return LaunchResult{"the direct kernels do not take this convolution (see conv2d_direct_supports)", "direct"};
  return with_element_type(a.dtype, [&](auto type) {
    using T = typename decltype(type)::type;
    return plan.channels_last ? with_taps<T, true>(a, plan, stream, launch_it)
                              : with_taps<T, false>(a, plan, stream, launch_it);
  });
}

}  // namespace

DirectFilters forward_filters(const Conv2dParams& p) {
  return DirectFilters{0, p.filters_per_group() * p.w.n, p.w.n, p.w.c, p.w.h, p.w.w};
}

DirectPlan conv2d_direct_plan(const Conv2dParams& p, DType dtype) {
  return channels_last_input(p) ? plan_for<true>(p, dtype) : plan_for<false>(p, dtype);
}

bool conv2d_direct_supports(const Conv2dParams& p, DType dtype) {
  // Both layouts' stages must fit: the rule holds whatever strides the operands arrive with.
  return p.groups > 1 && p.channels_per_group() <= kDirectMaxGroupChannels && p.K <= 0x7fffffff &&
         plan_for<true>(p, dtype).fits &&
         plan_for<false>(p, dtype).fits;
}

LaunchResult conv2d_direct(const Conv2dDirectArgs& args, void* stream) {
  return dispatch(args, static_cast<cudaStream_t>(stream), true);
}

DirectFilters dgrad_direct_filters(const Conv2dParams& p, const PhaseTaps& rows, const PhaseTaps& cols) {
  // Tap j of a phase is kernel index taps[0] - j * step (the taps decrease evenly).
  const auto step = [](const PhaseTaps& t) { return t.taps.size() > 1 ? t.taps[0] - t.taps[1] : int64_t(0); };
  DirectFilters f;
  f.at = rows.taps[0] * p.w.h + cols.taps[0] * p.w.w;
  f.group = p.filters_per_group() * p.w.n;  // group g's filters in the weight
  f.filter = p.w.c;                         // the phase's output channel: the weight's input channel
  f.channel = p.w.n;                        // the phase's input channel: the weight's filter
  f.row = -step(rows) * p.w.h;
  f.col = -step(cols) * p.w.w;
  return f;
}

LaunchResult conv2d_direct_dgrad(const Conv2dBpropArgs& a, void* stream) {
  const Conv2dParams& p = a.p;
  const int64_t element = a.dtype == DType::kFloat64 ? 8 : a.dtype == DType::kFloat32 ? 4 : 2;
  LaunchResult last{nullptr, "zero_fill"};
  for (int64_t ph = 0; ph < std::min(p.stride_h, p.H); ++ph)
    for (int64_t pw = 0; pw < std::min(p.stride_w, p.W); ++pw) {
      const PhaseTaps rows = dgrad_phase_taps(ph, p.pad_top, p.R, p.dil_h, p.stride_h);
      const PhaseTaps cols = dgrad_phase_taps(pw, p.pad_left, p.S, p.dil_w, p.stride_w);
      // The phase's view of grad_input: positions (ph + i * stride_h, pw + j * stride_w).
      void* dx = static_cast<char*>(a.dx) + (ph * a.dx_strides.h + pw * a.dx_strides.w) * element;
      const Strides4 view{a.dx_strides.n, a.dx_strides.c, a.dx_strides.h * p.stride_h, a.dx_strides.w * p.stride_w};
      const int64_t view_rows = ceil_div(p.H - ph, p.stride_h), view_cols = ceil_div(p.W - pw, p.stride_w);
      if (rows.taps.empty() || cols.taps.empty()) {  // no tap reaches these positions
        const int64_t count = p.N * p.C * view_rows * view_cols;
        const int64_t blocks = std::min<int64_t>(ceil_div(count, kThreads), 65535);
        const cudaError_t err = with_element_type(a.dtype, [&](auto type) {
          using T = typename decltype(type)::type;
          return launch_named("zero_fill", zero_phase_kernel<T>, dim3(unsigned(blocks)), dim3(kThreads), 0,
                              static_cast<cudaStream_t>(stream), static_cast<T*>(dx), view, p.C, view_rows, view_cols,
                              count);
        });
        if (err != cudaSuccess) return LaunchResult{cudaGetErrorString(err), "zero_fill"};
        continue;
      }
      Conv2dDirectArgs d{};
      d.p = dgrad_phase_forward(p, ph, pw, rows, cols);
      d.p.x = p.y;  // grad_output's strides
      d.p.y = view;
      d.dtype = a.dtype;
      d.x = a.dy;
      d.w = a.w;
      d.y = dx;
      d.filters = dgrad_direct_filters(p, rows, cols);
      last = conv2d_direct(d, stream);
      if (last.error != nullptr) return last;
    }
  return last;
}

const char* conv2d_direct_name(const Conv2dParams& p, DType dtype) {
  Conv2dDirectArgs a{};
  a.p = p;
  a.dtype = dtype;
  return dispatch(a, nullptr, false).kernel;
}

}  // namespace cuda
}  // namespace cnnops
