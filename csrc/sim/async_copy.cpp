#include "async_copy.h"

#include <cstring>

#include "sim_api.h"

namespace cnnops {
namespace sim {

void AsyncCopies::begin_block(unsigned threads) {
  threads_.resize(threads);
  for (PerThread& t : threads_) {
    t.open.clear();
    t.committed.clear();
  }
}

void AsyncCopies::issue(unsigned thread, void* dst, const void* src, int bytes, int src_bytes) {
  std::memset(dst, 0xFF, size_t(bytes));  // the poison, until a wait lands the data
  threads_[thread].open.push_back(Copy{dst, src, bytes, src_bytes});
  count(Counter::kCpAsync);
}

void AsyncCopies::commit(unsigned thread) {
  PerThread& t = threads_[thread];
  t.committed.push_back(std::move(t.open));
  t.open.clear();
}

void AsyncCopies::wait(unsigned thread, int pending) {
  PerThread& t = threads_[thread];
  while (t.committed.size() > size_t(pending < 0 ? 0 : pending)) {
    for (const Copy& c : t.committed.front()) {
      if (c.src_bytes > 0) std::memcpy(c.dst, c.src, size_t(c.src_bytes));
      std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, size_t(c.bytes - c.src_bytes));
    }
    t.committed.pop_front();
  }
}

}  // namespace sim
}  // namespace cnnops
