// The sanitizer calls the simulator makes, each a no-op unless that sanitizer's runtime is linked
// into the process. Detection is at run time (weak symbols), not at compile time, so one build of
// the simulator runtime serves plain, ASan and TSan binaries alike; in particular the TSan flavour
// links an *uninstrumented* runtime (its scheduler bookkeeping must stay invisible to TSan, see
// README.md) that still has to drive TSan's fiber API.
#pragma once
#include <cstddef>

namespace cnnops {
namespace sim {
namespace sanitizer {

bool asan_active();
bool tsan_active();

// AddressSanitizer: must bracket every stack switch (see fiber.cpp for the protocol).
void asan_start_switch(void** fake_stack_save, const void* target_stack_bottom, size_t target_stack_bytes);
void asan_finish_switch(void* fake_stack_save, const void** previous_stack_bottom, size_t* previous_stack_bytes);
void asan_poison(const void* address, size_t bytes);
void asan_unpoison(const void* address, size_t bytes);

// ThreadSanitizer: every simulated thread is a TSan fiber. Switches never synchronise (TSan would
// otherwise order every thread after every other); the simulator states each happens-before edge
// a GPU guarantees (barriers, kernel start and end) with release/acquire on a sync address.
void* tsan_current_fiber();
void* tsan_create_fiber();
void tsan_destroy_fiber(void* fiber);
void tsan_set_fiber_name(void* fiber, const char* name);
void tsan_switch_to_fiber(void* fiber);  // always without synchronisation
void tsan_release(const void* sync_address);
void tsan_acquire(const void* sync_address);

}  // namespace sanitizer
}  // namespace sim
}  // namespace cnnops
