// The fused epilogue of a convolution forward, shared by every backend:
//   y = act(conv(x, w) + bias + residual)
// computed in the accumulation type and rounded once to the output dtype. The residual has the
// output's shape [N, K, P, Q] and any strides. Torch-free: .cu files include it.
//
// A new activation is a new Activation code, kActivationCount, activation_codes() and a case in
// apply_activation, all here (the Python side names it and gives its derivative: cnnops/functional.py's
// ACTIVATIONS, cnnops/ops.py's conv2d_bias_act_vjp); a new output type is a Convert policy. The kernels only say where an output element
// lives and which accumulator belongs there.
#pragma once
#include <cstdint>

#include "conv_params.h"
#include "macros.h"

namespace cnnops {

enum class Activation : int32_t { kNone = 0, kRelu = 1 };
constexpr int64_t kActivationCount = 2;  // codes 0 .. kActivationCount - 1 are valid

// The activation codes for error messages, in code order.
inline const char* activation_codes() { return "0 (none) or 1 (relu)"; }

struct EpilogueParams {
  const void* residual;  // null: no residual
  Strides4 r;            // element strides of the residual
  Activation act;
  // Store the float accumulators unrounded: y is then a float buffer (not the input dtype), the
  // partial sums of a split reduction that a second pass adds in order (the tensor-core wgrad).
  bool store_float;
};

// ReLU as torch's: NaN stays NaN (max(NaN, 0) would give 0 on some paths).
template <typename A>
CNNOPS_HD_INLINE A apply_activation(A v, Activation act) {
  return act == Activation::kRelu && v < A(0) ? A(0) : v;
}

// Conversions between a storage type and the accumulation type, for types whose constructors
// round correctly (the CPU's float, double, at::Half, at::BFloat16). The CUDA kernels pass
// their own policy (dtypes.cuh) for the 16-bit patterns they carry. note_access(ptr, bytes,
// store, what, file, line) hears of every global access the epilogue makes (the simulator's
// memory counters); `file`/`line` are the kernel's call of the epilogue.
struct StaticCastConvert {
  template <typename A, typename T>
  static CNNOPS_HD_INLINE A widen(T v) {
    return static_cast<A>(v);
  }
  template <typename T, typename A>
  static CNNOPS_HD_INLINE T narrow(A v) {
    return static_cast<T>(v);
  }
  static CNNOPS_HD_INLINE void note_access(const void*, int, bool, const char*, const char*, int) {}
};

// The epilogue of an output tensor of element type T, accumulated in A (CUTLASS's
// LinearCombinationBiasRelu in spirit): a kernel finds the residual of an output pixel once
// (residual_pixel), then computes (operator()) and stores (store) each of its channels.
template <typename T, typename A, typename Convert = StaticCastConvert>
struct ConvEpilogue {
  const T* bias;  // [K] or null
  EpilogueParams ep;

  CNNOPS_HD_INLINE ConvEpilogue(const T* bias_, const EpilogueParams& ep_) : bias(bias_), ep(ep_) {}

  // Channel 0 of the residual at output pixel (n, p, q), or null without a residual.
  CNNOPS_HD_INLINE const T* residual_pixel(int64_t n, int64_t p, int64_t q) const {
    const T* r = static_cast<const T*>(ep.residual);
    return r == nullptr ? nullptr : r + n * ep.r.n + p * ep.r.h + q * ep.r.w;
  }

  // act(acc + bias[k] + residual[k]) for channel k of the pixel whose residual is r_pixel.
  CNNOPS_HD_INLINE A operator()(A acc, int64_t k, const T* r_pixel, const char* file = __builtin_FILE(),
                                int line = __builtin_LINE()) const {
    A b = A(0), r = A(0);
    if (bias != nullptr) {
      Convert::note_access(bias + k, int(sizeof(T)), false, "ld.global bias", file, line);
      b = Convert::template widen<A>(bias[k]);
    }
    if (r_pixel != nullptr) {
      Convert::note_access(r_pixel + k * ep.r.c, int(sizeof(T)), false, "ld.global residual", file, line);
      r = Convert::template widen<A>(r_pixel[k * ep.r.c]);
    }
    return combine(acc, b, r, r_pixel != nullptr);
  }

  // The arithmetic of operator() on a bias and residual value the caller loaded (and widened)
  // itself -- a kernel that reads them as vectors: the bias is added when there is one, the
  // residual when `has_residual`, in that order, then the activation; the same rounding on every
  // path.
  CNNOPS_HD_INLINE A combine(A acc, A bias_v, A residual_v, bool has_residual) const {
    if (bias != nullptr) acc += bias_v;
    if (has_residual) acc += residual_v;
    return apply_activation(acc, ep.act);
  }

  // Stores v at element offset `at` of the output y: rounded once to T, or unrounded into the
  // float buffer of a split reduction's partial sums (ep.store_float).
  CNNOPS_HD_INLINE void store(void* y, int64_t at, A v, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) const {
    if (ep.store_float) {
      Convert::note_access(static_cast<float*>(y) + at, 4, true, "st.global", file, line);
      static_cast<float*>(y)[at] = float(v);
    } else {
      Convert::note_access(static_cast<T*>(y) + at, int(sizeof(T)), true, "st.global", file, line);
      static_cast<T*>(y)[at] = Convert::template narrow<T>(v);
    }
  }
};

}  // namespace cnnops
