// bfloat16 GEMM blocks on AMX tiles (TDPBF16PS: float accumulators, products of bfloat16 pairs).
//
// Operands are 16 x 64-byte tiles; staged, each is 1 KiB and contiguous:
//   A tiles: 16 rows (GEMM rows) x 32 reduction elements, element (i, q) at [i * 32 + q]
//            (or read in place with another row stride, AmxRows);
//   B tiles: 16 reduction pairs x 16 columns, element (q, j) at [(q / 2) * 32 + j * 2 + q % 2]
//            (the VNNI order the instruction reads).
// A block computes a 32 x 32 float tile of C = A * B over `chunks` reduction chunks of 32 from
// two A tile columns (rows 0-15 and 16-31) and two B tile columns (columns 0-15 and 16-31).
#pragma once
#include <cstdint>

namespace cnnops {
namespace cpu {

constexpr int kAmxTileElems = 16 * 32;  // bfloat16 elements in one staged 1 KiB tile

// Whether this process runs bfloat16 products on AMX (CPU support, the kernel's permission and
// CNNOPS_CPU_KERNEL; chosen once in microkernel_select.cpp).
bool amx_bf16_enabled();

// Loads the tile configuration of the block kernel into the calling thread (tile state is per
// thread) and releases it again; every thread that calls amx_bf16_block brackets its calls.
void amx_tiles_configure();
void amx_tiles_release();

// One 16-row A tile column: chunk t's tile is the 16 rows at base + off[t] (elements), row i
// `stride` bytes after row i - 1: a staged tile (off[t] = t * kAmxTileElems, stride 64) or 16
// pixels of a channels-last input read in place (the rows are consecutive output positions).
struct AmxRows {
  const uint16_t* base;
  const int64_t* off;
  int64_t stride;
};

// C[0:32, 0:32] = sum over chunks t of A(t) * B(t) (overwrites C; row-major, leading dimension
// ldc floats). a0/a1: the A tiles of rows 0-15 / 16-31; b0/b1: the first staged B tile of
// columns 0-15 / 16-31, chunk t's kAmxTileElems * t further on.
void amx_bf16_block(int64_t chunks, const AmxRows& a0, const AmxRows& a1, const uint16_t* b0, const uint16_t* b1,
                    float* C, int64_t ldc);

}  // namespace cpu
}  // namespace cnnops
