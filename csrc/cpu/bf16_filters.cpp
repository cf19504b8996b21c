// bfloat16 filter layouts for the pair dot-product blocks (bf16_filters.h).
#include "bf16_filters.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>

#include "gemm/bf16_block.h"
#include "gemm/gemm_driver.h"
#include "transpose_avx512.h"

namespace cnnops {
namespace cpu {
namespace {

#define CNNOPS_AVX512BW __attribute__((target("avx512f,avx512bw")))

// One filter's (c) x (r, s) matrix (rows w.c apart, (r, s) contiguous) transposed to (r, s) x (c).
CNNOPS_AVX512BW void filter_to_rsc(const uint16_t* wk, int64_t wc, int64_t Cg, int64_t RS, uint16_t* out) {
  for (int64_t c0 = 0; c0 < Cg; c0 += 32)
    for (int64_t rs0 = 0; rs0 < RS; rs0 += 32) {
      const uint16_t* channels[32];
      const int64_t cn = std::min<int64_t>(32, Cg - c0), rn = std::min<int64_t>(32, RS - rs0);
      for (int i = 0; i < 32; ++i) channels[i] = i < cn ? wk + (c0 + i) * wc : nullptr;
      transpose_rows_u16(channels, rs0, rn, out + rs0 * Cg + c0, Cg, rn, cn);
    }
}

// Column tile ct of bf16_pack_filter_tiles: 16 rows (filters) of 16 pairs per chunk, transposed
// as 32-bit words.
CNNOPS_AVX512BW void filter_tiles(const uint16_t* rows, int64_t ld, int64_t Kg, int64_t Kd, int64_t chunks,
                                  int64_t ct, uint16_t* dst) {
  alignas(64) uint32_t buf[16 * 16];
  uint16_t* b16 = reinterpret_cast<uint16_t*>(buf);
  for (int64_t t = 0; t < chunks; ++t) {
    for (int j = 0; j < 16; ++j) {
      const int64_t k = ct * 16 + j;
      load_row_u16(b16, j, k < Kg ? rows + k * ld + t * 32 : nullptr, Kd - t * 32);
    }
    transpose16x16_u32(buf);
    std::memcpy(dst + (ct * chunks + t) * kBf16TileElems, buf, sizeof(buf));
  }
}

// 32 filters x 32 channels of one tap: rows k of the (r, s, c) filter copy, transposed.
CNNOPS_AVX512BW void dgrad_block(const uint16_t* rsc, int64_t fld, int64_t k0, int64_t kn, int64_t tap_off, int64_t c0,
                                 int64_t cn, uint16_t* dst, int64_t ldd) {
  const uint16_t* filters[32];
  for (int i = 0; i < 32; ++i) filters[i] = i < kn ? rsc + (k0 + i) * fld + tap_off : nullptr;
  transpose_rows_u16(filters, c0, cn, dst, ldd, cn, kn);
}

}  // namespace

void bf16_filters_rsc(const Conv2dParams& p, const uint16_t* w, uint16_t* out) {
  const int64_t Cg = p.channels_per_group(), RS = p.R * p.S, Kd = p.crs();
  const bool rsc = filters_are_rsc(p), planes = p.w.w == 1 && p.w.h == p.S;
  at::parallel_for(0, p.K, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const uint16_t* wk = w + k * p.w.n;
      uint16_t* o = out + k * Kd;
      if (rsc) {
        std::memcpy(o, wk, Kd * sizeof(uint16_t));
      } else if (planes) {
        filter_to_rsc(wk, p.w.c, Cg, RS, o);
      } else {
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t r = 0; r < p.R; ++r)
            for (int64_t s = 0; s < p.S; ++s) o[(r * p.S + s) * Cg + c] = wk[c * p.w.c + r * p.w.h + s * p.w.w];
      }
    }
  });
}

void bf16_pack_filter_tiles(const uint16_t* rows, int64_t ld, int64_t Kg, int64_t Kd, int64_t chunks,
                            int64_t col_tiles, uint16_t* dst) {
  at::parallel_for(0, col_tiles, 1, [&](int64_t begin, int64_t end) {
    for (int64_t ct = begin; ct < end; ++ct) filter_tiles(rows, ld, Kg, Kd, chunks, ct, dst);
  });
}

void bf16_dgrad_filters(const Conv2dParams& p, const uint16_t* w, const std::vector<int64_t>& row_taps,
                        const std::vector<int64_t>& col_taps, uint16_t* out) {
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group(), Kd = p.crs();
  const int64_t Rt = int64_t(row_taps.size()), St = int64_t(col_taps.size()), ld = Rt * St * Kg;
  const bool in_place = filters_are_rsc(p);
  Scratch<uint16_t> rsc(in_place ? 0 : p.K * Kd);
  if (!in_place) bf16_filters_rsc(p, w, rsc.get());
  const uint16_t* filters = in_place ? w : rsc.get();
  const int64_t fld = in_place ? p.w.n : Kd;  // between one filter's (r, s, c) row and the next
  // Tasks: (group, block of 32 input channels); each writes its channels' rows whole.
  const int64_t cblocks = ceil_div(Cg, 32);
  at::parallel_for(0, G * cblocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t g = task / cblocks, c0 = (task % cblocks) * 32, cn = std::min<int64_t>(32, Cg - c0);
      for (int64_t a = 0; a < Rt; ++a)
        for (int64_t b = 0; b < St; ++b) {
          const int64_t tap_off = (row_taps[a] * p.S + col_taps[b]) * Cg;
          for (int64_t k0 = 0; k0 < Kg; k0 += 32)
            dgrad_block(filters + g * Kg * fld, fld, k0, std::min<int64_t>(32, Kg - k0), tap_off, c0, cn,
                        out + (g * Cg + c0) * ld + (a * St + b) * Kg + k0, ld);
        }
    }
  });
}

}  // namespace cpu
}  // namespace cnnops
