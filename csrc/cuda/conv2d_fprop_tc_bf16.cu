// The tensor-core forward's bfloat16 kernels (conv2d_fprop_tc_kernel.cuh), one .cu per element type so
// that their builds run in parallel.
#include "conv2d_fprop_tc_kernel.cuh"

namespace cnnops {
namespace cuda {

template const char* fprop_tc_name<bf16_t>(const Conv2dFpropArgs&);
template LaunchResult launch_fprop_tc<bf16_t>(const Conv2dFpropArgs&, cudaStream_t);

}  // namespace cuda
}  // namespace cnnops
