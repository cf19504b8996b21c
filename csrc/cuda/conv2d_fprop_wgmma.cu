// When the Hopper forward (conv2d_fprop_wgmma_kernel.cuh) runs: float16 / bfloat16 operands the
// mma.sync tensor-core kernel would take, on a device of compute capability 9.0, from a build
// that has sm_90a code (setup.py builds Hopper as 9.0a) -- and not switched off: CNNOPS_WGMMA=0
// in the environment, or set_fprop_wgmma_enabled(false). The simulator (which has no arch) starts
// with it off, so that its tests of the mma.sync kernels keep them; its tests of this path
// switch it on.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "conv2d_fprop_kernels.cuh"

#ifndef CNNOPS_CUDA_ARCHS
#define CNNOPS_CUDA_ARCHS ""
#endif

namespace cnnops {
namespace cuda {
namespace {

#if defined(CNNOPS_SIM)
std::atomic<bool> g_enabled{false};
#else
std::atomic<bool> g_enabled{[] {
  const char* env = std::getenv("CNNOPS_WGMMA");
  return env == nullptr || std::strcmp(env, "0") != 0;
}()};
#endif

bool built_for_sm90a() {
#if defined(CNNOPS_SIM)
  return true;
#else
  return std::strstr(CNNOPS_CUDA_ARCHS, "9.0a") != nullptr;
#endif
}

bool device_is_sm90() {
  int device = 0, major = 0, minor = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    cudaGetLastError();  // clear it: the launch that follows must not report it
    return false;
  }
  return major == 9 && minor == 0;
}

}  // namespace

void set_fprop_wgmma_enabled(bool enabled) { g_enabled = enabled; }

bool fprop_wgmma_available() { return g_enabled && built_for_sm90a() && device_is_sm90(); }

bool fprop_wgmma_supports(const Conv2dFpropArgs& args) {
  return (args.dtype == DType::kFloat16 || args.dtype == DType::kBFloat16) && fprop_wgmma_available() &&
         fprop_tc_supports(args);
}

}  // namespace cuda
}  // namespace cnnops
