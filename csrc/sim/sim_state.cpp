#include "sim_state.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "memory_counters.h"
#include "sim_tls.h"

namespace cnnops {
namespace sim {

namespace detail {
uint64_t counter_values[int(Counter::kNumCounters)];
}  // namespace detail

namespace {

struct State {
  std::mutex mutex;
  Options options;
  cudaDeviceProp device = default_device_properties();
  std::unordered_map<const void*, size_t> max_dynamic_shared;
  std::string last_message;
  cudaError_t sticky = cudaSuccess;
};

State& state() {
  static State* s = new State;  // never destroyed: kernels may run from static destructors
  return *s;
}

}  // namespace

cudaDeviceProp default_device_properties() {
  cudaDeviceProp p;
  std::memset(&p, 0, sizeof(p));
  std::snprintf(p.name, sizeof(p.name), "NVIDIA H100 80GB HBM3 (cnnops CPU simulator)");
  p.totalGlobalMem = size_t(79) << 30;
  p.sharedMemPerBlock = 48 << 10;
  p.regsPerBlock = 65536;
  p.warpSize = 32;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsDim[0] = 1024;
  p.maxThreadsDim[1] = 1024;
  p.maxThreadsDim[2] = 64;
  p.maxGridSize[0] = 2147483647;
  p.maxGridSize[1] = 65535;
  p.maxGridSize[2] = 65535;
  p.clockRate = 1980000;
  p.totalConstMem = 64 << 10;
  p.major = 9;
  p.minor = 0;
  p.multiProcessorCount = 132;
  p.l2CacheSize = 50 << 20;
  p.maxThreadsPerMultiProcessor = 2048;
  p.sharedMemPerMultiprocessor = 228 << 10;
  p.regsPerMultiprocessor = 65536;
  p.sharedMemPerBlockOptin = 227 << 10;
  p.maxBlocksPerMultiProcessor = 32;
  return p;
}

cudaError_t set_device_properties(const cudaDeviceProp& properties) {
  if (properties.warpSize != 32)
    return report_errorf(cudaErrorInvalidValue, "set_device_properties: warpSize must be 32 (got %d)",
                         properties.warpSize);
  if (properties.sharedMemPerBlockOptin > kDynamicSharedCapacity ||
      properties.sharedMemPerBlock > properties.sharedMemPerBlockOptin)
    return report_errorf(cudaErrorInvalidValue,
                         "set_device_properties: need sharedMemPerBlock <= sharedMemPerBlockOptin <= %zu",
                         kDynamicSharedCapacity);
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.device = properties;
  return cudaSuccess;
}

cudaDeviceProp device_properties() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.device;
}

Options options() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.options;
}

void set_options(const Options& options) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.options = options;
}

size_t max_dynamic_shared_bytes(const void* kernel) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const auto it = s.max_dynamic_shared.find(kernel);
  return it != s.max_dynamic_shared.end() ? it->second : s.device.sharedMemPerBlock;
}

void set_max_dynamic_shared_bytes(const void* kernel, size_t bytes) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.max_dynamic_shared[kernel] = bytes;
}

const char* counter_name(Counter counter) {
  switch (counter) {
    case Counter::kLaunches: return "launches";
    case Counter::kBlocks: return "blocks";
    case Counter::kThreads: return "threads";
    case Counter::kSyncthreads: return "syncthreads";
    case Counter::kWarpCollectives: return "warp_collectives";
    case Counter::kAtomics: return "atomics";
    case Counter::kMmaSync: return "mma_sync";
    case Counter::kLdmatrix: return "ldmatrix";
    case Counter::kCpAsync: return "cp_async";
    case Counter::kWgmma: return "wgmma";
    case Counter::kNumCounters: break;
  }
  return "?";
}

uint64_t counter(Counter counter) { return __atomic_load_n(&detail::counter_values[int(counter)], __ATOMIC_RELAXED); }

void reset_counters() {
  for (uint64_t& value : detail::counter_values) __atomic_store_n(&value, 0, __ATOMIC_RELAXED);
  detail::clear_launch_log();
}

cudaError_t sticky_error() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.sticky;
}

void reset_device() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.sticky = cudaSuccess;
  tls_last_error = cudaSuccess;
}

std::string last_error_message() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.last_message;
}

cudaError_t report_error(cudaError_t error, const std::string& message, bool sticky) {
  State& s = state();
  bool print = false;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.last_message = message;
    if (sticky && s.sticky == cudaSuccess) s.sticky = error;
    print = s.options.print_errors;
  }
  tls_last_error = error;
  if (print) std::fprintf(stderr, "cnnops sim: %s: %s\n", cudaGetErrorName(error), message.c_str());
  return error;
}

cudaError_t report_errorf(cudaError_t error, const char* format, ...) {
  char message[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  return report_error(error, message);
}

}  // namespace sim
}  // namespace cnnops
