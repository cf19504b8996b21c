// The simulator's per-OS-thread state: the fibers of the running block and the shared memory of
// the running launch. Each OS thread that launches kernels gets its own, so launches from
// different OS threads run independently (each with its own thread_local shared memory).
#pragma once
#include "async_copy.h"
#include "async_proxy.h"
#include "block_scheduler.h"
#include "fiber.h"
#include "memory_counters.h"
#include "shared_memory.h"

namespace cnnops {
namespace sim {

class ThreadRuntime {
 public:
  ThreadRuntime() : scheduler(host) {}

  Fiber host;  // this OS thread's own context, which runs the launch loop
  BlockScheduler scheduler;
  SharedMemory shared_memory;
  AsyncCopies async_copies;
  AsyncProxy async_proxy;
  MemoryAccessRecorder memory;
  bool launching = false;
};

// Created on first use; freed when the OS thread exits.
ThreadRuntime& this_thread_runtime();

}  // namespace sim
}  // namespace cnnops
