// The state of an mbarrier object for the simulator, kept where the kernel put the barrier: in
// its 8 bytes of shared memory, so a barrier the kernel never initialised (still the poison) or
// overwrote is noticed. PTX leaves the format opaque; here:
//   bits  0-19  arrivals still missing in the current phase
//   bits 20-39  the expected arrival count (mbarrier.init)
//   bit  61     the current phase's parity
//   bits 62-63  0b10: initialised (the poison 0xFF.. and zeros read as "not an mbarrier")
// A phase completes when its last expected arrival comes; then the parity flips and the missing
// count starts again from the expected count. mbarrier.try_wait.parity(p) succeeds once the phase
// of parity p has completed, i.e. while the current parity differs from p (so waiting on the
// parity before the first phase, 1, succeeds at once: how producers wait on empty slots).
// (Transaction counts, for bulk copies, are not modelled yet: bits 40-60 are reserved for them.)
#pragma once
#include <cstdint>

namespace cnnops {
namespace sim {

struct Mbarrier {
  unsigned missing;   // arrivals still to come in the current phase
  unsigned expected;  // arrivals per phase
  unsigned parity;    // of the current (incomplete) phase
};

constexpr unsigned kMbarrierMaxCount = (1u << 20) - 1;

uint64_t encode_mbarrier(const Mbarrier& m);
// False: the 8 bytes do not hold an initialised mbarrier.
bool decode_mbarrier(uint64_t bits, Mbarrier* m);

}  // namespace sim
}  // namespace cnnops
