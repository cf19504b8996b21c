// CUDA atomics as relaxed __atomic builtins: a GPU atomic orders nothing but itself, and TSan
// understands the builtins (concurrent atomics are no race; they create no happens-before).
#pragma once
#include "sim_api.h"

namespace cnnops {
namespace sim {
namespace detail {

template <typename T, typename Update>
inline T atomic_update(T* address, Update update) {
  count(Counter::kAtomics);
  T old;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  T desired = update(old);
  // Compares bit patterns, so a float NaN does not loop forever.
  while (!__atomic_compare_exchange(address, &old, &desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    desired = update(old);
  return old;
}

template <typename T>
inline T atomic_fetch_add(T* address, T value) {
  count(Counter::kAtomics);
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}

}  // namespace detail
}  // namespace sim
}  // namespace cnnops

#define CNNOPS_SIM_INTEGER_ATOMICS(T)                                                                  \
  inline T atomicAdd(T* address, T value) { return cnnops::sim::detail::atomic_fetch_add(address, value); } \
  inline T atomicSub(T* address, T value) {                                                           \
    cnnops::sim::count(cnnops::sim::Counter::kAtomics);                                               \
    return __atomic_fetch_sub(address, value, __ATOMIC_RELAXED);                                      \
  }                                                                                                   \
  inline T atomicExch(T* address, T value) {                                                          \
    cnnops::sim::count(cnnops::sim::Counter::kAtomics);                                               \
    return __atomic_exchange_n(address, value, __ATOMIC_RELAXED);                                     \
  }                                                                                                   \
  inline T atomicCAS(T* address, T compare, T value) {                                                \
    cnnops::sim::count(cnnops::sim::Counter::kAtomics);                                               \
    __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED); \
    return compare;                                                                                   \
  }                                                                                                   \
  inline T atomicMin(T* address, T value) {                                                           \
    return cnnops::sim::detail::atomic_update(address, [value](T old) { return value < old ? value : old; }); \
  }                                                                                                   \
  inline T atomicMax(T* address, T value) {                                                           \
    return cnnops::sim::detail::atomic_update(address, [value](T old) { return value > old ? value : old; }); \
  }                                                                                                   \
  inline T atomicAnd(T* address, T value) {                                                           \
    cnnops::sim::count(cnnops::sim::Counter::kAtomics);                                               \
    return __atomic_fetch_and(address, value, __ATOMIC_RELAXED);                                      \
  }                                                                                                   \
  inline T atomicOr(T* address, T value) {                                                            \
    cnnops::sim::count(cnnops::sim::Counter::kAtomics);                                               \
    return __atomic_fetch_or(address, value, __ATOMIC_RELAXED);                                       \
  }                                                                                                   \
  inline T atomicXor(T* address, T value) {                                                           \
    cnnops::sim::count(cnnops::sim::Counter::kAtomics);                                               \
    return __atomic_fetch_xor(address, value, __ATOMIC_RELAXED);                                      \
  }

CNNOPS_SIM_INTEGER_ATOMICS(int)
CNNOPS_SIM_INTEGER_ATOMICS(unsigned int)
CNNOPS_SIM_INTEGER_ATOMICS(long long)
CNNOPS_SIM_INTEGER_ATOMICS(unsigned long long)
#undef CNNOPS_SIM_INTEGER_ATOMICS

inline float atomicAdd(float* address, float value) {
  return cnnops::sim::detail::atomic_update(address, [value](float old) { return old + value; });
}
inline double atomicAdd(double* address, double value) {
  return cnnops::sim::detail::atomic_update(address, [value](double old) { return old + value; });
}
inline float atomicExch(float* address, float value) {
  cnnops::sim::count(cnnops::sim::Counter::kAtomics);
  float old;
  __atomic_exchange(address, &value, &old, __ATOMIC_RELAXED);
  return old;
}
// Wrapping counters: ((old >= limit) ? 0 : old + 1) and ((old == 0 || old > limit) ? limit : old - 1).
inline unsigned int atomicInc(unsigned int* address, unsigned int limit) {
  return cnnops::sim::detail::atomic_update(address, [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}
inline unsigned int atomicDec(unsigned int* address, unsigned int limit) {
  return cnnops::sim::detail::atomic_update(address,
                                            [limit](unsigned old) { return (old == 0 || old > limit) ? limit : old - 1; });
}
