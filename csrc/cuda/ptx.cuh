// The PTX the kernels use, behind small wrapper functions: tensor-core mma.sync, ldmatrix and
// cp.async. Under nvcc each is one inline-asm instruction; under the CPU simulator (CNNOPS_SIM)
// each has a body that implements the PTX ISA's exact per-lane fragment layouts with warp
// shuffles, so a kernel that puts an element in the wrong register computes a wrong result in
// CI, not only on a GPU. No kernel writes asm() itself.
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16 / m16n8k8"), with
// g = lane / 4 (groupID) and t = lane % 4 (thread in group); a 32-bit register holds two 16-bit
// elements, the lower column (or row, for B) in the low half:
//   m16n8k16 f16/bf16  A (16x16, row): a0 = A[g][2t..2t+1]     a1 = A[g+8][2t..2t+1]
//                                      a2 = A[g][2t+8..2t+9]   a3 = A[g+8][2t+8..2t+9]
//                      B (16x8, col):  b0 = B[2t..2t+1][g]     b1 = B[2t+8..2t+9][g]
//   m16n8k8 tf32       A (16x8):       a0 = A[g][t]  a1 = A[g+8][t]  a2 = A[g][t+4]  a3 = A[g+8][t+4]
//                      B (8x8):        b0 = B[t][g]  b1 = B[t+4][g]
//   C/D (16x8, f32), both shapes:      c0 = C[g][2t]  c1 = C[g][2t+1]  c2 = C[g+8][2t]  c3 = C[g+8][2t+1]
// ldmatrix .x1/.x2/.x4: lanes 8j..8j+7 give the row addresses of matrix j (16-byte aligned rows of
// eight 16-bit elements); each lane receives, for matrix j, row g's elements 2t and 2t+1 (with
// .trans: column g's elements at rows 2t and 2t+1).
#pragma once
#include <cstdint>

#include "dtypes.cuh"

#if defined(CNNOPS_SIM)
#include <cstring>
#endif

