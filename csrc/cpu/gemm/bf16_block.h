// bfloat16 GEMM blocks on pair dot products: float accumulators, each step adding the products of
// a pair of bfloat16 -- TDPBF16PS on AMX tiles, or VDPBF16PS on AVX512-BF16 vectors where the CPU
// has no AMX (bf16_block_avx512.cpp).
//
// Operands are 16 x 64-byte tiles; staged, each is 1 KiB and contiguous:
//   A tiles: 16 rows (GEMM rows) x 32 reduction elements, element (i, q) at [i * 32 + q]
//            (or read in place with another row stride, Bf16Rows);
//   B tiles: 16 reduction pairs x 16 columns, element (q, j) at [(q / 2) * 32 + j * 2 + q % 2]
//            (the VNNI order both instructions read).
// A block computes a 32 x 32 float tile of C = A * B over `chunks` reduction chunks of 32 from
// two A tile columns (rows 0-15 and 16-31) and two B tile columns (columns 0-15 and 16-31).
// Each element's sum runs over the chunks in order and, within a chunk, over the pairs in order,
// so a block's result never depends on how the calling tasks are split.
#pragma once
#include <cstdint>

namespace cnnops {
namespace cpu {

constexpr int kBf16TileElems = 16 * 32;  // bfloat16 elements in one staged 1 KiB tile

// One 16-row A tile column: chunk t's tile is the 16 rows at base + off[t] (elements), row i
// `stride` bytes after row i - 1: a staged tile (off[t] = t * kBf16TileElems, stride 64) or 16
// pixels of a channels-last input read in place (the rows are consecutive output positions).
struct Bf16Rows {
  const uint16_t* base;
  const int64_t* off;
  int64_t stride;
};

// C[0:32, 0:32] = sum over chunks t of A(t) * B(t) -- or, with `accumulate`, C plus that sum,
// continuing each element's running sum from where an earlier call over the preceding chunks left
// it (a float stored and reloaded is exact, so splitting a reduction into calls never changes a
// result). C is row-major with leading dimension ldc floats. a0/a1: the A tiles of rows 0-15 /
// 16-31; b0/b1: the first staged B tile of columns 0-15 / 16-31, chunk t's kBf16TileElems * t
// further on.
using Bf16BlockFn = void (*)(int64_t chunks, const Bf16Rows& a0, const Bf16Rows& a1, const uint16_t* b0,
                             const uint16_t* b1, float* C, int64_t ldc, bool accumulate);

void bf16_block_amx(int64_t chunks, const Bf16Rows& a0, const Bf16Rows& a1, const uint16_t* b0, const uint16_t* b1,
                    float* C, int64_t ldc, bool accumulate);
void bf16_block_avx512(int64_t chunks, const Bf16Rows& a0, const Bf16Rows& a1, const uint16_t* b0,
                       const uint16_t* b1, float* C, int64_t ldc, bool accumulate);

// Loads the AMX tile configuration of the block kernel into the calling thread (tile state is
// per thread) and releases it again.
void amx_tiles_configure();
void amx_tiles_release();

// The block kernel this process runs bfloat16 products on: AMX tiles, else AVX512-BF16 vectors
// (CPU support, the kernel's permission for the tile state, CNNOPS_CPU_KERNEL; chosen once in
// microkernel_select.cpp).
struct Bf16BlockEngine {
  const char* name;
  Bf16BlockFn block;
  bool tiles;  // AMX: a thread loads the tile configuration before its blocks (Bf16BlockThread)
};

// The engine, or null where bfloat16 widens to float for the float micro-kernels.
const Bf16BlockEngine* bf16_block_engine();

// Brackets one thread's block calls: configures the AMX tiles (and releases them) where the
// engine needs it, nothing for the vector kernel.
class Bf16BlockThread {
 public:
  explicit Bf16BlockThread(const Bf16BlockEngine& e) : tiles_(e.tiles) {
    if (tiles_) amx_tiles_configure();
  }
  ~Bf16BlockThread() {
    if (tiles_) amx_tiles_release();
  }
  Bf16BlockThread(const Bf16BlockThread&) = delete;
  Bf16BlockThread& operator=(const Bf16BlockThread&) = delete;

 private:
  bool tiles_;
};

}  // namespace cpu
}  // namespace cnnops
