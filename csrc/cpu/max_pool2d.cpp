// CPU max pooling. Forward scans each window in (row, column) order keeping the first maximum,
// and lets NaN win (the last NaN seen), exactly as torch does, so values and int64 indices
// (flattened h * W + w within the input plane) match torch bit for bit. Backward scatters each
// output gradient to its saved index, one (n, c) plane per task: overlapping windows add in a
// fixed order, so the result is deterministic without atomics.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <limits>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "channels_last_pool.h"
#include "plane_rows_pool.h"
#include "pool2d_cpu.h"

namespace cnnops {
namespace cpu {
namespace {

template <typename scalar_t>
void max_forward_kernel(const Pool2dParams& p, const scalar_t* x, scalar_t* y, int64_t* ind) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, planes_per_task(p), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      const scalar_t* xp = x + n * p.x.n + c * p.x.c;
      const int64_t ybase = n * p.y.n + c * p.y.c;
      for (int64_t oh = 0; oh < p.P; ++oh) {
        const MaxSpan rows = max_pool_span(oh, p.stride_h, p.pad_h, p.kernel_h, p.dil_h, p.H);
        const int64_t ih0 = rows.start, ih1 = rows.end;
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const MaxSpan cols = max_pool_span(ow, p.stride_w, p.pad_w, p.kernel_w, p.dil_w, p.W);
          const int64_t iw0 = cols.start, iw1 = cols.end;
          int64_t best = ih0 * p.W + iw0;
          acc_t maxval = -std::numeric_limits<acc_t>::infinity();
          for (int64_t ih = ih0; ih < ih1; ih += p.dil_h)
            for (int64_t iw = iw0; iw < iw1; iw += p.dil_w) {
              const acc_t v = static_cast<acc_t>(xp[ih * p.x.h + iw * p.x.w]);
              if (v > maxval || std::isnan(v)) {
                maxval = v;
                best = ih * p.W + iw;
              }
            }
          const int64_t o = ybase + oh * p.y.h + ow * p.y.w;
          y[o] = static_cast<scalar_t>(maxval);
          if (ind != nullptr) ind[o] = best;
        }
      }
    }
  });
}

template <typename scalar_t>
void max_backward_kernel(const Pool2dParams& p, const scalar_t* go, const int64_t* ind,
                         const Strides4& is, scalar_t* gi) {
  using acc_t = at::opmath_type<scalar_t>;
  at::parallel_for(0, p.N * p.C, planes_per_task(p), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / p.C, c = plane % p.C;
      scalar_t* gp = gi + n * p.x.n + c * p.x.c;
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const int64_t idx = ind[n * is.n + c * is.c + oh * is.h + ow * is.w];
          // A window that covers only padding (possible with dilation) has output -inf and an
          // index outside the plane: no input element receives its gradient.
          if (idx < 0 || idx >= p.H * p.W) continue;
          scalar_t& dst = gp[plane_offset(p.x, p.W, idx)];
          dst = static_cast<scalar_t>(static_cast<acc_t>(dst) +
                                      static_cast<acc_t>(go[n * p.y.n + c * p.y.c + oh * p.y.h + ow * p.y.w]));
        }
    }
  });
}

// The forward, with the int64 indices only when asked for (`ind` stays undefined otherwise).
std::tuple<at::Tensor, at::Tensor> max_forward(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                                               at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode,
                                               bool with_indices) {
  check_pool2d_args(input, kernel, stride, padding, dilation, ceil_mode);
  Pool2dParams p = make_pool2d_params(input, kernel, stride, padding, dilation, ceil_mode);
  const auto fmt = output_memory_format(input);
  at::Tensor y = empty_output({p.N, p.C, p.P, p.Q}, input.options().memory_format(fmt));
  at::Tensor ind = with_indices
                       ? empty_output({p.N, p.C, p.P, p.Q}, input.options().dtype(at::kLong).memory_format(fmt))
                       : at::Tensor();
  if (y.numel() == 0) return {y, ind};
  p.y = strides4(y);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_max_pool2d_cpu", [&] {
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    int64_t* indices = with_indices ? ind.mutable_data_ptr<int64_t>() : nullptr;
    if (channels_innermost(p.x, p.y, p.C))
      max_forward_channels_last<scalar_t>(p, x, y.mutable_data_ptr<scalar_t>(), indices);
    else if (rows_contiguous(p))
      max_forward_rows<scalar_t>(p, x, y.mutable_data_ptr<scalar_t>(), indices);
    else
      max_forward_kernel<scalar_t>(p, x, y.mutable_data_ptr<scalar_t>(), indices);
  });
  return {y, ind};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> max_pool2d_forward(const at::Tensor& input, at::IntArrayRef kernel,
                                                      at::IntArrayRef stride, at::IntArrayRef padding,
                                                      at::IntArrayRef dilation, bool ceil_mode) {
  return max_forward(input, kernel, stride, padding, dilation, ceil_mode, true);
}

at::Tensor max_pool2d_values(const at::Tensor& input, at::IntArrayRef kernel, at::IntArrayRef stride,
                             at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode) {
  return std::get<0>(max_forward(input, kernel, stride, padding, dilation, ceil_mode, false));
}

at::Tensor max_pool2d_backward(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& indices,
                               at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                               at::IntArrayRef dilation, bool ceil_mode) {
  Pool2dParams p = check_max_pool2d_backward_args(grad_output, input, indices, kernel, stride, padding, dilation,
                                                  ceil_mode);
  // The channels-last kernel gathers, writing every element once; the plane kernel scatters into
  // zeros.
  at::Tensor gi = empty_output(input.sizes(), input.options().memory_format(output_memory_format(input)));
  p.x = strides4(gi);
  const bool gather = grad_output.numel() > 0 && channels_innermost(p.x, p.y, p.C);
  if (!gather) gi.zero_();
  if (grad_output.numel() == 0) return gi;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_max_pool2d_backward_cpu", [&] {
    const scalar_t* go = grad_output.const_data_ptr<scalar_t>();
    const int64_t* ind = indices.const_data_ptr<int64_t>();
    if (gather)
      max_backward_channels_last<scalar_t>(p, go, ind, strides4(indices), gi.mutable_data_ptr<scalar_t>());
    else
      max_backward_kernel<scalar_t>(p, go, ind, strides4(indices), gi.mutable_data_ptr<scalar_t>());
  });
  return gi;
}

}  // namespace cpu
}  // namespace cnnops
