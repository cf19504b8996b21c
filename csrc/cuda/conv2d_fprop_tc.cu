// Convolution forward on tensor cores (float16 / bfloat16, fp32 accumulation): an implicit GEMM
//   Y[N*P*Q, K] = A[N*P*Q, R*S*C] * B[R*S*C, K],  A = im2col of NHWC X (never materialised),
//   B = the KRSC filters,
// for channels-last operands with C a multiple of 8, so that every 8 consecutive reduction
// elements (one filter tap, 8 channels) are one aligned 16-byte vector in memory.
//
// Block tile 128 positions x 64 filters x 32 reduction, 4 warps of 64 x 32, a 3-stage cp.async
// pipeline (padding taps are zero-filled by the copy itself), fragments by ldmatrix.x4,
// mma.sync.m16n8k16. Shared rows are padded by 16 bytes so the 8 rows of every ldmatrix fall
// in 8 different bank groups. Each thread decodes its 4 A rows' positions once; the filter tap
// of its reduction column is decoded once per step and shared by those rows.
#include <type_traits>

#include "../common/conv_params.h"
#include "conv2d_fprop_kernels.cuh"
#include "conv_indexing.cuh"
#include "dtypes.cuh"
#include "launch.cuh"
#include "ptx.cuh"

namespace cnnops {
namespace cuda {
namespace {

constexpr int kTileM = 128, kTileN = 64, kTileK = 32, kStages = 3;
constexpr int kWarpsM = 2, kWarpsN = 2, kThreads = 32 * kWarpsM * kWarpsN;
constexpr int kWarpM = kTileM / kWarpsM, kWarpN = kTileN / kWarpsN;  // 64 x 32
constexpr int kFragsM = kWarpM / 16, kFragsN = kWarpN / 8;           // 4 x 4 mma tiles per warp
constexpr int kVec = 8;                                              // 16-bit elements per 16-byte copy
constexpr int kVecsPerRow = kTileK / kVec;                           // 4
constexpr int kRowsPerPass = kThreads / kVecsPerRow;                 // 32 rows loaded per pass
constexpr int kPassesA = kTileM / kRowsPerPass, kPassesB = kTileN / kRowsPerPass;
constexpr int kRowPitch = kTileK + kVec;  // 40 elements = 80 bytes: conflict-free ldmatrix
static_assert(kTileM % kRowsPerPass == 0 && kTileN % kRowsPerPass == 0, "whole loader passes");
static_assert((kRowPitch * 2) % 16 == 0, "ldmatrix and cp.async rows must stay 16-byte aligned");

template <typename T>
__device__ __forceinline__ void mma_16x8x16(float d[4], const uint32_t a[4], const uint32_t b[2]) {
  if constexpr (std::is_same<T, half_t>::value)
    ptx::mma_m16n8k16_f16(d, a, b, d);
  else
    ptx::mma_m16n8k16_bf16(d, a, b, d);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    fprop_tc_kernel(const Conv2dParams p, const T* __restrict__ x, const T* __restrict__ w,
                    const T* __restrict__ bias, T* __restrict__ y) {
  alignas(16) __shared__ uint16_t as[kStages][kTileM][kRowPitch];
  alignas(16) __shared__ uint16_t bs[kStages][kTileN][kRowPitch];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int64_t NPQ = p.npq(), RSC = p.R * p.S * p.C;
  const int64_t m0 = int64_t(blockIdx.x) * kTileM, n0 = int64_t(blockIdx.y) * kTileN;
  const int64_t k_tiles = (RSC + kTileK - 1) / kTileK;

  // Loader state: reduction column `vec` (8 elements) of rows tid / 4 + 32 i.
  const int vec = tid % kVecsPerRow, row0 = tid / kVecsPerRow;
  int64_t a_base[kPassesA], a_h0[kPassesA], a_w0[kPassesA];
  bool a_ok[kPassesA];
  for (int i = 0; i < kPassesA; ++i) {
    const int64_t m = m0 + row0 + kRowsPerPass * i;
    a_ok[i] = m < NPQ;
    const OutputPosition o = decode_output_position(a_ok[i] ? m : 0, p);
    const WindowOrigin origin = window_origin(o, p);
    a_base[i] = o.n * p.x.n;
    a_h0[i] = origin.h;
    a_w0[i] = origin.w;
  }
  int64_t b_base[kPassesB];
  bool b_ok[kPassesB];
  for (int i = 0; i < kPassesB; ++i) {
    const int64_t f = n0 + row0 + kRowsPerPass * i;
    b_ok[i] = f < p.K;
    b_base[i] = (b_ok[i] ? f : 0) * p.w.n;
  }

  auto load_stage = [&](int stage, int64_t kt) {
    const int64_t k = kt * kTileK + vec * kVec;
    const bool k_ok = k < RSC;
    // Reduction index k = (r * S + s) * C + c: 8 consecutive k share the tap (C % 8 == 0).
    const int64_t rs = k_ok ? k / p.C : 0, c = k_ok ? k - rs * p.C : 0;
    const int64_t r = rs / p.S, s = rs - r * p.S;
    for (int i = 0; i < kPassesA; ++i) {
      const int64_t h = a_h0[i] + r * p.dil_h, wc = a_w0[i] + s * p.dil_w;
      const bool ok = k_ok && a_ok[i] && h >= 0 && h < p.H && wc >= 0 && wc < p.W;
      const T* src = ok ? x + a_base[i] + h * p.x.h + wc * p.x.w + c : x;
      ptx::cp_async<16>(&as[stage][row0 + kRowsPerPass * i][vec * kVec], src, ok ? 16 : 0);
    }
    for (int i = 0; i < kPassesB; ++i) {
      const bool ok = k_ok && b_ok[i];
      const T* src = ok ? w + b_base[i] + r * p.w.h + s * p.w.w + c : w;
      ptx::cp_async<16>(&bs[stage][row0 + kRowsPerPass * i][vec * kVec], src, ok ? 16 : 0);
    }
  };

  float acc[kFragsM][kFragsN][4];
  for (int i = 0; i < kFragsM; ++i)
    for (int j = 0; j < kFragsN; ++j)
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  // Prologue: stages 0 .. kStages-2 in flight. One commit per step, even an empty one, keeps
  // the group count uniform so that wait<kStages-2> always means "step kt has landed".
  for (int st = 0; st < kStages - 1; ++st) {
    if (st < k_tiles) load_stage(st, st);
    ptx::cp_async_commit();
  }

  const int wm = warp % kWarpsM, wn = warp / kWarpsM;
  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    ptx::cp_async_wait<kStages - 2>();
    __syncthreads();  // step kt visible to all; everyone is done reading step kt-1's stage
    const int64_t next = kt + kStages - 1;
    if (next < k_tiles) load_stage(int(next % kStages), next);
    ptx::cp_async_commit();

    const int st = int(kt % kStages);
    for (int kk = 0; kk < kTileK; kk += 16) {
      uint32_t a[kFragsM][4], b[kFragsN][2];
      for (int i = 0; i < kFragsM; ++i) {
        // Matrices 0-3: rows 0-7 / 8-15 of the 16-row tile, at k and k + 8.
        const int row = wm * kWarpM + i * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
        ptx::ldmatrix<4, false>(a[i], &as[st][row][kk + (lane / 16) * 8]);
      }
      for (int j = 0; j < kFragsN; j += 2) {
        // Matrices 0-3: filters 0-7 at k, k + 8, then filters 8-15 at k, k + 8.
        uint32_t r[4];
        const int row = wn * kWarpN + j * 8 + (lane / 16) * 8 + (lane % 8);
        ptx::ldmatrix<4, false>(r, &bs[st][row][kk + ((lane / 8) % 2) * 8]);
        b[j][0] = r[0], b[j][1] = r[1], b[j + 1][0] = r[2], b[j + 1][1] = r[3];
      }
      for (int i = 0; i < kFragsM; ++i)
        for (int j = 0; j < kFragsN; ++j) mma_16x8x16<T>(acc[i][j], a[i], b[j]);
    }
  }
  ptx::cp_async_wait<0>();  // no copy may still be in flight when the block ends

  // Epilogue: c0, c1 = row g, columns 2t, 2t+1; c2, c3 = row g + 8.
  const int g = lane / 4, t = lane % 4;
  for (int i = 0; i < kFragsM; ++i)
    for (int half = 0; half < 2; ++half) {
      const int64_t m = m0 + wm * kWarpM + i * 16 + g + 8 * half;
      if (m >= NPQ) continue;
      const OutputPosition o = decode_output_position(m, p);
      T* y_pos = y + o.n * p.y.n + o.p * p.y.h + o.q * p.y.w;
      for (int j = 0; j < kFragsN; ++j)
        for (int e = 0; e < 2; ++e) {
          const int64_t f = n0 + wn * kWarpN + j * 8 + 2 * t + e;
          if (f >= p.K) continue;
          float v = acc[i][j][2 * half + e];
          if (bias != nullptr) v += widen(bias[f]);
          y_pos[f * p.y.c] = from_acc<T>(v);
        }
    }
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

// A dimension keeps 8-element vectors 16-byte aligned if its stride is a multiple of 8 -- or if
// it has one index only (torch gives such dimensions arbitrary strides, e.g. 1x1 filters).
bool vector_stride(int64_t stride, int64_t size) { return size == 1 || stride % kVec == 0; }

}  // namespace

bool fprop_tc_supports_shape(const Conv2dParams& p, DType dtype) {
  return (dtype == DType::kFloat16 || dtype == DType::kBFloat16) && p.groups == 1 && p.C % kVec == 0;
}

bool fprop_tc_supports(const Conv2dFpropArgs& a) {
  const Conv2dParams& p = a.p;
  const bool x_vec = p.x.c == 1 && vector_stride(p.x.w, p.W) && vector_stride(p.x.h, p.H) &&
                     vector_stride(p.x.n, p.N) && aligned16(a.x);
  const bool w_vec = p.w.c == 1 && vector_stride(p.w.w, p.S) && vector_stride(p.w.h, p.R) &&
                     vector_stride(p.w.n, p.K) && aligned16(a.w);
  return fprop_tc_supports_shape(p, a.dtype) && x_vec && w_vec;
}

template <typename T>
const char* fprop_tc_name() {
  return std::is_same<T, half_t>::value ? "fprop_tc_128x64x32_s3<f16>" : "fprop_tc_128x64x32_s3<bf16>";
}

template <typename T>
LaunchResult launch_fprop_tc(const Conv2dFpropArgs& a, cudaStream_t stream) {
  const char* name = fprop_tc_name<T>();
  const Conv2dParams& p = a.p;
  const int64_t blocks_m = (p.npq() + kTileM - 1) / kTileM, blocks_n = (p.K + kTileN - 1) / kTileN;
  if (blocks_m > 0x7fffffff || blocks_n > 65535)
    return LaunchResult{"the convolution is too large for one launch (N*P*Q/128 must be < 2^31, K/64 <= 65535)", name};
  return launch_result(launch(fprop_tc_kernel<T>, dim3(unsigned(blocks_m), unsigned(blocks_n)), dim3(kThreads), 0,
                              stream, p, static_cast<const T*>(a.x), static_cast<const T*>(a.w),
                              static_cast<const T*>(a.bias), static_cast<T*>(a.y)),
                       name);
}

template const char* fprop_tc_name<half_t>();
template const char* fprop_tc_name<bf16_t>();
template LaunchResult launch_fprop_tc<half_t>(const Conv2dFpropArgs&, cudaStream_t);
template LaunchResult launch_fprop_tc<bf16_t>(const Conv2dFpropArgs&, cudaStream_t);

}  // namespace cuda
}  // namespace cnnops
