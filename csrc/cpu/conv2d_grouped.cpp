// The grouped convolution driver (conv2d_grouped.h): the filters packed once per call in the
// accumulation type for the kernel grouped_lanes picks, then the rows run in the copy of the
// CPU's instruction set (conv2d_grouped_kernels.inc).
#include "conv2d_grouped.h"

#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "conv2d_cpu.h"
#include "gemm/gemm_driver.h"

namespace cnnops {
namespace cpu {

#define CNNOPS_ISA_KERNELS "conv2d_grouped_kernels.inc"
#define CNNOPS_ISA_AVX512
#include "isa_copies.inc"
CNNOPS_ISA_DISPATCH_WIDE(grouped_forward_rows)
CNNOPS_ISA_DISPATCH_WIDE(grouped_grad_weight_rows)

namespace {

constexpr int64_t kL = kChannelLanes;

// The filters as the kernels read them, zero in lanes past the last group or filter:
//   packed:  [C / kL lane blocks][R*S][Cg filter offsets j][kL lanes (g, c)] = w[g * Kg + j, c]
//   filters: [K / kL filter blocks][R*S][Cg input channels c][kL lanes k]   = w[k, c]
// Repacked on every call (a ResNeXt layer-4 conv's 1.2 MB in well under its compute time): block
// by block in parallel, each lane's filter read in its own order.
template <typename T, typename A = at::opmath_type<T>>
std::vector<A> pack_filters(const Conv2dParams& p, GroupLanes lanes, const T* w) {
  const int64_t Cg = p.channels_per_group(), Kg = p.filters_per_group(), RS = p.R * p.S;
  const bool packed = lanes == GroupLanes::kPacked;
  const int64_t blocks = ceil_div(packed ? p.C : p.K, kL);
  std::vector<A> out(blocks * RS * Cg * kL, A(0));
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk)
      for (int64_t l = 0; l < kL; ++l) {
        // Lane l of every vector of the block: filter k, input channel c of its group, for each
        // i (packed: the filter offset j; filters: the input channel).
        const int64_t g = (blk * kL + l) / Cg, k = blk * kL + l;
        if (packed ? g >= p.groups : k >= p.K) continue;
        for (int64_t i = 0; i < Cg; ++i) {
          const T* src = packed ? w + (g * Kg + i) * p.w.n + (l % Cg) * p.w.c : w + k * p.w.n + i * p.w.c;
          A* dst = out.data() + (blk * RS * Cg + i) * kL + l;
          for (int64_t r = 0; r < p.R; ++r)
            for (int64_t s = 0; s < p.S; ++s) dst[(r * p.S + s) * Cg * kL] = static_cast<A>(src[r * p.w.h + s * p.w.w]);
        }
      }
  });
  return out;
}

}  // namespace

template <typename T>
void grouped_forward(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, const EpilogueParams& ep) {
  using A = at::opmath_type<T>;
  const GroupLanes lanes = grouped_lanes(p);
  TORCH_CHECK(lanes != GroupLanes::kNone, "cnnops: grouped_forward called for a shape it does not take");
  const std::vector<A> wp = pack_filters(p, lanes, w);
  std::vector<A> b(bias != nullptr ? round_up(p.K, kL) : 0, A(0));
  for (int64_t k = 0; k < int64_t(b.size()) && k < p.K; ++k) b[k] = static_cast<A>(bias[k]);
  grouped_forward_rows<T>(p, lanes, x, wp.data(), bias != nullptr ? b.data() : nullptr, ep, y);
}

template <typename T>
void grouped_grad_weight(const Conv2dParams& p, const T* gy, const T* x, T* gw, const Strides4& gws) {
  const GroupLanes lanes = grouped_lanes(p);
  TORCH_CHECK(lanes != GroupLanes::kNone, "cnnops: grouped_grad_weight called for a shape it does not take");
  grouped_grad_weight_rows<T>(p, lanes, gy, x, gw, gws);
}

#define CNNOPS_GROUPED_INSTANTIATE(T)                                                                          \
  template void grouped_forward<T>(const Conv2dParams&, const T*, const T*, const T*, T*, const EpilogueParams&); \
  template void grouped_grad_weight<T>(const Conv2dParams&, const T*, const T*, T*, const Strides4&);
CNNOPS_GROUPED_INSTANTIATE(float)
CNNOPS_GROUPED_INSTANTIATE(double)
CNNOPS_GROUPED_INSTANTIATE(c10::BFloat16)
CNNOPS_GROUPED_INSTANTIATE(c10::Half)
#undef CNNOPS_GROUPED_INSTANTIATE

}  // namespace cpu
}  // namespace cnnops
