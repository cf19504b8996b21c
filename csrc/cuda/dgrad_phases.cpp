#include "dgrad_phases.h"

#include <vector>

#include "../common/params_from_tensors.h"
#include "host_common.h"

namespace cnnops {
namespace cuda {
namespace {

// The taps of one axis that reach a phase, ordered so that their grad_output offsets increase.
struct PhaseTaps {
  std::vector<int64_t> taps;  // kernel indices, decreasing
  int64_t first_offset = 0;   // off(taps[0]) = (phase + pad - taps[0] * dil) / stride
  int64_t spacing = 1;        // off(taps[j + 1]) - off(taps[j])
};

PhaseTaps phase_taps(int64_t phase, int64_t pad, int64_t kernel, int64_t dil, int64_t stride) {
  PhaseTaps t;
  for (int64_t r = kernel - 1; r >= 0; --r) {
    const int64_t span = phase + pad - r * dil;
    // Floor-mod: span may be negative (a tap left of the first output row).
    if (((span % stride) + stride) % stride == 0) t.taps.push_back(r);
  }
  if (!t.taps.empty()) {
    t.first_offset = (phase + pad - t.taps[0] * dil) / stride;  // exact division
    if (t.taps.size() > 1) t.spacing = (t.taps[0] - t.taps[1]) * dil / stride;
  }
  return t;
}

}  // namespace

const char* dgrad_by_phases(const at::Tensor& grad_output, const at::Tensor& weight, at::Tensor& gi,
                            const Conv2dParams& p, const Conv2dBpropPlan& plan, DType dtype, bool allow_tf32,
                            void* stream) {
  const Conv2dParams shape = dgrad_phase_problem(p);
  const at::Tensor dy = grad_output.contiguous(at::MemoryFormat::ChannelsLast);
  const char* kernel = "zero_fill";  // when no phase has a tap
  for (int64_t ph = 0; ph < plan.dgrad_phases_h; ++ph)
    for (int64_t pw = 0; pw < plan.dgrad_phases_w; ++pw) {
      at::Tensor view = gi.slice(2, ph, p.H, p.stride_h).slice(3, pw, p.W, p.stride_w);
      const PhaseTaps rows = phase_taps(ph, p.pad_top, p.R, p.dil_h, p.stride_h);
      const PhaseTaps cols = phase_taps(pw, p.pad_left, p.S, p.dil_w, p.stride_w);
      if (rows.taps.empty() || cols.taps.empty()) {  // no tap reaches these positions
        view.zero_();
        continue;
      }
      // W[k, c, taps_r, taps_s] -> [C, K, R', S'], channels-last (KRSC) for the kernels.
      const auto index = [&](const std::vector<int64_t>& v) {
        return at::tensor(v, weight.options().dtype(at::kLong));
      };
      const at::Tensor w_phase = weight.index_select(2, index(rows.taps))
                                     .index_select(3, index(cols.taps))
                                     .transpose(0, 1)
                                     .contiguous(at::MemoryFormat::ChannelsLast);
      Conv2dFpropArgs a{};
      a.dtype = dtype;
      a.allow_tf32 = allow_tf32;
      Conv2dParams& q = a.p;
      q = shape;
      q.R = int64_t(rows.taps.size());
      q.S = int64_t(cols.taps.size());
      q.stride_h = q.stride_w = 1;
      q.dil_h = rows.spacing;
      q.dil_w = cols.spacing;
      q.pad_top = -rows.first_offset;  // output i reads grad_output row i + first_offset + j * spacing
      q.pad_left = -cols.first_offset;
      q.P = view.size(2);
      q.Q = view.size(3);
      q.x = strides4(dy);
      q.w = strides4(w_phase);
      q.y = strides4(view);
      a.x = dy.const_data_ptr();
      a.w = w_phase.const_data_ptr();
      a.y = view.mutable_data_ptr();
      const LaunchResult r = conv2d_fprop(a, stream);
      check_launch(r, "conv2d backward");
      kernel = r.kernel;
    }
  return kernel;
}

}  // namespace cuda
}  // namespace cnnops