namespace cnnops {
namespace cuda {
namespace ptx {

#if defined(CNNOPS_SIM)
namespace sim_detail {

constexpr unsigned kFullWarp = 0xffffffffu;

inline float half_bits_to_float(uint16_t h) { return sim_bits::half_to_float(h); }
inline float bf16_bits_to_float(uint16_t h) { return sim_bits::bf16_to_float(h); }

// The tensor cores read only the 19 high bits of a tf32 operand.
inline float tf32_operand(uint32_t bits) {
  bits &= 0xffffe000u;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

enum class Elem { kF16, kBF16 };

inline float elem(uint32_t reg, int half, Elem type) {
  const uint16_t h = uint16_t(half == 0 ? reg & 0xffffu : reg >> 16);
  return type == Elem::kF16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
}

// D = A * B + C for one m16n8k16 tile: every lane gathers the two A rows and two B columns its
// four outputs need from the lanes that hold them (32 shuffles), then sums in k order in float.
inline void mma_m16n8k16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], Elem type) {
  const int lane = int(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % 32;
  const int g = lane / 4, t = lane % 4;
  float arow[2][16], bcol[2][16];
  for (int src_t = 0; src_t < 4; ++src_t) {
    const int src = g * 4 + src_t;  // the lanes holding rows g and g+8
    for (int r = 0; r < 4; ++r) {
      const uint32_t v = __shfl_sync(kFullWarp, a[r], src);
      const int row = r & 1, col = 2 * src_t + (r >= 2 ? 8 : 0);
      arow[row][col] = elem(v, 0, type);
      arow[row][col + 1] = elem(v, 1, type);
    }
  }
  for (int j = 0; j < 2; ++j)
    for (int src_t = 0; src_t < 4; ++src_t) {
      const int src = (2 * t + j) * 4 + src_t;  // the lanes holding column 2t+j
      for (int r = 0; r < 2; ++r) {
        const uint32_t v = __shfl_sync(kFullWarp, b[r], src);
        const int k = 2 * src_t + 8 * r;
        bcol[j][k] = elem(v, 0, type);
        bcol[j][k + 1] = elem(v, 1, type);
      }
    }
  for (int i = 0; i < 4; ++i) {
    const int row = i / 2, col = i % 2;
    float acc = c[i];
    for (int k = 0; k < 16; ++k) acc += arow[row][k] * bcol[col][k];
    d[i] = acc;
  }
  if (lane == 0) ::cnnops::sim::count(::cnnops::sim::Counter::kMmaSync);
}

}  // namespace sim_detail
#endif  // CNNOPS_SIM

// D = A * B + C, m16n8k16, A row-major fp16, B column-major fp16, fp32 accumulators.
__device__ __forceinline__ void mma_m16n8k16_f16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                 const float c[4]) {
#if defined(CNNOPS_SIM)
  sim_detail::mma_m16n8k16(d, a, b, c, sim_detail::Elem::kF16);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

// The same with bfloat16 operands.
__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                  const float c[4]) {
#if defined(CNNOPS_SIM)
  sim_detail::mma_m16n8k16(d, a, b, c, sim_detail::Elem::kBF16);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

// D = A * B + C, m16n8k8 with tf32 operands (fp32 bit patterns; the low 13 mantissa bits are
// ignored -- round with to_tf32() first for round-to-nearest).
__device__ __forceinline__ void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                 const float c[4]) {
#if defined(CNNOPS_SIM)
  const int lane = int(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % 32;
  const int g = lane / 4, t = lane % 4;
  float arow[2][8], bcol[2][8];
  for (int src_t = 0; src_t < 4; ++src_t) {
    const int src = g * 4 + src_t;
    for (int r = 0; r < 4; ++r)
      arow[r & 1][src_t + (r >= 2 ? 4 : 0)] = sim_detail::tf32_operand(__shfl_sync(sim_detail::kFullWarp, a[r], src));
  }
  for (int j = 0; j < 2; ++j)
    for (int src_t = 0; src_t < 4; ++src_t)
      for (int r = 0; r < 2; ++r)
        bcol[j][src_t + 4 * r] =
            sim_detail::tf32_operand(__shfl_sync(sim_detail::kFullWarp, b[r], (2 * t + j) * 4 + src_t));
  for (int i = 0; i < 4; ++i) {
    float acc = c[i];
    for (int k = 0; k < 8; ++k) acc += arow[i / 2][k] * bcol[i % 2][k];
    d[i] = acc;
  }
  if (lane == 0) ::cnnops::sim::count(::cnnops::sim::Counter::kMmaSync);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

// fp32 -> tf32 bit pattern, round to nearest (ties away from zero), as cvt.rna.tf32.f32.
__device__ __forceinline__ uint32_t to_tf32(float x) {
#if defined(CNNOPS_SIM)
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits += 0x1000u;  // finite: round half away from zero
  return bits & 0xffffe000u;
#else
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#endif
}

// ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16: `row` is this lane's row address
// (lanes 0-7: matrix 0, 8-15: matrix 1, ...; lanes past the last matrix are ignored but must
// still be passed). Rows must be 16-byte aligned shared memory.
template <int kMatrices, bool kTrans>
__device__ __forceinline__ void ldmatrix(uint32_t (&r)[kMatrices], const void* row,
                                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(kMatrices == 1 || kMatrices == 2 || kMatrices == 4, "ldmatrix loads 1, 2 or 4 matrices");
#if defined(CNNOPS_SIM)
  const int lane = int(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % 32;
  if (lane < 8 * kMatrices && reinterpret_cast<uintptr_t>(row) % 16 != 0)
    ::cnnops::sim::detail::device_fault("ldmatrix with a row address not aligned to 16 bytes", file, line);
  const int g = lane / 4, t = lane % 4;
  for (int j = 0; j < kMatrices; ++j) {
    if (!kTrans) {
      const auto* p = reinterpret_cast<const unsigned char*>(
          __shfl_sync(sim_detail::kFullWarp, reinterpret_cast<uintptr_t>(row), 8 * j + g));
      std::memcpy(&r[j], p + 4 * t, 4);
    } else {
      const auto* lo = reinterpret_cast<const uint16_t*>(
          __shfl_sync(sim_detail::kFullWarp, reinterpret_cast<uintptr_t>(row), 8 * j + 2 * t));
      const auto* hi = reinterpret_cast<const uint16_t*>(
          __shfl_sync(sim_detail::kFullWarp, reinterpret_cast<uintptr_t>(row), 8 * j + 2 * t + 1));
      uint16_t e0, e1;
      std::memcpy(&e0, lo + g, 2);
      std::memcpy(&e1, hi + g, 2);
      r[j] = uint32_t(e0) | (uint32_t(e1) << 16);
    }
  }
  if (lane == 0) ::cnnops::sim::count(::cnnops::sim::Counter::kLdmatrix);
  // One 16-byte row per lane of the matrices loaded (memory counters: one phase per matrix).
  static constexpr const char* kName = kMatrices == 1 ? "ldmatrix.x1" : kMatrices == 2 ? "ldmatrix.x2" : "ldmatrix.x4";
  ::cnnops::sim::detail::record_memory_access(::cnnops::sim::MemorySpace::kShared, ::cnnops::sim::AccessKind::kLoad,
                                              kName, row, lane < 8 * kMatrices ? 16 : 0, file, line);
#else
  (void)file;
  (void)line;
  const unsigned addr = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (kMatrices == 1) {
    if constexpr (kTrans)
      asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(addr));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(addr));
  } else if constexpr (kMatrices == 2) {
    if constexpr (kTrans)
      asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
  } else {
    if constexpr (kTrans)
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                   : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                   : "r"(addr));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                   : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                   : "r"(addr));
  }
#endif
}

// Tells the simulator's memory counters of a plain shared-memory access (nothing under nvcc).
__device__ __forceinline__ void note_shared(bool store, const void* p, int bytes, const char* file, int line) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::record_memory_access(::cnnops::sim::MemorySpace::kShared,
                                              store ? ::cnnops::sim::AccessKind::kStore : ::cnnops::sim::AccessKind::kLoad,
                                              store ? "st.shared" : "ld.shared", p, bytes, file, line);
#else
  (void)store, (void)p, (void)bytes, (void)file, (void)line;
#endif
}

