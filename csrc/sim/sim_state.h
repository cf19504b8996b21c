// Process-wide simulator state: options, device properties, per-kernel attributes and error
// reporting. Guarded by a mutex; touched only from host code (never from inside a block), so TSan
// sees ordinary locking.
#pragma once
#include <string>

#include "cuda_runtime_sim.h"
#include "sim_api.h"

namespace cnnops {
namespace sim {

cudaDeviceProp device_properties();

// cudaFuncAttributeMaxDynamicSharedMemorySize of a kernel: sharedMemPerBlock unless raised.
size_t max_dynamic_shared_bytes(const void* kernel);
void set_max_dynamic_shared_bytes(const void* kernel, size_t bytes);

// The sticky error of a simulated kernel fault (cudaSuccess if none).
cudaError_t sticky_error();

// Records a failed API call or launch: it becomes the calling thread's last error, its message
// becomes last_error_message() (and goes to stderr when Options::print_errors), and a sticky
// error additionally fails every later API call. Returns `error`.
cudaError_t report_error(cudaError_t error, const std::string& message, bool sticky = false);
// printf-style message.
cudaError_t report_errorf(cudaError_t error, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace sim
}  // namespace cnnops
