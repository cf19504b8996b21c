// The CUDA runtime API subset of cuda_runtime_sim.h.
#include <cstdlib>
#include <cstring>

#include "cuda_runtime_sim.h"
#include "device_allocations.h"
#include "sim_state.h"
#include "sim_tls.h"

using cnnops::sim::report_errorf;

namespace {

// Every API call fails with the sticky error of an earlier kernel fault, as on a GPU.
bool failed_sticky(cudaError_t* result) {
  const cudaError_t sticky = cnnops::sim::sticky_error();
  if (sticky == cudaSuccess) return false;
  cnnops::sim::tls_last_error = sticky;
  *result = sticky;
  return true;
}

cudaError_t check_device(int device) {
  if (device != 0) return report_errorf(cudaErrorInvalidDevice, "device %d does not exist (the simulator has one)", device);
  return cudaSuccess;
}

const char* kind_name(cudaMemcpyKind kind) {
  switch (kind) {
    case cudaMemcpyHostToHost: return "cudaMemcpyHostToHost";
    case cudaMemcpyHostToDevice: return "cudaMemcpyHostToDevice";
    case cudaMemcpyDeviceToHost: return "cudaMemcpyDeviceToHost";
    case cudaMemcpyDeviceToDevice: return "cudaMemcpyDeviceToDevice";
    case cudaMemcpyDefault: return "cudaMemcpyDefault";
  }
  return "?";
}

cudaError_t copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* call) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return report_errorf(cudaErrorInvalidMemcpyDirection, "%s: invalid cudaMemcpyKind %d", call, int(kind));
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr)
    return report_errorf(cudaErrorInvalidValue, "%s of %zu bytes with a null pointer", call, bytes);
  const bool dst_on_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_on_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dst_on_device && !cnnops::sim::is_device_range(dst, bytes))
    return report_errorf(cudaErrorInvalidValue, "%s(%s): destination %p + %zu bytes is not inside a cudaMalloc'd buffer",
                         call, kind_name(kind), dst, bytes);
  if (src_on_device && !cnnops::sim::is_device_range(src, bytes))
    return report_errorf(cudaErrorInvalidValue, "%s(%s): source %p + %zu bytes is not inside a cudaMalloc'd buffer",
                         call, kind_name(kind), src, bytes);
  std::memcpy(dst, src, bytes);  // overlapping ranges are undefined in CUDA too (ASan reports them)
  return cudaSuccess;
}

cudaError_t fill(void* pointer, int value, size_t bytes, const char* call) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  if (bytes == 0) return cudaSuccess;
  if (!cnnops::sim::is_device_range(pointer, bytes))
    return report_errorf(cudaErrorInvalidValue, "%s: %p + %zu bytes is not inside a cudaMalloc'd buffer", call, pointer,
                         bytes);
  std::memset(pointer, value, bytes);
  return cudaSuccess;
}

}  // namespace

struct CUstream_st {
  unsigned int flags;
};

extern "C" {

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define CNNOPS_SIM_ERROR_NAME(e) \
  case e: return #e;
    CNNOPS_SIM_ERROR_NAME(cudaSuccess)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidValue)
    CNNOPS_SIM_ERROR_NAME(cudaErrorMemoryAllocation)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInitializationError)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidConfiguration)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidSymbol)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidDevicePointer)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidMemcpyDirection)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidDeviceFunction)
    CNNOPS_SIM_ERROR_NAME(cudaErrorNoDevice)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidDevice)
    CNNOPS_SIM_ERROR_NAME(cudaErrorInvalidResourceHandle)
    CNNOPS_SIM_ERROR_NAME(cudaErrorNotReady)
    CNNOPS_SIM_ERROR_NAME(cudaErrorIllegalAddress)
    CNNOPS_SIM_ERROR_NAME(cudaErrorLaunchOutOfResources)
    CNNOPS_SIM_ERROR_NAME(cudaErrorLaunchTimeout)
    CNNOPS_SIM_ERROR_NAME(cudaErrorLaunchFailure)
    CNNOPS_SIM_ERROR_NAME(cudaErrorNotSupported)
    CNNOPS_SIM_ERROR_NAME(cudaErrorUnknown)
#undef CNNOPS_SIM_ERROR_NAME
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidSymbol: return "invalid device symbol";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchTimeout: return "the launch timed out and was terminated";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorUnknown: return "unknown error";
  }
  return "unrecognized error code";
}

cudaError_t cudaGetLastError(void) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  const cudaError_t last = cnnops::sim::tls_last_error;
  cnnops::sim::tls_last_error = cudaSuccess;
  return last;
}

