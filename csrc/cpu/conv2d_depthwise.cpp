// The depthwise convolution drivers (conv2d_depthwise.h): the filters repacked once per call in the
// accumulation type, the layout's kernel picked, each kernel run in the copy of the CPU's
// instruction set (conv2d_depthwise_kernels.inc).
#include "conv2d_depthwise.h"

#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "conv2d_cpu.h"
#include "cpu_isa.h"
#include "gemm/gemm_driver.h"

namespace cnnops {
namespace cpu {

#define CNNOPS_ISA_KERNELS "conv2d_depthwise_kernels.inc"
#define CNNOPS_ISA_AVX512
#include "isa_copies.inc"
CNNOPS_ISA_DISPATCH_WIDE(dw_forward_nhwc)
CNNOPS_ISA_DISPATCH_WIDE(dw_forward_nhwc_padded)
CNNOPS_ISA_DISPATCH_WIDE(dw_forward_planes)
CNNOPS_ISA_DISPATCH_WIDE(dw_grad_input_nhwc)
CNNOPS_ISA_DISPATCH_WIDE(dw_grad_input_planes)
CNNOPS_ISA_DISPATCH_WIDE(dw_grad_weight_nhwc)
CNNOPS_ISA_DISPATCH_WIDE(dw_grad_weight_planes)

namespace {

// Output columns up to which a plane-layout depthwise forward gathers 16 channels into padded
// bands rather than sweeping its planes (whose rows would fill at most one 16-lane vector: 14x14
// and 7x7 maps measured 0.34 -> 0.44 and 0.23 -> 0.49 of torch's speed; 28x28 even).
constexpr int64_t kDwPaddedPlanesMaxCols = 16;

// The filters as [R*S][wk] (tap-major, wk = K rounded up to whole vectors, zero past K): one
// vector load per tap for 16 channels-last channels.
template <typename T, typename A = at::opmath_type<T>>
std::vector<A> taps_by_channel(const Conv2dParams& p, const T* w, int64_t wk) {
  std::vector<A> out(p.R * p.S * wk, A(0));
  for (int64_t k = 0; k < p.K; ++k)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s)
        out[(r * p.S + s) * wk + k] = static_cast<A>(w[k * p.w.n + r * p.w.h + s * p.w.w]);
  return out;
}

// The filters as [K][R*S], for the plane kernels.
template <typename T, typename A = at::opmath_type<T>>
std::vector<A> taps_by_filter(const Conv2dParams& p, const T* w) {
  std::vector<A> out(p.K * p.R * p.S);
  for (int64_t k = 0; k < p.K; ++k)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s)
        out[(k * p.R + r) * p.S + s] = static_cast<A>(w[k * p.w.n + r * p.w.h + s * p.w.w]);
  return out;
}

}  // namespace

