// AVX-512F micro-kernels (MR x 32 float, MR x 16 double): the AVX2 design (microkernel_avx2.cpp)
// with 16-float zmm rows, so each row of the tile is two registers. One template serves both
// types through the small traits below. Compiled with a per-function target attribute and called
// only after the CPU has been checked for AVX-512F (microkernel_select.cpp): torch's own oneDNN
// kernels use AVX-512 on such CPUs, and the AVX2 kernel reached about half their speed there.
//
// The products are summed in the same order as the AVX2 kernel's (one fused multiply-add per
// reduction step, kc steps per call), so the two give bit-identical results.
#include <immintrin.h>

#include "microkernel.h"

namespace cnnops {
namespace cpu {
namespace {

#define CNNOPS_AVX512 __attribute__((target("avx512f")))

struct F32x16 {
  using T = float;
  using V = __m512;
  static constexpr int kLanes = 16;
  CNNOPS_AVX512 static V zero() { return _mm512_setzero_ps(); }
  CNNOPS_AVX512 static V load(const T* p) { return _mm512_loadu_ps(p); }
  CNNOPS_AVX512 static V broadcast(const T* p) { return _mm512_set1_ps(*p); }
  CNNOPS_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  CNNOPS_AVX512 static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  CNNOPS_AVX512 static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // p[j] += v[j] for the lanes j < n (n in 0 .. kLanes): the others are neither read nor written.
  CNNOPS_AVX512 static void add_first(T* p, V v, int n) {
    const __mmask16 k = __mmask16((1u << n) - 1u);
    _mm512_mask_storeu_ps(p, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, p), v));
  }
};

struct F64x8 {
  using T = double;
  using V = __m512d;
  static constexpr int kLanes = 8;
  CNNOPS_AVX512 static V zero() { return _mm512_setzero_pd(); }
  CNNOPS_AVX512 static V load(const T* p) { return _mm512_loadu_pd(p); }
  CNNOPS_AVX512 static V broadcast(const T* p) { return _mm512_set1_pd(*p); }
  CNNOPS_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  CNNOPS_AVX512 static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  CNNOPS_AVX512 static V add(V a, V b) { return _mm512_add_pd(a, b); }
  CNNOPS_AVX512 static void add_first(T* p, V v, int n) {
    const __mmask8 k = __mmask8((1u << n) - 1u);
    _mm512_mask_storeu_pd(p, k, _mm512_add_pd(_mm512_maskz_loadu_pd(k, p), v));
  }
};

// C[0:m, 0:n] += A * B for an MR x (2 * kLanes) tile: 2 * MR accumulators, 2 registers for the
// B row and 1 for the broadcast A element. The A access (microkernel.h's AAccess): a packed
// panel (A[p * MR + i]), rows in place (row i at A + i * lda) or one pointer per row (rows[i]).
// Rows past m alias row 0 (computed, never stored) so that no row past the matrix is read.
template <typename X, int MR, AAccess kAccess>
CNNOPS_AVX512 inline void tile_mr_x2v(int64_t kc, const typename X::T* A, int64_t lda,
                                      const typename X::T* const* rows, const typename X::T* B,
                                      typename X::T* C, int64_t ldc, int m, int n) {
  using T = typename X::T;
  using V = typename X::V;
  constexpr int kNr = 2 * X::kLanes;
  static_assert(2 * MR + 3 <= 32, "the tile must fit the 32 zmm registers");
  V c[MR][2];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) c[i][0] = c[i][1] = X::zero();
  const T* a[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) a[i] = a_row<MR, kAccess>(A, lda, rows, i, m);
  constexpr int64_t a_step = kAccess == AAccess::kPacked ? MR : 1;
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const V b0 = X::load(B), b1 = X::load(B + X::kLanes);
    const int64_t q = p * a_step;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = X::broadcast(a[i] + q);
      c[i][0] = X::fma(ai, b0, c[i][0]);
      c[i][1] = X::fma(ai, b1, c[i][1]);
    }
    B += kNr;
  }
  if (m == MR && n == kNr) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      T* row = C + i * ldc;
      X::store(row, X::add(X::load(row), c[i][0]));
      X::store(row + X::kLanes, X::add(X::load(row + X::kLanes), c[i][1]));
    }
  } else {
    // A partial tile (the last rows, or fewer columns: a layer with K = 16 or 24 filters takes
    // this path on every call) adds through lane masks rather than element by element.
    const int n0 = n < X::kLanes ? n : X::kLanes, n1 = n - n0;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i >= m) break;
      T* row = C + i * ldc;
      X::add_first(row, c[i][0], n0);
      if (n1 > 0) X::add_first(row + X::kLanes, c[i][1], n1);
    }
  }
}

constexpr int kMr = 8;
static_assert(2 * F32x16::kLanes <= kMaxNr && 2 * F64x8::kLanes <= kMaxNr, "the packers hold at most kMaxNr columns");

CNNOPS_AVX512 void f32_packed(int64_t kc, const float* A, const float* B, float* C, int64_t ldc, int m, int n) {
  tile_mr_x2v<F32x16, kMr, AAccess::kPacked>(kc, A, 0, nullptr, B, C, ldc, m, n);
}
CNNOPS_AVX512 void f32_rows(int64_t kc, const float* A, int64_t lda, const float* B, float* C, int64_t ldc, int m,
                            int n) {
  tile_mr_x2v<F32x16, kMr, AAccess::kRows>(kc, A, lda, nullptr, B, C, ldc, m, n);
}
CNNOPS_AVX512 void f64_packed(int64_t kc, const double* A, const double* B, double* C, int64_t ldc, int m, int n) {
  tile_mr_x2v<F64x8, kMr, AAccess::kPacked>(kc, A, 0, nullptr, B, C, ldc, m, n);
}
CNNOPS_AVX512 void f64_rows(int64_t kc, const double* A, int64_t lda, const double* B, double* C, int64_t ldc, int m,
                            int n) {
  tile_mr_x2v<F64x8, kMr, AAccess::kRows>(kc, A, lda, nullptr, B, C, ldc, m, n);
}

CNNOPS_AVX512 void f32_ptrs(int64_t kc, const float* const* rows, const float* B, float* C, int64_t ldc, int m,
                            int n) {
  tile_mr_x2v<F32x16, kMr, AAccess::kPointers>(kc, nullptr, 0, rows, B, C, ldc, m, n);
}
CNNOPS_AVX512 void f64_ptrs(int64_t kc, const double* const* rows, const double* B, double* C, int64_t ldc, int m,
                            int n) {
  tile_mr_x2v<F64x8, kMr, AAccess::kPointers>(kc, nullptr, 0, rows, B, C, ldc, m, n);
}

}  // namespace

const Microkernel<float> kMicrokernelF32Avx512 = {kMr, 32, f32_packed, f32_rows, f32_ptrs, "avx512_f32_8x32"};
const Microkernel<double> kMicrokernelF64Avx512 = {kMr, 16, f64_packed, f64_rows, f64_ptrs, "avx512_f64_8x16"};

}  // namespace cpu
}  // namespace cnnops
