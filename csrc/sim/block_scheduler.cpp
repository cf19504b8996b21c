#include "block_scheduler.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "builtin_variables.h"
#include "mbarrier.h"
#include "sanitizer_hooks.h"

namespace cnnops {
namespace sim {

using detail::BarrierKind;
using detail::WarpOp;

namespace {

enum class ThreadState : unsigned char {
  kRunnable,
  kAtBlockBarrier,
  kAtWarpCollective,
  kAtMbarrier,
  kUntilIdle,  // parked until no thread of the block can run (wait_until_idle)
  kExited
};

struct Site {
  const char* file;
  int line;
};

bool same_site(Site a, Site b) {
  return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

struct BarrierWait {
  BarrierKind kind;
  int predicate;
  Site site;
  unsigned generation;  // which barrier of the block (0, 1, 2, ...) this is
};

struct WarpWait {
  WarpOp op;
  unsigned mask;
  int width;
  int operand;     // shuffles: source lane, delta or lane mask
  uint64_t value;  // shuffles: the lane's bits; votes: its predicate
  Site site;
};

struct MbarrierWait {
  const uint64_t* barrier;
  unsigned parity;
  Site site;
};

const char* barrier_name(BarrierKind kind) {
  switch (kind) {
    case BarrierKind::kSync: return "__syncthreads";
    case BarrierKind::kCount: return "__syncthreads_count";
    case BarrierKind::kAnd: return "__syncthreads_and";
    case BarrierKind::kOr: return "__syncthreads_or";
  }
  return "?";
}

const char* collective_name(WarpOp op) {
  switch (op) {
    case WarpOp::kSyncWarp: return "__syncwarp";
    case WarpOp::kShflIdx: return "__shfl_sync";
    case WarpOp::kShflUp: return "__shfl_up_sync";
    case WarpOp::kShflDown: return "__shfl_down_sync";
    case WarpOp::kShflXor: return "__shfl_xor_sync";
    case WarpOp::kBallot: return "__ballot_sync";
    case WarpOp::kAny: return "__any_sync";
    case WarpOp::kAll: return "__all_sync";
  }
  return "?";
}

// The source lane of a shuffle, as PTX's shfl.sync defines it: the warp is cut into segments of
// `width` lanes; b is the source lane / offset (its low 5 bits); a source outside the lane's
// segment (or past its clamp) yields the lane's own value.
unsigned shuffle_source_lane(WarpOp op, unsigned lane, int operand, int width) {
  const unsigned segment_mask = unsigned(32 - width);
  const unsigned clamp = op == WarpOp::kShflUp ? 0u : 31u;
  const int min_lane = int(lane & segment_mask);
  const int max_lane = min_lane | int(clamp & ~segment_mask);
  const int b = operand & 31;
  int source = int(lane);
  bool in_range = false;
  switch (op) {
    case WarpOp::kShflIdx: source = min_lane | (b & int(~segment_mask & 31u)); in_range = source <= max_lane; break;
    case WarpOp::kShflUp: source = int(lane) - b; in_range = source >= max_lane; break;
    case WarpOp::kShflDown: source = int(lane) + b; in_range = source <= max_lane; break;
    case WarpOp::kShflXor: source = int(lane) ^ b; in_range = source <= max_lane; break;
    default: break;
  }
  return in_range ? unsigned(source) : lane;
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  return buffer;
}

}  // namespace

struct BlockScheduler::SimThread {
  explicit SimThread(size_t stack_bytes) : fiber(stack_bytes) {}

