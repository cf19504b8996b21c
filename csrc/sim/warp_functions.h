// Warp shuffles and votes. A value crosses lanes as its bit pattern (up to 8 bytes, like the
// 32- and 64-bit shuffles of CUDA); the exchange itself happens in the scheduler once every lane
// named in the mask has arrived (block_scheduler.cpp).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "builtin_variables.h"
#include "intrinsic_entry_points.h"

namespace cnnops {
namespace sim {
namespace detail {

template <typename T>
inline T shuffle(WarpOp op, unsigned mask, T var, int operand, int width, const char* file, int line) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8,
                "the simulator shuffles trivially copyable values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  bits = warp_collective(op, mask, bits, operand, width, file, line);
  T result;
  std::memcpy(&result, &bits, sizeof(T));
  return result;
}

}  // namespace detail
}  // namespace sim
}  // namespace cnnops

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, const char* file = __builtin_FILE(),
                     int line = __builtin_LINE()) {
  return cnnops::sim::detail::shuffle(cnnops::sim::detail::WarpOp::kShflIdx, mask, var, src_lane, width, file, line);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned int delta, int width = warpSize,
                        const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cnnops::sim::detail::shuffle(cnnops::sim::detail::WarpOp::kShflUp, mask, var, int(delta), width, file, line);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned int delta, int width = warpSize,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cnnops::sim::detail::shuffle(cnnops::sim::detail::WarpOp::kShflDown, mask, var, int(delta), width, file,
                                      line);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cnnops::sim::detail::shuffle(cnnops::sim::detail::WarpOp::kShflXor, mask, var, lane_mask, width, file, line);
}

inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return unsigned(cnnops::sim::detail::warp_collective(cnnops::sim::detail::WarpOp::kBallot, mask, predicate != 0,
                                                       0, 32, file, line));
}
inline int __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return int(cnnops::sim::detail::warp_collective(cnnops::sim::detail::WarpOp::kAny, mask, predicate != 0, 0, 32,
                                                  file, line));
}
inline int __all_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return int(cnnops::sim::detail::warp_collective(cnnops::sim::detail::WarpOp::kAll, mask, predicate != 0, 0, 32,
                                                  file, line));
}
// Lanes of the warp that have not exited. Independent thread scheduling makes "currently
// converged" meaningless here; code that needs a mask for a collective should name it.
inline unsigned __activemask() { return cnnops::sim::detail::active_mask(); }
