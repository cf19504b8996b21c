// Where wgmma finds its operands and puts its results: the decoding of a shared-memory matrix
// descriptor and the accumulator fragment layout, as the PTX ISA defines them ("Matrix
// Descriptor Format" and "Register Fragments and Shared Memory Matrix Layouts" of
// wgmma.mma_async). Pure functions, torch- and runtime-free, so that a host-compiled oracle test
// (tests/oracle/gmma_cute_oracle.cpp) checks them element by element against CUTLASS's CuTe
// layouts -- the simulator is then not checked only against itself.
//
// Only K-major operands are decoded (no transpose): the convolution's activation tile (channels
// innermost, NHWC) and filter tile (KRSC) are both K-major, and tf32 has no transposed form.
#pragma once
#include <cstdint>

namespace cnnops {
namespace sim {

// The descriptor's 2-bit layout type (bits 62-63).
enum class GmmaSwizzle : int { kNone = 0, k128B = 1, k64B = 2, k32B = 3 };

struct GmmaDescriptor {
  uint32_t start_address;  // bytes (bits 0-13, in 16-byte units)
  uint32_t leading_bytes;  // leading dimension byte offset (bits 16-29)
  uint32_t stride_bytes;   // stride dimension byte offset (bits 32-45)
  unsigned base_offset;    // bits 49-51
  GmmaSwizzle swizzle;     // bits 62-63
};

GmmaDescriptor decode_gmma_descriptor(uint64_t bits);

// Bytes of a row of the swizzle pattern: 16 (none: one 8x16-byte core matrix row), 32, 64, 128.
unsigned gmma_swizzle_row_bytes(GmmaSwizzle swizzle);

// The shared-memory byte address of element (row, k) of a K-major operand (row: M for A, N for
// B) that one wgmma reads through `d`; k < 32 / element_bytes (one instruction's K: 16 16-bit
// or 8 tf32 elements). In 16-byte units, as CuTe writes the canonical K-major layouts:
//   none:     ((8, m), 2) : ((1, SBO), LBO)
//   32/64/128: ((8, m), 2) : ((W, SBO), 1)   with W = 2, 4, 8 (the swizzle row in 16-byte units)
// then the swizzle XORs address bits [4, 4+b) with bits [7, 7+b), b = 1, 2, 3 -- on the absolute
// shared address, so a start address advanced inside a swizzle atom (the next k-block) stays
// consistent with where the producer wrote.
uint32_t gmma_element_address(const GmmaDescriptor& d, int row, int k, int element_bytes);

// The accumulator fragment of wgmma .m64nNk*: register `reg` (0 .. N/2-1) of thread `thread`
// (0..127 in its warpgroup) holds D[row][col] with
//   row = 16 * (thread / 32) + (thread % 32) / 4 + 8 * ((reg / 2) % 2)
//   col = 8 * (reg / 4) + 2 * (thread % 4) + reg % 2
struct FragmentCoord {
  int row, col;
};
FragmentCoord wgmma_accumulator_coord(int thread, int reg);

}  // namespace sim
}  // namespace cnnops
