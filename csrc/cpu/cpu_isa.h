// The vector instruction set the CPU kernels outside the GEMM micro-kernels may use: AVX2 when
// the CPU has it and CNNOPS_CPU_KERNEL does not cap the choice below it (the same choice as the
// micro-kernels', made once in gemm/microkernel_select.cpp). Kernels compiled in both copies by
// isa_copies.inc are called through CNNOPS_ISA_DISPATCH.
#pragma once
#include <utility>

namespace cnnops {
namespace cpu {

bool vector_isa_avx2();

}  // namespace cpu
}  // namespace cnnops

// Defines kernel<scalar_t>(args...) calling avx2_isa::kernel or portable_isa::kernel.
#define CNNOPS_ISA_DISPATCH(kernel)                                 \
  template <typename scalar_t, typename... Args>                   \
  void kernel(Args&&... args) {                                    \
    if (vector_isa_avx2())                                         \
      avx2_isa::kernel<scalar_t>(std::forward<Args>(args)...);     \
    else                                                           \
      portable_isa::kernel<scalar_t>(std::forward<Args>(args)...); \
  }
