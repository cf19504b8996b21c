// bfloat16 filters in the layouts of the pair dot-product blocks (gemm/bf16_block.h), built with
// the block transposes of transpose_avx512.h (per-element index arithmetic and strided gathers
// had cost more than the products in layers with few output positions). Call only where
// bf16_block_engine() is set (the CPU has AVX-512BW).
#pragma once
#include <cstdint>
#include <vector>

#include "../common/conv_params.h"

namespace cnnops {
namespace cpu {

// Whether p.w already lays each filter out in the reduction order (r, s, c), contiguously (the
// strides of sizes 1 do not matter: a 1x1 NCHW filter is its own (r, s, c) row).
inline bool filters_are_rsc(const Conv2dParams& p) {
  const int64_t Cg = p.channels_per_group();
  return (p.w.c == 1 || Cg == 1) && (p.S == 1 || p.w.w == Cg) && (p.R == 1 || p.w.h == p.S * Cg);
}

// out[k * Kd + (r * S + s) * Cg + c] = w[k, c, r, s] for all K filters (Kd = C/g * R * S).
void bf16_filters_rsc(const Conv2dParams& p, const uint16_t* w, uint16_t* out);

// The B tiles of Kg filters whose rows (Kd elements in the order (r, s, c)) start `ld` elements
// apart at `rows`: column tile ct (16 filters), chunk t at [(ct * chunks + t) * kBf16TileElems],
// zeros past Kd and past Kg.
void bf16_pack_filter_tiles(const uint16_t* rows, int64_t ld, int64_t Kg, int64_t Kd, int64_t chunks,
                            int64_t col_tiles, uint16_t* dst);

// The filters of one stride phase of the input gradient as a forward's filters, channels-last:
// out[((gc * Rt + a) * St + b) * Kg + k] = w[g * Kg + k, c, row_taps[a], col_taps[b]] for input
// channel gc = g * Cg + c (the forward over grad_output has C filters of Kg channels each).
void bf16_dgrad_filters(const Conv2dParams& p, const uint16_t* w, const std::vector<int64_t>& row_taps,
                        const std::vector<int64_t>& col_taps, uint16_t* out);

}  // namespace cpu
}  // namespace cnnops
