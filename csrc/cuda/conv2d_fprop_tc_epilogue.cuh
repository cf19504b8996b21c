// The tensor-core forward's epilogue, through shared memory: act(acc + bias + residual) written as
// whole 16-byte vectors of output channels instead of the mma fragments' scattered pairs.
//
// An m16n8 accumulator fragment gives a lane 2 adjacent channels of 2 rows, so a warp storing
// straight from its fragments writes 8 rows x 8 bytes per instruction (a quarter of each 32-byte
// sector it touches). Here each warp instead stages one 16-row slice of its tile at a time in a
// private float buffer carved from the (then idle) pipeline stages, and reads it back as items of
// consecutive channels of one row, one 16-byte vector of the output each (8 channels of a 16-bit
// output, 4 of a float one): every store is then 16 bytes, lanes side by side cover whole
// sectors, and the bias and residual are read the same way (CUTLASS's epilogue does the
// same through its shared-memory tile iterators).
//
// Bank conflicts: the staging rows are kPitch floats with kPitch = 8 (mod 32), so
// - the fragment writes (8-byte float2, half-warp phases: rows g = 0..3 x channels 2t, 2t+1)
//   start the 4 rows 8 banks apart: 32 distinct banks;
// - the read-back is 16-byte float4s in quarter-warp phases. Items of 4 channels (float outputs):
//   8 lanes read 128 consecutive bytes of one row. Items of 8 (16-bit outputs): each lane reads
//   its two halves in the order (lane / 4) % 2, so lanes 0-3 and 4-7 of a phase -- 32 floats
//   apart in one row, or one row (8 banks) apart -- cover opposite halves of the 32 banks.
// tests/test_sim_memory_counters.py holds both to wavefronts == ideal.
#pragma once
#include <cstdint>
#include <type_traits>

#include "../common/conv_params.h"
#include "conv_indexing.cuh"
#include "dtypes.cuh"
#include "ptx.cuh"
#include "vector_access.cuh"

