// The AMX block kernel (bf16_block.h): tiles 0-3 hold the 2 x 2 float accumulators, 4-5 the A
// tiles and 6-7 the B tiles of one reduction chunk; every chunk is 4 loads and 4 TDPBF16PS.
// Compiled with a per-function target attribute and called only where bf16_block_engine() is the
// AMX engine.
#include "bf16_block.h"

#include <immintrin.h>

#include <cstring>

namespace cnnops {
namespace cpu {
namespace {

#define CNNOPS_AMX __attribute__((target("amx-tile,amx-bf16")))

// The 64-byte LDTILECFG operand: palette 1, eight tiles of 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

TileConfig block_config() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  return cfg;
}

}  // namespace

CNNOPS_AMX void amx_tiles_configure() {
  static const TileConfig cfg = block_config();
  _tile_loadconfig(&cfg);
}

CNNOPS_AMX void amx_tiles_release() { _tile_release(); }

CNNOPS_AMX void bf16_block_amx(int64_t chunks, const Bf16Rows& a0, const Bf16Rows& a1, const uint16_t* b0,
                               const uint16_t* b1, float* C, int64_t ldc, bool accumulate) {
  const int64_t stride = ldc * int64_t(sizeof(float));
  if (accumulate) {
    _tile_loadd(0, C, stride);
    _tile_loadd(1, C + 16, stride);
    _tile_loadd(2, C + 16 * ldc, stride);
    _tile_loadd(3, C + 16 * ldc + 16, stride);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t t = 0; t < chunks; ++t) {
    const int64_t o = t * kBf16TileElems;
    _tile_loadd(4, a0.base + a0.off[t], a0.stride);
    _tile_loadd(6, b0 + o, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_loadd(7, b1 + o, 64);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, a1.base + a1.off[t], a1.stride);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, C, stride);
  _tile_stored(1, C + 16, stride);
  _tile_stored(2, C + 16 * ldc, stride);
  _tile_stored(3, C + 16 * ldc + 16, stride);
}

}  // namespace cpu
}  // namespace cnnops
