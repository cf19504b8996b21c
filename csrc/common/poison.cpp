#include "poison.h"

#include <atomic>
#include <limits>

namespace cnnops {
namespace {
std::atomic<bool> g_poison{false};
}

bool poison_outputs_enabled() { return g_poison.load(std::memory_order_relaxed); }
void set_poison_outputs(bool on) { g_poison.store(on, std::memory_order_relaxed); }

at::Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& options) {
  at::Tensor t = at::empty(sizes, options);
  if (poison_outputs_enabled() && t.numel() > 0) {
    if (at::isFloatingType(t.scalar_type()))
      t.fill_(std::numeric_limits<double>::quiet_NaN());
    else
      t.fill_(-1);
  }
  return t;
}

}  // namespace cnnops
