// Building the 64-bit shared-memory matrix descriptor that wgmma.mma_async reads its operands
// through (PTX ISA, "Matrix Descriptor Format"), for the K-major layouts the Hopper kernels stage:
// rows of one swizzle width (or 8x16-byte core matrices without swizzle), 8 rows per atom.
// Torch-free and host/device: the kernels build descriptors with it, and the oracle test
// (tests/oracle/gmma_cute_oracle.cpp) compares its bits with CuTe's make_gmma_desc.
#pragma once
#include <cstdint>

#include "macros.h"

namespace cnnops {

// The descriptor's layout-type field (bits 62-63).
enum class GmmaSwizzleMode : uint32_t { kNone = 0, k128B = 1, k64B = 2, k32B = 3 };

// Bytes in one row of the swizzle pattern (none: one 16-byte core-matrix row).
CNNOPS_HD_INLINE constexpr uint32_t gmma_swizzle_bytes(GmmaSwizzleMode mode) {
  return mode == GmmaSwizzleMode::k128B ? 128u : mode == GmmaSwizzleMode::k64B ? 64u
                                              : mode == GmmaSwizzleMode::k32B ? 32u : 16u;
}

// Byte offsets between the 8-row groups (stride) and, without swizzle, between the 16-byte
// k-chunks (leading) of a K-major tile of `rows` rows whose 8-row atoms are stacked along the
// rows first (the order of CuTe's tile_to_shape): swizzled, an atom is 8 rows of the swizzle
// width, k runs inside a row, and the leading offset is unused (1 by convention); without
// swizzle, a core matrix is 8 rows x 16 bytes, the next k-chunk lies after all `rows` rows.
struct GmmaTileStrides {
  uint32_t stride_bytes, leading_bytes;
};
CNNOPS_HD_INLINE constexpr GmmaTileStrides gmma_kmajor_strides(GmmaSwizzleMode mode, uint32_t rows) {
  return mode == GmmaSwizzleMode::kNone ? GmmaTileStrides{128u, rows * 16u}
                                        : GmmaTileStrides{8u * gmma_swizzle_bytes(mode), 16u};
}

// start: the shared-memory byte address of the operand's element (0, 0); base offset 0 (the
// tiles are aligned to the swizzle pattern's repeat, 8 rows).
CNNOPS_HD_INLINE constexpr uint64_t gmma_descriptor(uint32_t start, GmmaSwizzleMode mode, GmmaTileStrides strides) {
  return uint64_t((start >> 4) & 0x3fffu) | (uint64_t((strides.leading_bytes >> 4) & 0x3fffu) << 16) |
         (uint64_t((strides.stride_bytes >> 4) & 0x3fffu) << 32) | (uint64_t(mode) << 62);
}

}  // namespace cnnops
