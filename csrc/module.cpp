// The cnnops._C Python module: importing it runs the op registrations (TORCH_LIBRARY blocks in
// the other translation units); it also reports how the extension was built.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "common/poison.h"
#include "cpu/cpu_isa.h"
#include "cpu/gemm/bf16_block.h"
#include "cpu/gemm/microkernel.h"

#ifndef CNNOPS_CUDA_ARCHS
#define CNNOPS_CUDA_ARCHS ""
#endif

#ifdef CNNOPS_WITH_CUDA
namespace cnnops {
namespace cuda {
// Defined in cuda/shape_selftest_host.cpp.
pybind11::dict shape_selftest();
// Defined in cuda/host_common.cpp.
std::string last_kernel(const std::string& op);
// Defined in cuda/conv2d_fprop_wgmma.cu.
bool fprop_wgmma_available();
}  // namespace cuda
}  // namespace cnnops
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "cnnops kernels (ops are registered under torch.ops.cnnops)";
  m.def("build_info", [] {
    pybind11::dict info;
#ifdef CNNOPS_WITH_CUDA
    info["cuda"] = true;
#else
    info["cuda"] = false;
#endif
    info["cuda_archs"] = CNNOPS_CUDA_ARCHS;
    info["cpu_microkernel_f32"] = cnnops::cpu::microkernel_f32().name;
    info["cpu_microkernel_f64"] = cnnops::cpu::microkernel_f64().name;
    // The NCHW pooling row kernels (an AVX2 copy at most).
    info["cpu_vector_isa"] = cnnops::cpu::vector_isa_avx2() ? "avx2" : "portable";
    // The kernels with an AVX-512 copy (depthwise, grouped, channels-last pooling): one dispatch
    // (cpu_isa.h), so one answer.
    const char* wide_isa = cnnops::cpu::vector_isa_avx512() ? "avx512"
                           : cnnops::cpu::vector_isa_avx2()  ? "avx2"
                                                             : "portable";
    info["cpu_depthwise_isa"] = wide_isa;
    info["cpu_grouped_isa"] = wide_isa;
    info["cpu_channels_last_pool_isa"] = wide_isa;
    // bfloat16 convolution forward: AMX tiles or AVX512-BF16 dot products, or widened to float
    // for the float micro-kernels.
    const auto* bf16 = cnnops::cpu::bf16_block_engine();
    info["cpu_bf16_forward"] = bf16 != nullptr ? bf16->name : "widen_f32";
    return info;
  });
  m.def("set_poison_outputs", &cnnops::set_poison_outputs,
        "Fill kernel outputs with NaN (int64: -1) before the kernels write them (for tests).");
  m.def("poison_outputs_enabled", &cnnops::poison_outputs_enabled);
#ifdef CNNOPS_WITH_CUDA
  m.def("cuda_shape_selftest", &cnnops::cuda::shape_selftest,
        "Evaluates the shared shape math on the GPU and on the host; returns both (needs a GPU).");
  m.def("last_cuda_kernel", &cnnops::cuda::last_kernel,
        "The CUDA kernel configuration the last call of an op (e.g. 'conv2d_forward') ran; '' if none.");
  m.def("cuda_wgmma_available", &cnnops::cuda::fprop_wgmma_available,
        "Whether the float16 / bfloat16 forward runs the Hopper (wgmma) kernel on the current device: a compute "
        "capability 9.0 GPU, a build with sm_90a code, not switched off by CNNOPS_WGMMA=0.");
#endif
}
