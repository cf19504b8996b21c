// The raw x86-64 context switch underneath the simulator's fibers (fiber.h builds on it).
//
// A suspended context is one word: its stack pointer. Everything else it needs -- the callee-saved
// registers, the x87 control word and MXCSR -- was pushed onto its own stack by the switch that
// suspended it. The System V ABI lets the caller assume every other register is clobbered by a call,
// so this is all a cooperative switch has to preserve.
#pragma once

namespace cnnops {
namespace sim {

struct FiberContext {
  void* stack_pointer = nullptr;
};

// Saves the running context into *save and resumes *resume. Returns when something switches back
// to *save. Defined in assembly in fiber_switch_x86_64.cpp (one translation unit: a copy in every
// object that includes a header breaks -flto with duplicate symbols).
extern "C" void cnnops_sim_switch_context(FiberContext* save, FiberContext* resume);

// Lays out a fresh stack so that the first cnnops_sim_switch_context() into *context calls
// entry(arg) at the top of [stack_bottom, stack_bottom + stack_bytes). entry must never return.
void prepare_fiber_context(FiberContext* context, void* stack_bottom, unsigned long stack_bytes,
                           void (*entry)(void*), void* arg);

}  // namespace sim
}  // namespace cnnops
