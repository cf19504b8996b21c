// cp.async for the simulator: per simulated thread, the copies issued since the last commit and
// the committed groups not yet waited for. A copy's destination is poisoned when it is issued
// and filled only when a wait covers its group -- so a kernel that reads before waiting (a
// missing cp.async.wait_group or a wait for the wrong group) reads NaN instead of the data.
#pragma once
#include <cstddef>
#include <deque>
#include <vector>

namespace cnnops {
namespace sim {

class AsyncCopies {
 public:
  // Forgets the previous block's copies (its shared memory is gone) and sizes for this block.
  void begin_block(unsigned threads);
  void issue(unsigned thread, void* dst, const void* src, int bytes, int src_bytes);
  void commit(unsigned thread);
  void wait(unsigned thread, int pending);

 private:
  struct Copy {
    void* dst;
    const void* src;
    int bytes, src_bytes;
  };
  using Group = std::vector<Copy>;
  struct PerThread {
    Group open;                  // issued since the last commit
    std::deque<Group> committed;  // oldest first
  };
  std::vector<PerThread> threads_;
};

}  // namespace sim
}  // namespace cnnops
