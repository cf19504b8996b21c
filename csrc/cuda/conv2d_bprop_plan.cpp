#include "conv2d_bprop_plan.h"

#include <algorithm>

#include "conv2d_direct.h"
#include "conv2d_direct_wgrad.h"
#include "conv2d_fprop.h"
#include "conv2d_fprop_tc_tiles.h"

namespace cnnops {
namespace cuda {
namespace {

// The tensor-core wgrad's splits aim at this many blocks of the forward's small tile in their one
// launch: two waves of a 132-SM H100 / H200. A constant rather than the device's SM count: the
// split boundaries fix the order grad_weight is summed in, so they must not vary by device.
constexpr int64_t kWgradTargetBlocks = 2 * 132;
// Fewer reduction rows (images x output pixels) per split than this and a split's partial sums
// (K x C*R*S floats written and read again) cost more than its share of the reduction ...
constexpr int64_t kWgradMinRowsPerChunk = 4096;
// ... except where splits that large leave the launch short of one wave (kWgradTargetBlocks / 2):
// idle SMs cost more than the extra partial sums, and bands of output rows may then shrink to
// this many reduction rows (8 k-steps of the forward's 32-row tiles).
constexpr int64_t kWgradFloorRowsPerChunk = 256;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Elements per 16-byte channel vector of the tensor-core kernels: a chunk is a whole number of them.
int64_t channel_vector(DType dtype) { return dtype == DType::kFloat32 ? 4 : 8; }

const char* path_name(BpropPath path) {
  switch (path) {
    case BpropPath::kNotAsked: return "none";
    case BpropPath::kZeros: return "zeros";
    case BpropPath::kTensorCores: return "tensor_cores";
    case BpropPath::kCudaCores: return "cuda_cores";
    case BpropPath::kDirect: return "direct";
  }
  return "?";
}

}  // namespace

Conv2dParams dgrad_phase_problem(const Conv2dParams& p) {
  Conv2dParams q{};
  q.N = p.N, q.C = p.K, q.H = p.P, q.W = p.Q, q.K = p.C, q.groups = p.groups;
  q.R = q.S = 1;  // per phase: set to its tap counts when it runs
  return q;
}

Conv2dParams dgrad_direct_bound(const Conv2dParams& p) {
  Conv2dParams q = dgrad_phase_problem(p);
  q.R = p.R, q.S = p.S, q.dil_h = p.dil_h, q.dil_w = p.dil_w;
  q.stride_h = q.stride_w = 1;
  q.P = p.H, q.Q = p.W;
  return q;
}

Conv2dParams wgrad_forward_problem(const Conv2dParams& p) {
  Conv2dParams q{};
  q.N = p.C, q.C = p.N, q.H = p.H, q.W = p.W, q.K = p.K, q.groups = p.groups;
  q.R = p.P, q.S = p.Q;
  q.stride_h = p.dil_h, q.stride_w = p.dil_w;  // stride and dilation swap roles
  q.dil_h = p.stride_h, q.dil_w = p.stride_w;
  q.pad_top = p.pad_top, q.pad_left = p.pad_left;
  q.P = p.R, q.Q = p.S;  // only the R x S outputs that are filter taps
  return q;
}

Conv2dBpropPlan conv2d_bprop_plan(const Conv2dParams& p, DType dtype, bool allow_tf32, bool grad_input,
                                  bool grad_weight, bool grad_bias) {
  Conv2dBpropPlan plan;
  const int64_t input_numel = p.N * p.C * p.H * p.W, weight_numel = p.K * (p.C / std::max<int64_t>(p.groups, 1)) * p.R * p.S;
  const bool empty_grad_output = p.N * p.K * p.P * p.Q == 0;
  // With an empty grad_output, input or weight, no product reaches any gradient.
  const bool nothing = empty_grad_output || input_numel == 0 || weight_numel == 0;

  if (grad_input && input_numel > 0) {
    if (nothing) {
      plan.dgrad = BpropPath::kZeros;
    } else if (conv2d_direct_supports(dgrad_direct_bound(p), dtype)) {
      plan.dgrad = BpropPath::kDirect;
    } else if (p.groups == 1 && conv2d_fprop_prefers_channels_last(dgrad_phase_problem(p), dtype, allow_tf32)) {
      plan.dgrad = BpropPath::kTensorCores;
      plan.dgrad_phases_h = std::min(p.stride_h, p.H);
      plan.dgrad_phases_w = std::min(p.stride_w, p.W);
      int64_t tapped = 0;
      for (int64_t ph = 0; ph < plan.dgrad_phases_h; ++ph)
        for (int64_t pw = 0; pw < plan.dgrad_phases_w; ++pw)
          tapped += !dgrad_phase_taps(ph, p.pad_top, p.R, p.dil_h, p.stride_h).taps.empty() &&
                    !dgrad_phase_taps(pw, p.pad_left, p.S, p.dil_w, p.stride_w).taps.empty();
      plan.dgrad_launches = ceil_div(tapped, OutputPhases::kMax);
    } else {
      plan.dgrad = BpropPath::kCudaCores;
    }
  }

  if (grad_weight && weight_numel > 0) {
    const int64_t vec = channel_vector(dtype);
    const DirectWgradPlan direct = conv2d_direct_wgrad_plan(p, dtype);
    if (nothing) {
      plan.wgrad = BpropPath::kZeros;
    } else if (direct.fits) {
      plan.wgrad = BpropPath::kDirect;
      plan.wgrad_direct_splits = direct.splits;
      plan.wgrad_direct_passes = direct.passes;
    } else if (p.groups == 1 && p.N % vec == 0 &&
               conv2d_fprop_prefers_channels_last(wgrad_forward_problem(p), dtype, allow_tf32)) {
      plan.wgrad = BpropPath::kTensorCores;
      // Each chunk's forward has an [C*R*S, K] output: count its blocks in small tiles.
      const int64_t blocks = ceil_div(p.C * p.R * p.S, TileSmall::kTileM) * ceil_div(p.K, TileSmall::kTileN);
      const int64_t want = ceil_div(kWgradTargetBlocks, blocks);
      const int64_t most_by_vectors = p.N / vec;
      const int64_t most_by_rows = std::max<int64_t>(1, p.N * p.P * p.Q / kWgradMinRowsPerChunk);
      const int64_t chunks = std::max<int64_t>(1, std::min({want, most_by_vectors, most_by_rows}));
      plan.wgrad_chunk_images = ceil_div(p.N / vec, chunks) * vec;
      plan.wgrad_chunks = ceil_div(p.N, plan.wgrad_chunk_images);  // rounding up the chunk may need fewer
      // Then bands of output rows, where the batch chunks alone leave the launch short of blocks:
      // the tallest band that gives two waves with splits of kWgradMinRowsPerChunk rows or more;
      // else the tallest that gives one wave with kWgradFloorRowsPerChunk or more; else the
      // shortest that keeps that floor.
      const auto reduction_rows = [&](int64_t band) { return plan.wgrad_chunk_images * band * p.Q; };
      const auto blocks_with = [&](int64_t band) { return plan.wgrad_chunks * ceil_div(p.P, band) * blocks; };
      const auto tallest = [&](int64_t target, int64_t min_rows) -> int64_t {
        for (int64_t band = p.P; band >= 1; --band)
          if ((band == p.P || reduction_rows(band) >= min_rows) && blocks_with(band) >= target) return band;
        return 0;
      };
      int64_t band = tallest(kWgradTargetBlocks, kWgradMinRowsPerChunk);
      if (band == 0) band = tallest(kWgradTargetBlocks / 2, kWgradFloorRowsPerChunk);
      if (band == 0) {
        band = p.P;
        while (band > 1 && reduction_rows(band - 1) >= kWgradFloorRowsPerChunk) --band;
      }
      plan.wgrad_split_rows = band;
      plan.wgrad_row_splits = ceil_div(p.P, band);
    } else {
      plan.wgrad = BpropPath::kCudaCores;
    }
  }

  if (grad_bias && p.K > 0) plan.bias = empty_grad_output ? BpropPath::kZeros : BpropPath::kCudaCores;
  return plan;
}

std::string Conv2dBpropPlan::describe() const {
  std::string s = std::string("dgrad=") + path_name(dgrad);
  if (dgrad == BpropPath::kTensorCores)
    s += "(phases " + std::to_string(dgrad_phases_h) + "x" + std::to_string(dgrad_phases_w) + " in " +
         std::to_string(dgrad_launches) + (dgrad_launches == 1 ? " launch)" : " launches)");
  s += std::string(" wgrad=") + path_name(wgrad);
  if (wgrad == BpropPath::kTensorCores)
    s += "(chunks " + std::to_string(wgrad_chunks) + "x" + std::to_string(wgrad_chunk_images) +
         (wgrad_row_splits > 1
              ? " rows " + std::to_string(wgrad_row_splits) + "x" + std::to_string(wgrad_split_rows)
              : std::string()) +
         ")";
  if (wgrad == BpropPath::kDirect)
    s += "(splits " + std::to_string(wgrad_direct_splits) + " passes " + std::to_string(wgrad_direct_passes) + ")";
  return s + " bias=" + path_name(bias);
}

}  // namespace cuda
}  // namespace cnnops
