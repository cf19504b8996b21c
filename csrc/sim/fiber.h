// Fibers: user-space execution contexts with their own stacks, switched cooperatively on one OS
// thread. Every simulated CUDA thread runs on one; the OS thread's original context (the "host",
// which runs the scheduler) is a Fiber without a stack of its own. Switching keeps ASan's and
// TSan's view of the current stack / thread in step (sanitizer_hooks.h).
#pragma once
#include <cstddef>

#include "fiber_switch.h"

namespace cnnops {
namespace sim {

// An mmap'd stack with an inaccessible guard region below it: an overflow faults (SIGSEGV)
// instead of silently corrupting the neighbouring fiber's stack.
class FiberStack {
 public:
  static constexpr size_t kGuardBytes = 64 << 10;  // larger than any sane frame, so none jumps it

  FiberStack() = default;
  explicit FiberStack(size_t usable_bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;

  void* bottom() const { return bottom_; }  // lowest usable address
  size_t bytes() const { return usable_bytes_; }
  // True when address lies in this stack's guard region (for diagnosing a fault).
  bool guard_contains(const void* address) const;

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* bottom_ = nullptr;
  size_t usable_bytes_ = 0;
};

class Fiber {
 public:
  // The calling OS thread's own context. Its TSan fiber is refreshed by adopt_current_thread().
  Fiber();
  // A fiber with its own stack of at least stack_bytes; nothing runs on it until start().
  explicit Fiber(size_t stack_bytes);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // For the host fiber: take on the identity (TSan fiber) of whatever runs this OS thread now.
  void adopt_current_thread();
  // Arranges for the next switch into this fiber to call entry(arg) on a fresh stack, abandoning
  // whatever was suspended on it. entry must call entered() first and must never return; it
  // leaves with leave_for_good().
  void start(void (*entry)(void*), void* arg);
  void set_name(const char* name);  // shows up in TSan reports
  size_t stack_bytes() const { return stack_.bytes(); }
  const FiberStack& stack() const { return stack_; }

  // Suspends the running fiber `this` and resumes `to`; returns when something resumes `this`.
  void switch_to(Fiber& to);
  // Like switch_to(), for a fiber that will never be resumed (its entry function is finished).
  [[noreturn]] void leave_for_good(Fiber& to);
  // First call of every entry function passed to start().
  void entered();
  // For a fiber abandoned in the middle of its entry function (an aborted block), run from `host`:
  // releases its TSan history into release_address on its behalf -- so that later accesses by
  // others are ordered after everything it did -- and gives it a fresh TSan fiber, dropping the
  // stale shadow call stack. A no-op without TSan.
  void retire_abandoned_tsan_fiber(Fiber& host, const void* release_address);

 private:
  void finish_switch(void* fake_stack);

  FiberContext context_;
  FiberStack stack_;
  void* tsan_fiber_ = nullptr;
  bool owns_tsan_fiber_ = false;
  // ASan wants the bounds of the stack being switched to. A stack fiber knows its own; the host's
  // are learned from ASan itself the first time the host switches away (see finish_switch()).
  const void* asan_stack_bottom_ = nullptr;
  size_t asan_stack_bytes_ = 0;
  Fiber* resumed_by_ = nullptr;  // the fiber whose switch_to() resumed this one
};

}  // namespace sim
}  // namespace cnnops
