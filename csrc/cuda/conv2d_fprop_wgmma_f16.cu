// The Hopper forward's float16 kernels (conv2d_fprop_wgmma_kernel.cuh), one .cu per element type so
// that their builds run in parallel.
#include "conv2d_fprop_wgmma_kernel.cuh"

namespace cnnops {
namespace cuda {

template const char* fprop_wgmma_name<half_t>(const Conv2dFpropArgs&);
template LaunchResult launch_fprop_wgmma<half_t>(const Conv2dFpropArgs&, cudaStream_t);

}  // namespace cuda
}  // namespace cnnops
