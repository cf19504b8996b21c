// Picks the micro-kernel for this CPU once, at first use: the widest instruction set that the CPU
// supports, AVX-512F, then AVX2+FMA, then the portable kernel; above AVX-512, bfloat16 products
// on AMX-BF16 tiles where the CPU has them and the kernel grants the process their state, else on
// AVX512-BF16 dot products where the CPU has those (bf16_block.h).
// CNNOPS_CPU_KERNEL=amx|avx512bf16|avx512|avx2|generic caps the choice (to test every kernel on
// one machine, or to compare them); it never selects a kernel the CPU cannot run.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../cpu_isa.h"
#include "bf16_block.h"
#include "microkernel.h"

namespace cnnops {
namespace cpu {
namespace {

enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3, kAmx = 4 };

// AMX-TILE and AMX-BF16 (CPUID leaf 7, EDX bits 24 and 22), and the Linux permission to use the
// tile data state (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA), granted per process.
bool amx_usable() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!(d & (1u << 24)) || !(d & (1u << 22))) return false;
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

Isa cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && amx_usable()) return Isa::kAmx;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512bf16"))
    return Isa::kAvx512Bf16;
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
  return Isa::kGeneric;
}

Isa requested_cap() {
  const char* force = std::getenv("CNNOPS_CPU_KERNEL");
  if (force == nullptr || *force == '\0') return Isa::kAmx;
  if (std::strcmp(force, "generic") == 0) return Isa::kGeneric;
  if (std::strcmp(force, "avx2") == 0) return Isa::kAvx2;
  if (std::strcmp(force, "avx512") == 0) return Isa::kAvx512;
  if (std::strcmp(force, "avx512bf16") == 0) return Isa::kAvx512Bf16;
  if (std::strcmp(force, "amx") == 0) return Isa::kAmx;
  throw std::invalid_argument(std::string("cnnops: CNNOPS_CPU_KERNEL must be amx, avx512bf16, avx512, avx2 or generic, got '") +
                              force + "'");
}

Isa chosen_isa() {
  static const Isa isa = [] {
    const Isa cap = requested_cap(), have = cpu_isa();
    return int(cap) < int(have) ? cap : have;
  }();
  return isa;
}

template <typename T>
const Microkernel<T>& pick(const Microkernel<T>& avx512, const Microkernel<T>& avx2, const Microkernel<T>& generic) {
  switch (chosen_isa()) {
    case Isa::kAmx:
    case Isa::kAvx512Bf16:
    case Isa::kAvx512: return avx512;
    case Isa::kAvx2: return avx2;
    default: return generic;
  }
}

}  // namespace

bool vector_isa_avx2() { return int(chosen_isa()) >= int(Isa::kAvx2); }

bool vector_isa_avx512() { return int(chosen_isa()) >= int(Isa::kAvx512); }

const Bf16BlockEngine* bf16_block_engine() {
  static const Bf16BlockEngine amx{"amx_bf16_32x32", bf16_block_amx, true};
  static const Bf16BlockEngine vector{"avx512bf16_32x32", bf16_block_avx512, false};
  switch (chosen_isa()) {
    case Isa::kAmx: return &amx;
    case Isa::kAvx512Bf16: return &vector;
    default: return nullptr;
  }
}

const Microkernel<float>& microkernel_f32() {
  return pick(kMicrokernelF32Avx512, kMicrokernelF32Avx2, kMicrokernelF32Generic);
}

const Microkernel<double>& microkernel_f64() {
  return pick(kMicrokernelF64Avx512, kMicrokernelF64Avx2, kMicrokernelF64Generic);
}

}  // namespace cpu
}  // namespace cnnops
