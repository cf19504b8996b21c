#include "mbarrier.h"

namespace cnnops {
namespace sim {

namespace {
constexpr uint64_t kValidTag = uint64_t(2) << 62;
constexpr uint64_t kTagMask = uint64_t(3) << 62;
}  // namespace

uint64_t encode_mbarrier(const Mbarrier& m) {
  return kValidTag | (uint64_t(m.parity & 1u) << 61) | (uint64_t(m.expected) << 20) | uint64_t(m.missing);
}

bool decode_mbarrier(uint64_t bits, Mbarrier* m) {
  if ((bits & kTagMask) != kValidTag) return false;
  m->missing = unsigned(bits & kMbarrierMaxCount);
  m->expected = unsigned((bits >> 20) & kMbarrierMaxCount);
  m->parity = unsigned((bits >> 61) & 1u);
  return m->expected != 0 && m->missing <= m->expected;
}

}  // namespace sim
}  // namespace cnnops
