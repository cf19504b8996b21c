#include "host_common.h"

#include <map>
#include <mutex>

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

void check_launch(const LaunchResult& r, const char* op) {
  TORCH_CHECK(r.error == nullptr, "cnnops.", op, ": CUDA kernel ", r.kernel, " failed: ", r.error);
}

void record_launch(const LaunchResult& r, const char* op) {
  check_launch(r, op);
  record_kernel(op, r.kernel);
}

namespace {
std::mutex g_kernel_log_mutex;
std::map<std::string, std::string>& kernel_log() {
  static std::map<std::string, std::string> log;
  return log;
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

}  // namespace cuda
}  // namespace cnnops
