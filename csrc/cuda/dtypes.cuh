// The element types of the CUDA kernels, identical under nvcc and the CPU simulator.
//
// float16 and bfloat16 are carried as their 16-bit patterns (half_t, bf16_t: layout-compatible
// with at::Half / at::BFloat16, __half / __nv_bfloat16). Under nvcc the conversions are the
// hardware intrinsics; under the simulator they are exact software versions (round to nearest
// even, NaN kept NaN), so a kernel computes the same values on both. The DType enum is how the
// torch-side code names a dtype to the torch-free launchers.
#pragma once
#include <cstdint>
#include <type_traits>

#include "../common/epilogue.h"
#include "../common/macros.h"

#if !defined(CNNOPS_SIM)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#else
#include <cstring>

#include "../sim/intrinsic_entry_points.h"  // the memory counters' hook (KernelConvert::note_access)
#endif

namespace cnnops {
namespace cuda {

enum class DType : int { kFloat32, kFloat64, kFloat16, kBFloat16 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "f32";
    case DType::kFloat64: return "f64";
    case DType::kFloat16: return "f16";
    case DType::kBFloat16: return "bf16";
  }
  return "?";
}

struct half_t {
  uint16_t bits;
};
struct bf16_t {
  uint16_t bits;
};

#if defined(CNNOPS_SIM)
namespace sim_bits {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  // Zero or subnormal: mant * 2^-24, exact in float.
  const float v = float(mant) * 5.9604644775390625e-8f;
  return sign ? -v : v;
}

// Round to nearest even, as __float2half_rn.
inline uint16_t float_to_half(float f) {
  const uint32_t x = float_bits(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
  const uint32_t e = a >> 23;                              // biased float exponent
  if (e >= 143) return uint16_t(sign | 0x7c00u);          // >= 2^16: inf
  if (e >= 113) {                                          // half normal range (>= 2^-14)
    uint32_t h = ((e - 112) << 10) | ((a >> 13) & 0x3ffu);
    const uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry rounds up to inf correctly
    return uint16_t(sign | h);
  }
  // Half subnormal: round(mantissa * 2^(e - 150) / 2^-24).
  const uint32_t shift = 126 - e;  // >= 14
  if (shift > 24) return sign;
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  uint32_t h = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
  return uint16_t(sign | h);
}

inline float bf16_to_float(uint16_t h) { return bits_float(uint32_t(h) << 16); }

// Round to nearest even, as __float2bfloat16_rn.
inline uint16_t float_to_bf16(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // quiet NaN
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace sim_bits
#endif  // CNNOPS_SIM

// Conversions to the accumulation type (widen) and back (from_acc).
CNNOPS_HD_INLINE float widen(float v) { return v; }
CNNOPS_HD_INLINE double widen(double v) { return v; }
CNNOPS_HD_INLINE float widen(half_t v) {
#if defined(CNNOPS_SIM)
  return sim_bits::half_to_float(v.bits);
#else
  return __half2float(__ushort_as_half(v.bits));
#endif
}
CNNOPS_HD_INLINE float widen(bf16_t v) {
#if defined(CNNOPS_SIM)
  return sim_bits::bf16_to_float(v.bits);
#else
  return __bfloat162float(__ushort_as_bfloat16(v.bits));
#endif
}

template <typename T>
struct FromFloat;
template <>
struct FromFloat<float> {
  CNNOPS_HD_INLINE static float convert(float v) { return v; }
};
template <>
struct FromFloat<double> {
  CNNOPS_HD_INLINE static double convert(double v) { return v; }
};
template <>
struct FromFloat<half_t> {
  CNNOPS_HD_INLINE static half_t convert(float v) {
#if defined(CNNOPS_SIM)
    return half_t{sim_bits::float_to_half(v)};
#else
    return half_t{__half_as_ushort(__float2half_rn(v))};
#endif
  }
};
template <>
struct FromFloat<bf16_t> {
  CNNOPS_HD_INLINE static bf16_t convert(float v) {
#if defined(CNNOPS_SIM)
    return bf16_t{sim_bits::float_to_bf16(v)};
#else
    return bf16_t{__bfloat16_as_ushort(__float2bfloat16_rn(v))};
#endif
  }
};

// Accumulation type: float for the 16-bit types and float32, double for float64.
template <typename T>
struct AccumulatorOf {
  using type = float;
};
template <>
struct AccumulatorOf<double> {
  using type = double;
};
template <typename T>
using acc_t = typename AccumulatorOf<T>::type;

template <typename T, typename A>
CNNOPS_HD_INLINE T from_acc(A v) {
  return FromFloat<T>::convert(v);
}

// The conversions above as the shared epilogue's Convert policy (common/epilogue.h).
struct KernelConvert {
  template <typename A, typename T>
  static CNNOPS_HD_INLINE A widen(T v) {
    return cuda::widen(v);
  }
  template <typename T, typename A>
  static CNNOPS_HD_INLINE T narrow(A v) {
    return from_acc<T>(v);
  }
  static CNNOPS_HD_INLINE void note_access(const void* p, int bytes, bool store, const char* what, const char* file,
                                           int line) {
#if defined(CNNOPS_SIM)
    ::cnnops::sim::detail::record_memory_access(::cnnops::sim::MemorySpace::kGlobal,
                                                store ? ::cnnops::sim::AccessKind::kStore : ::cnnops::sim::AccessKind::kLoad,
                                                what, p, bytes, file, line);
#else
    (void)p, (void)bytes, (void)store, (void)what, (void)file, (void)line;
#endif
  }
};

template <typename T>
using KernelEpilogue = ConvEpilogue<T, acc_t<T>, KernelConvert>;

// The one of four names (static strings) that belongs to element type T: kernel names per dtype.
template <typename T>
constexpr const char* name_for(const char* f32, const char* f64, const char* f16, const char* bf16) {
  return std::is_same<T, double>::value ? f64 : std::is_same<T, half_t>::value ? f16 : std::is_same<T, bf16_t>::value ? bf16 : f32;
}

// Calls f(Type<T>{}) with the element type named by `dtype` (host code: the launchers' dtype
// switch, written once).
template <typename T>
struct Type {
  using type = T;
};
template <typename F>
auto with_element_type(DType dtype, F&& f) -> decltype(f(Type<float>{})) {
  switch (dtype) {
    case DType::kFloat64: return f(Type<double>{});
    case DType::kFloat16: return f(Type<half_t>{});
    case DType::kBFloat16: return f(Type<bf16_t>{});
    case DType::kFloat32: break;
  }
  return f(Type<float>{});
}

// Expands F(T) for every element type the kernels take (explicit instantiations of a launcher
// family, one line per family instead of one per type).
#define CNNOPS_FOR_EACH_ELEMENT_TYPE(F) F(float) F(double) F(half_t) F(bf16_t)

}  // namespace cuda
}  // namespace cnnops
