// Registers the CUDA kernels for the cnnops ops (schemas in csrc/ops/): one line per op over its
// `*_device` host function (device_op.h); the CUDA backend below adds what only a GPU call needs,
// the tensors' device check, the device guard and the current stream. Everything else is the
// shared host code (conv2d_host.cpp, pool2d_host.cpp).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "conv2d_host.h"
#include "device_op.h"
#include "pool2d_host.h"

namespace cnnops {
namespace cuda {
namespace {

struct CudaBackend {
  static void check(const at::Tensor& t, const at::Tensor& first) {
    TORCH_CHECK(t.is_cuda(), "cnnops: expected every tensor argument on a CUDA device, got one on ", t.device());
    TORCH_CHECK(t.device() == first.device(), "cnnops: expected every tensor argument on one device, got ",
                first.device(), " and ", t.device());
  }
  template <typename F>
  static auto run(const at::Tensor& first, F&& f) {
    const c10::cuda::CUDAGuard guard(first.device());
    return f(static_cast<void*>(c10::cuda::getCurrentCUDAStream(first.device().index()).stream()));
  }
};

template <auto DeviceFn>
constexpr auto on_cuda = &DeviceOp<CudaBackend, DeviceFn>::call;

}  // namespace
}  // namespace cuda
}  // namespace cnnops

TORCH_LIBRARY_IMPL(cnnops, CUDA, m) {
  using namespace cnnops::cuda;
  m.impl("conv2d_forward", on_cuda<&conv2d_forward_device>);
  m.impl("conv2d_bias_act", on_cuda<&conv2d_bias_act_device>);
  m.impl("conv2d_backward", on_cuda<&conv2d_backward_device>);
  m.impl("max_pool2d_forward", on_cuda<&max_pool2d_forward_device>);
  m.impl("max_pool2d_values", on_cuda<&max_pool2d_values_device>);
  m.impl("max_pool2d_backward", on_cuda<&max_pool2d_backward_device>);
  m.impl("avg_pool2d_forward", on_cuda<&avg_pool2d_forward_device>);
  m.impl("avg_pool2d_backward", on_cuda<&avg_pool2d_backward_device>);
  m.impl("adaptive_avg_pool2d_forward", on_cuda<&adaptive_avg_pool2d_forward_device>);
  m.impl("adaptive_avg_pool2d_backward", on_cuda<&adaptive_avg_pool2d_backward_device>);
}
