// What the direct kernels' forward (conv2d_direct.cu) and weight gradient
// (conv2d_direct_wgrad.cu) share: the block tile, the thread-to-output map, and the staging of an
// input patch in shared memory.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../common/conv_params.h"
#include "dtypes.cuh"
#include "ptx.cuh"

namespace cnnops {
namespace cuda {
namespace direct {

using ptx::ld_shared;
using ptx::st_shared;

constexpr int kThreads = 256;
constexpr int kColsPerThread = 4;

// The block tile. Channels-last: a warp's 32 lanes are 32 consecutive channels (one 128-byte
// float channel vector read and written per position). NCHW: a warp is 8 column groups x 4
// channels of one row group (its stores 128-byte row segments, its shared reads one bank each:
// see staged_plane).
template <bool kChannelsLast>
struct DirectTile {
  static constexpr int kChannels = kChannelsLast ? 32 : 8;
  static constexpr int kRows = 8;
  static constexpr int kCols = kChannelsLast ? 16 : 32;
  static constexpr int kColGroups = kCols / kColsPerThread;
  static constexpr int kRowLanes = kThreads / (kChannels * kColGroups);
  static constexpr int kRowsPerThread = kRows / kRowLanes;  // consecutive rows from lane * kRowsPerThread
  static_assert(kChannels * kColGroups * kRowLanes == kThreads && kRowLanes * kRowsPerThread == kRows,
                "every thread owns kRowsPerThread x kColsPerThread outputs of one channel");
  static_assert(kChannelsLast || (kColGroups == 8 && kChannels == 8 && kRowLanes == 4), "the NCHW warp map below");

  struct Lane {
    int channel, col_group, row_lane;
  };
  static CNNOPS_HD_INLINE Lane lane(int t) {
    if (kChannelsLast) return Lane{t % kChannels, (t / kChannels) % kColGroups, t / (kChannels * kColGroups)};
    return Lane{(t / 8) % 4 + 4 * (t / 128), t % 8, (t / 32) % 4};
  }
};

CNNOPS_HD_INLINE int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Input rows a tile of kRows output rows reads through `rows` filter rows.
template <bool kChannelsLast>
CNNOPS_HD_INLINE int64_t staged_rows(const Conv2dParams& p, int64_t rows) {
  return (DirectTile<kChannelsLast>::kRows - 1) * p.stride_h + (rows - 1) * p.dil_h + 1;
}

// Elements of one staged NCHW channel plane of `bytes`-byte elements: rows x cols rounded up to
// one 4-byte bank past a multiple of the 32 banks, so that a warp's 4 channels read 4 different
// banks at the same place of their planes.
CNNOPS_HD_INLINE int64_t staged_plane(int64_t rows, int64_t cols, int64_t bytes) {
  const int64_t bank = bytes < 4 ? 4 / bytes : 1, period = 128 / bytes;
  return (rows * cols - bank + period - 1) / period * period + bank;
}

// Index of input channel ic, patch row `row`, column `col` in the staged tile: channels fastest
// (threads along channels read consecutive words) or columns fastest, in padded channel planes.
// Block-local indices are 32-bit (a stage fits in shared memory): no 64-bit division in the
// kernels' inner loops.
template <bool kChannelsLast, typename T>
CNNOPS_HD_INLINE int staged_index(int ic, int row, int col, int channels, int rows, int cols) {
  return kChannelsLast ? (row * cols + col) * channels + ic
                       : ic * int(staged_plane(rows, cols, sizeof(T))) + row * cols + col;
}

// Elements a staged tile of `channels` x rows x cols of `bytes`-byte elements takes.
template <bool kChannelsLast>
CNNOPS_HD_INLINE int64_t staged_elements(int64_t channels, int64_t rows, int64_t cols, int64_t bytes) {
  return channels * (kChannelsLast ? rows * cols : staged_plane(rows, cols, bytes));
}

// A global load / store the simulator's memory counters see (the model's sectors); under nvcc
// the access itself.
template <typename T>
__device__ __forceinline__ T ld_global(const T* p, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  KernelConvert::note_access(p, int(sizeof(T)), false, "ld.global", file, line);
  return *p;
}

template <typename T>
__device__ __forceinline__ void st_global(T* p, const T& v, const char* file = __builtin_FILE(),
                                          int line = __builtin_LINE()) {
  KernelConvert::note_access(p, int(sizeof(T)), true, "st.global", file, line);
  *p = v;
}

// Copies the input patch of rows [h0, h0 + rows) and columns [w0, w0 + cols) of `channels`
// channels (from x_first, one image) to xs at staged_index, zeros outside the input: the whole
// block, consecutive threads on consecutive addresses of either layout. Staged in the
// accumulation type: 16-bit inputs widened once here rather than at every use, and 4-byte
// elements, which the padded NCHW planes spread over the banks (2-byte ones would pair up).
template <bool kChannelsLast, typename T>
__device__ __forceinline__ void stage_input(acc_t<T>* xs, const T* x_first, const Conv2dParams& p, int channels, int rows,
                                            int cols, int64_t h0, int64_t w0) {
  const int patch = channels * rows * cols;
  for (int i = threadIdx.x; i < patch; i += kThreads) {
    int ic, row, col;
    if (kChannelsLast) {
      ic = i % channels;
      col = (i / channels) % cols;
      row = i / (channels * cols);
    } else {
      col = i % cols;
      row = (i / cols) % rows;
      ic = i / (cols * rows);
    }
    const int64_t h = h0 + row, wc = w0 + col;
    acc_t<T> v = acc_t<T>(0);
    if (h >= 0 && h < p.H && wc >= 0 && wc < p.W) v = widen(ld_global(x_first + ic * p.x.c + h * p.x.h + wc * p.x.w));
    st_shared(xs + staged_index<kChannelsLast, acc_t<T>>(ic, row, col, channels, rows, cols), v);
  }
}

// The most input channels one block of kChannels output channels stages.
inline int64_t most_staged_channels(const Conv2dParams& p, int64_t tile_channels) {
  const int64_t Cg = p.channels_per_group(), Kg = p.filters_per_group();
  int64_t most = 0;
  for (int64_t k0 = 0; k0 < p.K; k0 += tile_channels) {
    const int64_t k_end = std::min(k0 + tile_channels, p.K);
    most = std::max(most, ((k_end - 1) / Kg - k0 / Kg + 1) * Cg);
  }
  return most;
}

}  // namespace direct
}  // namespace cuda
}  // namespace cnnops
