// The context switch and the first-entry trampoline, as naked functions: the compiler emits no
// prologue, no epilogue and no sanitizer instrumentation for them, and they are ordinary function
// definitions (not top-level asm), so -flto sees exactly one of each.
#include <cstdint>
#include <cstring>

#include "fiber_switch.h"

#if !defined(__x86_64__)
#error "the cnnops simulator's context switch is written for x86-64 (System V ABI)"
#endif

namespace cnnops {
namespace sim {

// Stack layout of a suspended context, from its saved stack pointer upwards:
//   +0  x87 control word (2 bytes, slot of 8)    +8  MXCSR (4 bytes, slot of 8)
//   +16 r15  +24 r14  +32 r13  +40 r12  +48 rbx  +56 rbp  +64 return address
// The x87 control word and MXCSR are callee-saved in the System V ABI (rounding mode, exception
// masks, flush-to-zero): a kernel that changes them must not change them for the others.
extern "C" __attribute__((naked, noinline, used)) void cnnops_sim_switch_context(FiberContext*, FiberContext*) {
  __asm__(
      "pushq %rbp\n\t"
      "pushq %rbx\n\t"
      "pushq %r12\n\t"
      "pushq %r13\n\t"
      "pushq %r14\n\t"
      "pushq %r15\n\t"
      "subq $16, %rsp\n\t"
      "fnstcw (%rsp)\n\t"
      "stmxcsr 8(%rsp)\n\t"
      "movq %rsp, (%rdi)\n\t"  // save->stack_pointer = rsp
      "movq (%rsi), %rsp\n\t"  // rsp = resume->stack_pointer
      "fldcw (%rsp)\n\t"
      "ldmxcsr 8(%rsp)\n\t"
      "addq $16, %rsp\n\t"
      "popq %r15\n\t"
      "popq %r14\n\t"
      "popq %r13\n\t"
      "popq %r12\n\t"
      "popq %rbx\n\t"
      "popq %rbp\n\t"
      "ret\n\t");
}

// The "return address" of a fresh context. prepare_fiber_context() leaves entry in r13 and its
// argument in r12; rsp is 16-byte aligned here, as the ABI wants it at a call instruction.
// `.cfi_undefined rip` marks this as the outermost frame (like glibc's _start and clone), so that
// DWARF unwinders -- ASan's reports use one -- stop here instead of reading past the stack top.
extern "C" __attribute__((naked, noinline, used)) void cnnops_sim_fiber_trampoline() {
  __asm__(
      ".cfi_undefined rip\n\t"
      "movq %r12, %rdi\n\t"
      "callq *%r13\n\t"
      "ud2\n\t");  // entry returned: a bug in the caller of prepare_fiber_context()
}

void prepare_fiber_context(FiberContext* context, void* stack_bottom, unsigned long stack_bytes,
                           void (*entry)(void*), void* arg) {
  // Top of the initial frame, 16-byte aligned, with zeroed slack above it: a frame-pointer walker
  // that looks one frame too far finds zeros inside the mapping. The trampoline's address sits 8
  // below `top`, so that rsp == top (aligned) once `ret` has consumed it.
  const uintptr_t stack_end = reinterpret_cast<uintptr_t>(stack_bottom) + stack_bytes;
  const uintptr_t top = (stack_end - 64) & ~uintptr_t(15);
  std::memset(reinterpret_cast<void*>(top), 0, stack_end - top);
  uint64_t* frame = reinterpret_cast<uint64_t*>(top - 8 * 9);
  uint16_t x87_control = 0;
  uint32_t mxcsr = 0;
  // A new fiber inherits the creating thread's floating-point environment.
  __asm__ volatile("fnstcw %0" : "=m"(x87_control));
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  std::memset(frame, 0, 8 * 9);
  std::memcpy(&frame[0], &x87_control, sizeof(x87_control));
  std::memcpy(&frame[1], &mxcsr, sizeof(mxcsr));
  frame[2] = 0;                                      // r15
  frame[3] = 0;                                      // r14
  frame[4] = reinterpret_cast<uintptr_t>(entry);     // r13
  frame[5] = reinterpret_cast<uintptr_t>(arg);       // r12
  frame[6] = 0;                                      // rbx
  frame[7] = 0;                                      // rbp = 0 ends frame-pointer stack walks here
  frame[8] = reinterpret_cast<uintptr_t>(&cnnops_sim_fiber_trampoline);
  context->stack_pointer = frame;
}

}  // namespace sim
}  // namespace cnnops
