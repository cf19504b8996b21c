#include "dgrad_phases.h"

#include <algorithm>
#include <vector>

#include "../common/params_from_tensors.h"
#include "host_common.h"

namespace cnnops {
namespace cuda {
namespace {

// A stride phase that some filter tap reaches, and its sub-filter W[k, c, taps_r, taps_s]
// transposed to [C, K, R', S'], channels-last (KRSC) for the kernels.
struct TappedPhase {
  int64_t ph, pw;
  PhaseTaps rows, cols;
  at::Tensor w;
};

at::Tensor phase_filters(const at::Tensor& weight, const PhaseTaps& rows, const PhaseTaps& cols) {
  const auto index = [&](const std::vector<int64_t>& v) { return at::tensor(v, weight.options().dtype(at::kLong)); };
  return weight.index_select(2, index(rows.taps))
      .index_select(3, index(cols.taps))
      .transpose(0, 1)
      .contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace

const char* dgrad_by_phases(const at::Tensor& grad_output, const at::Tensor& weight, at::Tensor& gi,
                            const Conv2dParams& p, const Conv2dBpropPlan& plan, DType dtype, bool allow_tf32,
                            void* stream) {
  const at::Tensor dy = grad_output.contiguous(at::MemoryFormat::ChannelsLast);
  std::vector<TappedPhase> tapped;
  for (int64_t ph = 0; ph < plan.dgrad_phases_h; ++ph)
    for (int64_t pw = 0; pw < plan.dgrad_phases_w; ++pw) {
      TappedPhase t{ph, pw, dgrad_phase_taps(ph, p.pad_top, p.R, p.dil_h, p.stride_h),
                    dgrad_phase_taps(pw, p.pad_left, p.S, p.dil_w, p.stride_w), at::Tensor()};
      if (t.rows.taps.empty() || t.cols.taps.empty()) {  // no tap reaches these positions
        gi.slice(2, ph, p.H, p.stride_h).slice(3, pw, p.W, p.stride_w).zero_();
        continue;
      }
      t.w = phase_filters(weight, t.rows, t.cols);
      tapped.push_back(std::move(t));
    }
  TORCH_CHECK(int64_t((tapped.size() + OutputPhases::kMax - 1) / OutputPhases::kMax) == plan.dgrad_launches,
              "cnnops.conv2d backward: the dgrad phases disagree with the plan");

  // Every phase convolves grad_output at stride 1 into the strided view of grad_input that starts
  // at (ph, pw); they share the input and the output strides.
  Conv2dParams shape = dgrad_phase_problem(p);
  shape.stride_h = shape.stride_w = 1;
  shape.x = strides4(dy);
  shape.y = Strides4{gi.stride(0), gi.stride(1), gi.stride(2) * p.stride_h, gi.stride(3) * p.stride_w};
  const char* kernel = "zero_fill";  // when no phase has a tap
  for (size_t first = 0; first < tapped.size(); first += OutputPhases::kMax) {
    const size_t count = std::min<size_t>(OutputPhases::kMax, tapped.size() - first);
    // The group's filters in one buffer, each phase's KRSC block after the last.
    std::vector<at::Tensor> blocks;
    Conv2dFpropArgs a{};
    a.dtype = dtype;
    a.allow_tf32 = allow_tf32;
    a.p = shape;
    a.phases.count = int32_t(count);
    int64_t w_at = 0;
    for (size_t i = 0; i < count; ++i) {
      const TappedPhase& t = tapped[first + i];
      OutputPhases::Phase& f = a.phases.phase[i];
      const Conv2dParams q = dgrad_phase_forward(p, t.ph, t.pw, t.rows, t.cols);
      f.R = q.R, f.S = q.S;
      f.dil_h = q.dil_h, f.dil_w = q.dil_w;
      f.pad_top = q.pad_top, f.pad_left = q.pad_left;
      f.P = q.P, f.Q = q.Q;
      f.w = strides4(t.w);
      f.w_at = w_at;
      f.y_at = t.ph * gi.stride(2) + t.pw * gi.stride(3);
      w_at += t.w.numel();
      blocks.push_back(t.w.permute({0, 2, 3, 1}).reshape(-1));  // memory order: C, R', S', K
    }
    const at::Tensor w_all = count == 1 ? blocks[0] : at::cat(blocks);
    a.x = dy.const_data_ptr();
    a.w = w_all.const_data_ptr();
    a.y = gi.mutable_data_ptr();
    if (count == 1) {  // a plain launch: the phase's problem, its operands moved to it
      a.p = a.phases.problem(a.p, 0);
      a.y = static_cast<char*>(a.y) + a.phases.phase[0].y_at * gi.element_size();
      a.phases.count = 0;
    }
    const LaunchResult r = conv2d_fprop(a, stream);
    check_launch(r, "conv2d backward");
    kernel = r.kernel;
  }
  return kernel;
}

}  // namespace cuda
}  // namespace cnnops