template <typename T>
void depthwise_forward(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, const EpilogueParams& ep) {
  using A = at::opmath_type<T>;
  // The zero-padded bands of 16-channel pixels (dw_forward_nhwc_padded), one filter per channel,
  // on AVX-512 where they were measured faster: channels-last 5x5 and 7x7 at unit steps
  // (ConvNeXt, RepLKNet's small kernel; 3x3 and the large kernels keep up better in place), and
  // small maps in other layouts, whose planes would fill a fraction of each 16-lane vector.
  const bool unit = p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 && p.dil_w == 1;
  // Its smallest buffer -- one output row's input rows, one block of channels -- must stay small
  // (a huge dilation or width would make it gigabytes): 8 MB.
  const int64_t cols = (p.Q - 1) * p.stride_w + (p.S - 1) * p.dil_w + 1, rows = (p.R - 1) * p.dil_h + 1;
  const bool small_buffer = rows * cols * kDepthwiseLanes * int64_t(sizeof(A)) <= (int64_t(8) << 20);
  const bool padded = p.K == p.C && vector_isa_avx512() && small_buffer &&
                      (p.x.c == 1 ? unit && p.R == p.S && (p.S == 5 || p.S == 7) : p.Q <= kDwPaddedPlanesMaxCols);
  if (p.x.c == 1 || padded) {
    const int64_t wk = round_up(p.K, kDepthwiseLanes);
    const std::vector<A> wt = taps_by_channel(p, w, wk);
    std::vector<A> b(bias != nullptr ? wk : 0, A(0));
    for (int64_t k = 0; k < int64_t(b.size()) && k < p.K; ++k) b[k] = static_cast<A>(bias[k]);
    if (padded)
      dw_forward_nhwc_padded<T>(p, x, wt.data(), wk, bias != nullptr ? b.data() : nullptr, ep, y);
    else
      dw_forward_nhwc<T>(p, x, wt.data(), wk, bias != nullptr ? b.data() : nullptr, ep, y);
  } else {
    const std::vector<A> wp = taps_by_filter(p, w);
    std::vector<A> b(bias != nullptr ? p.K : 0);
    for (int64_t k = 0; k < int64_t(b.size()); ++k) b[k] = static_cast<A>(bias[k]);
    dw_forward_planes<T>(p, x, wp.data(), bias != nullptr ? b.data() : nullptr, ep, y);
  }
}

template <typename T>
void depthwise_grad_input(const Conv2dParams& p, const T* gy, const T* w, T* gx, const Strides4& gs) {
  using A = at::opmath_type<T>;
  const int64_t RS = p.R * p.S;
  // Stride 1, one filter per channel: the forward of grad_output with each filter flipped.
  Conv2dParams q;
  if (p.K == p.C && dgrad_as_forward_params(p, gs, Strides4{RS, RS, p.S, 1}, &q)) {
    std::vector<T> flipped(p.C * RS);
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s)
          flipped[(c * p.R + r) * p.S + s] = w[c * p.w.n + (p.R - 1 - r) * p.w.h + (p.S - 1 - s) * p.w.w];
    depthwise_forward<T>(q, gy, flipped.data(), nullptr, gx, EpilogueParams{nullptr, Strides4{}, Activation::kNone, false});
    return;
  }
  if (p.y.c == 1) {
    const int64_t wk = round_up(p.K, kDepthwiseLanes);
    const std::vector<A> wt = taps_by_channel(p, w, wk);
    dw_grad_input_nhwc<T>(p, gy, wt.data(), wk, gx, gs);
  } else {
    const std::vector<A> wp = taps_by_filter(p, w);
    dw_grad_input_planes<T>(p, gy, wp.data(), gx, gs);
  }
}

template <typename T>
void depthwise_grad_weight(const Conv2dParams& p, const T* gy, const T* x, T* gw, const Strides4& gws) {
  if (p.x.c == 1 && p.y.c == 1)
    dw_grad_weight_nhwc<T>(p, gy, x, gw, gws);
  else
    dw_grad_weight_planes<T>(p, gy, x, gw, gws);
}

#define CNNOPS_DEPTHWISE_INSTANTIATE(T)                                                                        \
  template void depthwise_forward<T>(const Conv2dParams&, const T*, const T*, const T*, T*, const EpilogueParams&); \
  template void depthwise_grad_input<T>(const Conv2dParams&, const T*, const T*, T*, const Strides4&);             \
  template void depthwise_grad_weight<T>(const Conv2dParams&, const T*, const T*, T*, const Strides4&);
CNNOPS_DEPTHWISE_INSTANTIATE(float)
CNNOPS_DEPTHWISE_INSTANTIATE(double)
CNNOPS_DEPTHWISE_INSTANTIATE(c10::BFloat16)
CNNOPS_DEPTHWISE_INSTANTIATE(c10::Half)
#undef CNNOPS_DEPTHWISE_INSTANTIATE

}  // namespace cpu
}  // namespace cnnops
