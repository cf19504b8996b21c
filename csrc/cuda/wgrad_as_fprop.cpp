#include "wgrad_as_fprop.h"

#include <algorithm>

#include "../common/params_from_tensors.h"
#include "host_common.h"
#include "conv2d_bprop.h"

namespace cnnops {
namespace cuda {

const char* wgrad_as_fprop(const at::Tensor& grad_output, const at::Tensor& input, at::Tensor& gw,
                           const Conv2dParams& p, const Conv2dBpropPlan& plan, DType dtype, bool allow_tf32,
                           void* stream) {
  // X' = [C, N, H, W] and W' = [K, N, P, Q], both with N (their channels) fastest.
  const at::Tensor xt = input.permute({1, 0, 2, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor wt = grad_output.permute({1, 0, 2, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  const Conv2dParams shape = wgrad_forward_problem(p);
  const int64_t crs = p.C * p.R * p.S;
  at::Tensor partial = at::empty({plan.wgrad_chunks * p.K * crs}, input.options().dtype(at::kFloat));
  const char* kernel = nullptr;
  for (int64_t chunk = 0; chunk < plan.wgrad_chunks; ++chunk) {
    const int64_t n0 = chunk * plan.wgrad_chunk_images, n1 = std::min(p.N, n0 + plan.wgrad_chunk_images);
    const at::Tensor x_chunk = xt.slice(1, n0, n1), w_chunk = wt.slice(1, n0, n1);
    Conv2dFpropArgs a{};
    a.dtype = dtype;
    a.allow_tf32 = allow_tf32;
    Conv2dParams& q = a.p;
    q = shape;
    q.C = n1 - n0;
    q.x = strides4(x_chunk);
    q.w = strides4(w_chunk);
    // y[c, k, r, s] -> partial[chunk][k][c][r][s]
    q.y = Strides4{p.R * p.S, crs, p.S, 1};
    a.x = x_chunk.const_data_ptr();
    a.w = w_chunk.const_data_ptr();
    a.y = partial.mutable_data_ptr<float>() + chunk * p.K * crs;
    a.ep.store_float = true;
    const LaunchResult r = conv2d_fprop(a, stream);
    check_launch(r, "conv2d backward");
    kernel = r.kernel;
  }
  Conv2dBpropArgs b{};
  b.p = p;
  b.dtype = dtype;
  b.workspace = partial.mutable_data_ptr();
  b.dw = gw.mutable_data_ptr();
  b.dw_strides = strides4(gw);
  check_launch(conv2d_wgrad_reduce(b, plan.wgrad_chunks, stream), "conv2d backward");
  return kernel;
}

}  // namespace cuda
}  // namespace cnnops
