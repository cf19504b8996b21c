// What every op's torch-side CUDA code shares (conv2d_host.cpp, pool2d_host.cpp, the backward
// paths): the DType of a tensor, the check of a launch's result, and the log of which kernel
// each op ran last (cnnops.last_kernel, and the tests that pin a shape to its kernel).
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "dtypes.cuh"
#include "launch_result.h"

namespace cnnops {
namespace cuda {

// The kernels' DType for t's dtype; a TypeError naming the op for any other dtype.
DType dtype_of(const at::Tensor& t, const char* op);

// Raises (naming the op and the kernel) if a launch failed.
void check_launch(const LaunchResult& r, const char* op);
// check_launch, then records r.kernel as the op's last kernel.
void record_launch(const LaunchResult& r, const char* op);

// Which kernel configuration the last call of an op ran ("" before the first), for tests and
// for users who want to know (cnnops.last_kernel).
void record_kernel(const char* op, const char* kernel);
std::string last_kernel(const std::string& op);

}  // namespace cuda
}  // namespace cnnops