// A plain shared-memory load (ld.shared), written through this wrapper where the memory counters
// should see it: under nvcc it is the dereference itself.
template <typename T>
__device__ __forceinline__ T ld_shared(const T* p, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  note_shared(false, p, int(sizeof(T)), file, line);
  return *p;
}

// A shared-memory store of a T (4, 8 or 16 bytes: st.shared of that width), recorded like
// ld_shared.
template <typename T>
__device__ __forceinline__ void st_shared(T* p, const T& v, const char* file = __builtin_FILE(),
                                          int line = __builtin_LINE()) {
  note_shared(true, p, int(sizeof(T)), file, line);
  *p = v;
}

// The pointer itself, hidden from the optimiser. A loader's row pointer made opaque once, before
// the main loop, stays one 64-bit register pair, and `row + offset` with a 32-bit offset is one
// IMAD.WIDE per copy; seen through, the compiler reassociates (base + row offset) + offset and
// rebuilds the 64-bit sum in every copy (four instructions).
template <typename T>
__device__ __forceinline__ T* opaque(T* p) {
#if !defined(CNNOPS_SIM)
  asm("mov.b64 %0, %0;\n" : "+l"(p));
#endif
  return p;
}

// cp.async.cg (16 bytes; L2 only) / .ca (4 or 8 bytes) from global to shared memory. src_bytes <
// kBytes zero-fills the rest (0: the whole destination is zero -- how a kernel pads; nothing is
// read then, so the source address may lie outside the tensor).
template <int kBytes>
__device__ __forceinline__ void cp_async(void* smem_dst, const void* gmem_src, int src_bytes = kBytes,
                                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "cp.async copies 4, 8 or 16 bytes");
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::cp_async(smem_dst, gmem_src, kBytes, src_bytes, file, line);
#else
  (void)file;
  (void)line;
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
  if constexpr (kBytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem_src), "r"(src_bytes));
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(dst), "l"(gmem_src), "n"(kBytes),
                 "r"(src_bytes));
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::cp_async_commit_group();
#else
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most kPending committed groups of this thread are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::cp_async_wait_group(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
#endif
}

}  // namespace ptx
}  // namespace cuda
}  // namespace cnnops
