// Weak references to the ASan / TSan interfaces: null unless that runtime is in the process.
#include "sanitizer_hooks.h"

extern "C" {
__attribute__((weak)) void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
__attribute__((weak)) void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old, size_t* size_old);
__attribute__((weak)) void __asan_poison_memory_region(void const volatile* addr, size_t size);
__attribute__((weak)) void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
__attribute__((weak)) void* __tsan_get_current_fiber(void);
__attribute__((weak)) void* __tsan_create_fiber(unsigned flags);
__attribute__((weak)) void __tsan_destroy_fiber(void* fiber);
__attribute__((weak)) void __tsan_switch_to_fiber(void* fiber, unsigned flags);
__attribute__((weak)) void __tsan_set_fiber_name(void* fiber, const char* name);
__attribute__((weak)) void __tsan_acquire(void* addr);
__attribute__((weak)) void __tsan_release(void* addr);
}

namespace cnnops {
namespace sim {
namespace sanitizer {

namespace {
// tsan_interface.h: __tsan_switch_to_fiber_no_sync. Spelled out to keep the header optional.
constexpr unsigned kTsanSwitchNoSync = 1u << 0;
}  // namespace

bool asan_active() { return __sanitizer_start_switch_fiber != nullptr && __asan_poison_memory_region != nullptr; }
bool tsan_active() { return __tsan_create_fiber != nullptr && __tsan_switch_to_fiber != nullptr; }

void asan_start_switch(void** fake_stack_save, const void* target_stack_bottom, size_t target_stack_bytes) {
  if (asan_active()) __sanitizer_start_switch_fiber(fake_stack_save, target_stack_bottom, target_stack_bytes);
}

void asan_finish_switch(void* fake_stack_save, const void** previous_stack_bottom, size_t* previous_stack_bytes) {
  if (asan_active()) __sanitizer_finish_switch_fiber(fake_stack_save, previous_stack_bottom, previous_stack_bytes);
}

void asan_poison(const void* address, size_t bytes) {
  if (asan_active() && bytes > 0) __asan_poison_memory_region(address, bytes);
}

void asan_unpoison(const void* address, size_t bytes) {
  if (asan_active() && bytes > 0) __asan_unpoison_memory_region(address, bytes);
}

void* tsan_current_fiber() { return tsan_active() ? __tsan_get_current_fiber() : nullptr; }
void* tsan_create_fiber() { return tsan_active() ? __tsan_create_fiber(0) : nullptr; }

void tsan_destroy_fiber(void* fiber) {
  if (fiber != nullptr && tsan_active()) __tsan_destroy_fiber(fiber);
}

void tsan_set_fiber_name(void* fiber, const char* name) {
  if (fiber != nullptr && __tsan_set_fiber_name != nullptr) __tsan_set_fiber_name(fiber, name);
}

void tsan_switch_to_fiber(void* fiber) {
  if (fiber != nullptr && tsan_active()) __tsan_switch_to_fiber(fiber, kTsanSwitchNoSync);
}

void tsan_release(const void* sync_address) {
  if (__tsan_release != nullptr) __tsan_release(const_cast<void*>(sync_address));
}

void tsan_acquire(const void* sync_address) {
  if (__tsan_acquire != nullptr) __tsan_acquire(const_cast<void*>(sync_address));
}

}  // namespace sanitizer
}  // namespace sim
}  // namespace cnnops
