// Picks the micro-kernel for this CPU once, at first use: the widest instruction set that the CPU
// supports, AVX-512F, then AVX2+FMA, then the portable kernel. CNNOPS_CPU_KERNEL=avx512|avx2|generic
// caps the choice (to test every kernel on one machine, or to compare them); it never selects a
// kernel the CPU cannot run.
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../cpu_isa.h"
#include "microkernel.h"

namespace cnnops {
namespace cpu {
namespace {

enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

Isa cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
  return Isa::kGeneric;
}

Isa requested_cap() {
  const char* force = std::getenv("CNNOPS_CPU_KERNEL");
  if (force == nullptr || *force == '\0') return Isa::kAvx512;
  if (std::strcmp(force, "generic") == 0) return Isa::kGeneric;
  if (std::strcmp(force, "avx2") == 0) return Isa::kAvx2;
  if (std::strcmp(force, "avx512") == 0) return Isa::kAvx512;
  throw std::invalid_argument(std::string("cnnops: CNNOPS_CPU_KERNEL must be avx512, avx2 or generic, got '") +
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
    case Isa::kAvx512: return avx512;
    case Isa::kAvx2: return avx2;
    default: return generic;
  }
}

}  // namespace

bool vector_isa_avx2() { return int(chosen_isa()) >= int(Isa::kAvx2); }

const Microkernel<float>& microkernel_f32() {
  return pick(kMicrokernelF32Avx512, kMicrokernelF32Avx2, kMicrokernelF32Generic);
}

const Microkernel<double>& microkernel_f64() {
  return pick(kMicrokernelF64Avx512, kMicrokernelF64Avx2, kMicrokernelF64Generic);
}

}  // namespace cpu
}  // namespace cnnops
