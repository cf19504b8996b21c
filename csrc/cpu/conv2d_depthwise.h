// CPU depthwise convolution: groups == C > 1, so each of the K = m * C filters (m, the channel
// multiplier, is K / C) reads one input channel, k / m. A GEMM per group would be a 1-row GEMM;
// these are direct kernels instead, vectorised along the unit-stride dimension of the data:
//   channels-last (input channels innermost): 16 channels per vector, 8 output columns per block
//     on AVX-512 (4 on AVX2, 2 portable), the filters transposed to [R*S][K] once so a tap's 16
//     weights are one load; the taps inside the input for every column of a block run
//     unchecked, the rest read a row of zeros where a column is in the padding;
//   any other layout: per (image, channel) plane, the input copied once into a zero-padded plane
//     split by column phase (stride_w phases), so every strided window walk is a contiguous
//     vector load, 16 output columns per vector, up to 4 vectors (or, on maps of at most 32
//     columns, 2 or 4 rows) per block.
// Forward, input gradient (stride 1 without a multiplier as the forward of the flipped filters;
// otherwise a gather per input pixel channels-last, a scatter into a padded plane elsewhere) and
// weight gradient (a fixed-order reduction per filter). Every task owns its outputs and sums in an
// order fixed by the shape: results do not depend on the thread count. The kernels are compiled
// portable, AVX2 and AVX-512 (cpu_isa.h); the AVX2 and AVX-512 copies give the same bits.
#pragma once
#include "../common/conv_params.h"
#include "../common/epilogue.h"
#include "cpu_isa.h"

namespace cnnops {
namespace cpu {

// Channels per vector of the depthwise kernels, and the padding of their packed filters.
constexpr int kDepthwiseLanes = kChannelLanes;

inline bool depthwise_applies(const Conv2dParams& p) { return p.groups > 1 && p.groups == p.C; }

// y = act(depthwise(x, w) + bias + residual) with ConvEpilogue's arithmetic; every element of y
// written.
template <typename T>
void depthwise_forward(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, const EpilogueParams& ep);

// grad_input at strides gs from grad_output (p.y strides) and the weights (p.w strides); every
// element written.
template <typename T>
void depthwise_grad_input(const Conv2dParams& p, const T* gy, const T* w, T* gx, const Strides4& gs);

// grad_weight at strides gws from grad_output and the input; every element written.
template <typename T>
void depthwise_grad_weight(const Conv2dParams& p, const T* gy, const T* x, T* gw, const Strides4& gws);

}  // namespace cpu
}  // namespace cnnops
