// Block barriers, __syncwarp and memory fences. The trailing file/line parameters default to the
// caller's location, so a kernel calls these exactly as in CUDA and a refused barrier is reported
// with the line of the call.
#pragma once
#include "intrinsic_entry_points.h"

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  cnnops::sim::detail::block_barrier(cnnops::sim::detail::BarrierKind::kSync, 0, file, line);
}
inline int __syncthreads_count(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cnnops::sim::detail::block_barrier(cnnops::sim::detail::BarrierKind::kCount, predicate, file, line);
}
inline int __syncthreads_and(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cnnops::sim::detail::block_barrier(cnnops::sim::detail::BarrierKind::kAnd, predicate, file, line);
}
inline int __syncthreads_or(int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cnnops::sim::detail::block_barrier(cnnops::sim::detail::BarrierKind::kOr, predicate, file, line);
}

inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  cnnops::sim::detail::warp_collective(cnnops::sim::detail::WarpOp::kSyncWarp, mask, 0, 0, 32, file, line);
}

// Fences are no-ops: all simulated threads run on one OS thread, one at a time, and a switch
// between them only happens inside a runtime call, which the compiler already treats as a full
// memory barrier. (Under TSan this means fence-based publication patterns are not modelled.)
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
