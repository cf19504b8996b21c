// The device-side helper functions kernels use besides intrinsics that synchronise: read-only
// loads, min/max, bit tricks, reinterpretations and the fast-math spellings.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// Read-only data cache load: a plain load on the CPU.
template <typename T>
inline T __ldg(const T* address) {
  return *address;
}

// CUDA's global min/max overloads (same-type only; a mixed call that nvcc would accept needs a
// cast here).
#define CNNOPS_SIM_MIN_MAX(T)                                  \
  inline T min(T a, T b) { return b < a ? b : a; }             \
  inline T max(T a, T b) { return a < b ? b : a; }
CNNOPS_SIM_MIN_MAX(int)
CNNOPS_SIM_MIN_MAX(unsigned int)
CNNOPS_SIM_MIN_MAX(long)
CNNOPS_SIM_MIN_MAX(unsigned long)
CNNOPS_SIM_MIN_MAX(long long)
CNNOPS_SIM_MIN_MAX(unsigned long long)
#undef CNNOPS_SIM_MIN_MAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x) {
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}

namespace cnnops {
namespace sim {
namespace detail {
template <typename To, typename From>
inline To bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast between types of different sizes");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}
}  // namespace detail
}  // namespace sim
}  // namespace cnnops

inline int __float_as_int(float x) { return cnnops::sim::detail::bit_cast<int>(x); }
inline unsigned int __float_as_uint(float x) { return cnnops::sim::detail::bit_cast<unsigned int>(x); }
inline float __int_as_float(int x) { return cnnops::sim::detail::bit_cast<float>(x); }
inline float __uint_as_float(unsigned int x) { return cnnops::sim::detail::bit_cast<float>(x); }
inline long long __double_as_longlong(double x) { return cnnops::sim::detail::bit_cast<long long>(x); }
inline double __longlong_as_double(long long x) { return cnnops::sim::detail::bit_cast<double>(x); }

// Fast-math spellings evaluate the accurate functions: results may differ from a GPU's in the
// last bits, which tests must tolerate anyway.
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x != x ? 0.0f : std::fmin(std::fmax(x, 0.0f), 1.0f); }
