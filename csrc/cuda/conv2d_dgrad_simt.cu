// Convolution grad_input on CUDA cores: the implicit GEMM
//   dX[N*H*W, C/g] = dY-gather[N*H*W, (K/g)*R*S] * W[(K/g)*R*S, C/g]  per group,
// where the gather reads dY[n, k, p, q] with p = (h + pad - r*dil) / stride wherever that
// division is exact and p is in range (zero elsewhere). Tiled 64 input positions x 64 channels per
// block, the reduction staged through shared memory 16 rows at a time; every operand read through
// its element strides. Accumulates in float (double for float64), in reduction order.
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
static_assert(kTileK == kSimtTileK && kThreads == kSimtThreads, "the tile of simt_tile.cuh");

// The output index that input coordinate `in` meets through kernel tap `tap`, or -1 if none
// (not a multiple of the stride, or outside the output).
CNNOPS_HD_INLINE int64_t output_index(int64_t in, int64_t pad, int64_t tap, int64_t dil, int64_t stride, int64_t out) {
  const int64_t t = in + pad - tap * dil;
  if (t < 0 || t % stride != 0) return -1;
  const int64_t o = t / stride;
  return o < out ? o : -1;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    dgrad_simt_kernel(const Conv2dParams p, const T* __restrict__ dy, const T* __restrict__ w, T* __restrict__ dx,
                      const Strides4 dxs) {
  using A = acc_t<T>;
  alignas(16) __shared__ A ys[kTileK][kTile];
  alignas(16) __shared__ A ws[kTileK][kTile];

  const int tid = threadIdx.x;
  const int64_t g = blockIdx.z, Kg = p.filters_per_group(), Cg = p.channels_per_group();
  const int64_t KRS = Kg * p.R * p.S, M = p.N * p.H * p.W;
  const int64_t m0 = int64_t(blockIdx.x) * kTile, c0 = int64_t(blockIdx.y) * kTile;

  // Loader: column `col` is one input position of ys and one channel of ws.
  const int col = tid % kTile, row0 = tid / kTile;
  const int64_t m = m0 + col;
  const bool m_ok = m < M;
  const OutputPosition at = decode_grid_position(m_ok ? m : 0, p.H, p.W);  // (n, h, w) as (n, p, q)
  const T* dy_img = dy + at.n * p.y.n + g * Kg * p.y.c;
  const bool c_ok = c0 + col < Cg;
  const T* w_chan = w + g * Kg * p.w.n + (c_ok ? c0 + col : 0) * p.w.c;

  const int tx = tid % 16, ty = tid / 16;
  A acc[4][4];
  simt_tile_clear(acc);

  for (int64_t k0 = 0; k0 < KRS; k0 += kTileK) {
    for (int pass = 0; pass < kTileK / kLoadRows; ++pass) {
      const int row = row0 + kLoadRows * pass;
      const int64_t krs = k0 + row;
      A yv = A(0), wv = A(0);
      if (krs < KRS) {
        // The reduction index (k, r, s) decodes like a forward tap, the filter in the channel slot.
        const FilterTap tap = decode_filter_tap(krs, p);
        if (m_ok) {
          const int64_t op = output_index(at.p, p.pad_top, tap.r, p.dil_h, p.stride_h, p.P);
          const int64_t oq = output_index(at.q, p.pad_left, tap.s, p.dil_w, p.stride_w, p.Q);
          if (op >= 0 && oq >= 0) yv = widen(dy_img[tap.c * p.y.c + op * p.y.h + oq * p.y.w]);
        }
        if (c_ok) wv = widen(w_chan[tap.c * p.w.n + tap.r * p.w.h + tap.s * p.w.w]);
      }
      ys[row][col] = yv;
      ws[row][col] = wv;
    }
    __syncthreads();
    simt_tile_step(acc, ys, ws, tx, ty);
    __syncthreads();
  }

  for (int i = 0; i < 4; ++i) {
    const int64_t mi = m0 + tx + 16 * i;
    if (mi >= M) continue;
    const OutputPosition o = decode_grid_position(mi, p.H, p.W);
    T* dx_pos = dx + o.n * dxs.n + o.p * dxs.h + o.q * dxs.w;
    for (int j = 0; j < 4; ++j) {
      const int64_t c = c0 + ty + 16 * j;
      if (c < Cg) dx_pos[(g * Cg + c) * dxs.c] = from_acc<T>(acc[i][j]);
    }
  }
}

}  // namespace

template <typename T>
const char* dgrad_simt_name() {
  return name_for<T>("dgrad_simt_64x64x16<f32>", "dgrad_simt_64x64x16<f64>",
                     "dgrad_simt_64x64x16<f16>", "dgrad_simt_64x64x16<bf16>");
}

template <typename T>
LaunchResult launch_dgrad_simt(const Conv2dBpropArgs& a, cudaStream_t stream) {
  const char* name = dgrad_simt_name<T>();
  const Conv2dParams& p = a.p;
  const int64_t blocks_m = (p.N * p.H * p.W + kTile - 1) / kTile;
  const int64_t blocks_c = (p.channels_per_group() + kTile - 1) / kTile;
  if (blocks_m > 0x7fffffff || blocks_c > 65535 || p.groups > 65535)
    return LaunchResult{"grad_input too large for one launch (N*H*W/64 must be < 2^31, C/groups/64 and groups <= 65535)",
                        name};
  const dim3 grid(unsigned(blocks_m), unsigned(blocks_c), unsigned(p.groups));
  return launch_result(launch(dgrad_simt_kernel<T>, grid, dim3(kThreads), 0, stream, p, static_cast<const T*>(a.dy),
                              static_cast<const T*>(a.w), static_cast<T*>(a.dx), a.dx_strides),
                       name);
}

#define INSTANTIATE(T) \
  template LaunchResult launch_dgrad_simt<T>(const Conv2dBpropArgs&, cudaStream_t);
CNNOPS_FOR_EACH_ELEMENT_TYPE(INSTANTIATE)
#undef INSTANTIATE

}  // namespace cuda
}  // namespace cnnops
