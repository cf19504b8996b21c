// 16-byte vector access: the register type of kLanes consecutive elements, and the one test of
// whether a tensor, as it is laid out, can be walked by such vectors. Torch-free.
#pragma once
#include <cstdint>

#include "../common/conv_params.h"
#include "../common/macros.h"

namespace cnnops {
namespace cuda {

// kLanes consecutive elements of one tensor, loaded or stored as one access.
template <typename T, int kLanes>
struct alignas(sizeof(T) * kLanes) Lanes {
  static constexpr int kCount = kLanes;
  T v[kLanes];
};

// As many elements as one 16-byte access holds (Vec16<T>::kCount: 4 floats, 8 halves).
template <typename T>
using Vec16 = Lanes<T, 16 / int(sizeof(T))>;

CNNOPS_HD_INLINE bool aligned_to(const void* ptr, int64_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; }

// The axis that vectors run along: channels (NHWC channel vectors) or width (NCHW row vectors).
enum class VectorAxis { kChannels, kWidth };

// Whether vectors of `lanes` consecutive elements along `axis` can walk the tensor of strides s
// at ptr: the axis has unit stride, every other stride is a whole number of vectors, and ptr is
// aligned to `align` bytes (one vector's size: 16, or 8 * lanes for int64 indices beside
// narrower values).
inline bool vector_ok(const Strides4& s, const void* ptr, int64_t lanes, VectorAxis axis, int64_t align = 16) {
  const bool strides = axis == VectorAxis::kChannels
                           ? s.c == 1 && s.n % lanes == 0 && s.h % lanes == 0 && s.w % lanes == 0
                           : s.w == 1 && s.n % lanes == 0 && s.c % lanes == 0 && s.h % lanes == 0;
  return strides && aligned_to(ptr, align);
}

}  // namespace cuda
}  // namespace cnnops
