#include "shared_memory.h"

#include <link.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "sanitizer_hooks.h"
#include "sim_api.h"

// The x86-64 ABI's TLS lookup (exported by the dynamic linker): the calling thread's address of
// byte `offset` of module `module_id`'s TLS block, allocating the block if this thread has not
// touched it yet.
extern "C" void* __tls_get_addr(void* tls_index);

namespace cnnops {
namespace sim {

namespace {

constexpr unsigned char kPoisonByte = 0xFF;  // NaN for float / double / half, -1 for integers

struct ModuleTls {
  const void* code;
  size_t module_id = 0;
  size_t bytes = 0;
};

// Finds the PT_TLS segment of the loaded module whose PT_LOAD segments contain `code`.
int match_module(dl_phdr_info* info, size_t, void* data) {
  ModuleTls* wanted = static_cast<ModuleTls*>(data);
  const uintptr_t code = reinterpret_cast<uintptr_t>(wanted->code);
  bool contains_code = false;
  size_t tls_bytes = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    const uintptr_t start = info->dlpi_addr + segment.p_vaddr;
    if (segment.p_type == PT_LOAD && code >= start && code < start + segment.p_memsz) contains_code = true;
    if (segment.p_type == PT_TLS) tls_bytes = segment.p_memsz;
  }
  if (!contains_code) return 0;
  wanted->module_id = info->dlpi_tls_modid;
  wanted->bytes = tls_bytes;
  return 1;
}

// [block, block + bytes) minus the `holes`, as a list of ranges.
std::vector<MemoryRange> subtract(char* block, size_t bytes, std::vector<MemoryRange> holes) {
  std::sort(holes.begin(), holes.end(), [](const MemoryRange& a, const MemoryRange& b) { return a.begin < b.begin; });
  std::vector<MemoryRange> pieces;
  char* cursor = block;
  char* const end = block + bytes;
  for (const MemoryRange& hole : holes) {
    char* const hole_begin = std::max(hole.begin, cursor);
    char* const hole_end = std::min(hole.begin + hole.bytes, end);
    if (hole_begin >= hole_end) continue;  // outside the block (the simulator lives in another module)
    if (hole_begin > cursor) pieces.push_back({cursor, size_t(hole_begin - cursor)});
    cursor = hole_end;
  }
  if (cursor < end) pieces.push_back({cursor, size_t(end - cursor)});
  return pieces;
}

}  // namespace

void SharedMemory::begin_launch(const void* kernel, size_t dynamic_bytes, bool poison) {
  dynamic_bytes_ = dynamic_bytes;
  poison_ = poison;
  static_ranges_.clear();
  saved_.clear();
  if (!poison_) return;

  ModuleTls module{kernel};
  if (dl_iterate_phdr(match_module, &module) && module.module_id != 0 && module.bytes != 0) {
    size_t tls_index[2] = {module.module_id, 0};
    char* block = static_cast<char*>(__tls_get_addr(tls_index));
    static_ranges_ = subtract(block, module.bytes, simulator_tls_ranges());
  }
  for (const MemoryRange& range : static_ranges_) saved_.insert(saved_.end(), range.begin, range.begin + range.bytes);

  // Beyond the requested size: poison once for the whole launch, and make it unaddressable for ASan.
  unsigned char* tail = cnnops_sim_dynamic_shared + dynamic_bytes_;
  const size_t tail_bytes = kDynamicSharedCapacity - dynamic_bytes_;
  std::memset(tail, kPoisonByte, tail_bytes);
  sanitizer::asan_poison(tail, tail_bytes);
}

void SharedMemory::poison_for_block() {
  if (!poison_) return;
  for (const MemoryRange& range : static_ranges_) std::memset(range.begin, kPoisonByte, range.bytes);
  std::memset(cnnops_sim_dynamic_shared, kPoisonByte, dynamic_bytes_);
}

void SharedMemory::end_launch() {
  if (!poison_) return;
  sanitizer::asan_unpoison(cnnops_sim_dynamic_shared, kDynamicSharedCapacity);
  const unsigned char* saved = saved_.data();
  for (const MemoryRange& range : static_ranges_) {
    std::memcpy(range.begin, saved, range.bytes);
    saved += range.bytes;
  }
  static_ranges_.clear();
  saved_.clear();
  poison_ = false;
}

}  // namespace sim
}  // namespace cnnops
