// The AVX512-BF16 block kernel (bf16_block.h), for CPUs with VDPBF16PS but no AMX: the 32 x 32
// block runs as four 8-row strips, each an 8 x 32 register tile (16 zmm accumulators) carried
// through every chunk. A step of one reduction pair loads the two B vectors (16 columns x 2
// bfloat16 each) and, per row, broadcasts the row's pair into both products: 2 loads and 8
// broadcasts per 16 VDPBF16PS, each of which does twice a float FMA's multiplies. Compiled with a
// per-function target attribute and called only where bf16_block_engine() is this engine.
#include <immintrin.h>

#include <cstring>

#include "bf16_block.h"

namespace cnnops {
namespace cpu {
namespace {

#define CNNOPS_AVX512BF16 __attribute__((target("avx512f,avx512bf16")))

constexpr int kStripRows = 8;

// C[r0 : r0 + 8, 0:32] of the block (plus its old value with `accumulate`) from rows r0 .. r0 + 7
// of the A tile column `a`.
CNNOPS_AVX512BF16 inline void strip(int64_t chunks, const Bf16Rows& a, int r0, const uint16_t* b0,
                                    const uint16_t* b1, float* C, int64_t ldc, bool accumulate) {
  __m512 acc[kStripRows][2];
#pragma GCC unroll 8
  for (int i = 0; i < kStripRows; ++i) {
    const float* row = C + (r0 + i) * ldc;
    acc[i][0] = accumulate ? _mm512_loadu_ps(row) : _mm512_setzero_ps();
    acc[i][1] = accumulate ? _mm512_loadu_ps(row + 16) : _mm512_setzero_ps();
  }
  for (int64_t t = 0; t < chunks; ++t) {
    const char* rows = reinterpret_cast<const char*>(a.base + a.off[t]) + r0 * a.stride;
    const uint16_t* B0 = b0 + t * kBf16TileElems;
    const uint16_t* B1 = b1 + t * kBf16TileElems;
#pragma GCC unroll 2
    for (int k = 0; k < 16; ++k) {
      const __m512bh v0 = (__m512bh)_mm512_loadu_si512(B0 + k * 32);
      const __m512bh v1 = (__m512bh)_mm512_loadu_si512(B1 + k * 32);
#pragma GCC unroll 8
      for (int i = 0; i < kStripRows; ++i) {
        int32_t pair;  // row i's reduction elements 2k and 2k + 1
        std::memcpy(&pair, rows + i * a.stride + 4 * k, sizeof(pair));
        const __m512bh ai = (__m512bh)_mm512_set1_epi32(pair);
        acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, v0);
        acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, v1);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kStripRows; ++i) {
    float* row = C + (r0 + i) * ldc;
    _mm512_storeu_ps(row, acc[i][0]);
    _mm512_storeu_ps(row + 16, acc[i][1]);
  }
}

}  // namespace

CNNOPS_AVX512BF16 void bf16_block_avx512(int64_t chunks, const Bf16Rows& a0, const Bf16Rows& a1,
                                         const uint16_t* b0, const uint16_t* b1, float* C, int64_t ldc,
                                         bool accumulate) {
  strip(chunks, a0, 0, b0, b1, C, ldc, accumulate);
  strip(chunks, a0, 8, b0, b1, C, ldc, accumulate);
  strip(chunks, a1, 0, b0, b1, C + 16 * ldc, ldc, accumulate);
  strip(chunks, a1, 8, b0, b1, C + 16 * ldc, ldc, accumulate);
}

}  // namespace cpu
}  // namespace cnnops
