// The cost of one warp-level memory instruction, from its lanes' addresses: shared-memory
// wavefronts (bank conflicts) and global-memory 32-byte sectors (coalescing). Pure functions,
// so tests can cost hand-made patterns directly.
//
// Shared memory (CUDA C++ Programming Guide, "Compute Capabilities" > compute capability 5.x
// "Shared Memory", which later architectures up to 9.0 refer back to): 32 banks; successive
// 32-bit words go to successive banks; lanes reading or writing the same 32-bit word do not
// conflict (broadcast, or one write wins); a request whose busiest bank holds n distinct words is
// served as n conflict-free passes -- Nsight Compute calls each pass a wavefront, at most 128 bytes.
// For 64- and 128-bit accesses the guide publishes no rule. The model here is the one Nsight
// Compute's shared wavefront counts show for conflict-free wide patterns (2 wavefronts for 32
// lanes x 8 bytes, 4 for 32 x 16, which is also ldmatrix.x4's count): the warp is split into
// phases of 16 lanes (8-byte accesses) or 8 lanes (16-byte accesses, and each of ldmatrix's 8x8
// matrices, whose 8 row addresses come from lanes 8j..8j+7), each costed like a 32-bit request
// on its own. It is a model; the GPU check's ncu run is where it gets compared with hardware.
//
// Global memory: a warp-level request touches every 32-byte sector that any of its lanes' bytes
// fall in; the minimum is the distinct bytes it moves / 32, rounded up (Nsight Compute's
// "sectors per request" against the ideal).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace cnnops {
namespace sim {

struct LaneRef {
  uint32_t lane;      // 0..31 in the warp
  uintptr_t address;  // byte address (shared: any address space offset; only bits mod 128 matter)
  int bytes;          // 0: the lane takes part without touching memory
};

struct AccessCost {
  uint64_t actual = 0;  // wavefronts (shared) or sectors (global)
  uint64_t ideal = 0;
};

constexpr int kSharedBanks = 32;
constexpr int kBankBytes = 4;
constexpr int kSectorBytes = 32;

// Lanes per phase for an access width: 32 up to 4 bytes, 16 for 8, 8 for 16.
inline int lanes_per_shared_phase(int bytes) { return bytes <= 4 ? 32 : bytes <= 8 ? 16 : 8; }

inline AccessCost shared_access_cost(const std::vector<LaneRef>& lanes) {
  int width = 0;
  for (const LaneRef& l : lanes) width = std::max(width, l.bytes);
  AccessCost cost;
  if (width == 0) return cost;
  const int per_phase = lanes_per_shared_phase(width);
  for (int phase = 0; phase < 32 / per_phase; ++phase) {
    std::vector<uintptr_t> words;  // distinct 32-bit words this phase touches
    for (const LaneRef& l : lanes) {
      if (l.bytes == 0 || int(l.lane) / per_phase != phase) continue;
      for (uintptr_t w = l.address / kBankBytes; w <= (l.address + uintptr_t(l.bytes) - 1) / kBankBytes; ++w)
        words.push_back(w);
    }
    if (words.empty()) continue;
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    int per_bank[kSharedBanks] = {};
    int busiest = 0;
    for (uintptr_t w : words) busiest = std::max(busiest, ++per_bank[w % kSharedBanks]);
    cost.actual += uint64_t(busiest);
    cost.ideal += (words.size() + kSharedBanks - 1) / kSharedBanks;
  }
  return cost;
}

inline AccessCost global_access_cost(const std::vector<LaneRef>& lanes) {
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;  // [begin, end) of each lane's bytes
  for (const LaneRef& l : lanes)
    if (l.bytes > 0) ranges.emplace_back(l.address, l.address + uintptr_t(l.bytes));
  AccessCost cost;
  if (ranges.empty()) return cost;
  std::sort(ranges.begin(), ranges.end());
  uint64_t distinct_bytes = 0;
  uintptr_t covered_to = 0, last_sector = ~uintptr_t(0);
  bool first = true;
  for (const auto& r : ranges) {
    const uintptr_t begin = first ? r.first : std::max(r.first, covered_to);
    if (r.second > begin) {
      distinct_bytes += r.second - begin;
      for (uintptr_t s = begin / kSectorBytes; s <= (r.second - 1) / kSectorBytes; ++s)
        if (s != last_sector) {
          ++cost.actual;
          last_sector = s;
        }
      covered_to = r.second;
    }
    first = false;
  }
  cost.ideal = (distinct_bytes + kSectorBytes - 1) / kSectorBytes;
  return cost;
}

}  // namespace sim
}  // namespace cnnops
