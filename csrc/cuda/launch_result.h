// What a host launcher did, in a form the torch-free interfaces can return: error is null on
// success, else a message (CUDA's error string or the reason a shape cannot be launched); kernel
// names the kernel configuration that ran (or would have), e.g. "fprop_simt_64x64x16<f32>" -- a
// static string. Free of CUDA headers.
#pragma once

namespace cnnops {
namespace cuda {

struct LaunchResult {
  const char* error;
  const char* kernel;
};

}  // namespace cuda
}  // namespace cnnops
