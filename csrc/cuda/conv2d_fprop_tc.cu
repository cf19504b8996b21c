// The tensor-core forward's host side shared by its element types: which shapes and operands it
// takes, and the launch's shape the tile heuristic reads. The kernels: conv2d_fprop_tc_kernel.cuh,
// instantiated in conv2d_fprop_tc_f16.cu, _bf16.cu and _tf32.cu.
#include <algorithm>
#include <cstdint>

#include "../common/conv_params.h"
#include "conv2d_fprop_kernels.cuh"
#include "conv2d_fprop_tc_kernel.cuh"
#include "vector_access.cuh"

namespace cnnops {
namespace cuda {
namespace {

// A dimension keeps 16-byte vectors of `vec` elements aligned if its stride is a multiple of
// vec -- or if it has one index only (torch gives such dimensions arbitrary strides).
bool vector_stride(int64_t stride, int64_t size, int vec) { return size == 1 || stride % vec == 0; }

int vector_elements(DType dtype) { return dtype == DType::kFloat32 ? 4 : 8; }

// The loaders walk the reduction in 32 bits (ReductionWalk): every tap offset they reach, into the
// input from a window origin and into a filter -- up to one tap past the last in each axis, plus a
// k-tile -- and the window offsets r * dil_h, s * dil_w must fit. Checked for the strides given and
// for the channels-last copies a caller may make of the operands (the shape-only query decides
// whether to make them).
bool taps_fit_32(const Conv2dParams& p) {
  const auto mag = [](int64_t v) { return v < 0 ? -v : v; };
  const auto span = [&](int64_t r, int64_t s, int64_t sh, int64_t sw, int64_t sc) {
    return r * mag(sh) + s * mag(sw) + p.C * mag(sc);
  };
  const int64_t limit = INT32_MAX - 64;
  const int64_t x_span = std::max(span(p.R * p.dil_h, p.S * p.dil_w, p.x.h, p.x.w, p.x.c),
                                  span(p.R * p.dil_h, p.S * p.dil_w, p.W * p.C, p.C, 1));
  const int64_t w_span = std::max(span(p.R, p.S, p.w.h, p.w.w, p.w.c), span(p.R, p.S, p.S * p.C, p.C, 1));
  return x_span < limit && w_span < limit && p.R * p.dil_h < limit && p.S * p.dil_w < limit;
}

// The problems a launch solves: its phases', or its own.
template <typename F>
bool all_problems(const Conv2dFpropArgs& a, F&& f) {
  if (a.phases.count == 0) return f(a.p, int64_t(0));
  for (int z = 0; z < a.phases.count; ++z)
    if (!f(a.phases.problem(a.p, z), a.phases.phase[z].w_at)) return false;
  return true;
}

// The 1x1 GEMM variant reads pixel (p * stride, q * stride) unchecked: every output must read
// inside the input (always so for a real 1x1 convolution without padding; not for the crafted
// parameters of the dgrad phases, whose last output rows may lie past grad_output).
bool one_by_one_gemm(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0 &&
         (p.P - 1) * p.stride_h < p.H && (p.Q - 1) * p.stride_w < p.W;
}

// The current device's SM count (an H100's 132 if it cannot be read).
int64_t sm_count() {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) {
    cudaGetLastError();  // clear it: the launch that follows must not report it
    return 132;
  }
  return sms;
}

}  // namespace

bool fprop_tc_supports_shape(const Conv2dParams& p, DType dtype, bool allow_tf32) {
  const bool type_ok = dtype == DType::kFloat16 || dtype == DType::kBFloat16 || (dtype == DType::kFloat32 && allow_tf32);
  // The kernel keeps window origins and the reduction index in 32 bits.
  const bool small_origins = p.H + p.pad_top + p.pad_bottom < INT32_MAX && p.W + p.pad_left + p.pad_right < INT32_MAX;
  const bool small_reduction = p.R * p.S * p.C < INT32_MAX - 64;  // the tap decode divides in 32 bits
  return type_ok && small_origins && small_reduction && taps_fit_32(p) && p.groups == 1 &&
         p.C % vector_elements(dtype) == 0;
}

bool fprop_tc_supports(const Conv2dFpropArgs& a) {
  const int v = vector_elements(a.dtype);
  const int64_t element = a.dtype == DType::kFloat32 ? 4 : 2;
  if (a.phases.count < 0 || a.phases.count > OutputPhases::kMax) return false;
  return all_problems(a, [&](const Conv2dParams& p, int64_t w_at) {
    const bool x_vec = p.x.c == 1 && vector_stride(p.x.w, p.W, v) && vector_stride(p.x.h, p.H, v) &&
                       vector_stride(p.x.n, p.N, v) && aligned_to(a.x, 16);
    const bool w_vec = p.w.c == 1 && vector_stride(p.w.w, p.S, v) && vector_stride(p.w.h, p.R, v) &&
                       vector_stride(p.w.n, p.K, v) && aligned_to(static_cast<const char*>(a.w) + w_at * element, 16);
    return fprop_tc_supports_shape(p, a.dtype, a.allow_tf32) && x_vec && w_vec;
  });
}

TcLaunchShape fprop_tc_launch_shape(const Conv2dFpropArgs& a) {
  TcLaunchShape s{all_problems(a, [](const Conv2dParams& p, int64_t) { return one_by_one_gemm(p); }), 0, 0, sm_count()};
  all_problems(a, [&](const Conv2dParams& p, int64_t) {
    s.rows += p.npq();
    s.grid_rows = std::max(s.grid_rows, p.npq());
    return true;
  });
  return s;
}

}  // namespace cuda
}  // namespace cnnops
