// Device evaluation of the shared shape math. Proves in CI that a torch-free .cu compiles and
// links into the extension, and on a GPU that device code computes the same shapes as the host.
#include "../common/conv_params.h"
#include "../common/pool_params.h"
#include "launch.cuh"
#include "shape_selftest.cuh"

namespace cnnops {
namespace cuda {

CNNOPS_HD_INLINE ShapeAnswer answer(const ShapeQuery& q) {
  ShapeAnswer a;
  a.conv_out = conv_out_size(q.in, 2 * q.pad, q.kernel, q.stride, q.dilation);
  a.pool_out = pool_out_size(q.in, q.pad, q.kernel, q.stride, q.dilation, q.ceil_mode != 0);
  // Adaptive window of the last output index when pooling `in` down to `kernel` outputs.
  a.adaptive_start = q.kernel > 0 ? adaptive_start(q.kernel - 1, q.in, q.kernel) : 0;
  a.adaptive_end = q.kernel > 0 ? adaptive_end(q.kernel - 1, q.in, q.kernel) : 0;
  return a;
}

__global__ void shape_selftest_kernel(const ShapeQuery* queries, ShapeAnswer* answers, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) answers[i] = answer(queries[i]);
}

ShapeAnswer shape_answer_host(const ShapeQuery& q) { return answer(q); }

cudaError_t run_shape_selftest(const ShapeQuery* host_queries, ShapeAnswer* host_answers, int count) {
  ShapeQuery* dq = nullptr;
  ShapeAnswer* da = nullptr;
  cudaError_t err = cudaMalloc(&dq, sizeof(ShapeQuery) * count);
  if (err == cudaSuccess) err = cudaMalloc(&da, sizeof(ShapeAnswer) * count);
  if (err == cudaSuccess) err = cudaMemcpy(dq, host_queries, sizeof(ShapeQuery) * count, cudaMemcpyHostToDevice);
  if (err == cudaSuccess)
    err = launch_named("shape_selftest", shape_selftest_kernel, dim3((count + 127) / 128), dim3(128), 0, nullptr,
                       static_cast<const ShapeQuery*>(dq), da, count);
  if (err == cudaSuccess) err = cudaMemcpy(host_answers, da, sizeof(ShapeAnswer) * count, cudaMemcpyDeviceToHost);
  cudaFree(dq);
  cudaFree(da);
  return err;
}

}  // namespace cuda
}  // namespace cnnops