namespace cnnops {
namespace cuda {

// The staging geometry for a warp tile kWarpN channels wide, read back as items of kItem
// channels: one 16-byte vector of the output type (8 for 16-bit outputs, 4 for float ones).
template <int kWarpN, int kItem>
struct EpilogueStaging {
  static constexpr int kRows = 16;                       // one m16 fragment row of the warp tile per pass
  static constexpr int kPitch = kWarpN + 8;              // floats per staged row
  static constexpr int kFloats = kRows * kPitch;         // one warp's buffer
  static constexpr int kItemsPerRow = kWarpN / kItem;
  static constexpr int kItems = kRows * kItemsPerRow / 32;  // items per lane and pass
  static_assert(kPitch % 32 == 8, "staged rows must start 8 banks apart");
  static_assert((kItem == 4 || kItem == 8) && kWarpN % kItem == 0 && (kRows * kItemsPerRow) % 32 == 0,
                "a pass must give every lane whole items");
  static_assert(kItemsPerRow >= 4, "a quarter-warp's read-back must span at most two rows");
};

// kN consecutive elements of T at p (at most 16 bytes), widened: one vector access when p is
// aligned to its size, else element by element.
template <int kN, typename T>
__device__ __forceinline__ void load_n(const T* p, float (&v)[kN], const char* what) {
  using Vec = Lanes<T, kN>;
  static_assert(sizeof(Vec) <= 16, "an item is at most one 16-byte vector");
  if (aligned_to(p, sizeof(Vec))) {
    KernelConvert::note_access(p, int(sizeof(Vec)), false, what, __FILE__, __LINE__);
    const Vec vec = *reinterpret_cast<const Vec*>(p);
    #pragma unroll
    for (int e = 0; e < kN; ++e) v[e] = widen(vec.v[e]);
  } else {
    #pragma unroll
    for (int e = 0; e < kN; ++e) {
      KernelConvert::note_access(p + e, int(sizeof(T)), false, what, __FILE__, __LINE__);
      v[e] = widen(p[e]);
    }
  }
}

// One item's values stored as O (the output type, or float for a split reduction's partials) at
// p, 16-byte aligned: one 16-byte store.
template <typename O, int kN>
__device__ __forceinline__ void store_vector(O* p, const float (&v)[kN]) {
  static_assert(kN * sizeof(O) == 16, "an item is one 16-byte vector of the output");
  Vec16<O> vec;
  #pragma unroll
  for (int e = 0; e < kN; ++e) vec.v[e] = from_acc<O>(v[e]);
  KernelConvert::note_access(p, 16, true, "st.global", __FILE__, __LINE__);
  *reinterpret_cast<Vec16<O>*>(p) = vec;
}

// Channels f0 .. f0 + kN - 1 of output row m, stored as O: `v` holds their accumulators. The
// vector path needs the channels inside K, unit channel stride and a 16-byte aligned
// destination; the bias and the residual are read as vectors where they are aligned too.
// Anything else (a ragged last item, strided or unaligned outputs) takes the epilogue's
// element-by-element path -- the same arithmetic (KernelEpilogue::combine), so both paths give
// identical bits.
template <typename T, typename O, int kN>
__device__ __forceinline__ void finish_item(const KernelEpilogue<T>& epilogue, float (&v)[kN], int64_t m, int64_t f0,
                                            const Conv2dParams& p, void* y, int64_t y_at) {
  const OutputPosition o = decode_output_position(m, p);
  const int64_t at = y_at + o.n * p.y.n + o.p * p.y.h + o.q * p.y.w + f0 * p.y.c;
  const T* r_pixel = epilogue.residual_pixel(o.n, o.p, o.q);
  O* dst = static_cast<O*>(y) + at;
  if (f0 + kN > p.K || p.y.c != 1 || !aligned_to(dst, 16)) {
    #pragma unroll
    for (int e = 0; e < kN; ++e)
      if (f0 + e < p.K) epilogue.store(y, at + e * p.y.c, epilogue(v[e], f0 + e, r_pixel));
    return;
  }
  float b[kN], r[kN];
  if (epilogue.bias != nullptr) load_n(epilogue.bias + f0, b, "ld.global bias");
  if (r_pixel != nullptr) {
    if (epilogue.ep.r.c == 1) {
      load_n(r_pixel + f0, r, "ld.global residual");
    } else {
      #pragma unroll
      for (int e = 0; e < kN; ++e) {
        const T* at_r = r_pixel + (f0 + e) * epilogue.ep.r.c;
        KernelConvert::note_access(at_r, int(sizeof(T)), false, "ld.global residual", __FILE__, __LINE__);
        r[e] = widen(*at_r);
      }
    }
  }
  #pragma unroll
  for (int e = 0; e < kN; ++e)
    v[e] = epilogue.combine(v[e], epilogue.bias != nullptr ? b[e] : 0.0f, r_pixel != nullptr ? r[e] : 0.0f,
                            r_pixel != nullptr);
  store_vector(dst, v);
}

// Writes a warp's accumulators acc[kFragsM][kFragsN][4] (its tile of kFragsM * 16 rows from
// output row m_warp, kFragsN * 8 channels from f_warp) as O through the warp's staging buffer.
template <typename T, typename O, int kFragsM, int kFragsN>
__device__ __forceinline__ void staged_epilogue_as(const float (&acc)[kFragsM][kFragsN][4], float* staging, int lane,
                                                   const KernelEpilogue<T>& epilogue, int64_t m_warp, int64_t f_warp,
                                                   const Conv2dParams& p, void* y, int64_t y_at) {
  constexpr int kItem = 16 / int(sizeof(O));
  using Staging = EpilogueStaging<kFragsN * 8, kItem>;
  constexpr int kPitch = Staging::kPitch, kItemsPerRow = Staging::kItemsPerRow;
  const int g = lane / 4, t = lane % 4, first_half = (lane / 4) % 2;
  const int64_t npq = p.npq();
  #pragma unroll
  for (int i = 0; i < kFragsM; ++i) {
    // c0, c1 = row g, channels 2t, 2t + 1; c2, c3 = row g + 8.
    #pragma unroll
    for (int j = 0; j < kFragsN; ++j)
      #pragma unroll
      for (int half = 0; half < 2; ++half)
        ptx::st_shared(reinterpret_cast<Lanes<float, 2>*>(staging + (g + 8 * half) * kPitch + j * 8 + 2 * t),
                       Lanes<float, 2>{{acc[i][j][2 * half], acc[i][j][2 * half + 1]}});
    __syncwarp();
    #pragma unroll
    for (int it = 0; it < Staging::kItems; ++it) {
      const int item = it * 32 + lane, row = item / kItemsPerRow, col = (item % kItemsPerRow) * kItem;
      // Load h reads half h ^ first_half; the selects put the halves back in order (an index
      // that depends on the lane would move v to the stack).
      const float* at = staging + row * kPitch + col;
      Vec16<float> q[kItem / 4];
      #pragma unroll
      for (int h = 0; h < kItem / 4; ++h)
        q[h] = ptx::ld_shared(reinterpret_cast<const Vec16<float>*>(at + 4 * (kItem == 8 ? h ^ first_half : 0)));
      float v[kItem];
      #pragma unroll
      for (int e = 0; e < kItem; ++e) {
        const int h = e / 4;
        v[e] = kItem == 8 && first_half ? q[h ^ 1].v[e % 4] : q[h].v[e % 4];
      }
      const int64_t m = m_warp + i * 16 + row;
      if (m < npq) finish_item<T, O>(epilogue, v, m, f_warp + col, p, y, y_at);
    }
    __syncwarp();  // the slice is read before the next one overwrites it
  }
}

// Without a residual, a 16-bit output can be rounded before it is staged: bias and activation
// are applied to the fragments in registers, and the staging holds the output itself -- half the
// shared-memory traffic of staging floats. Rows are kWarpN elements, unpadded; a row's 16-byte
// chunk c sits at chunk c ^ ((row / kRowsPerLine) % kSwizzle), with kSwizzle the chunks of a
// row within one 128-byte bank line (4 for 32 channels, else 8), so
// - a fragment write (32-bit: 2 channels of rows g = 0..7, one chunk) puts the 8 rows' words in
//   8 different 16-byte bank groups, and
// - a read-back quarter-warp (8 whole chunks: 8 aligned chunks of one row of 64 or more channels,
//   or two rows of 32 sharing a 128-byte line) covers all 32 banks once.
template <int kWarpN>
struct RoundedStaging {
  static_assert(kWarpN == 32 || kWarpN == 64 || kWarpN == 128 || kWarpN == 256,
                "rows of 32 (two per 128-byte bank line) to 256 channels");
  static constexpr int kChunksPerRow = kWarpN / 8;
  static constexpr int kSwizzle = kChunksPerRow < 8 ? kChunksPerRow : 8, kRowsPerLine = 8 / kSwizzle;
  static constexpr int kItems = 16 * kChunksPerRow / 32;  // chunks per lane and pass
  static __device__ __forceinline__ int at(int row, int chunk) {
    return row * kWarpN + (chunk ^ ((row / kRowsPerLine) % kSwizzle)) * 8;
  }
};

// Stores the finished values q (channels f0 .. f0 + 7 of output row m): one 16-byte store where
// the output allows it, else element by element.
template <typename T>
__device__ __forceinline__ void store_rounded_item(const Vec16<T>& q, int64_t m, int64_t f0, const Conv2dParams& p,
                                                   T* y, int64_t y_at) {
  const OutputPosition o = decode_output_position(m, p);
  T* dst = y + y_at + o.n * p.y.n + o.p * p.y.h + o.q * p.y.w + f0 * p.y.c;
  if (f0 + 8 <= p.K && p.y.c == 1 && aligned_to(dst, 16)) {
    KernelConvert::note_access(dst, 16, true, "st.global", __FILE__, __LINE__);
    *reinterpret_cast<Vec16<T>*>(dst) = q;
    return;
  }
  #pragma unroll
  for (int e = 0; e < 8; ++e)
    if (f0 + e < p.K) {
      KernelConvert::note_access(dst + e * p.y.c, int(sizeof(T)), true, "st.global", __FILE__, __LINE__);
      dst[e * p.y.c] = q.v[e];
    }
}

// The epilogue of a warp whose 16-bit output has no residual (see RoundedStaging).
template <typename T, int kFragsM, int kFragsN>
__device__ __forceinline__ void staged_epilogue_rounded(const float (&acc)[kFragsM][kFragsN][4], T* staging,
                                                        int lane, const KernelEpilogue<T>& epilogue, int64_t m_warp,
                                                        int64_t f_warp, const Conv2dParams& p, T* y, int64_t y_at) {
  using Rows = RoundedStaging<kFragsN * 8>;
  const int g = lane / 4, t = lane % 4;
  const int64_t npq = p.npq();
  float bias_v[kFragsN][2];  // the lane's channels' bias, read once
  #pragma unroll
  for (int j = 0; j < kFragsN; ++j)
    #pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int64_t f = f_warp + j * 8 + 2 * t + e;
      bias_v[j][e] = 0.0f;
      if (epilogue.bias != nullptr && f < p.K) {
        KernelConvert::note_access(epilogue.bias + f, int(sizeof(T)), false, "ld.global bias", __FILE__, __LINE__);
        bias_v[j][e] = widen(epilogue.bias[f]);
      }
    }
  #pragma unroll
  for (int i = 0; i < kFragsM; ++i) {
    #pragma unroll
    for (int j = 0; j < kFragsN; ++j)
      #pragma unroll
      for (int half = 0; half < 2; ++half) {
        const Lanes<T, 2> pair{{from_acc<T>(epilogue.combine(acc[i][j][2 * half], bias_v[j][0], 0.0f, false)),
                                from_acc<T>(epilogue.combine(acc[i][j][2 * half + 1], bias_v[j][1], 0.0f, false))}};
        ptx::st_shared(reinterpret_cast<Lanes<T, 2>*>(staging + Rows::at(g + 8 * half, j) + 2 * t), pair);
      }
    __syncwarp();
    #pragma unroll
    for (int it = 0; it < Rows::kItems; ++it) {
      const int item = it * 32 + lane, row = item / Rows::kChunksPerRow, chunk = item % Rows::kChunksPerRow;
      const Vec16<T> q = ptx::ld_shared(reinterpret_cast<const Vec16<T>*>(staging + Rows::at(row, chunk)));
      const int64_t m = m_warp + i * 16 + row;
      if (m < npq) store_rounded_item(q, m, f_warp + chunk * 8, p, y, y_at);
    }
    __syncwarp();  // the slice is read before the next one overwrites it
  }
}

// The floats of staging buffer a warp needs for a kWarpN-wide tile (the widest of its items).
template <int kWarpN>
constexpr int staging_floats() {
  return EpilogueStaging<kWarpN, 4>::kFloats;
}

// The epilogue of a tensor-core forward block's warp. A 16-bit output without a residual is
// rounded in registers and staged as itself; otherwise the floats are staged and the epilogue
// finishes on the read-back (into T, or unrounded into the float buffer of a split reduction,
// ep.store_float), each as 16-byte items of its own width. Every path computes the same bits.
template <typename T, int kFragsM, int kFragsN>
__device__ __forceinline__ void staged_epilogue(const float (&acc)[kFragsM][kFragsN][4], float* staging, int lane,
                                                const KernelEpilogue<T>& epilogue, int64_t m_warp, int64_t f_warp,
                                                const Conv2dParams& p, void* y, int64_t y_at) {
  if constexpr (sizeof(T) == sizeof(float)) {
    staged_epilogue_as<T, float>(acc, staging, lane, epilogue, m_warp, f_warp, p, y, y_at);
  } else {
    if (epilogue.ep.store_float)
      staged_epilogue_as<T, float>(acc, staging, lane, epilogue, m_warp, f_warp, p, y, y_at);
    else if (epilogue.ep.residual != nullptr)
      staged_epilogue_as<T, T>(acc, staging, lane, epilogue, m_warp, f_warp, p, y, y_at);
    else
      staged_epilogue_rounded<T>(acc, reinterpret_cast<T*>(staging), lane, epilogue, m_warp, f_warp, p,
                                 static_cast<T*>(y), y_at);
  }
}

}  // namespace cuda
}  // namespace cnnops
