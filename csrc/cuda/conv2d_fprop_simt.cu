// Convolution forward on CUDA cores (with the fused epilogue act(. + bias + residual)): an implicit GEMM Y[NPQ, K/g] = im2col(X)[NPQ, CRS] * W^T per
// group, tiled 64 positions x 64 filters per block, the reduction staged through shared memory
// 16 rows at a time. It reads every operand through its element strides (NCHW, NHWC or any view),
// so it serves every shape the tensor-core kernels do not: float32 (IEEE) and float64, odd
// channel counts, unaligned views, huge groups. Accumulates in float (double for float64), in
// reduction order: results are deterministic.
#include "../common/conv_params.h"
#include "../common/epilogue.h"
#include "conv2d_fprop_kernels.cuh"
#include "conv_indexing.cuh"
#include "dtypes.cuh"
#include "launch.cuh"
#include "simt_tile.cuh"

#include <type_traits>

namespace cnnops {
namespace cuda {
namespace {

constexpr int kTileM = 64;        // output positions per block
constexpr int kTileN = 64;        // filters per block
constexpr int kTileK = 16;        // reduction rows staged per step
constexpr int kThreads = 256;     // 16 x 16 threads, each owning a 4 x 4 block of outputs
constexpr int kLoadRows = kThreads / kTileM;  // reduction rows one pass of the loader covers
static_assert(kThreads / kTileN == kLoadRows, "the x and w loaders share their row mapping");
static_assert(kTileK == kSimtTileK && kThreads == kSimtThreads, "the tile of simt_tile.cuh");

template <typename T>
__global__ void __launch_bounds__(kThreads)
    fprop_simt_kernel(const Conv2dParams p, const T* __restrict__ x, const T* __restrict__ w,
                      const T* __restrict__ bias, T* __restrict__ y, const EpilogueParams ep) {
  using A = acc_t<T>;
  alignas(16) __shared__ A xs[kTileK][kTileM];
  alignas(16) __shared__ A ws[kTileK][kTileN];

  const int tid = threadIdx.x;
  const int64_t g = blockIdx.z;
  const int64_t Kg = p.filters_per_group(), CRS = p.crs(), NPQ = p.npq();
  const int64_t m0 = int64_t(blockIdx.x) * kTileM, n0 = int64_t(blockIdx.y) * kTileN;

  // Loader: this thread fills column `col` of both tiles (one output position of xs, one filter
  // of ws) in rows row0, row0 + kLoadRows, ...; the position is decoded once.
  const int col = tid % kTileM, row0 = tid / kTileM;
  const int64_t m = m0 + col;
  const bool m_ok = m < NPQ;
  const OutputPosition at = decode_output_position(m_ok ? m : 0, p);
  const WindowOrigin origin = window_origin(at, p);
  const T* x_img = x + at.n * p.x.n + g * p.channels_per_group() * p.x.c;
  const bool f_ok = n0 + col < Kg;
  const T* w_filter = w + (g * Kg + (f_ok ? n0 + col : 0)) * p.w.n;

  // Compute: positions tx + 16 i, filters ty + 16 j (consecutive threads store consecutive
  // positions: coalesced in NCHW).
  const int tx = tid % 16, ty = tid / 16;
  A acc[4][4];
  simt_tile_clear(acc);

  for (int64_t k0 = 0; k0 < CRS; k0 += kTileK) {
    for (int pass = 0; pass < kTileK / kLoadRows; ++pass) {
      const int row = row0 + kLoadRows * pass;
      const int64_t crs = k0 + row;
      A xv = A(0), wv = A(0);
      if (crs < CRS) {
        const FilterTap tap = decode_filter_tap(crs, p);
        const int64_t h = origin.h + tap.r * p.dil_h, wc = origin.w + tap.s * p.dil_w;
        if (m_ok && h >= 0 && h < p.H && wc >= 0 && wc < p.W) xv = widen(x_img[tap.c * p.x.c + h * p.x.h + wc * p.x.w]);
        if (f_ok) wv = widen(w_filter[tap.c * p.w.c + tap.r * p.w.h + tap.s * p.w.w]);
      }
      xs[row][col] = xv;
      ws[row][col] = wv;
    }
    __syncthreads();
    simt_tile_step(acc, xs, ws, tx, ty);
    __syncthreads();  // the next step overwrites the tiles
  }

  const KernelEpilogue<T> epilogue(bias, ep);
  for (int i = 0; i < 4; ++i) {
    const int64_t mi = m0 + tx + 16 * i;
    if (mi >= NPQ) continue;
    const OutputPosition o = decode_output_position(mi, p);
    const int64_t y_pixel = o.n * p.y.n + o.p * p.y.h + o.q * p.y.w;
    const T* r_pixel = epilogue.residual_pixel(o.n, o.p, o.q);
    for (int j = 0; j < 4; ++j) {
      const int64_t f = n0 + ty + 16 * j;
      if (f >= Kg) continue;
      const int64_t k = g * Kg + f;
      epilogue.store(y, y_pixel + k * p.y.c, epilogue(acc[i][j], k, r_pixel));
    }
  }
}

}  // namespace

template <typename T>
const char* fprop_simt_name() {
  return name_for<T>("fprop_simt_64x64x16<f32>", "fprop_simt_64x64x16<f64>",
                     "fprop_simt_64x64x16<f16>", "fprop_simt_64x64x16<bf16>");
}

template <typename T>
LaunchResult launch_fprop_simt(const Conv2dFpropArgs& a, cudaStream_t stream) {
  const char* name = fprop_simt_name<T>();
  const Conv2dParams& p = a.p;
  const int64_t blocks_m = (p.npq() + kTileM - 1) / kTileM;
  const int64_t blocks_n = (p.filters_per_group() + kTileN - 1) / kTileN;
  if (blocks_m > 0x7fffffff || blocks_n > 65535 || p.groups > 65535)
    return LaunchResult{"the convolution is too large for one launch (N*P*Q/64 must be < 2^31, K/groups/64 and "
                        "groups <= 65535)",
                        name};
  const dim3 grid(unsigned(blocks_m), unsigned(blocks_n), unsigned(p.groups));
  return launch_result(launch(fprop_simt_kernel<T>, grid, dim3(kThreads), 0, stream, p,
                              static_cast<const T*>(a.x), static_cast<const T*>(a.w),
                              static_cast<const T*>(a.bias), static_cast<T*>(a.y), a.ep),
                       name);
}

#define INSTANTIATE(T) \
  template const char* fprop_simt_name<T>(); \
  template LaunchResult launch_fprop_simt<T>(const Conv2dFpropArgs&, cudaStream_t);
CNNOPS_FOR_EACH_ELEMENT_TYPE(INSTANTIATE)
#undef INSTANTIATE

}  // namespace cuda
}  // namespace cnnops