  Fiber fiber;
  BlockScheduler* scheduler = nullptr;
  uint3 index{};
  unsigned linear = 0;  // x + y * blockDim.x + z * blockDim.x * blockDim.y
  ThreadState state = ThreadState::kRunnable;
  BarrierWait barrier{};
  WarpWait collective{};
  MbarrierWait mbarrier{};
  uint64_t result = 0;  // what the completed barrier / collective hands back
  // __syncwarp under TSan: the lane released its write history into syncwarp_sync_[2 * linear +
  // syncwarp_parity]; group_mask / group_parities say which objects to acquire after completion.
  unsigned syncwarp_parity = 0;
  uint32_t group_mask = 0;
  uint32_t group_parities = 0;
};

BlockScheduler::BlockScheduler(Fiber& host) : host_(host) {}
BlockScheduler::~BlockScheduler() = default;

void BlockScheduler::begin_launch(dim3 block_dim, bool reverse_thread_order, bool warps_run_ahead, size_t stack_bytes,
                                  void (*invoke)(const void*), const void* closure) {
  thread_count_ = block_dim.x * block_dim.y * block_dim.z;
  reverse_thread_order_ = reverse_thread_order;
  warps_run_ahead_ = warps_run_ahead;
  invoke_ = invoke;
  closure_ = closure;
  if (stack_bytes != pool_stack_bytes_) {  // a new stack size: rebuild the pool
    threads_.clear();
    pool_stack_bytes_ = stack_bytes;
  }
  while (threads_.size() < thread_count_) threads_.push_back(std::make_unique<SimThread>(stack_bytes));
  if (syncwarp_sync_.size() < 2 * threads_.size()) syncwarp_sync_.assign(2 * threads_.size(), 0);
  for (unsigned i = 0; i < thread_count_; ++i) {
    SimThread& t = *threads_[i];
    t.scheduler = this;
    t.linear = i;
    t.index = uint3{i % block_dim.x, (i / block_dim.x) % block_dim.y, i / (block_dim.x * block_dim.y)};
  }
  syncthreads_arrivals_ = 0;
  warp_collective_arrivals_ = 0;
}

bool BlockScheduler::run_block(uint3 block_index) {
  block_index_ = block_index;
  blockIdx = block_index;
  const bool name_fibers = sanitizer::tsan_active();
  for (unsigned i = 0; i < thread_count_; ++i) {
    SimThread& t = *threads_[i];
    t.state = ThreadState::kRunnable;
    t.syncwarp_parity = 0;
    t.fiber.start(&BlockScheduler::thread_entry, &t);
    if (name_fibers) {
      t.fiber.set_name(format("simulated thread (%u,%u,%u) of block (%u,%u,%u)", t.index.x, t.index.y, t.index.z,
                              block_index.x, block_index.y, block_index.z)
                           .c_str());
    }
  }
  live_ = thread_count_;
  exited_ = 0;
  barrier_generation_ = 0;
  fault_ = false;
  fault_message_.clear();

  sanitizer::tsan_release(&block_start_sync_);
  while (live_ > 0 && !fault_) {
    // Waiters whose mbarrier phase completed in the last round join the next one.
    bool released = false;
    if (!release_mbarrier_waits(&released)) break;
    if (!collect_round()) {
      if (!resolve_waits()) break;
      continue;
    }
    round_position_ = 0;
    SimThread& first = *threads_[round_[0]];
    make_current(first);
    host_.switch_to(first.fiber);
    if (warps_run_ahead_ && !fault_ && !complete_round_collectives()) break;
  }
  current_ = nullptr;
  if (fault_) {
    for (unsigned i = 0; i < thread_count_; ++i) {
      SimThread& t = *threads_[i];
      if (t.state != ThreadState::kExited) t.fiber.retire_abandoned_tsan_fiber(host_, &block_end_sync_);
    }
  }
  sanitizer::tsan_acquire(&block_end_sync_);
  return !fault_;
}

void BlockScheduler::thread_entry(void* sim_thread) {
  SimThread& self = *static_cast<SimThread*>(sim_thread);
  self.fiber.entered();
  self.scheduler->run_thread(self);
}

void BlockScheduler::run_thread(SimThread& self) {
  sanitizer::tsan_acquire(&block_start_sync_);
  invoke_(closure_);
  sanitizer::tsan_release(&block_end_sync_);
  self.state = ThreadState::kExited;
  --live_;
  ++exited_;
  self.fiber.leave_for_good(next_fiber_in_round());
}

void BlockScheduler::make_current(SimThread& thread) {
  current_ = &thread;
  threadIdx = thread.index;
}

Fiber& BlockScheduler::next_fiber_in_round() {
  if (++round_position_ < round_.size()) {
    SimThread& next = *threads_[round_[round_position_]];
    make_current(next);
    return next.fiber;
  }
  current_ = nullptr;
  return host_;
}

void BlockScheduler::abort_block_from_thread(const char* format, ...) {
  char message[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  fault_ = true;
  fault_message_.assign(message);
  SimThread& self = *current_;
  current_ = nullptr;
  // The block is abandoned: this fiber is never resumed; the next block restarts it.
  self.fiber.switch_to(host_);
  std::fprintf(stderr, "cnnops sim: an aborted simulated thread was resumed\n");
  std::abort();
}

void BlockScheduler::device_fault(const char* what, const char* file, int line) {
  const uint3 t = threadIdx;
  abort_block_from_thread("%s at %s:%d by thread (%u,%u,%u)", what, file, line, t.x, t.y, t.z);
}

void BlockScheduler::fail(const std::string& message) {
  fault_ = true;
  fault_message_ = message;
}

int BlockScheduler::arrive_at_block_barrier(BarrierKind kind, int predicate, const char* file, int line) {
  SimThread& self = *current_;
  self.state = ThreadState::kAtBlockBarrier;
  self.barrier = BarrierWait{kind, predicate, Site{file, line}, barrier_generation_};
  ++syncthreads_arrivals_;
  const unsigned parity = self.barrier.generation & 1;
  sanitizer::tsan_release(&barrier_sync_[parity]);
  self.fiber.switch_to(next_fiber_in_round());
  sanitizer::tsan_acquire(&barrier_sync_[parity]);
  return int(self.result);
}

uint64_t BlockScheduler::arrive_at_warp_collective(WarpOp op, unsigned mask, uint64_t value, int operand, int width,
                                                   const char* file, int line) {
  SimThread& self = *current_;
  const unsigned lane = self.linear % 32;
  const unsigned existing = lanes_of_warp(self.linear / 32);
  const char* name = collective_name(op);
  const uint3 at = self.index;
  if (((mask >> lane) & 1u) == 0)
    abort_block_from_thread("%s at %s:%d by thread (%u,%u,%u): mask 0x%08x does not name the calling lane %u", name,
                            file, line, at.x, at.y, at.z, mask, lane);
  if ((mask & ~existing) != 0)
    abort_block_from_thread("%s at %s:%d by thread (%u,%u,%u): mask 0x%08x names lane %d, which does not exist (the "
                            "warp has %d lanes: the block has %u threads)",
                            name, file, line, at.x, at.y, at.z, mask, __builtin_ctz(mask & ~existing),
                            __builtin_popcount(existing), thread_count_);
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    abort_block_from_thread("%s at %s:%d by thread (%u,%u,%u): width %d is not a power of 2 in [1, 32]", name, file,
                            line, at.x, at.y, at.z, width);

  self.state = ThreadState::kAtWarpCollective;
  self.collective = WarpWait{op, mask, width, operand, value, Site{file, line}};
  ++warp_collective_arrivals_;
  const bool orders_memory = op == WarpOp::kSyncWarp;  // shuffles and votes only exchange values
  if (orders_memory) sanitizer::tsan_release(&syncwarp_sync_[2 * self.linear + self.syncwarp_parity]);
  self.fiber.switch_to(next_fiber_in_round());
  if (orders_memory) {
    const unsigned warp_base = self.linear & ~31u;
    for (unsigned k = 0; k < 32; ++k)
      if ((self.group_mask >> k) & 1u)
        sanitizer::tsan_acquire(&syncwarp_sync_[2 * (warp_base + k) + ((self.group_parities >> k) & 1u)]);
  }
  return self.result;
}

unsigned BlockScheduler::active_mask() const {
  if (current_ == nullptr) return 0;
  const unsigned warp_base = current_->linear & ~31u;
  const unsigned existing = lanes_of_warp(current_->linear / 32);
  unsigned mask = 0;
  for (unsigned k = 0; k < 32; ++k)
    if (((existing >> k) & 1u) && threads_[warp_base + k]->state != ThreadState::kExited) mask |= 1u << k;
  return mask;
}

void BlockScheduler::wait_at_mbarrier(const uint64_t* barrier, unsigned parity, const char* file, int line) {
  SimThread& self = *current_;
  self.state = ThreadState::kAtMbarrier;
  self.mbarrier = MbarrierWait{barrier, parity & 1u, Site{file, line}};
  self.fiber.switch_to(next_fiber_in_round());
  sanitizer::tsan_acquire(barrier);
}

void BlockScheduler::wait_until_idle() {
  SimThread& self = *current_;
  self.state = ThreadState::kUntilIdle;
  self.fiber.switch_to(next_fiber_in_round());
}

bool BlockScheduler::release_idle_waits() {
  bool any = false;
  for (unsigned i = 0; i < thread_count_; ++i) {
    SimThread& t = *threads_[i];
    if (t.state != ThreadState::kUntilIdle) continue;
    t.state = ThreadState::kRunnable;
    any = true;
  }
  return any;
}

void BlockScheduler::yield_thread() {
  SimThread& self = *current_;
  self.fiber.switch_to(next_fiber_in_round());
}

void BlockScheduler::fail_block(const std::string& message) { fail(message); }

// Makes runnable every thread whose mbarrier phase has completed. False: a fault was recorded.
bool BlockScheduler::release_mbarrier_waits(bool* progressed) {
  for (unsigned i = 0; i < thread_count_; ++i) {
    SimThread& t = *threads_[i];
    if (t.state != ThreadState::kAtMbarrier) continue;
    Mbarrier m;
    if (!decode_mbarrier(*t.mbarrier.barrier, &m)) {
      fail(format("mbarrier.try_wait.parity at %s:%d by %s: the mbarrier at %p was overwritten while waited on",
                  t.mbarrier.site.file, t.mbarrier.site.line, describe(t).c_str(),
                  static_cast<const void*>(t.mbarrier.barrier)));
      return false;
    }
    if (m.parity != t.mbarrier.parity) {
      t.state = ThreadState::kRunnable;
      *progressed = true;
    }
  }
  return true;
}

// Called by the host when no thread is runnable: completes what can complete, otherwise
// diagnoses why the block can never finish. False: a fault was recorded.
bool BlockScheduler::collect_round() {
  round_.clear();
  const unsigned warps = (thread_count_ + 31) / 32;
  for (unsigned w = 0; w < warps; ++w) {
    // Default: every runnable thread. warps_run_ahead: the lowest warp with a runnable lane
    // (the highest with reverse_thread_order).
    const unsigned warp = reverse_thread_order_ ? warps - 1 - w : w;
    const unsigned begin = warps_run_ahead_ ? warp * 32 : 0;
    const unsigned end = warps_run_ahead_ ? std::min(thread_count_, begin + 32) : thread_count_;
    for (unsigned k = begin; k < end; ++k) {
      const unsigned i = reverse_thread_order_ ? begin + end - 1 - k : k;
      if (threads_[i]->state == ThreadState::kRunnable) round_.push_back(i);
    }
    if (!warps_run_ahead_ || !round_.empty()) break;
  }
  return !round_.empty();
}

// warps_run_ahead: the collectives the round's warp has fully arrived at complete now, so that
// it goes on in the next round; a barrier waits until every warp arrived (resolve_waits).
bool BlockScheduler::complete_round_collectives() {
  for (unsigned i : round_) {
    SimThread& t = *threads_[i];
    if (t.state == ThreadState::kAtWarpCollective && try_complete_warp_group(t) == GroupStatus::kFault) return false;
  }
  return true;
}

bool BlockScheduler::resolve_waits() {
  bool progressed = false;
  if (!release_mbarrier_waits(&progressed)) return false;
  for (unsigned i = 0; i < thread_count_; ++i) {
    SimThread& t = *threads_[i];
    if (t.state != ThreadState::kAtWarpCollective) continue;
    const GroupStatus status = try_complete_warp_group(t);
    if (status == GroupStatus::kFault) return false;
    progressed |= status == GroupStatus::kCompleted;
  }
  if (progressed) return true;
  if (release_idle_waits()) return true;
  return release_block_barrier();
}

BlockScheduler::GroupStatus BlockScheduler::try_complete_warp_group(SimThread& member) {
  const WarpWait& wait = member.collective;
  const unsigned warp_base = member.linear & ~31u;
  for (unsigned k = 0; k < 32; ++k) {
    if (((wait.mask >> k) & 1u) == 0) continue;
    const SimThread& partner = *threads_[warp_base + k];
    if (partner.state == ThreadState::kExited) {
      fail(format("%s at %s:%d by %s: mask 0x%08x names lane %u (%s), which has exited", collective_name(wait.op),
                  wait.site.file, wait.site.line, describe(member).c_str(), wait.mask, k, describe(partner).c_str()));
      return GroupStatus::kFault;
    }
    const WarpWait& other = partner.collective;
    if (partner.state != ThreadState::kAtWarpCollective || other.op != wait.op || other.mask != wait.mask ||
        other.width != wait.width)
      return GroupStatus::kWaiting;
  }

  // Everyone is here: compute every lane's result from the arrival values.
  uint32_t votes = 0;
  uint32_t parities = 0;
  for (unsigned k = 0; k < 32; ++k) {
    if (((wait.mask >> k) & 1u) == 0) continue;
    const SimThread& lane = *threads_[warp_base + k];
    if (lane.collective.value != 0) votes |= 1u << k;
    parities |= lane.syncwarp_parity << k;
  }
  for (unsigned k = 0; k < 32; ++k) {
    if (((wait.mask >> k) & 1u) == 0) continue;
    SimThread& lane = *threads_[warp_base + k];
    switch (wait.op) {
      case WarpOp::kSyncWarp: lane.result = 0; break;
      case WarpOp::kBallot: lane.result = votes; break;
      case WarpOp::kAny: lane.result = votes != 0; break;
      case WarpOp::kAll: lane.result = votes == wait.mask; break;
      default: {
        const unsigned source = shuffle_source_lane(wait.op, k, lane.collective.operand, wait.width);
        if (((wait.mask >> source) & 1u) == 0) {
          fail(format("%s at %s:%d by %s: lane %u reads lane %u, which is not in the mask 0x%08x (its value is "
                      "undefined on a GPU)",
                      collective_name(wait.op), wait.site.file, wait.site.line, describe(lane).c_str(), k, source,
                      wait.mask));
          return GroupStatus::kFault;
        }
        lane.result = threads_[warp_base + source]->collective.value;
      }
    }
  }
  for (unsigned k = 0; k < 32; ++k) {
    if (((wait.mask >> k) & 1u) == 0) continue;
    SimThread& lane = *threads_[warp_base + k];
    lane.group_mask = wait.mask;
    lane.group_parities = parities;
    if (wait.op == WarpOp::kSyncWarp) lane.syncwarp_parity ^= 1u;
    lane.state = ThreadState::kRunnable;
  }
  return GroupStatus::kCompleted;
}

// Releases the block barrier if every live thread waits at the same one. Otherwise records why
// the block is stuck and returns false.
bool BlockScheduler::release_block_barrier() {
  const SimThread* first_at_barrier = nullptr;
  const SimThread* first_exited = nullptr;
  for (unsigned i = 0; i < thread_count_; ++i) {
    const SimThread& t = *threads_[i];
    if (t.state == ThreadState::kAtWarpCollective) {
      diagnose_stuck_collective(t);
      return false;
    }
    if (t.state == ThreadState::kAtMbarrier) {
      diagnose_stuck_mbarrier(t);
      return false;
    }
    if (t.state == ThreadState::kAtBlockBarrier && first_at_barrier == nullptr) first_at_barrier = &t;
    if (t.state == ThreadState::kExited && first_exited == nullptr) first_exited = &t;
  }
  if (first_at_barrier == nullptr) {  // cannot happen: live_ > 0 and nobody runnable
    fail(format("internal error: block %s stuck with no thread waiting", block_name().c_str()));
    return false;
  }
  const BarrierWait& first = first_at_barrier->barrier;
  if (first_exited != nullptr) {
    fail(format("%s at %s:%d in block %s is waited on by %u threads, but %u threads of the block exited without "
                "reaching it (first: %s); every thread of a block must reach each __syncthreads",
                barrier_name(first.kind), first.site.file, first.site.line, block_name().c_str(), live_, exited_,
                describe(*first_exited).c_str()));
    return false;
  }
  for (unsigned i = 0; i < thread_count_; ++i) {
    const SimThread& t = *threads_[i];
    if (t.barrier.kind == first.kind && same_site(t.barrier.site, first.site)) continue;
    unsigned with_first = 0;
    for (unsigned j = 0; j < thread_count_; ++j)
      with_first += threads_[j]->barrier.kind == first.kind && same_site(threads_[j]->barrier.site, first.site);
    fail(format("divergent __syncthreads in block %s: %u threads (first: %s) wait at %s at %s:%d, but %s waits at %s "
                "at %s:%d; all threads of a block must reach the same barrier",
                block_name().c_str(), with_first, describe(*first_at_barrier).c_str(), barrier_name(first.kind),
                first.site.file, first.site.line, describe(t).c_str(), barrier_name(t.barrier.kind),
                t.barrier.site.file, t.barrier.site.line));
    return false;
  }

  int count = 0;
  for (unsigned i = 0; i < thread_count_; ++i) count += threads_[i]->barrier.predicate != 0;
  int result = 0;
  switch (first.kind) {
    case BarrierKind::kSync: result = 0; break;
    case BarrierKind::kCount: result = count; break;
    case BarrierKind::kAnd: result = count == int(thread_count_); break;
    case BarrierKind::kOr: result = count != 0; break;
  }
  for (unsigned i = 0; i < thread_count_; ++i) {
    threads_[i]->result = uint64_t(result);
    threads_[i]->state = ThreadState::kRunnable;
  }
  ++barrier_generation_;
  return true;
}

void BlockScheduler::diagnose_stuck_collective(const SimThread& waiter) {
  const WarpWait& wait = waiter.collective;
  const unsigned warp_base = waiter.linear & ~31u;
  std::string reason = "its partners never arrive";
  for (unsigned k = 0; k < 32; ++k) {
    if (((wait.mask >> k) & 1u) == 0) continue;
    const SimThread& partner = *threads_[warp_base + k];
    if (partner.state == ThreadState::kAtBlockBarrier) {
      reason = format("lane %u (%s) waits at %s at %s:%d", k, describe(partner).c_str(),
                      barrier_name(partner.barrier.kind), partner.barrier.site.file, partner.barrier.site.line);
      break;
    }
    const WarpWait& other = partner.collective;
    if (partner.state == ThreadState::kAtWarpCollective &&
        (other.op != wait.op || other.mask != wait.mask || other.width != wait.width)) {
      reason = format("lane %u (%s) waits at %s at %s:%d with mask 0x%08x, width %d", k, describe(partner).c_str(),
                      collective_name(other.op), other.site.file, other.site.line, other.mask, other.width);
      break;
    }
  }
  fail(format("deadlock in block %s: %s at %s:%d by %s with mask 0x%08x can never complete: %s",
              block_name().c_str(), collective_name(wait.op), wait.site.file, wait.site.line,
              describe(waiter).c_str(), wait.mask, reason.c_str()));
}

void BlockScheduler::diagnose_stuck_mbarrier(const SimThread& waiter) {
  const MbarrierWait& wait = waiter.mbarrier;
  Mbarrier m{};
  decode_mbarrier(*wait.barrier, &m);  // checked by release_mbarrier_waits
  unsigned at_barrier = 0, waiting = 0;
  for (unsigned i = 0; i < thread_count_; ++i) {
    at_barrier += threads_[i]->state == ThreadState::kAtBlockBarrier;
    waiting += threads_[i]->state == ThreadState::kAtMbarrier;
  }
  fail(format("deadlock in block %s: mbarrier.try_wait.parity at %s:%d by %s waits for the phase of parity %u of the "
              "mbarrier at %p, whose current phase (parity %u) still misses %u of %u arrivals, and no thread is left "
              "to arrive (%u threads wait on mbarriers, %u at __syncthreads, %u exited)",
              block_name().c_str(), wait.site.file, wait.site.line, describe(waiter).c_str(), wait.parity,
              static_cast<const void*>(wait.barrier), m.parity, m.missing, m.expected, waiting, at_barrier, exited_));
}

unsigned BlockScheduler::lanes_of_warp(unsigned warp) const {
  const unsigned lanes = thread_count_ - 32 * warp >= 32 ? 32 : thread_count_ - 32 * warp;
  return lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
}

std::string BlockScheduler::describe(const SimThread& thread) const {
  return format("thread (%u,%u,%u)", thread.index.x, thread.index.y, thread.index.z);
}

std::string BlockScheduler::block_name() const {
  return format("(%u,%u,%u)", block_index_.x, block_index_.y, block_index_.z);
}

}  // namespace sim
}  // namespace cnnops
