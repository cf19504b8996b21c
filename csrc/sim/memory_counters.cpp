#include "memory_counters.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "memory_cost.h"
#include "sim_tls.h"
#include "thread_runtime.h"

namespace cnnops {
namespace sim {

namespace {

// Process-wide totals. Blocks fold into them under the mutex (launches may run on several OS
// threads); never touched from inside a simulated thread.
struct Totals {
  std::mutex mutex;
  // (kernel, file, line, instruction, space, kind) -> counts; strings compared by content, so
  // one source line's literal in two translation units is one site.
  std::map<std::tuple<const void*, std::string, int, std::string, int, int>, MemoryAccessSite> sites;
  std::unordered_map<const void*, std::string> kernel_names;
  struct Launch {
    const void* kernel;
    unsigned x, y, z;
    size_t dynamic_shared_bytes;
  };
  std::vector<Launch> launches;  // the launch log, since the last reset_counters()
};
constexpr size_t kMaxLoggedLaunches = 65536;

Totals& totals() {
  static Totals* t = new Totals;  // never destroyed: kernels may run from static destructors
  return *t;
}

std::string kernel_label(const Totals& t, const void* kernel) {
  const auto it = t.kernel_names.find(kernel);
  if (it != t.kernel_names.end()) return it->second;
  char text[40];
  std::snprintf(text, sizeof(text), "kernel@%p", kernel);
  return text;
}

}  // namespace

void MemoryAccessRecorder::begin_launch(const void* kernel, unsigned threads, bool enabled) {
  enabled_ = enabled;
  kernel_ = kernel;
  threads_ = threads;
  sites_.clear();
  per_thread_.resize(enabled ? threads : 0);
  accesses_.clear();
}

void MemoryAccessRecorder::begin_block() {
  for (Site& s : sites_) std::fill(s.executions.begin(), s.executions.end(), 0u);
  for (std::vector<LaneAccess>& list : per_thread_) list.clear();
}

uint32_t MemoryAccessRecorder::site_index(const char* file, int line, const char* instruction, MemorySpace space,
                                          AccessKind kind) {
  // A kernel has a handful of sites: a linear search beats hashing here.
  for (uint32_t i = 0; i < sites_.size(); ++i) {
    const Site& s = sites_[i];
    if (s.line == line && s.file == file && s.instruction == instruction && s.space == space && s.kind == kind)
      return i;
  }
  sites_.push_back(Site{file, line, instruction, space, kind, std::vector<uint32_t>(threads_, 0u)});
  return uint32_t(sites_.size() - 1);
}

void MemoryAccessRecorder::record(unsigned thread, MemorySpace space, AccessKind kind, const char* instruction,
                                  uintptr_t address, int bytes, const char* file, int line) {
  const uint32_t site = site_index(file, line, instruction, space, kind);
  const uint32_t execution = sites_[site].executions[thread]++;
  per_thread_[thread].push_back(LaneAccess{site, thread / 32, execution, thread % 32, address, bytes});
}

void MemoryAccessRecorder::end_block(bool keep) {
  accesses_.clear();
  if (keep)
    for (const std::vector<LaneAccess>& list : per_thread_) accesses_.insert(accesses_.end(), list.begin(), list.end());
  if (accesses_.empty()) return;
  std::sort(accesses_.begin(), accesses_.end(), [](const LaneAccess& a, const LaneAccess& b) {
    return std::tie(a.site, a.warp, a.execution, a.lane) < std::tie(b.site, b.warp, b.execution, b.lane);
  });
  // This block's counts per site, then one locked fold into the totals.
  std::vector<MemoryAccessSite> block(sites_.size());
  std::vector<LaneRef> lanes;
  for (size_t i = 0; i < accesses_.size();) {
    const LaneAccess& first = accesses_[i];
    lanes.clear();
    size_t j = i;
    for (; j < accesses_.size() && accesses_[j].site == first.site && accesses_[j].warp == first.warp &&
           accesses_[j].execution == first.execution;
         ++j)
      lanes.push_back(LaneRef{accesses_[j].lane, accesses_[j].address, accesses_[j].bytes});
    MemoryAccessSite& c = block[first.site];
    c.instructions += 1;
    for (const LaneRef& l : lanes)
      if (l.bytes > 0) {
        c.lane_accesses += 1;
        c.bytes += uint64_t(l.bytes);
      }
    if (sites_[first.site].space == MemorySpace::kShared) {
      const AccessCost cost = shared_access_cost(lanes);
      c.wavefronts += cost.actual;
      c.ideal_wavefronts += cost.ideal;
    } else {
      const AccessCost cost = global_access_cost(lanes);
      c.sectors += cost.actual;
      c.ideal_sectors += cost.ideal;
    }
    i = j;
  }
  accesses_.clear();

  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (size_t s = 0; s < sites_.size(); ++s) {
    const Site& site = sites_[s];
    const MemoryAccessSite& c = block[s];
    if (c.instructions == 0) continue;
    MemoryAccessSite& total = t.sites[std::make_tuple(kernel_, std::string(site.file), site.line,
                                                      std::string(site.instruction), int(site.space), int(site.kind))];
    if (total.instructions == 0) {
      total.file = site.file;
      total.line = site.line;
      total.instruction = site.instruction;
      total.space = site.space;
      total.kind = site.kind;
    }
    total.instructions += c.instructions;
    total.lane_accesses += c.lane_accesses;
    total.bytes += c.bytes;
    total.wavefronts += c.wavefronts;
    total.ideal_wavefronts += c.ideal_wavefronts;
    total.sectors += c.sectors;
    total.ideal_sectors += c.ideal_sectors;
  }
}

std::vector<MemoryAccessSite> memory_access_counts() {
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::vector<MemoryAccessSite> out;
  out.reserve(t.sites.size());
  for (const auto& entry : t.sites) {
    out.push_back(entry.second);
    out.back().kernel = kernel_label(t, std::get<0>(entry.first));
  }
  std::sort(out.begin(), out.end(), [](const MemoryAccessSite& a, const MemoryAccessSite& b) {
    return std::tie(a.kernel, a.file, a.line, a.instruction) < std::tie(b.kernel, b.file, b.line, b.instruction);
  });
  return out;
}

void reset_memory_access_counts() {
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.sites.clear();
}

std::vector<LaunchRecord> launch_log() {
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::vector<LaunchRecord> out;
  for (const Totals::Launch& l : t.launches)
    out.push_back(LaunchRecord{kernel_label(t, l.kernel), l.x, l.y, l.z, l.dynamic_shared_bytes});
  return out;
}

namespace detail {

void log_launch(const void* kernel, unsigned grid_x, unsigned grid_y, unsigned grid_z, size_t dynamic_shared_bytes) {
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  if (t.launches.size() < kMaxLoggedLaunches)
    t.launches.push_back(Totals::Launch{kernel, grid_x, grid_y, grid_z, dynamic_shared_bytes});
}

void clear_launch_log() {
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.launches.clear();
}

void name_last_launched_kernel(const char* name) {
  ThreadRuntime* runtime = tls_thread_runtime;
  if (runtime == nullptr || runtime->memory.kernel() == nullptr || name == nullptr) return;
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.kernel_names[runtime->memory.kernel()] = name;
}

}  // namespace detail
}  // namespace sim
}  // namespace cnnops
