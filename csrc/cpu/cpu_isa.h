// The vector instruction set the CPU kernels outside the GEMM micro-kernels may use: AVX2 when
// the CPU has it and CNNOPS_CPU_KERNEL does not cap the choice below it (the same choice as the
// micro-kernels', made once in gemm/microkernel_select.cpp). Kernels compiled in both copies by
// isa_copies.inc are called through CNNOPS_ISA_DISPATCH, or CNNOPS_ISA_DISPATCH_WIDE where they
// have an AVX-512 copy too (AVX-512F on the CPU, not capped below avx512).
#pragma once
#include <utility>

namespace cnnops {
namespace cpu {

bool vector_isa_avx2();
bool vector_isa_avx512();

// Lanes of the direct kernels' vectors (lane_vectors.inc): 16, one AVX-512 register of float, in
// every copy, so that the copies do the same arithmetic lane by lane.
constexpr int kChannelLanes = 16;

// The widest vector register of each copy's target (isa_copies.inc), for kernels that size their
// register blocks by it.
namespace portable_isa {
constexpr int kIsaVectorBytes = 16;
}
namespace avx2_isa {
constexpr int kIsaVectorBytes = 32;
}
namespace avx512_isa {
constexpr int kIsaVectorBytes = 64;
}

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

// As CNNOPS_ISA_DISPATCH, with the AVX-512 copy first.
#define CNNOPS_ISA_DISPATCH_WIDE(kernel)                            \
  template <typename scalar_t, typename... Args>                   \
  void kernel(Args&&... args) {                                    \
    if (vector_isa_avx512())                                       \
      avx512_isa::kernel<scalar_t>(std::forward<Args>(args)...);   \
    else if (vector_isa_avx2())                                    \
      avx2_isa::kernel<scalar_t>(std::forward<Args>(args)...);     \
    else                                                           \
      portable_isa::kernel<scalar_t>(std::forward<Args>(args)...); \
  }
