// 32 x 32 transposes of 16-bit elements on AVX-512BW, for the bfloat16 kernels' layout changes
// (channels-last copies of NCHW inputs, grad_output's rows of positions). Element-by-element
// transposes with one operand strided ran at 3 ns per element there (a cache line and a TLB
// entry per element once rows are far apart); this one reads and writes whole 64-byte rows.
//
// The transpose runs in a 2 KiB buffer in five stages: stage b (16, 8, 4, 2, 1) exchanges bit b
// of the row index with bit b of the column index, by one two-source permute per pair of rows
// (i, i + b) -- every element ends at (j, i) after the five. Only call where the CPU has
// AVX-512BW (the bfloat16 block engines require it).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace cnnops {
namespace cpu {

#define CNNOPS_TRANSPOSE_TARGET __attribute__((target("avx512f,avx512bw")))

// The permute indices of stage b: lo[e], hi[e] pick element e of the new rows i and i + b from
// row i (0-31) and row i + b (32-63).
struct TransposeStage {
  alignas(64) uint16_t lo[32];
  alignas(64) uint16_t hi[32];
};

inline const TransposeStage* transpose_stages() {
  static const struct Stages {
    TransposeStage s[5];
    Stages() {
      for (int k = 0; k < 5; ++k) {
        const int b = 16 >> k;
        for (int e = 0; e < 32; ++e) {
          const int group = e / (2 * b) * 2 * b, w = e % (2 * b);
          s[k].lo[e] = uint16_t(w < b ? group + w : 32 + group + w - b);
          s[k].hi[e] = uint16_t(w < b ? group + b + w : 32 + group + w);
        }
      }
    }
  } stages;
  return stages.s;
}

// buf: 32 rows of 32 elements (row i at buf + 32 * i), transposed in place.
CNNOPS_TRANSPOSE_TARGET inline void transpose32x32_u16(uint16_t* buf) {
  const TransposeStage* st = transpose_stages();
  for (int k = 0; k < 5; ++k) {
    const int b = 16 >> k;
    const __m512i lo = _mm512_load_si512(st[k].lo), hi = _mm512_load_si512(st[k].hi);
    for (int i = 0; i < 32; ++i) {
      if (i & b) continue;
      const __m512i a = _mm512_loadu_si512(buf + 32 * i), c = _mm512_loadu_si512(buf + 32 * (i + b));
      _mm512_storeu_si512(buf + 32 * i, _mm512_permutex2var_epi16(a, lo, c));
      _mm512_storeu_si512(buf + 32 * (i + b), _mm512_permutex2var_epi16(a, hi, c));
    }
  }
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
