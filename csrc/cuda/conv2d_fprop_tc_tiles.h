// The tensor-core forward's block tile configurations: one line each, read by the kernel
// (conv2d_fprop_tc_kernel.cuh, which picks one per shape) and by the host code that sizes work for it
// (the batch chunks of the tensor-core wgrad, conv2d_bprop_plan.cpp). Adding a configuration is a
// `using` here and its branch in with_tile below.
#pragma once
#include <cstdint>

namespace cnnops {
namespace cuda {

// A block tile configuration: kTileM output positions x kTileN filters per block, kWarpsM x
// kWarpsN warps, kStages pipeline stages of kRowBytes of reduction per row (a k-tile), and the
// resident blocks per SM the register budget is planned for (__launch_bounds__). Everything else
// follows.
template <int kTileM_, int kTileN_, int kWarpsM_, int kWarpsN_, int kStages_, int kMinBlocksPerSm_,
          int kRowBytes_ = 64>
struct TcTile {
  static constexpr int kTileM = kTileM_, kTileN = kTileN_, kWarpsM = kWarpsM_, kWarpsN = kWarpsN_;
  static constexpr int kStages = kStages_, kMinBlocksPerSm = kMinBlocksPerSm_, kRowBytes = kRowBytes_;
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int kWarpM = kTileM / kWarpsM, kWarpN = kTileN / kWarpsN;
  static constexpr int kFragsM = kWarpM / 16, kFragsN = kWarpN / 8;  // mma tiles per warp
  static constexpr int kVecsPerRow = kRowBytes / 16;                 // 16-byte copies per row
  static constexpr int kRowsPerPass = kThreads / kVecsPerRow;        // rows one loader pass covers
  static constexpr int kPassesA = kTileM / kRowsPerPass, kPassesB = kTileN / kRowsPerPass;
  static_assert(kTileM % kRowsPerPass == 0 && kTileN % kRowsPerPass == 0, "whole loader passes");
  static_assert(kFragsN % 2 == 0, "B fragments are loaded two n8 tiles per ldmatrix.x4");
};

// 128 x 64 for most layers. Three resident blocks per SM (36 KB of shared memory each) lets ptxas
// use up to 170 registers instead of squeezing to 128 for four, which spilled.
using TileLarge = TcTile<128, 64, 2, 2, 3, 3>;
// 64 x 64 when the large tiles would not give every SM a block (deep layers, small batches). Its
// 32 x 32 warps do half the mma per k-tile of the larger tiles' warps, so a 64-byte k-tile left
// the per-step work (barrier, stage counters, the tap walk, the copies' addresses) at 7 issued
// instructions per mma; 128-byte rows halve its share (4 k-slices per step). 48 KB of shared
// memory (the static limit), four resident blocks.
using TileSmall = TcTile<64, 64, 2, 2, 3, 4, 128>;
// 128 x 128 with 64 x 64 warp tiles where the layer fills the GPU with them: a warp's 8
// ldmatrix.x4 feed 32 mma per k-slice (the 64 x 32 warps' 6 feed 16), which halves the shared-
// memory wavefronts and the loop's issue slots per mma. Two resident blocks per SM (48 KB of
// shared memory each) leave ptxas 255 registers for the 128 accumulators of a thread.
using TileWide = TcTile<128, 128, 2, 2, 3, 2>;

// 256 x 128 with eight 64 x 64 warps (4 x 2) where the layer gives every SM one: per k-tile the
// block copies 384 rows for 256 warp-mma steps where the 128 x 128 tile copies 256 for 128, so the
// cp.async writes cost 0.375 shared-memory wavefronts per mma instead of 0.5 (the ldmatrix reads
// stay at 1), and each filter row is fetched by half as many blocks. 72 KB of stages: dynamic
// shared memory. One resident block per SM (eight warps, as two 128 x 128 blocks), 255 registers.
using TileTall = TcTile<256, 128, 4, 2, 3, 1>;

template <typename Tile>
constexpr int64_t blocks_of(int64_t npq, int64_t K) {
  return ((npq + Tile::kTileM - 1) / Tile::kTileM) * ((K + Tile::kTileN - 1) / Tile::kTileN);
}

// The one heuristic: calls f(Tile{}) with the configuration for an [npq, K] output on `sms` SMs:
// the largest tile that gives every SM a block -- the 128-column ones only where K fills them --
// else the small one. Every tile sums each output in the same order (mma k-slices in k order),
// so the choice changes speed, never results. A new configuration is a `using` above and a
// branch here.
template <typename F>
auto with_tile(int64_t npq, int64_t K, int64_t sms, F&& f) {
  if (K >= TileTall::kTileN && blocks_of<TileTall>(npq, K) >= sms) return f(TileTall{});
  if (K >= TileWide::kTileN && blocks_of<TileWide>(npq, K) >= sms) return f(TileWide{});
  return blocks_of<TileLarge>(npq, K) < sms ? f(TileSmall{}) : f(TileLarge{});
}

}  // namespace cuda
}  // namespace cnnops
