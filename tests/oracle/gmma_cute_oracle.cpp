// The wgmma operand and accumulator layouts of the simulator (csrc/sim/gmma_layout.h) and the
// descriptors the kernels build (csrc/common/gmma_descriptor.h), checked element by element
// against an independent definition: CUTLASS's CuTe (the nvidia-cutlass wheel's headers; a
// test-only dependency, nothing of it is compiled into cnnops). Built and run by
// tests/test_sim_gmma_oracle.py. Prints one line per failure and "gmma oracle: N checks, 0
// failures" at the end; exit status 1 on any failure.
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>

#include <cstdio>

#include "common/gmma_descriptor.h"
#include "sim/gmma_layout.h"

using namespace cute;
namespace GMMA = cute::SM90::GMMA;

namespace {

long checks = 0, failures = 0;

void check(bool ok, const char* what, const char* label, int a, int b, long got, long want) {
  ++checks;
  if (ok) return;
  if (++failures <= 20) std::printf("FAIL %s [%s] (%d, %d): got %ld, want %ld\n", what, label, a, b, got, want);
}

alignas(1024) unsigned char g_smem[256 * 1024];  // stands for shared memory at address 0

cnnops::GmmaSwizzleMode mode_of(GMMA::LayoutType t) {
  switch (t) {
    case GMMA::LayoutType::B128: return cnnops::GmmaSwizzleMode::k128B;
    case GMMA::LayoutType::B64: return cnnops::GmmaSwizzleMode::k64B;
    case GMMA::LayoutType::B32: return cnnops::GmmaSwizzleMode::k32B;
    default: return cnnops::GmmaSwizzleMode::kNone;
  }
}

// One operand tile of `Rows` rows and `KAtoms` swizzle atoms along K, laid out by CuTe from the
// K-major atom `Atom`; every k-block (one wgmma's K) of it, every element.
template <class T, class Atom, int Rows, int KAtoms>
void operand_case(const char* label) {
  constexpr int kAtomK = int(size<1>(Atom{}));
  constexpr int kInstrK = 32 / int(sizeof(T));  // one wgmma: 32 bytes of K
  auto layout = tile_to_shape(Atom{}, make_shape(Int<Rows>{}, Int<kAtomK * KAtoms>{}));
  auto tile = make_tensor(make_smem_ptr(reinterpret_cast<T*>(g_smem)), layout);
  for (int kb = 0; kb < kAtomK * KAtoms / kInstrK; ++kb) {
    auto block = local_tile(tile, make_shape(Int<Rows>{}, Int<kInstrK>{}), make_coord(0, kb));
    cute::GmmaDescriptor cute_desc = GMMA::make_gmma_desc<GMMA::Major::K>(block);
    // On the host CuTe cannot convert a pointer to a shared address (it leaves 0): the start is
    // the element's offset from g_smem, which stands for shared address 0.
    const uint32_t start = uint32_t(reinterpret_cast<const unsigned char*>(&block(0, 0)) - g_smem);
    cute_desc.bitfield.start_address_ = uint16_t(start >> 4);

    const auto mode = mode_of(GMMA::LayoutType(cute_desc.bitfield.layout_type_));
    const uint64_t ours = cnnops::gmma_descriptor(start, mode, cnnops::gmma_kmajor_strides(mode, Rows));
    check(ours == cute_desc.desc_, "descriptor bits (gmma_descriptor vs make_gmma_desc)", label, kb, 0,
          long(ours >> 32), long(cute_desc.desc_ >> 32));
    check(ours == cute_desc.desc_, "descriptor bits (low word)", label, kb, 0, long(ours & 0xffffffffu),
          long(cute_desc.desc_ & 0xffffffffu));

    const cnnops::sim::GmmaDescriptor d = cnnops::sim::decode_gmma_descriptor(cute_desc.desc_);
    for (int row = 0; row < Rows; ++row)
      for (int k = 0; k < kInstrK; ++k) {
        const long want = long(reinterpret_cast<const unsigned char*>(&block(row, k)) - g_smem);
        const long got = long(cnnops::sim::gmma_element_address(d, row, k, int(sizeof(T))));
        check(got == want, "operand element address (simulator decode vs CuTe layout)", label, row,
              kb * kInstrK + k, got, want);
      }
  }
}

template <class T>
void operand_cases(const char* type) {
  char label[96];
#define CNNOPS_ORACLE_CASE(ATOM, ROWS, KATOMS)                                             \
  std::snprintf(label, sizeof(label), "%s %s rows=%d k-atoms=%d", type, #ATOM, ROWS, KATOMS); \
  operand_case<T, GMMA::ATOM<T>, ROWS, KATOMS>(label);
  CNNOPS_ORACLE_CASE(Layout_K_INTER_Atom, 64, 2)
  CNNOPS_ORACLE_CASE(Layout_K_INTER_Atom, 128, 4)
  CNNOPS_ORACLE_CASE(Layout_K_SW32_Atom, 64, 1)
  CNNOPS_ORACLE_CASE(Layout_K_SW32_Atom, 256, 2)
  CNNOPS_ORACLE_CASE(Layout_K_SW64_Atom, 64, 1)
  CNNOPS_ORACLE_CASE(Layout_K_SW64_Atom, 128, 2)
  CNNOPS_ORACLE_CASE(Layout_K_SW128_Atom, 64, 1)
  CNNOPS_ORACLE_CASE(Layout_K_SW128_Atom, 128, 1)
  CNNOPS_ORACLE_CASE(Layout_K_SW128_Atom, 256, 2)
#undef CNNOPS_ORACLE_CASE
}

// CuTe's CLayout_64xN maps (thread, value) to the column-major index m + 64 n of the 64xN tile.
template <int N>
void accumulator_case() {
  char label[32];
  std::snprintf(label, sizeof(label), "64x%d", N);
  GMMA::CLayout_64xN<N> c;
  for (int thread = 0; thread < 128; ++thread)
    for (int reg = 0; reg < N / 2; ++reg) {
      const int index = int(c(thread, reg));
      const cnnops::sim::FragmentCoord got = cnnops::sim::wgmma_accumulator_coord(thread, reg);
      check(got.row == index % 64 && got.col == index / 64, "accumulator (row + 64 col)", label, thread, reg,
            long(got.row + 64 * got.col), long(index));
    }
}

// The comparison can fail: the same SW128 tile decoded as if its descriptor said 64-byte swizzle
// (or no swizzle) must disagree with CuTe somewhere.
void negative_control() {
  using T = cute::bfloat16_t;
  auto layout = tile_to_shape(GMMA::Layout_K_SW128_Atom<T>{}, make_shape(Int<64>{}, Int<64>{}));
  auto tile = make_tensor(make_smem_ptr(reinterpret_cast<T*>(g_smem)), layout);
  auto block = local_tile(tile, make_shape(Int<64>{}, Int<16>{}), make_coord(0, 1));
  const uint32_t start = uint32_t(reinterpret_cast<const unsigned char*>(&block(0, 0)) - g_smem);
  for (auto mode : {cnnops::GmmaSwizzleMode::k64B, cnnops::GmmaSwizzleMode::kNone}) {
    const auto d = cnnops::sim::decode_gmma_descriptor(
        cnnops::gmma_descriptor(start, mode, cnnops::gmma_kmajor_strides(cnnops::GmmaSwizzleMode::k128B, 64)));
    long differ = 0;
    for (int row = 0; row < 64; ++row)
      for (int k = 0; k < 16; ++k)
        differ += long(cnnops::sim::gmma_element_address(d, row, k, 2)) !=
                  long(reinterpret_cast<const unsigned char*>(&block(row, k)) - g_smem);
    check(differ > 0, "negative control: a wrong swizzle mode must disagree", "bf16 SW128", int(mode), 0, differ, 1);
  }
}

}  // namespace

int main() {
  negative_control();
  operand_cases<cute::bfloat16_t>("bf16");
  operand_cases<cute::half_t>("f16");
  operand_cases<cute::tfloat32_t>("tf32");
  accumulator_case<8>();
  accumulator_case<64>();
  accumulator_case<128>();
  accumulator_case<256>();
  std::printf("gmma oracle: %ld checks, %ld failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
