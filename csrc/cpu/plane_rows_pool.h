// CPU max pooling of NCHW tensors with contiguous rows, a row of outputs at a time: the plane
// kernel walks one window after another, each a handful of scalar loads (2-3 GB/s, as torch's
// own NCHW kernel, measured 2026-12-01); here the windows that lie inside the row are computed
// together, one tap across all of them per vectorised loop.
#pragma once
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "../common/pool_params.h"
#include "cpu_isa.h"
#include "pool2d_cpu.h"

namespace cnnops {
namespace cpu {

// Whether the row kernel applies: unit-stride input rows, undilated along W.
inline bool rows_contiguous(const Pool2dParams& p) { return p.x.w == 1 && p.dil_w == 1; }

// The output columns [lo, hi) whose windows lie inside the input row (no padding tap, no tap past
// the end): ow * stride - pad >= 0 and ow * stride - pad + kernel <= W.
struct OutputColumns {
  int64_t lo, hi;
};

inline OutputColumns columns_inside(const Pool2dParams& p) {
  const int64_t s = p.stride_w;
  const int64_t lo = std::min<int64_t>((p.pad_w + s - 1) / s, p.Q);
  const int64_t last = p.W + p.pad_w - p.kernel_w;  // ow * s <= last
  const int64_t hi = last < 0 ? 0 : std::min<int64_t>(last / s + 1, p.Q);
  return OutputColumns{lo, std::max(lo, hi)};
}

// The kernel, compiled twice (portable and AVX2; the same bits: no multiply-add in it).
#define CNNOPS_ISA_KERNELS "plane_rows_pool_kernels.inc"
#include "isa_copies.inc"
CNNOPS_ISA_DISPATCH(max_forward_rows)

}  // namespace cpu
}  // namespace cnnops
