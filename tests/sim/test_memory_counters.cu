// The simulator's memory counters (csrc/sim/memory_counters.h, memory_cost.h): planted bank
// conflicts and uncoalesced accesses are counted exactly -- through the wrappers the kernels use
// (ptx::ld_shared, ldmatrix, cp.async, the epilogue's stores) and on hand-made lane patterns
// given to the cost functions directly.
#include <cstdint>
#include <string>
#include <vector>

#include "common/epilogue.h"
#include "cuda/dtypes.cuh"
#include "cuda/launch.cuh"
#include "cuda/ptx.cuh"
#include "device_buffer.h"
#include "sim/memory_cost.h"
#include "sim_test.h"

using cnnops::cuda::launch;
namespace ptx = cnnops::cuda::ptx;
namespace sim = cnnops::sim;

namespace {

void count_on() {
  sim::Options o = sim::options();
  o.count_memory_accesses = true;
  sim::set_options(o);
  sim::reset_memory_access_counts();
}

// The counts of the one site whose instruction is `instruction` (the test kernels have one each).
sim::MemoryAccessSite site(const char* instruction) {
  sim::MemoryAccessSite found;
  int matches = 0;
  for (const sim::MemoryAccessSite& s : sim::memory_access_counts())
    if (s.instruction == instruction) found = s, ++matches;
  CHECK_EQ(matches, 1);
  return found;
}

// ---- cost functions on hand-made patterns ----

std::vector<sim::LaneRef> strided(int bytes, uintptr_t stride, uintptr_t base = 0) {
  std::vector<sim::LaneRef> lanes;
  for (uint32_t l = 0; l < 32; ++l) lanes.push_back(sim::LaneRef{l, base + l * stride, bytes});
  return lanes;
}

TEST(shared_cost_32_bit) {
  CHECK_EQ(sim::shared_access_cost(strided(4, 4)).actual, 1u);     // consecutive words
  CHECK_EQ(sim::shared_access_cost(strided(4, 8)).actual, 2u);     // stride 2 words: 2-way
  CHECK_EQ(sim::shared_access_cost(strided(4, 128)).actual, 32u);  // one bank, 32 words
  CHECK_EQ(sim::shared_access_cost(strided(4, 128)).ideal, 1u);
  CHECK_EQ(sim::shared_access_cost(strided(4, 0)).actual, 1u);     // broadcast
  CHECK_EQ(sim::shared_access_cost(strided(2, 2)).actual, 1u);     // 16-bit lanes share words
  CHECK_EQ(sim::shared_access_cost(strided(4, 4 * 33)).actual, 1u);  // padded column: conflict-free
}

TEST(shared_cost_64_and_128_bit_phases) {
  // 8 bytes: half-warp phases. Consecutive: 2 wavefronts, the ideal.
  CHECK_EQ(sim::shared_access_cost(strided(8, 8)).actual, 2u);
  CHECK_EQ(sim::shared_access_cost(strided(8, 8)).ideal, 2u);
  // 8 bytes at a 16-byte stride: lanes i and i+8 of a half-warp share banks: 2-way per phase.
  CHECK_EQ(sim::shared_access_cost(strided(8, 16)).actual, 4u);
  // 16 bytes: quarter-warp phases. Consecutive: 4 = ideal; a 32-byte stride: 2-way; a 128-byte
  // stride: every lane of a phase on the same 4 banks, 8-way.
  CHECK_EQ(sim::shared_access_cost(strided(16, 16)).actual, 4u);
  CHECK_EQ(sim::shared_access_cost(strided(16, 16)).ideal, 4u);
  CHECK_EQ(sim::shared_access_cost(strided(16, 32)).actual, 8u);
  CHECK_EQ(sim::shared_access_cost(strided(16, 128)).actual, 32u);
  // Conflicts between phases do not count: lanes 0 and 8 on the same words is no conflict.
  std::vector<sim::LaneRef> lanes = strided(16, 16);
  for (sim::LaneRef& l : lanes) l.address = (l.lane % 8) * 16;
  CHECK_EQ(sim::shared_access_cost(lanes).actual, 4u);
  // Lanes that take no part cost nothing; an instruction with none costs nothing.
  for (sim::LaneRef& l : lanes) l.bytes = l.lane < 8 ? 16 : 0;
  CHECK_EQ(sim::shared_access_cost(lanes).actual, 1u);
  for (sim::LaneRef& l : lanes) l.bytes = 0;
  CHECK_EQ(sim::shared_access_cost(lanes).actual, 0u);
}

TEST(global_cost_sectors) {
  CHECK_EQ(sim::global_access_cost(strided(4, 4)).actual, 4u);   // 128 contiguous bytes
  CHECK_EQ(sim::global_access_cost(strided(4, 4)).ideal, 4u);
  CHECK_EQ(sim::global_access_cost(strided(4, 4, 16)).actual, 5u);  // misaligned by 16: one more
  CHECK_EQ(sim::global_access_cost(strided(2, 8)).actual, 8u);   // 2 bytes every 8: 64 bytes in 8 sectors
  CHECK_EQ(sim::global_access_cost(strided(2, 8)).ideal, 2u);
  CHECK_EQ(sim::global_access_cost(strided(16, 64)).actual, 32u);  // 16 of every 64 bytes
  CHECK_EQ(sim::global_access_cost(strided(16, 64)).ideal, 16u);
  CHECK_EQ(sim::global_access_cost(strided(4, 0)).actual, 1u);     // one word for the warp
  CHECK_EQ(sim::global_access_cost(strided(4, 0)).ideal, 1u);
  // Overlapping lanes: bytes counted once.
  CHECK_EQ(sim::global_access_cost(strided(16, 8)).ideal, 9u);  // 8*31 + 16 = 264 bytes
}

// ---- through the wrappers, in kernels ----

// Every lane of every warp reads smem[lane * stride_words] `repeat` times.
__global__ void ld_shared_kernel(float* out, int stride_words, int repeat) {
  __shared__ float smem[32 * 33];
  for (int i = threadIdx.x; i < 32 * 33; i += blockDim.x) smem[i] = float(i);
  __syncthreads();
  const int lane = threadIdx.x % 32;
  float sum = 0;
  for (int r = 0; r < repeat; ++r) sum += ptx::ld_shared(&smem[(lane * stride_words) % (32 * 33)]);
  out[blockIdx.x * blockDim.x + threadIdx.x] = sum;
}

TEST(ld_shared_conflicts_counted_per_warp_instruction) {
  count_on();
  DeviceBuffer<float> out(2 * 64);
  // 2 blocks x 2 warps x 3 executions = 12 instructions; stride 2 words: 2-way each.
  CHECK_EQ(launch(ld_shared_kernel, dim3(2), dim3(64), 0, nullptr, out.get(), 2, 3), cudaSuccess);
  sim::MemoryAccessSite s = site("ld.shared");
  CHECK_EQ(s.instructions, 12u);
  CHECK_EQ(s.lane_accesses, 12u * 32);
  CHECK_EQ(s.bytes, 12u * 32 * 4);
  CHECK_EQ(s.wavefronts, 24u);
  CHECK_EQ(s.ideal_wavefronts, 12u);
  CHECK(s.space == sim::MemorySpace::kShared && s.kind == sim::AccessKind::kLoad);
  CHECK_CONTAINS(s.file, "test_memory_counters.cu");
  // A padded column (stride 33 words) is conflict-free.
  sim::reset_memory_access_counts();
  CHECK_EQ(launch(ld_shared_kernel, dim3(1), dim3(32), 0, nullptr, out.get(), 33, 1), cudaSuccess);
  s = site("ld.shared");
  CHECK_EQ(s.wavefronts, 1u);
  CHECK_EQ(s.ideal_wavefronts, 1u);
}

TEST(counters_are_off_unless_asked) {
  sim::reset_memory_access_counts();
  DeviceBuffer<float> out(32);
  CHECK_EQ(launch(ld_shared_kernel, dim3(1), dim3(32), 0, nullptr, out.get(), 2, 1), cudaSuccess);
  CHECK(sim::memory_access_counts().empty());
}

// ldmatrix.x4 over 16-bit rows of `pitch` elements: lane l gives row l's address (matrix l / 8).
__global__ void ldmatrix_kernel(uint32_t* out, int pitch) {
  alignas(16) __shared__ uint16_t smem[32 * 64];
  for (int i = threadIdx.x; i < 32 * 64; i += blockDim.x) smem[i] = uint16_t(i);
  __syncthreads();
  uint32_t r[4];
  ptx::ldmatrix<4, false>(r, &smem[threadIdx.x * pitch]);
  for (int j = 0; j < 4; ++j) out[threadIdx.x * 4 + j] = r[j];
}

TEST(ldmatrix_rows_padded_or_not) {
  count_on();
  DeviceBuffer<uint32_t> out(128);
  // 80-byte rows (the tensor-core kernel's 64 + 16 padding): the 8 rows of each matrix in
  // distinct banks, 4 wavefronts for 4 matrices.
  CHECK_EQ(launch(ldmatrix_kernel, dim3(1), dim3(32), 0, nullptr, out.get(), 40), cudaSuccess);
  sim::MemoryAccessSite s = site("ldmatrix.x4");
  CHECK_EQ(s.instructions, 1u);
  CHECK_EQ(s.wavefronts, 4u);
  CHECK_EQ(s.ideal_wavefronts, 4u);
  // 64-byte rows unpadded: rows r and r + 2 share banks, 4-way per matrix.
  sim::reset_memory_access_counts();
  CHECK_EQ(launch(ldmatrix_kernel, dim3(1), dim3(32), 0, nullptr, out.get(), 32), cudaSuccess);
  s = site("ldmatrix.x4");
  CHECK_EQ(s.wavefronts, 16u);
  CHECK_EQ(s.ideal_wavefronts, 4u);
}

// cp.async of 16 bytes: lane l copies src[l * src_stride ..] to row l / 4, column l % 4 of rows
// `pitch_bytes` apart (the tensor-core loader's pattern); lanes with l % zero_every == 1 only
// zero-fill.
__global__ void cp_async_kernel(const uint16_t* src, uint16_t* out, int src_stride, int pitch_bytes, int zero_every) {
  alignas(16) __shared__ unsigned char smem[8 * 128];
  const int l = threadIdx.x;
  unsigned char* dst = smem + (l / 4) * pitch_bytes + (l % 4) * 16;
  const bool zero = zero_every > 0 && l % zero_every == 1;
  ptx::cp_async<16>(dst, src + l * src_stride, zero ? 0 : 16);
  ptx::cp_async_commit();
  ptx::cp_async_wait<0>();
  __syncthreads();
  out[l] = *reinterpret_cast<const uint16_t*>(dst);
}

TEST(cp_async_both_sides) {
  count_on();
  std::vector<uint16_t> host(32 * 64, 1);
  DeviceBuffer<uint16_t> src(host), out(32);
  // Global: 16 contiguous bytes per lane (src_stride 8 elements): 16 sectors, the ideal.
  // Shared: rows 80 bytes apart, 2 rows per quarter-warp overlap one bank group: 2-way.
  CHECK_EQ(launch(cp_async_kernel, dim3(1), dim3(32), 0, nullptr, static_cast<const uint16_t*>(src.get()), out.get(),
                  8, 80, 0),
           cudaSuccess);
  std::vector<sim::MemoryAccessSite> sites = sim::memory_access_counts();
  REQUIRE(sites.size() == 2u);
  for (const sim::MemoryAccessSite& s : sites) {
    CHECK_EQ(s.instruction, std::string("cp.async.16"));
    CHECK_EQ(s.instructions, 1u);
    if (s.space == sim::MemorySpace::kShared) {
      CHECK(s.kind == sim::AccessKind::kStore);
      CHECK_EQ(s.wavefronts, 8u);
      CHECK_EQ(s.ideal_wavefronts, 4u);
    } else {
      CHECK(s.kind == sim::AccessKind::kLoad);
      CHECK_EQ(s.sectors, 16u);
      CHECK_EQ(s.ideal_sectors, 16u);
    }
  }
  // 64-byte rows: conflict-free writes. Source vectors 64 bytes apart: twice the sectors.
  // Every 4th lane only zero-fills: it writes shared memory but reads nothing.
  sim::reset_memory_access_counts();
  CHECK_EQ(launch(cp_async_kernel, dim3(1), dim3(32), 0, nullptr, static_cast<const uint16_t*>(src.get()), out.get(),
                  32, 64, 4),
           cudaSuccess);
  for (const sim::MemoryAccessSite& s : sim::memory_access_counts()) {
    if (s.space == sim::MemorySpace::kShared) {
      CHECK_EQ(s.wavefronts, 4u);
      CHECK_EQ(s.lane_accesses, 32u);
    } else {
      CHECK_EQ(s.lane_accesses, 24u);
      CHECK_EQ(s.sectors, 24u);  // each remaining lane's 16 bytes in a sector of its own
      CHECK_EQ(s.ideal_sectors, 12u);
    }
  }
}

// The epilogue's stores, as the tensor-core kernel issues them: lane (g, t) stores column 2t + e
// of row g, rows `row_elems` apart -- 2 bytes per lane, 4 lanes per row.
__global__ void epilogue_store_kernel(uint16_t* y, int row_elems) {
  cnnops::EpilogueParams ep{};
  const cnnops::cuda::KernelEpilogue<cnnops::cuda::bf16_t> epilogue(nullptr, ep);
  const int g = threadIdx.x / 4, t = threadIdx.x % 4;
  for (int e = 0; e < 2; ++e) epilogue.store(y, g * row_elems + 2 * t + e, epilogue(1.0f, 0, nullptr));
}

TEST(epilogue_stores_through_the_shared_epilogue) {
  count_on();
  DeviceBuffer<uint16_t> y(8 * 64);
  // Each instruction: 8 rows x 4 lanes x 2 bytes, rows 128 bytes apart: 8 sectors for 64 bytes.
  CHECK_EQ(launch(epilogue_store_kernel, dim3(1), dim3(32), 0, nullptr, y.get(), 64), cudaSuccess);
  sim::MemoryAccessSite s = site("st.global");
  CHECK(s.space == sim::MemorySpace::kGlobal && s.kind == sim::AccessKind::kStore);
  CHECK_EQ(s.instructions, 2u);
  CHECK_EQ(s.sectors, 16u);
  CHECK_EQ(s.ideal_sectors, 4u);
  CHECK_CONTAINS(s.file, "test_memory_counters.cu");  // the kernel's line, not epilogue.h's
}

TEST(launchers_name_their_kernels) {
  count_on();
  DeviceBuffer<float> out(32);
  CHECK(cnnops::cuda::launch_result(launch(ld_shared_kernel, dim3(1), dim3(32), 0, nullptr, out.get(), 1, 1),
                                    "ld_shared_test_kernel")
            .error == nullptr);
  CHECK_EQ(site("ld.shared").kernel, std::string("ld_shared_test_kernel"));
}

// Profiling a launch from a sample of its blocks: only the sampled blocks run.
__global__ void block_id_kernel(int* out) {
  if (threadIdx.x == 0) out[blockIdx.x + gridDim.x * blockIdx.y] = int(blockIdx.x + gridDim.x * blockIdx.y);
}

TEST(sample_blocks_runs_an_even_spread) {
  sim::Options o = sim::options();
  o.sample_blocks = 3;
  sim::set_options(o);
  sim::reset_counters();
  DeviceBuffer<int> out(10);
  CHECK_EQ(launch(block_id_kernel, dim3(5, 2), dim3(32), 0, nullptr, out.get()), cudaSuccess);
  CHECK_EQ(sim::counter(sim::Counter::kBlocks), 3u);
  const std::vector<int> got = out.download();
  for (int b = 0; b < 10; ++b) CHECK_EQ(got[b], b == 0 || b == 3 || b == 6 ? b : -1);  // -1: the 0xFF poison
  o.sample_blocks = 20;  // more than the grid: every block
  sim::set_options(o);
  CHECK_EQ(launch(block_id_kernel, dim3(5, 2), dim3(32), 0, nullptr, out.get()), cudaSuccess);
  CHECK_EQ(sim::counter(sim::Counter::kBlocks), 13u);
}

TEST(launch_log_records_grids_and_skip_blocks_runs_none) {
  sim::Options o = sim::options();
  o.skip_blocks = true;
  sim::set_options(o);
  sim::reset_counters();
  DeviceBuffer<int> out(10);
  CHECK_EQ(launch(block_id_kernel, dim3(5, 2), dim3(32), 0, nullptr, out.get()), cudaSuccess);
  CHECK_EQ(launch(block_id_kernel, dim3(2, 1, 3), dim3(64), 0, nullptr, out.get()), cudaSuccess);
  CHECK_EQ(sim::counter(sim::Counter::kLaunches), 2u);
  CHECK_EQ(sim::counter(sim::Counter::kBlocks), 0u);
  for (int v : out.download()) CHECK_EQ(v, -1);  // untouched: still the 0xFF poison
  const std::vector<sim::LaunchRecord> log = sim::launch_log();
  REQUIRE(log.size() == 2u);
  CHECK_EQ(log[0].grid_x, 5u);
  CHECK_EQ(log[0].grid_y, 2u);
  CHECK_EQ(log[0].blocks(), 10u);
  CHECK_EQ(log[1].grid_z, 3u);
  CHECK_EQ(log[1].blocks(), 6u);
  o.skip_blocks = false;
  sim::set_options(o);
  sim::reset_counters();
  CHECK(sim::launch_log().empty());
}

}  // namespace
