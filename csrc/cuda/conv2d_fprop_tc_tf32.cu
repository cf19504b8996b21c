// The tensor-core forward's float32 as TF32 kernels (conv2d_fprop_tc_kernel.cuh), one .cu per element type so
// that their builds run in parallel.
#include "conv2d_fprop_tc_kernel.cuh"

namespace cnnops {
namespace cuda {

template const char* fprop_tc_name<float>(const Conv2dFpropArgs&);
template LaunchResult launch_fprop_tc<float>(const Conv2dFpropArgs&, cudaStream_t);

}  // namespace cuda
}  // namespace cnnops
