// The vector instruction set the CPU kernels outside the GEMM micro-kernels may use: AVX2 when
// the CPU has it and CNNOPS_CPU_KERNEL does not cap the choice below it (the same choice as the
// micro-kernels', made once in gemm/microkernel_select.cpp).
#pragma once

namespace cnnops {
namespace cpu {

bool vector_isa_avx2();

}  // namespace cpu
}  // namespace cnnops
