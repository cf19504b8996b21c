#include "gmma_layout.h"

namespace cnnops {
namespace sim {

GmmaDescriptor decode_gmma_descriptor(uint64_t bits) {
  GmmaDescriptor d;
  d.start_address = uint32_t(bits & 0x3fffu) << 4;
  d.leading_bytes = uint32_t((bits >> 16) & 0x3fffu) << 4;
  d.stride_bytes = uint32_t((bits >> 32) & 0x3fffu) << 4;
  d.base_offset = unsigned((bits >> 49) & 0x7u);
  d.swizzle = GmmaSwizzle(int((bits >> 62) & 0x3u));
  return d;
}

unsigned gmma_swizzle_row_bytes(GmmaSwizzle swizzle) {
  switch (swizzle) {
    case GmmaSwizzle::kNone: return 16;
    case GmmaSwizzle::k32B: return 32;
    case GmmaSwizzle::k64B: return 64;
    case GmmaSwizzle::k128B: return 128;
  }
  return 0;
}

uint32_t gmma_element_address(const GmmaDescriptor& d, int row, int k, int element_bytes) {
  const uint32_t k_bytes = uint32_t(k * element_bytes);
  const uint32_t row_in_core = uint32_t(row % 8), core_row = uint32_t(row / 8);
  if (d.swizzle == GmmaSwizzle::kNone)
    return d.start_address + core_row * d.stride_bytes + (k_bytes / 16) * d.leading_bytes + row_in_core * 16 +
           k_bytes % 16;
  const uint32_t row_bytes = gmma_swizzle_row_bytes(d.swizzle);
  const uint32_t linear = d.start_address + core_row * d.stride_bytes + row_in_core * row_bytes + k_bytes;
  const unsigned b = d.swizzle == GmmaSwizzle::k32B ? 1 : d.swizzle == GmmaSwizzle::k64B ? 2 : 3;
  const uint32_t mask = (1u << b) - 1;
  return linear ^ (((linear >> 7) & mask) << 4);
}

FragmentCoord wgmma_accumulator_coord(int thread, int reg) {
  const int warp = thread / 32, lane = thread % 32;
  return FragmentCoord{16 * warp + lane / 4 + 8 * ((reg / 2) % 2), 8 * (reg / 4) + 2 * (lane % 4) + reg % 2};
}

}  // namespace sim
}  // namespace cnnops
