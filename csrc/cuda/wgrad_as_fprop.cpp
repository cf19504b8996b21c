#include "wgrad_as_fprop.h"

#include <algorithm>
#include <string>

#include "../common/params_from_tensors.h"
#include "conv2d_bprop.h"

namespace cnnops {
namespace cuda {
namespace {

// Batch chunks: enough to give the GPU about two waves of blocks (an H100: 132 SMs), each a whole
// number of channel vectors and at least 4096 reduction rows. A function of the shape only.
int64_t batch_chunks(const Conv2dParams& p, int64_t vec) {
  const int64_t tiles = ((p.C * p.R * p.S + 63) / 64) * ((p.K + 63) / 64);
  const int64_t want = (264 + tiles - 1) / tiles;
  const int64_t most_by_vectors = p.N / vec;
  const int64_t most_by_rows = std::max<int64_t>(1, p.N * p.P * p.Q / 4096);
  return std::max<int64_t>(1, std::min({want, most_by_vectors, most_by_rows}));
}

}  // namespace

const char* wgrad_as_fprop(const at::Tensor& grad_output, const at::Tensor& input, at::Tensor& gw,
                           const Conv2dParams& p, DType dtype, bool allow_tf32, void* stream) {
  const int64_t vec = dtype == DType::kFloat32 ? 4 : 8;
  // The forward problem: batch C, channels N (the reduction, with P x Q taps), K filters.
  Conv2dParams shape{};
  shape.N = p.C, shape.C = p.N, shape.H = p.H, shape.W = p.W, shape.K = p.K, shape.groups = p.groups;
  shape.R = p.P, shape.S = p.Q;
  if (p.groups != 1 || p.N % vec != 0 || !conv2d_fprop_prefers_channels_last(shape, dtype, allow_tf32)) return nullptr;

  // X' = [C, N, H, W] and W' = [K, N, P, Q], both with N (their channels) fastest.
  const at::Tensor xt = input.permute({1, 0, 2, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor wt = grad_output.permute({1, 0, 2, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t chunks = batch_chunks(p, vec);
  const int64_t per_chunk = ((p.N / vec + chunks - 1) / chunks) * vec;
  const int64_t crs = p.C * p.R * p.S;
  at::Tensor partial = at::empty({chunks * p.K * crs}, input.options().dtype(at::kFloat));
  const char* kernel = nullptr;
  int64_t used = 0;
  for (int64_t n0 = 0; n0 < p.N; n0 += per_chunk, ++used) {
    const int64_t n1 = std::min(p.N, n0 + per_chunk);
    const at::Tensor x_chunk = xt.slice(1, n0, n1), w_chunk = wt.slice(1, n0, n1);
    Conv2dFpropArgs a{};
    a.dtype = dtype;
    a.allow_tf32 = allow_tf32;
    Conv2dParams& q = a.p;
    q = shape;
    q.C = n1 - n0;
    q.stride_h = p.dil_h, q.stride_w = p.dil_w;  // stride and dilation swap roles
    q.dil_h = p.stride_h, q.dil_w = p.stride_w;
    q.pad_top = p.pad_top, q.pad_left = p.pad_left;
    q.P = p.R, q.Q = p.S;  // only the R x S outputs that are filter taps
    q.x = strides4(x_chunk);
    q.w = strides4(w_chunk);
    // y[c, k, r, s] -> partial[chunk][k][c][r][s]
    q.y = Strides4{p.R * p.S, crs, p.S, 1};
    a.x = x_chunk.const_data_ptr();
    a.w = w_chunk.const_data_ptr();
    a.y = partial.mutable_data_ptr<float>() + used * p.K * crs;
    a.ep.store_float = true;
    const LaunchResult r = conv2d_fprop(a, stream);
    TORCH_CHECK(r.error == nullptr, "cnnops.conv2d backward: CUDA kernel ", r.kernel, " failed: ", r.error);
    kernel = r.kernel;
  }
  Conv2dBpropArgs b{};
  b.p = p;
  b.dtype = dtype;
  b.workspace = partial.mutable_data_ptr();
  b.dw = gw.mutable_data_ptr();
  b.dw_strides = strides4(gw);
  const LaunchResult r = conv2d_wgrad_reduce(b, used, stream);
  TORCH_CHECK(r.error == nullptr, "cnnops.conv2d backward: CUDA kernel ", r.kernel, " failed: ", r.error);
  return kernel;
}

}  // namespace cuda
}  // namespace cnnops
