// Portable micro-kernels for CPUs without AVX2/FMA: the same 6-row panels, a fixed-size
// accumulator array the compiler keeps in (SSE2) registers as far as it can.
#include "microkernel.h"

namespace cnnops {
namespace cpu {
namespace {

template <typename T, int MR, int NR>
void generic_kernel(int64_t kc, const T* A, const T* B, T* C, int64_t ldc, int m, int n) {
  T acc[MR * NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const T a = A[p * MR + i];
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += a * B[p * NR + j];
    }
  }
  add_tile_clipped(acc, NR, C, ldc, m, n);
}

template <typename T, int MR, int NR>
void generic_kernel_rows(int64_t kc, const T* A, int64_t lda, const T* B, T* C, int64_t ldc, int m, int n) {
  T acc[MR * NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < m; ++i) {
      const T a = A[i * lda + p];
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += a * B[p * NR + j];
    }
  }
  add_tile_clipped(acc, NR, C, ldc, m, n);
}

template <typename T, int MR, int NR>
void generic_kernel_ptrs(int64_t kc, const T* const* rows, const T* B, T* C, int64_t ldc, int m, int n) {
  T acc[MR * NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < m; ++i) {
      const T a = rows[i][p];
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += a * B[p * NR + j];
    }
  }
  add_tile_clipped(acc, NR, C, ldc, m, n);
}

}  // namespace

const Microkernel<float> kMicrokernelF32Generic = {6, 16, generic_kernel<float, 6, 16>,
                                                   generic_kernel_rows<float, 6, 16>,
                                                   generic_kernel_ptrs<float, 6, 16>, "generic_f32_6x16"};
const Microkernel<double> kMicrokernelF64Generic = {6, 8, generic_kernel<double, 6, 8>,
                                                    generic_kernel_rows<double, 6, 8>,
                                                    generic_kernel_ptrs<double, 6, 8>, "generic_f64_6x8"};

}  // namespace cpu
}  // namespace cnnops
