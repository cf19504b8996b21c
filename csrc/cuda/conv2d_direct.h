// The direct (not GEMM) convolution of grouped filters with few channels per group -- depthwise
// (C/g == 1, any multiplier K/g) and narrow groups such as ResNeXt's (C/g = K/g = 4 .. 32) --
// whose implicit GEMM would fill one K/g-wide column of a 64-wide tile. Each block stages a tile of
// the input (its padding as zeros) and the filters of 32 (channels-last) or 8 (NCHW) output
// channels in shared memory; each thread sums 4 adjacent output columns of several rows of one
// channel, square 3x3, 5x5 and 7x7 filters at stride 1 (3x3, 5x5 at stride 2) unrolled in
// registers (each input row read from shared memory once for all the output rows it reaches).
// Torch- and CUDA-free interface (like conv2d_fprop.h): the forward (conv2d_fprop.cu routes
// grouped shapes here) and the input gradient's stride phases (conv2d_direct_dgrad) launch the
// same kernels, differing only in where they read the filter taps.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../common/conv_params.h"
#include "../common/dgrad_phases.h"
#include "../common/epilogue.h"
#include "conv2d_bprop.h"
#include "dtypes.cuh"
#include "launch_result.h"

namespace cnnops {
namespace cuda {

// Where filter tap (k, c, r, s) of a direct launch lives -- output channel k (group k / Kg, filter
// k % Kg of it), input channel c of its group, kernel row r, column s -- as element offsets from w:
//   at + (k / Kg) * group + (k % Kg) * filter + c * channel + r * row + s * col.
// The forward reads torch's [K, C/g, R, S] weight through its strides; the input gradient reads the
// same weight transposed within each group, a phase's taps spaced and flipped (negative row and
// column steps): no copy of the weight either way.
struct DirectFilters {
  int64_t at, group, filter, channel, row, col;
};

// The forward's view of a [K, C/g, R, S] weight with element strides p.w.
DirectFilters forward_filters(const Conv2dParams& p);

struct Conv2dDirectArgs {
  Conv2dParams p;  // sizes, groups, x and y strides (p.w is not read: `filters` places the taps)
  DType dtype;
  const void* x;
  const void* w;
  const void* bias;  // [K] or null
  void* y;
  DirectFilters filters;
  EpilogueParams ep;  // y = act(conv + bias + residual); store_float is not supported
};

// How a direct launch stages a shape: threads along channels (an input with unit channel stride)
// or along columns; the filter unrolled (3, 5, 7: square, unit dilation, stride 1 -- or 2 for
// 3 and 5 --, staged whole), walked row by row 4 taps at a time (-1: any other filter at unit
// strides and dilations, RepLKNet's large kernels) or looped (0); how many filter rows one
// stage of shared memory holds and the most input channels a block stages; the dynamic shared
// memory this takes. `fits` is false where even one filter row's tile does not fit in
// kDirectMaxSharedBytes.
struct DirectPlan {
  bool channels_last = false;
  int unrolled_taps = 0;
  int unrolled_stride = 1;
  int64_t staged_channels = 0;
  int64_t rows_per_stage = 0;
  int64_t filter_bytes = 0, input_bytes = 0;
  bool fits = false;
  size_t shared_bytes() const { return size_t(filter_bytes + input_bytes); }
};

// Shared memory of one block: up to 48 KB (several blocks per SM) where a filter row's tile fits,
// else up to this (one large-kernel row of 128-byte channel vectors, e.g. 31 x 31 depthwise).
constexpr int64_t kDirectSharedBytes = 48 * 1024;
constexpr int64_t kDirectMaxSharedBytes = 99 * 1024;
// Groups wider than this go to the implicit GEMM (its tile is then at least half used).
constexpr int64_t kDirectMaxGroupChannels = 32;

DirectPlan conv2d_direct_plan(const Conv2dParams& p, DType dtype);

// Whether the direct kernels take this shape (groups > 1, at most kDirectMaxGroupChannels input
// channels per group, a stage that fits) -- the forward's and the input gradient's rule.
bool conv2d_direct_supports(const Conv2dParams& p, DType dtype);

// Runs the direct convolution on `stream`; any supported Conv2dParams with N*P*Q > 0 and K > 0.
LaunchResult conv2d_direct(const Conv2dDirectArgs& args, void* stream);

// The kernel conv2d_direct() runs for these arguments (nothing is launched).
const char* conv2d_direct_name(const Conv2dParams& p, DType dtype);

// grad_input of p (args.dx with strides args.dx_strides; reads args.dy and args.w) on the direct
// kernels: one launch per stride phase that a filter tap reaches (csrc/common/dgrad_phases.h), a
// stride-1 direct convolution of grad_output with the phase's taps of the weight -- read in place
// through dgrad_direct_filters -- written through the phase's strided view of grad_input; a
// zero-fill launch for each phase no tap reaches. Where conv2d_bprop_plan() chose
// BpropPath::kDirect. The kernel named is that of the last launch.
LaunchResult conv2d_direct_dgrad(const Conv2dBpropArgs& args, void* stream);

// The filter view of one phase: output channel k' = g * Cg + ci of the phase's problem (input
// channel ci of group g), its input channel ki (filter ki of group g), tap (j, i) = kernel
// indices (rows.taps[j], cols.taps[i]) of the weight with strides p.w.
DirectFilters dgrad_direct_filters(const Conv2dParams& p, const PhaseTaps& rows, const PhaseTaps& cols);

}  // namespace cuda
}  // namespace cnnops
