// The one place that chooses the convolution-forward kernel for a shape and dtype.
#include "conv2d_fprop_kernels.cuh"

namespace cnnops {
namespace cuda {

LaunchResult conv2d_fprop(const Conv2dFpropArgs& args, void* stream_ptr) {
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
  switch (args.dtype) {
    case DType::kFloat32: return launch_fprop_simt<float>(args, stream);
    case DType::kFloat64: return launch_fprop_simt<double>(args, stream);
    case DType::kFloat16: return launch_fprop_simt<half_t>(args, stream);
    case DType::kBFloat16: return launch_fprop_simt<bf16_t>(args, stream);
  }
  return LaunchResult{"unsupported dtype", ""};
}

}  // namespace cuda
}  // namespace cnnops
