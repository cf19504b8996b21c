// AVX2 + FMA micro-kernels (6x16 float, 6x8 double): 12 accumulator registers, 2 for the B
// row, 1 for the broadcast A element -- 15 of the 16 ymm registers. Written with intrinsics:
// plain C++ left the accumulators in memory and ran ~1.8x slower. Compiled with a per-function
// target attribute so the rest of the extension keeps Python's baseline flags; only called
// after the CPU has been checked for AVX2 and FMA (microkernel_select.cpp).
#include <immintrin.h>

#include "microkernel.h"

namespace cnnops {
namespace cpu {
namespace {

#define CNNOPS_AVX2 __attribute__((target("avx2,fma")))

// A is read as AAccess says (microkernel.h): packed panels, rows in place or a pointer per row.
template <AAccess kAccess>
CNNOPS_AVX2 inline void f32_6x16_impl(int64_t kc, const float* A, int64_t lda, const float* const* rows, const float* B, float* C,
                                      int64_t ldc, int m, int n) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // Rows past m alias row 0 (computed, never stored) so that no row past the matrix is read.
  const float* arow[6];
  for (int i = 0; i < 6; ++i) arow[i] = a_row<6, kAccess>(A, lda, rows, i, m);
  constexpr int64_t a_step = kAccess == AAccess::kPacked ? 6 : 1;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(B);
    const __m256 b1 = _mm256_loadu_ps(B + 8);
    const int64_t q = p * a_step;
    __m256 a = _mm256_broadcast_ss(arow[0] + q);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(arow[1] + q);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(arow[2] + q);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(arow[3] + q);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(arow[4] + q);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(arow[5] + q);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    B += 16;
  }
  const __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                            {c30, c31}, {c40, c41}, {c50, c51}};
  if (m == 6 && n == 16) {
    for (int i = 0; i < 6; ++i) {
      float* row = C + i * ldc;
      _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[i][0]));
      _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[i][1]));
    }
  } else {
    alignas(32) float tile[6 * 16];
    for (int i = 0; i < 6; ++i) {
      _mm256_store_ps(tile + i * 16, acc[i][0]);
      _mm256_store_ps(tile + i * 16 + 8, acc[i][1]);
    }
    add_tile_clipped(tile, 16, C, ldc, m, n);
  }
}

// A is read as AAccess says (microkernel.h): packed panels, rows in place or a pointer per row.
template <AAccess kAccess>
CNNOPS_AVX2 inline void f64_6x8_impl(int64_t kc, const double* A, int64_t lda, const double* const* rows, const double* B, double* C,
                                     int64_t ldc, int m, int n) {
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
  const double* arow[6];
  for (int i = 0; i < 6; ++i) arow[i] = a_row<6, kAccess>(A, lda, rows, i, m);
  constexpr int64_t a_step = kAccess == AAccess::kPacked ? 6 : 1;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256d b0 = _mm256_loadu_pd(B);
    const __m256d b1 = _mm256_loadu_pd(B + 4);
    const int64_t q = p * a_step;
    __m256d a = _mm256_broadcast_sd(arow[0] + q);
    c00 = _mm256_fmadd_pd(a, b0, c00);
    c01 = _mm256_fmadd_pd(a, b1, c01);
    a = _mm256_broadcast_sd(arow[1] + q);
    c10 = _mm256_fmadd_pd(a, b0, c10);
    c11 = _mm256_fmadd_pd(a, b1, c11);
    a = _mm256_broadcast_sd(arow[2] + q);
    c20 = _mm256_fmadd_pd(a, b0, c20);
    c21 = _mm256_fmadd_pd(a, b1, c21);
    a = _mm256_broadcast_sd(arow[3] + q);
    c30 = _mm256_fmadd_pd(a, b0, c30);
    c31 = _mm256_fmadd_pd(a, b1, c31);
    a = _mm256_broadcast_sd(arow[4] + q);
    c40 = _mm256_fmadd_pd(a, b0, c40);
    c41 = _mm256_fmadd_pd(a, b1, c41);
    a = _mm256_broadcast_sd(arow[5] + q);
    c50 = _mm256_fmadd_pd(a, b0, c50);
    c51 = _mm256_fmadd_pd(a, b1, c51);
    B += 8;
  }
  const __m256d acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                             {c30, c31}, {c40, c41}, {c50, c51}};
  if (m == 6 && n == 8) {
    for (int i = 0; i < 6; ++i) {
      double* row = C + i * ldc;
      _mm256_storeu_pd(row, _mm256_add_pd(_mm256_loadu_pd(row), acc[i][0]));
      _mm256_storeu_pd(row + 4, _mm256_add_pd(_mm256_loadu_pd(row + 4), acc[i][1]));
    }
  } else {
    alignas(32) double tile[6 * 8];
    for (int i = 0; i < 6; ++i) {
      _mm256_store_pd(tile + i * 8, acc[i][0]);
      _mm256_store_pd(tile + i * 8 + 4, acc[i][1]);
    }
    add_tile_clipped(tile, 8, C, ldc, m, n);
  }
}

CNNOPS_AVX2 void f32_6x16(int64_t kc, const float* A, const float* B, float* C, int64_t ldc, int m, int n) {
  f32_6x16_impl<AAccess::kPacked>(kc, A, 0, nullptr, B, C, ldc, m, n);
}
CNNOPS_AVX2 void f32_6x16_rows(int64_t kc, const float* A, int64_t lda, const float* B, float* C, int64_t ldc, int m,
                               int n) {
  f32_6x16_impl<AAccess::kRows>(kc, A, lda, nullptr, B, C, ldc, m, n);
}
CNNOPS_AVX2 void f64_6x8(int64_t kc, const double* A, const double* B, double* C, int64_t ldc, int m, int n) {
  f64_6x8_impl<AAccess::kPacked>(kc, A, 0, nullptr, B, C, ldc, m, n);
}
CNNOPS_AVX2 void f64_6x8_rows(int64_t kc, const double* A, int64_t lda, const double* B, double* C, int64_t ldc,
                              int m, int n) {
  f64_6x8_impl<AAccess::kRows>(kc, A, lda, nullptr, B, C, ldc, m, n);
}

CNNOPS_AVX2 void f32_6x16_ptrs(int64_t kc, const float* const* rows, const float* B, float* C, int64_t ldc, int m,
                               int n) {
  f32_6x16_impl<AAccess::kPointers>(kc, nullptr, 0, rows, B, C, ldc, m, n);
}
CNNOPS_AVX2 void f64_6x8_ptrs(int64_t kc, const double* const* rows, const double* B, double* C, int64_t ldc, int m,
                              int n) {
  f64_6x8_impl<AAccess::kPointers>(kc, nullptr, 0, rows, B, C, ldc, m, n);
}

}  // namespace

const Microkernel<float> kMicrokernelF32Avx2 = {6, 16, f32_6x16, f32_6x16_rows, f32_6x16_ptrs, "avx2_fma_f32_6x16"};
const Microkernel<double> kMicrokernelF64Avx2 = {6, 8, f64_6x8, f64_6x8_rows, f64_6x8_ptrs, "avx2_fma_f64_6x8"};

}  // namespace cpu
}  // namespace cnnops
