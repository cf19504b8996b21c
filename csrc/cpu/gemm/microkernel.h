// Register-blocked GEMM micro-kernels for the CPU convolution kernels.
//
// A micro-kernel computes C[0:m, 0:n] += A_panel * B_panel, where
//   A_panel is kc x mr, stored p-major: A[p * mr + i]   (a packed "row panel" of the left matrix)
//   B_panel is kc x nr, stored p-major: B[p * nr + j]   (a packed "column panel" of the right one)
//   C is row-major with leading dimension ldc; m <= mr and n <= nr cover the ragged edges.
// The packers zero-fill panel rows/columns past the matrix edge, so the kernel always computes
// a full mr x nr tile and only the store is clipped.
//
// Which kernel runs is chosen once, at first use, from the CPU's features (AVX-512F, AVX2+FMA or
// the portable fallback), so one binary built with Python's default flags runs fast where it can.
// Every kernel has nr <= kMaxNr (the packers size stack arrays by it).
#pragma once
#include <cstdint>

namespace cnnops {
namespace cpu {

template <typename T>
struct Microkernel {
  int mr;
  int nr;
  void (*fn)(int64_t kc, const T* A, const T* B, T* C, int64_t ldc, int m, int n);
  // The same product with A read in place, row-major: row i at A + i * lda (rows >= m are not
  // read). Saves packing A when it already is a row-major matrix (contiguous conv weights).
  void (*fn_rows)(int64_t kc, const T* A, int64_t lda, const T* B, T* C, int64_t ldc, int m, int n);
  // The same with row i of A at rows[i] (kc contiguous values; rows[i] for i >= m are not read):
  // the indirect GEMM of the channels-last convolution, whose rows are input pixels in place.
  void (*fn_ptrs)(int64_t kc, const T* const* rows, const T* B, T* C, int64_t ldc, int m, int n);
  const char* name;
};

const Microkernel<float>& microkernel_f32();
const Microkernel<double>& microkernel_f64();

template <typename T>
const Microkernel<T>& microkernel();
template <>
inline const Microkernel<float>& microkernel<float>() { return microkernel_f32(); }
template <>
inline const Microkernel<double>& microkernel<double>() { return microkernel_f64(); }

// The individual kernels, for the dispatcher (microkernel_select.cpp) and for tests.
constexpr int kMaxNr = 32;

extern const Microkernel<float> kMicrokernelF32Avx512;
extern const Microkernel<double> kMicrokernelF64Avx512;
extern const Microkernel<float> kMicrokernelF32Avx2;
extern const Microkernel<double> kMicrokernelF64Avx2;
extern const Microkernel<float> kMicrokernelF32Generic;
extern const Microkernel<double> kMicrokernelF64Generic;

// How a micro-kernel reads A: a packed panel, rows in place, or a pointer per row.
enum class AAccess { kPacked, kRows, kPointers };

// Where row i of A starts (element p of the row at [p * step]); rows past m alias row 0 so that
// no row past the matrix is read.
template <int MR, AAccess kAccess, typename T>
inline const T* a_row(const T* A, int64_t lda, const T* const* rows, int i, int m) {
  if constexpr (kAccess == AAccess::kPacked) return A + i;
  if constexpr (kAccess == AAccess::kRows) return m > i ? A + i * lda : A;
  return m > i ? rows[i] : rows[0];
}

// Adds the mr x nr tile `tile` (row-major, leading dimension nr) into C, clipped to m x n.
template <typename T>
inline void add_tile_clipped(const T* tile, int nr, T* C, int64_t ldc, int m, int n) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) C[i * ldc + j] += tile[i * nr + j];
}

}  // namespace cpu
}  // namespace cnnops
