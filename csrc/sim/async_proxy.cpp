#include "async_proxy.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "gmma_layout.h"
#include "sim_api.h"

namespace cnnops {
namespace sim {

void AsyncProxy::begin_block(unsigned threads, const unsigned char* shared, size_t dynamic_bytes) {
  block_threads_ = threads;
  shared_ = shared;
  threads_.assign(threads, PerThread{});
  view_.assign(dynamic_bytes, 0xFF);
}

// The snapshot reads all of shared memory, also bytes other threads are writing at the time (a
// copy is taken at every fence): a plain loop in this uninstrumented runtime, which TSan does not
// see -- std::memcpy would go through TSan's interceptor and report those writes as races.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void AsyncProxy::fence_proxy() {
  size_t i = 0;
  for (; i + 8 <= view_.size(); i += 8) {  // 8-byte copies of constant size: moves, not calls
    uint64_t word;
    std::memcpy(&word, shared_ + i, 8);
    std::memcpy(view_.data() + i, &word, 8);
  }
  for (; i < view_.size(); ++i) view_[i] = shared_[i];
}

void AsyncProxy::fence_operands(unsigned thread) { threads_[thread].fenced = true; }

const char* AsyncProxy::issue(unsigned thread, const WgmmaOp& op) {
  PerThread& t = threads_[thread];
  if ((thread / 128 + 1) * 128 > block_threads_) {
    std::snprintf(message_, sizeof(message_),
                  "wgmma.mma_async by a thread of warpgroup %u, which the block's %u threads do not fill (a "
                  "warpgroup is 4 whole warps)",
                  thread / 128, block_threads_);
    return message_;
  }
  if (!t.fenced)
    return "wgmma.mma_async without a wgmma.fence since the thread's last wgmma.wait_group (or the kernel's start)";
  Accumulators* acc = nullptr;
  for (Accumulators& a : t.in_flight)
    if (a.registers == op.accumulators) acc = &a;
  if (acc == nullptr) {
    t.in_flight.push_back(Accumulators{op.accumulators, op.n / 2, 0, {}});
    acc = &t.in_flight.back();
    std::memcpy(acc->values, op.accumulators, sizeof(float) * size_t(acc->count));
  } else if (acc->count != op.n / 2) {
    return "wgmma.mma_async chained onto accumulators in flight with a different N";
  }
  ++acc->queued;
  for (int i = 0; i < acc->count; ++i) op.accumulators[i] = std::nanf("");
  t.open.push_back(op);
  if (thread % 128 == 0) count(Counter::kWgmma);
  return nullptr;
}

void AsyncProxy::commit(unsigned thread) {
  PerThread& t = threads_[thread];
  t.groups.push_back(std::move(t.open));
  t.open.clear();
}

const char* AsyncProxy::run(PerThread& t, const WgmmaOp& op) {
  Accumulators* acc = nullptr;
  for (Accumulators& a : t.in_flight)
    if (a.registers == op.accumulators) acc = &a;
  const GmmaDescriptor a_desc = decode_gmma_descriptor(op.desc_a), b_desc = decode_gmma_descriptor(op.desc_b);
  if (a_desc.base_offset != 0 || b_desc.base_offset != 0) {
    std::snprintf(message_, sizeof(message_), "wgmma.mma_async issued at %s:%d: a descriptor's base offset is not 0 "
                  "(not modelled: align the operand tiles to their swizzle pattern)", op.file, op.line);
    return message_;
  }
  const int k_count = 32 / op.element_bytes;
  const unsigned thread_in_group = unsigned(&t - threads_.data()) % 128;
  auto element = [&](const GmmaDescriptor& d, int row, int k, float* out) {
    const uint32_t at = gmma_element_address(d, row, k, op.element_bytes);
    if (size_t(at) + size_t(op.element_bytes) > view_.size()) return false;
    *out = op.element(view_.data() + at);
    return true;
  };
  for (int reg = 0; reg < acc->count; ++reg) {
    const FragmentCoord c = wgmma_accumulator_coord(int(thread_in_group), reg);
    float sum = op.accumulate ? acc->values[reg] : 0.0f;
    for (int k = 0; k < k_count; ++k) {
      float a, b;
      const bool a_in = element(a_desc, c.row, k, &a);
      if (!a_in || !element(b_desc, c.col, k, &b)) {
        std::snprintf(message_, sizeof(message_), "wgmma.mma_async issued at %s:%d reads %s row %d past the "
                      "block's %zu bytes of dynamic shared memory (the simulator's async proxy sees dynamic shared "
                      "memory only)", op.file, op.line, a_in ? "B" : "A", a_in ? c.col : c.row, view_.size());
        return message_;
      }
      sum += a * b;
    }
    acc->values[reg] = sum;
  }
  if (--acc->queued == 0) {
    std::memcpy(acc->registers, acc->values, sizeof(float) * size_t(acc->count));
    t.in_flight.erase(t.in_flight.begin() + (acc - t.in_flight.data()));
  }
  return nullptr;
}

const char* AsyncProxy::wait(unsigned thread, int pending) {
  PerThread& t = threads_[thread];
  t.fenced = false;
  while (t.groups.size() > size_t(pending < 0 ? 0 : pending)) {
    for (const WgmmaOp& op : t.groups.front())
      if (const char* error = run(t, op)) return error;
    t.groups.erase(t.groups.begin());
  }
  return nullptr;
}

bool AsyncProxy::must_wait(unsigned thread, int pending) const {
  return threads_[thread].groups.size() > size_t(pending < 0 ? 0 : pending);
}

long AsyncProxy::thread_with_pending_wgmma() const {
  for (size_t i = 0; i < threads_.size(); ++i)
    if (!threads_[i].open.empty() || !threads_[i].groups.empty()) return long(i);
  return -1;
}

}  // namespace sim
}  // namespace cnnops
