#include "conv2d_host.h"

#include <map>
#include <mutex>
#include <string>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "conv2d_fprop.h"

namespace cnnops {
namespace cuda {

DType dtype_of(const at::Tensor& t, const char* op) {
  switch (t.scalar_type()) {
    case at::kFloat: return DType::kFloat32;
    case at::kDouble: return DType::kFloat64;
    case at::kHalf: return DType::kFloat16;
    case at::kBFloat16: return DType::kBFloat16;
    default:
      TORCH_CHECK_TYPE(false, "cnnops.", op, ": CUDA kernels take float32, float64, float16 or bfloat16, got ",
                       t.scalar_type());
  }
}

namespace {
std::mutex g_kernel_log_mutex;
std::map<std::string, std::string>& kernel_log() {
  static std::map<std::string, std::string> log;
  return log;
}

void check_launch(const LaunchResult& r, const char* op) {
  TORCH_CHECK(r.error == nullptr, "cnnops.", op, ": CUDA kernel ", r.kernel, " failed: ", r.error);
  record_kernel(op, r.kernel);
}
}  // namespace

void record_kernel(const char* op, const char* kernel) {
  std::lock_guard<std::mutex> lock(g_kernel_log_mutex);
  kernel_log()[op] = kernel;
}

std::string last_kernel(const std::string& op) {
  std::lock_guard<std::mutex> lock(g_kernel_log_mutex);
  auto it = kernel_log().find(op);
  return it == kernel_log().end() ? std::string() : it->second;
}

at::Tensor conv2d_forward_device(const at::Tensor& input, const at::Tensor& weight,
                                 const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                 void* stream) {
  check_conv2d_args(input, weight, bias, stride, padding, dilation, groups);
  Conv2dFpropArgs a{};
  a.dtype = dtype_of(input, "conv2d");
  a.p = make_conv2d_params(input, weight, at::Tensor(), stride, padding, dilation, groups);
  at::Tensor y = empty_output({a.p.N, a.p.K, a.p.P, a.p.Q},
                              input.options().memory_format(output_memory_format(input, weight)));
  if (y.numel() == 0) return y;
  a.p.y = strides4(y);
  const bool has_bias = bias.has_value() && bias->defined();
  // A bias view with a stride is read as contiguous [K]: make it so (K elements, cheap).
  const at::Tensor b = has_bias ? bias->contiguous() : at::Tensor();
  a.x = input.const_data_ptr();
  a.w = weight.const_data_ptr();
  a.bias = has_bias ? b.const_data_ptr() : nullptr;
  a.y = y.mutable_data_ptr();
  check_launch(conv2d_fprop(a, stream), "conv2d_forward");
  return y;
}

}  // namespace cuda
}  // namespace cnnops