cudaError_t cudaPeekAtLastError(void) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  return cnnops::sim::tls_last_error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return report_errorf(cudaErrorInvalidValue, "cudaGetDeviceCount(nullptr)");
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return report_errorf(cudaErrorInvalidValue, "cudaGetDevice(nullptr)");
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return check_device(device); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
  if (properties == nullptr) return report_errorf(cudaErrorInvalidValue, "cudaGetDeviceProperties(nullptr)");
  if (const cudaError_t invalid = check_device(device)) return invalid;
  *properties = cnnops::sim::device_properties();
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (value == nullptr) return report_errorf(cudaErrorInvalidValue, "cudaDeviceGetAttribute(nullptr)");
  if (const cudaError_t invalid = check_device(device)) return invalid;
  const cudaDeviceProp p = cnnops::sim::device_properties();
  switch (attribute) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(p.sharedMemPerBlock); break;
    case cudaDevAttrTotalConstantMemory: *value = int(p.totalConstMem); break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = p.regsPerBlock; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = int(p.sharedMemPerMultiprocessor); break;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *value = p.regsPerMultiprocessor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(p.sharedMemPerBlockOptin); break;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *value = p.maxBlocksPerMultiProcessor; break;
    default: return report_errorf(cudaErrorInvalidValue, "cudaDeviceGetAttribute: attribute %d is not simulated", int(attribute));
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  return cudaSuccess;  // every launch and copy has already finished
}

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  if (pointer == nullptr) return report_errorf(cudaErrorInvalidValue, "cudaMalloc(nullptr, %zu)", bytes);
  *pointer = nullptr;
  if (bytes > cnnops::sim::device_properties().totalGlobalMem)
    return report_errorf(cudaErrorMemoryAllocation, "cudaMalloc of %zu bytes exceeds the device's memory", bytes);
  void* buffer = cnnops::sim::allocate_device_buffer(bytes, cnnops::sim::options().poison_allocations);
  if (buffer == nullptr) return report_errorf(cudaErrorMemoryAllocation, "cudaMalloc of %zu bytes failed", bytes);
  *pointer = buffer;
  return cudaSuccess;
}

cudaError_t cudaFree(void* pointer) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  if (pointer == nullptr) return cudaSuccess;
  if (!cnnops::sim::free_device_buffer(pointer))
    return report_errorf(cudaErrorInvalidValue, "cudaFree(%p): not a live cudaMalloc'd buffer", pointer);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** pointer, size_t bytes) {
  if (pointer == nullptr) return report_errorf(cudaErrorInvalidValue, "cudaMallocHost(nullptr, %zu)", bytes);
  *pointer = std::malloc(bytes == 0 ? 1 : bytes);
  if (*pointer == nullptr) return report_errorf(cudaErrorMemoryAllocation, "cudaMallocHost of %zu bytes failed", bytes);
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* pointer) {
  std::free(pointer);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return copy(dst, src, bytes, kind, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return copy(dst, src, bytes, kind, "cudaMemcpyAsync");
}

cudaError_t cudaMemset(void* pointer, int value, size_t bytes) { return fill(pointer, value, bytes, "cudaMemset"); }

cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t) {
  return fill(pointer, value, bytes, "cudaMemsetAsync");
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (stream == nullptr) return report_errorf(cudaErrorInvalidValue, "cudaStreamCreate(nullptr)");
  *stream = new CUstream_st{flags};
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return report_errorf(cudaErrorInvalidResourceHandle, "cudaStreamDestroy of the default stream");
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* function, cudaFuncAttribute attribute, int value) {
  if (function == nullptr) return report_errorf(cudaErrorInvalidDeviceFunction, "cudaFuncSetAttribute(nullptr, ...)");
  switch (attribute) {
    case cudaFuncAttributeMaxDynamicSharedMemorySize: {
      const size_t limit = cnnops::sim::device_properties().sharedMemPerBlockOptin;
      if (value < 0 || size_t(value) > limit)
        return report_errorf(cudaErrorInvalidValue,
                             "cudaFuncAttributeMaxDynamicSharedMemorySize %d outside [0, %zu] (sharedMemPerBlockOptin)",
                             value, limit);
      cnnops::sim::set_max_dynamic_shared_bytes(function, size_t(value));
      return cudaSuccess;
    }
    case cudaFuncAttributePreferredSharedMemoryCarveout:
      if (value < -1 || value > 100)
        return report_errorf(cudaErrorInvalidValue, "cudaFuncAttributePreferredSharedMemoryCarveout %d outside [-1, 100]", value);
      return cudaSuccess;  // a performance hint: nothing to simulate
  }
  return report_errorf(cudaErrorInvalidValue, "cudaFuncSetAttribute: attribute %d is not simulated", int(attribute));
}

}  // extern "C"

namespace cnnops {
namespace sim {
namespace detail {

cudaError_t copy_symbol(void* symbol, size_t symbol_bytes, void* dst, const void* src, size_t bytes, size_t offset,
                        cudaMemcpyKind kind, bool to_symbol) {
  cudaError_t sticky;
  if (failed_sticky(&sticky)) return sticky;
  if (offset > symbol_bytes || bytes > symbol_bytes - offset)
    return report_errorf(cudaErrorInvalidValue, "cudaMemcpy%sSymbol: %zu bytes at offset %zu overrun a %zu-byte symbol",
                         to_symbol ? "To" : "From", bytes, offset, symbol_bytes);
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return report_errorf(cudaErrorInvalidMemcpyDirection, "cudaMemcpy%sSymbol: invalid cudaMemcpyKind %d",
                         to_symbol ? "To" : "From", int(kind));
  if (bytes == 0) return cudaSuccess;
  char* place = static_cast<char*>(symbol) + offset;
  if (to_symbol)
    std::memcpy(place, src, bytes);
  else
    std::memcpy(dst, place, bytes);
  return cudaSuccess;
}

}  // namespace detail
}  // namespace sim
}  // namespace cnnops
