// CPU adaptive average pooling: output (oh, ow) averages input rows
// [floor(oh*H/P), ceil((oh+1)*H/P)) and the matching columns (adaptive_start / adaptive_end in
// pool_params.h). Backward spreads each gradient over its window, one plane per task.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "pool2d_cpu.h"

namespace cnnops {
namespace cpu {
namespace {

Pool2dParams adaptive_params(const at::Tensor& input, int64_t P, int64_t Q) {
  Pool2dParams p{};
  p.N = input.size(0);
  p.C = input.size(1);
  p.H = input.size(2);
  p.W = input.size(3);
  p.P = P;
  p.Q = Q;
  p.x = strides4(input);
  return p;
}

template <typename scalar_t>
void adaptive_forward_kernel(const Pool2dParams& p, const scalar_t* x, scalar_t* y) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      const scalar_t* xp = x + n * p.x.n + c * p.x.c;
      for (int64_t oh = 0; oh < p.P; ++oh) {
        const int64_t ih0 = adaptive_start(oh, p.H, p.P), ih1 = adaptive_end(oh, p.H, p.P);
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const int64_t iw0 = adaptive_start(ow, p.W, p.Q), iw1 = adaptive_end(ow, p.W, p.Q);
          acc_t sum = 0;
          for (int64_t ih = ih0; ih < ih1; ++ih)
            for (int64_t iw = iw0; iw < iw1; ++iw) sum += static_cast<acc_t>(xp[ih * p.x.h + iw * p.x.w]);
          y[n * p.y.n + c * p.y.c + oh * p.y.h + ow * p.y.w] =
              static_cast<scalar_t>(sum / static_cast<acc_t>((ih1 - ih0) * (iw1 - iw0)));
        }
      }
    }
  });
}

template <typename scalar_t>
void adaptive_backward_kernel(const Pool2dParams& p, const scalar_t* go, scalar_t* gi) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(p.H * p.W);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t oh = 0; oh < p.P; ++oh) {
        const int64_t ih0 = adaptive_start(oh, p.H, p.P), ih1 = adaptive_end(oh, p.H, p.P);
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const int64_t iw0 = adaptive_start(ow, p.W, p.Q), iw1 = adaptive_end(ow, p.W, p.Q);
          const acc_t g = static_cast<acc_t>(go[n * p.y.n + c * p.y.c + oh * p.y.h + ow * p.y.w]) /
                          static_cast<acc_t>((ih1 - ih0) * (iw1 - iw0));
          for (int64_t ih = ih0; ih < ih1; ++ih)
            for (int64_t iw = iw0; iw < iw1; ++iw) acc[ih * p.W + iw] += g;
        }
      }
      scalar_t* gp = gi + n * p.x.n + c * p.x.c;
      for (int64_t ih = 0; ih < p.H; ++ih)
        for (int64_t iw = 0; iw < p.W; ++iw) gp[ih * p.x.h + iw * p.x.w] = static_cast<scalar_t>(acc[ih * p.W + iw]);
    }
  });
}

}  // namespace

at::Tensor adaptive_avg_pool2d_forward(const at::Tensor& input, at::IntArrayRef output_size) {
  TORCH_CHECK(input.dim() == 4, "cnnops.adaptive_avg_pool2d: expected a 4-D input, got ", input.dim(), "-D");
  TORCH_CHECK(output_size.size() == 2 && output_size[0] >= 0 && output_size[1] >= 0,
              "cnnops.adaptive_avg_pool2d: output_size must be two non-negative ints, got ", output_size);
  TORCH_CHECK(input.size(2) > 0 && input.size(3) > 0,
              "cnnops.adaptive_avg_pool2d: input spatial size must be non-zero");
  Pool2dParams p = adaptive_params(input, output_size[0], output_size[1]);
  at::Tensor y = empty_output({p.N, p.C, p.P, p.Q}, input.options().memory_format(output_memory_format(input)));
  if (y.numel() == 0) return y;
  p.y = strides4(y);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_adaptive_avg_pool2d_cpu", [&] {
    adaptive_forward_kernel<scalar_t>(p, input.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>());
  });
  return y;
}

at::Tensor adaptive_avg_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input) {
  TORCH_CHECK(input.dim() == 4 && grad_output.dim() == 4, "cnnops.adaptive_avg_pool2d backward: expected 4-D tensors");
  TORCH_CHECK(grad_output.size(0) == input.size(0) && grad_output.size(1) == input.size(1),
              "cnnops.adaptive_avg_pool2d backward: grad_output and input disagree on N or C");
  TORCH_CHECK(grad_output.scalar_type() == input.scalar_type(),
              "cnnops.adaptive_avg_pool2d backward: grad_output and input dtypes differ");
  at::Tensor gi = empty_output(input.sizes(), input.options().memory_format(output_memory_format(input)));
  if (gi.numel() == 0) return gi;
  if (grad_output.numel() == 0) return gi.zero_();
  Pool2dParams p = adaptive_params(gi, grad_output.size(2), grad_output.size(3));
  p.y = strides4(grad_output);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_adaptive_avg_pool2d_backward_cpu", [&] {
    adaptive_backward_kernel<scalar_t>(p, grad_output.const_data_ptr<scalar_t>(), gi.mutable_data_ptr<scalar_t>());
  });
  return gi;
}

}  // namespace cpu
}  // namespace cnnops
