// Picks the micro-kernel for this CPU once. CNNOPS_CPU_KERNEL=generic forces the portable one
// (for testing the fallback on an AVX2 machine).
#include <cstdlib>
#include <cstring>

#include "microkernel.h"

namespace cnnops {
namespace cpu {
namespace {

bool use_avx2() {
  const char* force = std::getenv("CNNOPS_CPU_KERNEL");
  if (force != nullptr && std::strcmp(force, "generic") == 0) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

const Microkernel<float>& microkernel_f32() {
  static const Microkernel<float>& k = use_avx2() ? kMicrokernelF32Avx2 : kMicrokernelF32Generic;
  return k;
}

const Microkernel<double>& microkernel_f64() {
  static const Microkernel<double>& k = use_avx2() ? kMicrokernelF64Avx2 : kMicrokernelF64Generic;
  return k;
}

}  // namespace cpu
}  // namespace cnnops
