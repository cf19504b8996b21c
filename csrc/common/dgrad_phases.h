// The stride phases of an input gradient (CUTLASS's strided dgrad idea), shared by the CPU and
// CUDA backward: for each phase (ph, pw) of the stride grid, the input positions
// h = ph + i * stride_h receive gradient only through the filter taps r with
// (ph + pad - r * dil) divisible by the stride, and those taps reach grad_output rows i + off(r)
// with equally spaced offsets. So the phase is a stride-1 forward convolution of grad_output with
// the sub-filter W[k, c, taps] transposed (per group) to [C, K/g, R', S'], written through the
// phase's strided view of grad_input; no multiply touches the zeros a transposed convolution
// would insert. Torch-free.
#pragma once
#include <cstdint>
#include <vector>

#include "conv_params.h"

namespace cnnops {

// The filter taps of one axis that reach stride phase `phase` of grad_input (input positions
// phase + i * stride): the kernel indices r with (phase + pad - r * dil) divisible by the stride,
// in decreasing order so that the grad_output offsets they read increase.
struct PhaseTaps {
  std::vector<int64_t> taps;  // kernel indices, decreasing
  int64_t first_offset = 0;   // off(taps[0]) = (phase + pad - taps[0] * dil) / stride
  int64_t spacing = 1;        // off(taps[j + 1]) - off(taps[j])
};

inline PhaseTaps dgrad_phase_taps(int64_t phase, int64_t pad, int64_t kernel, int64_t dil, int64_t stride) {
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

// The stride-1 forward problem of phase (ph, pw) of p's input gradient, given its taps: grad_output
// (K channels, P x Q) convolved into the phase's C channels, ceil((H - ph) / stride_h) x
// ceil((W - pw) / stride_w) positions; output i reads grad_output row i + first_offset + j *
// spacing for its tap j (so the padding is -first_offset, possibly negative). The strides of the
// operands are left to the caller.
inline Conv2dParams dgrad_phase_forward(const Conv2dParams& p, int64_t ph, int64_t pw, const PhaseTaps& rows,
                                        const PhaseTaps& cols) {
  Conv2dParams q = p;
  q.C = p.K, q.H = p.P, q.W = p.Q, q.K = p.C;
  q.R = int64_t(rows.taps.size()), q.S = int64_t(cols.taps.size());
  q.stride_h = q.stride_w = 1;
  q.dil_h = rows.spacing, q.dil_w = cols.spacing;
  q.pad_top = -rows.first_offset, q.pad_left = -cols.first_offset;
  q.P = (p.H - ph + p.stride_h - 1) / p.stride_h;
  q.Q = (p.W - pw + p.stride_w - 1) / p.stride_w;
  q.pad_bottom = (q.P - 1) + (q.R - 1) * q.dil_h - q.pad_top - (q.H - 1);
  q.pad_right = (q.Q - 1) + (q.S - 1) * q.dil_w - q.pad_left - (q.W - 1);
  return q;
}

}  // namespace cnnops
