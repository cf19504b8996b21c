#include "device_allocations.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "sim_api.h"

namespace cnnops {
namespace sim {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<uintptr_t, size_t> buffers;  // start -> bytes
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: buffers may be freed from static destructors
  return *r;
}

}  // namespace

void* allocate_device_buffer(size_t bytes, bool poison) {
  void* pointer = nullptr;
  // 256-byte alignment, as cudaMalloc guarantees (kernels may rely on it for vector loads).
  if (posix_memalign(&pointer, 256, bytes == 0 ? 1 : bytes) != 0) return nullptr;
  if (poison) std::memset(pointer, 0xFF, bytes);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.buffers[reinterpret_cast<uintptr_t>(pointer)] = bytes;
  return pointer;
}

bool free_device_buffer(void* pointer) {
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.buffers.erase(reinterpret_cast<uintptr_t>(pointer)) == 0) return false;
  }
  std::free(pointer);
  return true;
}

bool is_device_range(const void* pointer, size_t bytes) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(pointer);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.buffers.upper_bound(begin);  // first buffer starting after `begin`
  if (it == r.buffers.begin()) return false;
  --it;
  return begin >= it->first && bytes <= it->second && begin - it->first <= it->second - bytes;
}

size_t device_buffer_count() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.buffers.size();
}

size_t live_allocation_count() { return device_buffer_count(); }

}  // namespace sim
}  // namespace cnnops
