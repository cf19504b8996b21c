// Non-temporal (streaming) stores for outputs much larger than the caches. A plain store first
// reads the line it writes (read for ownership), so writing a 25 MB output moved 50 MB; a
// streaming store writes whole lines through the write-combining buffers without reading them.
// Only for outputs that will not fit in cache anyway: a small output stored this way would be
// evicted from the caches that the next layer reads it from.
#pragma once
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cnnops {
namespace cpu {

// An output of at least this many bytes is written with streaming stores where a kernel can.
constexpr int64_t kStreamingStoreBytes = int64_t(8) << 20;

// Copies n floats from src to dst, the 16-byte-aligned part of dst by streaming stores.
inline void copy_streaming(float* dst, const float* src, int64_t n) {
#if defined(__SSE2__)
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 15) != 0; ++i) dst[i] = src[i];
  for (; i + 4 <= n; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
#else
  std::memcpy(dst, src, size_t(n) * sizeof(float));
#endif
}

// Streaming stores are weakly ordered: a task fences after its last one, so that whoever reads
// the output after the task (another thread, after the parallel region's barrier) sees them.
inline void streaming_store_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace cpu
}  // namespace cnnops
