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
  const int64_t crs = p.C * p.R * p.S;
  at::Tensor partial = at::empty({plan.wgrad_splits() * p.K * crs}, input.options().dtype(at::kFloat));
  Conv2dFpropArgs a{};
  a.dtype = dtype;
  a.allow_tf32 = allow_tf32;
  a.p = wgrad_forward_problem(p);
  a.p.x = strides4(xt);
  a.p.w = strides4(wt);
  a.p.y = Strides4{p.R * p.S, crs, p.S, 1};  // y[c, k, r, s] -> partial[split][k][c][r][s]
  a.x = xt.const_data_ptr();
  a.w = wt.const_data_ptr();
  a.y = partial.mutable_data_ptr<float>();
  a.ep.store_float = true;
  // Chunks of the batch (the problem's channels) by bands of output rows (its filter rows). They
  // must tile the reduction: every product summed once, no split empty.
  TORCH_CHECK(plan.wgrad_chunks * plan.wgrad_chunk_images >= p.N && (plan.wgrad_chunks - 1) * plan.wgrad_chunk_images < p.N &&
                  plan.wgrad_row_splits * plan.wgrad_split_rows >= p.P &&
                  (plan.wgrad_row_splits - 1) * plan.wgrad_split_rows < p.P,
              "cnnops.conv2d backward: the weight-gradient splits do not tile the reduction (plan ", plan.describe(), ")");
  a.splits.c_splits = int32_t(plan.wgrad_chunks);
  a.splits.c_step = plan.wgrad_chunk_images;
  a.splits.r_splits = int32_t(plan.wgrad_row_splits);
  a.splits.r_step = plan.wgrad_split_rows;
  a.splits.y_stride = p.K * crs;
  const LaunchResult r = conv2d_fprop(a, stream);
  check_launch(r, "conv2d backward");
  Conv2dBpropArgs b{};
  b.p = p;
  b.dtype = dtype;
  b.workspace = partial.mutable_data_ptr();
  b.dw = gw.mutable_data_ptr();
  b.dw_strides = strides4(gw);
  check_launch(conv2d_wgrad_reduce(b, plan.wgrad_splits(), stream), "conv2d backward");
  return r.kernel;
}

}  // namespace cuda
}  // namespace cnnops
