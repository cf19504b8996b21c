// CPU grouped convolution (1 < groups < C) with few channels per group, as in ResNeXt (32 groups
// of 4 to 32 channels). The GEMM path would run one small GEMM per group, a few channels deep,
// whose packing and C traffic dwarf its multiply-adds; these direct kernels keep every sum in
// registers instead. Two ways to fill a vector's 16 lanes:
//   packed (channels-last input, Cg == Kg in {2, 4, 8}): the lanes are the input channels of
//     16 / Cg whole groups, loaded as one vector per pixel; each of the Cg filter offsets j keeps
//     its own accumulator (lane (g, c) sums x[g, c] * w[g * Kg + j, c] over the taps), and at the
//     end a fixed tree of lane shuffles adds each group's Cg lanes, leaving output (g, j) in lane
//     g * Cg + j -- the output channels of the same 16 lanes;
//   filters (any layout, Kg a multiple of 16): the lanes are 16 filters of one group, each input
//     element broadcast to them, summed in (r, s, c) order -- the direct convolution.
// Output columns are register-blocked (8 on AVX-512); the input rows are staged with their
// padding as zeros, so no tap is checked. Every task owns its output rows and sums in an
// order fixed by the shape: results do not depend on the thread count, and the AVX2 and AVX-512
// copies (cpu_isa.h) give the same bits.
#pragma once
#include "../common/conv_params.h"
#include "../common/epilogue.h"
#include "cpu_isa.h"

namespace cnnops {
namespace cpu {

enum class GroupLanes { kNone, kPacked, kFilters };

// Channels per group up to which the filters kernel beats the GEMM path (a group's reduction of
// Cg * R * S is too short for the GEMM's packing to pay).
constexpr int64_t kGroupedMaxChannels = 64;

// Which direct kernel takes this convolution, kNone for the GEMM path (and for depthwise, which
// has its own kernels).
inline GroupLanes grouped_lanes(const Conv2dParams& p) {
  if (p.groups <= 1 || p.groups == p.C) return GroupLanes::kNone;
  const int64_t Cg = p.channels_per_group(), Kg = p.filters_per_group();
  if (Kg == Cg && (Cg == 2 || Cg == 4 || Cg == 8)) return GroupLanes::kPacked;
  if (Kg % kChannelLanes == 0 && Cg <= kGroupedMaxChannels) return GroupLanes::kFilters;
  return GroupLanes::kNone;
}

inline bool grouped_applies(const Conv2dParams& p) { return grouped_lanes(p) != GroupLanes::kNone; }

// y = act(conv(x, w) + bias + residual) with ConvEpilogue's arithmetic, for grouped_applies(p);
// every element of y written.
template <typename T>
void grouped_forward(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, const EpilogueParams& ep);

// grad_weight at strides gws from grad_output (p.y strides) and the input, for grouped_applies(p):
// the same lanes, each (vector block, kernel row) a task summing the output rows in order; every
// element written.
template <typename T>
void grouped_grad_weight(const Conv2dParams& p, const T* gy, const T* x, T* gw, const Strides4& gws);

}  // namespace cpu
}  // namespace cnnops
