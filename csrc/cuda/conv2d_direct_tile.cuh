// What the direct kernels' forward (conv2d_direct.cu) and weight gradient
// (conv2d_direct_wgrad.cu) share: the block tile, the thread-to-output map, and the staging of an
// input patch in shared memory.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../common/conv_params.h"
#include "dtypes.cuh"

namespace cnnops {
namespace cuda {
namespace direct {

constexpr int kThreads = 256;
constexpr int kColsPerThread = 4;

// The block tile. Channels-last: a warp's 32 lanes are 32 consecutive channels (one 128-byte
// float channel vector read and written per position). NCHW: lanes run along the output columns.
template <bool kChannelsLast>
struct DirectTile {
  static constexpr int kChannels = kChannelsLast ? 32 : 8;
  static constexpr int kRows = 8;
  static constexpr int kCols = kChannelsLast ? 16 : 32;
  static constexpr int kColGroups = kCols / kColsPerThread;
  static constexpr int kRowLanes = kThreads / (kChannels * kColGroups);
  static constexpr int kRowsPerThread = kRows / kRowLanes;  // rows lane, lane + kRowLanes, ...
  static_assert(kChannels * kColGroups * kRowLanes == kThreads && kRowLanes * kRowsPerThread == kRows,
                "every thread owns kRowsPerThread x kColsPerThread outputs of one channel");

  struct Lane {
    int channel, col_group, row_lane;
  };
  static CNNOPS_HD_INLINE Lane lane(int t) {
    if (kChannelsLast) return Lane{t % kChannels, (t / kChannels) % kColGroups, t / (kChannels * kColGroups)};
    return Lane{t / (kColGroups * kRowLanes), t % kColGroups, (t / kColGroups) % kRowLanes};
  }
};

CNNOPS_HD_INLINE int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Input rows a tile of kRows output rows reads through `rows` filter rows.
template <bool kChannelsLast>
CNNOPS_HD_INLINE int64_t staged_rows(const Conv2dParams& p, int64_t rows) {
  return (DirectTile<kChannelsLast>::kRows - 1) * p.stride_h + (rows - 1) * p.dil_h + 1;
}

// Index of input channel ic, patch row `row`, column `col` in the staged tile: channels fastest
// (threads along channels read consecutive words) or columns fastest. Block-local indices are
// 32-bit (a stage fits in shared memory): no 64-bit division in the kernels' inner loops.
template <bool kChannelsLast>
CNNOPS_HD_INLINE int staged_index(int ic, int row, int col, int channels, int rows, int cols) {
  return kChannelsLast ? (row * cols + col) * channels + ic : (ic * rows + row) * cols + col;
}

// Copies the input patch of rows [h0, h0 + rows) and columns [w0, w0 + cols) of `channels`
// channels (from x_first, one image) to xs at staged_index, zeros outside the input: the whole
// block, consecutive threads on consecutive addresses of either layout.
template <bool kChannelsLast, typename T>
__device__ __forceinline__ void stage_input(T* xs, const T* x_first, const Conv2dParams& p, int channels, int rows,
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
    T v = from_acc<T>(acc_t<T>(0));
    if (h >= 0 && h < p.H && wc >= 0 && wc < p.W) v = x_first[ic * p.x.c + h * p.x.h + wc * p.x.w];
    xs[staged_index<kChannelsLast>(ic, row, col, channels, rows, cols)] = v;
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
