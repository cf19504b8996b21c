// Shared memory of the running launch, poisoned before every block.
//
// Static __shared__ variables are thread_local (qualifiers.h), so they live in the TLS block of
// the module (executable or shared library) that holds the kernel -- wherever and however they are
// declared: kernel or device-function scope, templates, inline functions, namespace scope. No
// kernel source has to register them: before each block the whole TLS block of that module is
// filled with 0xFF, except the simulator's own thread-locals (sim_tls.h). The block is saved when
// a launch begins and restored when it ends, so host code's own thread_local variables in the same
// module (if any) never notice; only code running *inside* a block sees them poisoned.
//
// Dynamic shared memory is cnnops_sim_dynamic_shared: its first `dynamic_bytes` are poisoned per
// block; the rest is poisoned for ASan for the whole launch, so that reading past the requested
// size is reported in ASan builds.
#pragma once
#include <cstddef>
#include <vector>

#include "sim_tls.h"

namespace cnnops {
namespace sim {

class SharedMemory {
 public:
  // kernel: any address inside the kernel's code (selects the module).
  void begin_launch(const void* kernel, size_t dynamic_bytes, bool poison);
  void poison_for_block();
  void end_launch();

 private:
  std::vector<MemoryRange> static_ranges_;  // the module's TLS block minus the simulator's own
  std::vector<unsigned char> saved_;        // their contents when the launch began
  size_t dynamic_bytes_ = 0;
  bool poison_ = false;
};

}  // namespace sim
}  // namespace cnnops
