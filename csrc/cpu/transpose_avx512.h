// Block transposes on AVX-512 for the bfloat16 kernels' layout changes: 32 x 32 16-bit elements
// (channels-last copies of NCHW inputs and filters, grad_output's rows of positions, the
// transposed filters of the input gradient) and 16 x 16 32-bit words (bfloat16 pairs into the
// blocks' B tiles). Element-by-element
// transposes with one operand strided ran at 3 ns per element there (a cache line and a TLB
// entry per element once rows are far apart); this one reads and writes whole 64-byte rows.
//
// A transpose runs in a buffer of 64-byte rows in stages: stage b (16, 8, 4, 2, 1 for 32 x 32,
// from 8 for 16 x 16) exchanges bit b of the row index with bit b of the column index, by one
// two-source permute per pair of rows (i, i + b) -- every element ends at (j, i) after them. Only call where the CPU has
// AVX-512BW (the bfloat16 block engines require it).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace cnnops {
namespace cpu {

#define CNNOPS_TRANSPOSE_TARGET __attribute__((target("avx512f,avx512bw")))

// The permute indices of stage b of an n x n transpose: lo[e], hi[e] pick element e of the new
// rows i and i + b from row i (0 .. n-1) and row i + b (n .. 2n-1).
template <typename Index, int n>
struct TransposeStages {
  static constexpr int kStages = n == 32 ? 5 : 4;
  struct Stage {
    alignas(64) Index lo[n];
    alignas(64) Index hi[n];
  } s[kStages];
  TransposeStages() {
    for (int k = 0; k < kStages; ++k) {
      const int b = (n / 2) >> k;
      for (int e = 0; e < n; ++e) {
        const int group = e / (2 * b) * 2 * b, w = e % (2 * b);
        s[k].lo[e] = Index(w < b ? group + w : n + group + w - b);
        s[k].hi[e] = Index(w < b ? group + b + w : n + group + w);
      }
    }
  }
};

// The two-source permute of T-sized elements: element e of the result is element idx[e] of a:b.
CNNOPS_TRANSPOSE_TARGET inline __m512i permute2(__m512i a, __m512i idx, __m512i b, uint16_t) {
  return _mm512_permutex2var_epi16(a, idx, b);
}
CNNOPS_TRANSPOSE_TARGET inline __m512i permute2(__m512i a, __m512i idx, __m512i b, uint32_t) {
  return _mm512_permutex2var_epi32(a, idx, b);
}

// buf: n rows of n elements of T, n = 64 / sizeof(T) (one 64-byte row each; row i at buf + n * i),
// transposed in place.
template <typename T>
CNNOPS_TRANSPOSE_TARGET inline void transpose_square(T* buf) {
  constexpr int n = 64 / int(sizeof(T));
  static const TransposeStages<T, n> st;
  for (int k = 0; k < st.kStages; ++k) {
    const int b = (n / 2) >> k;
    const __m512i lo = _mm512_load_si512(st.s[k].lo), hi = _mm512_load_si512(st.s[k].hi);
    for (int i = 0; i < n; ++i) {
      if (i & b) continue;
      const __m512i a = _mm512_loadu_si512(buf + n * i), c = _mm512_loadu_si512(buf + n * (i + b));
      _mm512_storeu_si512(buf + n * i, permute2(a, lo, c, T()));
      _mm512_storeu_si512(buf + n * (i + b), permute2(a, hi, c, T()));
    }
  }
}

CNNOPS_TRANSPOSE_TARGET inline void transpose32x32_u16(uint16_t* buf) { transpose_square(buf); }
CNNOPS_TRANSPOSE_TARGET inline void transpose16x16_u32(uint32_t* buf) { transpose_square(buf); }

// dst[j * ldd + i] = src[i * lds + j] for i, j < 16: a 16 x 16 block of 32-bit words (floats).
CNNOPS_TRANSPOSE_TARGET inline void transpose16x16_u32(const uint32_t* src, int64_t lds, uint32_t* dst, int64_t ldd) {
  alignas(64) uint32_t buf[16 * 16];
  for (int i = 0; i < 16; ++i) _mm512_store_si512(buf + 16 * i, _mm512_loadu_si512(src + i * lds));
  transpose16x16_u32(buf);
  for (int j = 0; j < 16; ++j) _mm512_storeu_si512(dst + j * ldd, _mm512_load_si512(buf + 16 * j));
}

// Row i of the buffer = src_i[0 : len] (zeros past len and for a null src_i), len <= 32.
CNNOPS_TRANSPOSE_TARGET inline void load_row_u16(uint16_t* buf, int i, const uint16_t* src, int64_t len) {
  if (src == nullptr || len <= 0) {
    _mm512_storeu_si512(buf + 32 * i, _mm512_setzero_si512());
    return;
  }
  const __mmask32 m = len >= 32 ? ~__mmask32(0) : (__mmask32(1) << len) - 1;
  _mm512_storeu_si512(buf + 32 * i, _mm512_maskz_loadu_epi16(m, src));
}

// dst[0 : len] = row i of the buffer, len <= 32.
CNNOPS_TRANSPOSE_TARGET inline void store_row_u16(const uint16_t* buf, int i, uint16_t* dst, int64_t len) {
  const __mmask32 m = len >= 32 ? ~__mmask32(0) : (__mmask32(1) << len) - 1;
  _mm512_mask_storeu_epi16(dst, m, _mm512_loadu_si512(buf + 32 * i));
}

// dst[j * ldd + i] = src[i][offset + j] for i < 32 (zero where src[i] is null or j >= len) and
// j < 32, written for j < rows and i < cols: 32 source rows, of which elements offset ..
// offset + len - 1 are read, land transposed in `rows` rows of `cols` elements.
CNNOPS_TRANSPOSE_TARGET inline void transpose_rows_u16(const uint16_t* const* src, int64_t offset, int64_t len,
                                                       uint16_t* dst, int64_t ldd, int64_t rows = 32,
                                                       int64_t cols = 32) {
  alignas(64) uint16_t buf[32 * 32];
  for (int i = 0; i < 32; ++i) load_row_u16(buf, i, src[i] == nullptr ? nullptr : src[i] + offset, len);
  transpose32x32_u16(buf);
  for (int j = 0; j < rows; ++j) store_row_u16(buf, j, dst + j * ldd, cols);
}

}  // namespace cpu
}  // namespace cnnops
