// CPU convolution forward on channels-last input as an indirect GEMM (XNNPACK's IGEMM in spirit):
// per group, Y[N*P*Q, K/g] = A[N*P*Q, R*S*C/g] * B[R*S*C/g, K/g] with the reduction ordered
// (r, s, c), so that each row of A -- one output position's window -- is a few contiguous runs
// of input channels that the micro-kernel reads in place through a pointer per row. Nothing is
// gathered or transposed per call except the weights (packed once into B panels) and the window
// rows that straddle the padding (copied with zeros). The rows of C are output positions and its
// columns channels: a channels-last output is stored row by row.
#pragma once
#include "../common/conv_params.h"
#include "../common/epilogue.h"

namespace cnnops {
namespace cpu {

// Whether the indirect GEMM takes this convolution: input channels innermost (stride 1).
inline bool forward_nhwc_applies(const Conv2dParams& p) { return p.x.c == 1 && p.C > 1; }

template <typename T>
void forward_nhwc(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, const EpilogueParams& ep);

extern template void forward_nhwc<float>(const Conv2dParams&, const float*, const float*, const float*, float*,
                                         const EpilogueParams&);
extern template void forward_nhwc<double>(const Conv2dParams&, const double*, const double*, const double*, double*,
                                          const EpilogueParams&);

}  // namespace cpu
}  // namespace cnnops
