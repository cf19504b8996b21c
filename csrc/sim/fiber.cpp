#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "sanitizer_hooks.h"

namespace cnnops {
namespace sim {

namespace {
size_t page_size() {
  static const size_t bytes = size_t(sysconf(_SC_PAGESIZE));
  return bytes;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "cnnops sim: %s\n", what);
  std::abort();
}
}  // namespace

FiberStack::FiberStack(size_t usable_bytes) {
  const size_t page = page_size();
  usable_bytes_ = (usable_bytes + page - 1) / page * page;
  mapping_bytes_ = usable_bytes_ + kGuardBytes;
  // MAP_NORESERVE: only the pages a thread touches cost memory (a 1024-thread block mostly uses a
  // few KB of each 64 KB stack).
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (mapping_ == MAP_FAILED) die("mmap of a fiber stack failed");
  if (mprotect(mapping_, kGuardBytes, PROT_NONE) != 0) die("mprotect of a fiber stack guard failed");
  bottom_ = static_cast<char*>(mapping_) + kGuardBytes;
}

FiberStack::~FiberStack() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
}

bool FiberStack::guard_contains(const void* address) const {
  const char* a = static_cast<const char*>(address);
  const char* guard = static_cast<const char*>(mapping_);
  return mapping_ != nullptr && a >= guard && a < guard + kGuardBytes;
}

Fiber::Fiber() { adopt_current_thread(); }

Fiber::Fiber(size_t stack_bytes) : stack_(stack_bytes) {
  tsan_fiber_ = sanitizer::tsan_create_fiber();
  owns_tsan_fiber_ = tsan_fiber_ != nullptr;
  asan_stack_bottom_ = stack_.bottom();
  asan_stack_bytes_ = stack_.bytes();
}

Fiber::~Fiber() {
  if (owns_tsan_fiber_) sanitizer::tsan_destroy_fiber(tsan_fiber_);
}

void Fiber::adopt_current_thread() { tsan_fiber_ = sanitizer::tsan_current_fiber(); }

void Fiber::start(void (*entry)(void*), void* arg) {
  // An abandoned run (a launch aborted by the simulator) may have left ASan redzones poisoned.
  sanitizer::asan_unpoison(stack_.bottom(), stack_.bytes());
  prepare_fiber_context(&context_, stack_.bottom(), stack_.bytes(), entry, arg);
}

void Fiber::set_name(const char* name) { sanitizer::tsan_set_fiber_name(tsan_fiber_, name); }

// ASan's protocol: __sanitizer_start_switch_fiber(&fake_stack, target bounds) right before the
// switch, __sanitizer_finish_switch_fiber(fake_stack) first thing after control comes back; a
// fiber that leaves for good passes nullptr so that ASan frees its fake stack.
void Fiber::switch_to(Fiber& to) {
  if (sanitizer::asan_active() && to.asan_stack_bottom_ == nullptr) die("switch to a fiber whose stack ASan does not know");
  void* fake_stack = nullptr;
  sanitizer::asan_start_switch(&fake_stack, to.asan_stack_bottom_, to.asan_stack_bytes_);
  sanitizer::tsan_switch_to_fiber(to.tsan_fiber_);
  to.resumed_by_ = this;
  cnnops_sim_switch_context(&context_, &to.context_);
  finish_switch(fake_stack);
}

void Fiber::leave_for_good(Fiber& to) {
  sanitizer::asan_start_switch(nullptr, to.asan_stack_bottom_, to.asan_stack_bytes_);
  sanitizer::tsan_switch_to_fiber(to.tsan_fiber_);
  to.resumed_by_ = this;
  cnnops_sim_switch_context(&context_, &to.context_);
  die("a finished fiber was resumed");
}

void Fiber::entered() { finish_switch(nullptr); }

void Fiber::retire_abandoned_tsan_fiber(Fiber& host, const void* release_address) {
  if (!owns_tsan_fiber_) return;
  // Takes on the abandoned fiber's TSan identity without running it: only uninstrumented runtime
  // code executes in between, so TSan sees nothing but the release.
  sanitizer::tsan_switch_to_fiber(tsan_fiber_);
  sanitizer::tsan_release(release_address);
  sanitizer::tsan_switch_to_fiber(host.tsan_fiber_);
  sanitizer::tsan_destroy_fiber(tsan_fiber_);
  // Created by the host after its acquire of release_address: ordered after the old one.
  tsan_fiber_ = sanitizer::tsan_create_fiber();
}

void Fiber::finish_switch(void* fake_stack) {
  const void* previous_bottom = nullptr;
  size_t previous_bytes = 0;
  sanitizer::asan_finish_switch(fake_stack, &previous_bottom, &previous_bytes);
  // The host fiber's stack bounds are known only to ASan: record them when the host hands over.
  if (resumed_by_ != nullptr && resumed_by_->asan_stack_bottom_ == nullptr) {
    resumed_by_->asan_stack_bottom_ = previous_bottom;
    resumed_by_->asan_stack_bytes_ = previous_bytes;
  }
}

}  // namespace sim
}  // namespace cnnops
