// CPU pooling on channels-last tensors. Channels are the unit-stride dimension there, so these
// kernels walk output (or input) positions and loop over channels innermost, where the compiler
// vectorises; the plane-by-plane kernels would stride by C through memory and fetch every cache
// line C times over.
// Per channel the windows, taps and additions come in the plane kernels' order, so results are
// theirs bit for bit -- except averages over whole contiguous rows (a global average), which the
// plane kernel sums with 8 partial sums; the layout tests hold both to torch.
#pragma once
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "../common/pool_params.h"
#include "cpu_isa.h"
#include "pool2d_cpu.h"
#include "window_average.h"

namespace cnnops {
namespace cpu {

// Whether channels are the unit-stride dimension of both tensors (the input or grad_input `a`,
// the output or grad_output `b`); a single channel is a plane, for the plane kernels.
inline bool channels_innermost(const Strides4& a, const Strides4& b, int64_t C) {
  return C > 1 && a.c == 1 && b.c == 1;
}

// The grain of a parallel_for over rows of `row_elements` each: ~32K elements per task, as
// planes_per_task. Output rows count the elements their windows read (row_elements x window
// area): counted by outputs alone, a global average's 8 rows or LeNet's 14x14 maps made one task
// and left the second thread idle.
inline int64_t rows_per_task(int64_t row_elements) {
  return std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, row_elements));
}

// For each input row (or column), the first and last output row whose span holds it (hi < lo:
// none). Spans start and end in order, so the outputs holding an input form one range.
struct Holders {
  std::vector<int64_t> lo, hi;
  Holders(const std::vector<AvgSpan>& spans, int64_t in) : lo(in, 0), hi(in, -1) {
    for (int64_t i = 0; i < in; ++i) {
      bool found = false;
      for (int64_t o = 0; o < int64_t(spans.size()); ++o)
        if (spans[o].start <= i && i < spans[o].end) {
          if (!found) lo[i] = o, found = true;
          hi[i] = o;
        }
    }
  }
};

// The kernels, compiled three times: portable, with AVX2 (8-wide float vectors) and with AVX-512
// (16-wide: one register per 16-channel block; the CPU's ISA, capped by CNNOPS_CPU_KERNEL, picks
// at run time). No multiply-add can be contracted in them, so the copies give the same bits.
#define CNNOPS_ISA_KERNELS "channels_last_pool_kernels.inc"
#define CNNOPS_ISA_AVX512
#include "isa_copies.inc"
CNNOPS_ISA_DISPATCH_WIDE(max_forward_channels_last)
CNNOPS_ISA_DISPATCH_WIDE(max_backward_channels_last)
CNNOPS_ISA_DISPATCH_WIDE(window_average_forward_channels_last)
CNNOPS_ISA_DISPATCH_WIDE(window_average_backward_channels_last)

// The average forward and backward (avg_pool2d's and adaptive windows alike): channels-innermost
// kernels where channels are the unit-stride dimension of both tensors, else the plane kernels.
template <typename scalar_t>
void average_forward(const Pool2dParams& p, const scalar_t* x, scalar_t* y, const WindowTable& t) {
  if (channels_innermost(p.x, p.y, p.C))
    window_average_forward_channels_last<scalar_t>(p, x, y, t);
  else
    window_average_forward<scalar_t>(p, x, y, t);
}

template <typename scalar_t>
void average_backward(const Pool2dParams& p, const scalar_t* go, scalar_t* gi, const WindowTable& t) {
  if (channels_innermost(p.x, p.y, p.C))
    window_average_backward_channels_last<scalar_t>(p, go, gi, t);
  else
    window_average_backward<scalar_t>(p, go, gi, t);
}

}  // namespace cpu
}  // namespace cnnops
