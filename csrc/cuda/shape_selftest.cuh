// A device-side check of the shape arithmetic shared by every backend (conv_params.h,
// pool_params.h): the same inline functions evaluated by GPU threads must agree with the host.
// Torch-free: the host wrapper (shape_selftest_host.cpp) owns the Python side.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace cnnops {
namespace cuda {

struct ShapeQuery {
  int64_t in, pad, kernel, stride, dilation;
  int32_t ceil_mode;
};

struct ShapeAnswer {
  int64_t conv_out, pool_out, adaptive_start, adaptive_end;
};

// Evaluates `count` queries on the current device; blocks until done.
cudaError_t run_shape_selftest(const ShapeQuery* host_queries, ShapeAnswer* host_answers, int count);

// The host evaluation of one query (the reference for the device results).
ShapeAnswer shape_answer_host(const ShapeQuery& q);

}  // namespace cuda
}  // namespace cnnops
