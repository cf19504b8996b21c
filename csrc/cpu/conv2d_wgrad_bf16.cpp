// The bfloat16 block weight gradient (conv2d_wgrad_bf16.h).
#include "conv2d_wgrad_bf16.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own AVX-512 intrinsics once
// they are inlined into a target("avx512...") function (GCC bug 105593): not our variables.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv2d_forward_bf16.h"
#include "gemm/bf16_block.h"
#include "gemm/gemm_driver.h"
#include "transpose_avx512.h"

namespace cnnops {
namespace cpu {
namespace {

// A reduction slice: 16 chunks of 32 positions. Its staged windows (512 positions x up to 256
// columns) and their pair tiles take 256 KiB each, so a slice's B stays in L2 while every block
// of filters runs over it.
constexpr int64_t kSliceChunks = 16;
constexpr int64_t kSlice = kSliceChunks * 32;
constexpr int64_t kRangeCols = 256;  // columns (r, s, c) per task, at most: 8 block columns

// Both engines run only where the CPU has AVX-512BW (microkernel_select.cpp checks it): the
// staging uses its masked 16-bit moves.
#define CNNOPS_AVX512BW __attribute__((target("avx512f,avx512bw")))

CNNOPS_AVX512BW inline void copy_u16(uint16_t* dst, const uint16_t* src, int64_t len) {
  for (int64_t i = 0; i < len; i += 32) {
    const int64_t n = std::min<int64_t>(32, len - i);
    const __mmask32 m = n == 32 ? ~__mmask32(0) : (__mmask32(1) << n) - 1;
    _mm512_mask_storeu_epi16(dst + i, m, _mm512_maskz_loadu_epi16(m, src + i));
  }
}

inline void zero_u16(uint16_t* dst, int64_t len) { std::memset(dst, 0, len * sizeof(uint16_t)); }

// grad_output transposed: dyt[(g * Kp + k) * Mp + m] = dY[position m, filter g * Kg + k], zero
// for k >= Kg and m >= M (Kp, Mp: whole blocks of 32).
void transpose_grad_output(const Conv2dParams& p, const uint16_t* go, int64_t Kp, int64_t Mp, uint16_t* dyt) {
  const int64_t G = p.groups, Kg = p.filters_per_group(), M = p.npq(), PQ = p.P * p.Q;
  if (p.y.w == 1 && p.y.h == p.Q) {
    // Each (image, filter) plane is contiguous (NCHW): a row is N plane copies.
    at::parallel_for(0, G * Kp, 1, [&](int64_t begin, int64_t end) {
      for (int64_t gk = begin; gk < end; ++gk) {
        const int64_t g = gk / Kp, k = gk % Kp;
        uint16_t* row = dyt + gk * Mp;
        if (k >= Kg) {
          zero_u16(row, Mp);
          continue;
        }
        const uint16_t* plane = go + (g * Kg + k) * p.y.c;
        for (int64_t n = 0; n < p.N; ++n) std::memcpy(row + n * PQ, plane + n * p.y.n, PQ * sizeof(uint16_t));
        zero_u16(row + M, Mp - M);
      }
    });
    return;
  }
  // Other layouts: blocks of 32 positions, each position's filters read in place -- 32 x 32
  // transposes where a pixel's filters are contiguous (channels-last), element by element else.
  auto position = [&](int64_t m) {
    return m < M ? go + (m / PQ) * p.y.n + (m % PQ / p.Q) * p.y.h + (m % p.Q) * p.y.w : nullptr;
  };
  at::parallel_for(0, Mp / 32, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t m0 = b * 32;
      const uint16_t* px[32];
      for (int i = 0; i < 32; ++i) px[i] = position(m0 + i);
      for (int64_t g = 0; g < G; ++g)
        for (int64_t k0 = 0; k0 < Kp; k0 += 32) {
          uint16_t* rows = dyt + (g * Kp + k0) * Mp + m0;
          if (p.y.c == 1) {
            transpose_rows_u16(px, g * Kg + k0, Kg - k0, rows, Mp);
          } else {
            for (int64_t j = 0; j < 32; ++j)
              for (int i = 0; i < 32; ++i)
                rows[j * Mp + i] = px[i] != nullptr && k0 + j < Kg ? px[i][(g * Kg + k0 + j) * p.y.c] : uint16_t(0);
          }
        }
    }
  });
}

// Columns [col, col + len) of a task's range: channels c .. c + len - 1 of tap (r, s).
struct Segment {
  int64_t col, len, r, s, c;
};

// Consecutive segments of one kernel row whose channels follow each other in memory (dense
// pixels, no dilation along W): one copy per position where all their taps are inside.
struct Run {
  int64_t first, count, col, len;
};

struct RangeLayout {
  std::vector<Segment> segs;
  std::vector<Run> runs;
};

RangeLayout range_layout(const Conv2dParams& p, int64_t j0, int64_t j1) {
  const int64_t Cg = p.channels_per_group();
  const bool dense = p.x.w == Cg && p.dil_w == 1;
  RangeLayout out;
  for (int64_t j = j0; j < j1;) {
    const int64_t rs = j / Cg, c = j % Cg, len = std::min(j1 - j, Cg - c);
    out.segs.push_back({j - j0, len, rs / p.S, rs % p.S, c});
    j += len;
  }
  for (int64_t i = 0; i < int64_t(out.segs.size()); ++i) {
    const Segment& s = out.segs[i];
    if (dense && !out.runs.empty()) {
      Run& last = out.runs.back();
      const Segment& prev = out.segs[last.first + last.count - 1];
      if (prev.r == s.r && prev.s + 1 == s.s && prev.c + prev.len == Cg && s.c == 0) {
        ++last.count;
        last.len += s.len;
        continue;
      }
    }
    out.runs.push_back({i, 1, s.col, s.len});
  }
  return out;
}

// The windows of positions [m0, m0 + kSlice) restricted to the range's columns, one row of `ldw`
// elements per position (zeros in the padding, past the range's end and past the last position).
CNNOPS_AVX512BW void stage_windows(const Conv2dParams& p, const uint16_t* xg, const RangeLayout& lay, int64_t width,
                                   int64_t m0, int64_t ldw, uint16_t* win) {
  const int64_t M = p.npq(), PQ = p.P * p.Q;
  int64_t n = m0 / PQ, oh = (m0 % PQ) / p.Q, ow = m0 % p.Q;
  for (int64_t i = 0; i < kSlice; ++i) {
    uint16_t* row = win + i * ldw;
    if (m0 + i >= M) {
      zero_u16(row, ldw);
      continue;
    }
    const uint16_t* image = xg + n * p.x.n;
    const int64_t ih0 = oh * p.stride_h - p.pad_top, iw0 = ow * p.stride_w - p.pad_left;
    for (const Run& run : lay.runs) {
      const Segment& a = lay.segs[run.first];
      const Segment& b = lay.segs[run.first + run.count - 1];
      const int64_t ih = ih0 + a.r * p.dil_h, iwa = iw0 + a.s * p.dil_w, iwb = iw0 + b.s * p.dil_w;
      const bool row_in = ih >= 0 && ih < p.H;
      if (row_in && iwa >= 0 && iwb < p.W) {
        copy_u16(row + run.col, image + ih * p.x.h + iwa * p.x.w + a.c, run.len);
        continue;
      }
      for (int64_t k = run.first; k < run.first + run.count; ++k) {
        const Segment& s = lay.segs[k];
        const int64_t iw = iw0 + s.s * p.dil_w;
        if (row_in && iw >= 0 && iw < p.W)
          copy_u16(row + s.col, image + ih * p.x.h + iw * p.x.w + s.c, s.len);
        else
          zero_u16(row + s.col, s.len);
      }
    }
    zero_u16(row + width, ldw - width);
    if (++ow == p.Q) {
      ow = 0;
      if (++oh == p.P) {
        oh = 0;
        ++n;
      }
    }
  }
}

// The pair tiles of staged windows: tile column h (16 columns) of block column cp, chunk t at
// [((cp * 2 + h) * kSliceChunks + t) * kBf16TileElems], pair kk interleaving positions 2kk and
// 2kk + 1 of the chunk.
CNNOPS_AVX512BW void interleave_pairs(const uint16_t* win, int64_t ldw, int64_t chunks, uint16_t* tiles) {
  for (int64_t h = 0; h < ldw / 16; ++h)
    for (int64_t t = 0; t < chunks; ++t) {
      uint16_t* o = tiles + (h * kSliceChunks + t) * kBf16TileElems;
      const uint16_t* w = win + t * 32 * ldw + h * 16;
      for (int64_t kk = 0; kk < 16; ++kk) {
        const __m512i even = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * kk * ldw)));
        const __m512i odd =
            _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + (2 * kk + 1) * ldw)));
        _mm512_storeu_si512(o + kk * 32, _mm512_or_si512(even, _mm512_slli_epi32(odd, 16)));
      }
    }
}

struct TaskScratch {
  Bf16BlockThread thread;
  Scratch<uint16_t> win, tiles;
  Scratch<float> c;
  std::vector<int64_t> woff;  // where each column of the range lands in a filter's gradient
  TaskScratch(const Bf16BlockEngine& e, int64_t ldw, int64_t Kp)
      : thread(e), win(kSlice * ldw), tiles(ldw / 16 * kSliceChunks * kBf16TileElems), c(Kp * ldw), woff(ldw) {}
};

struct ChunkOffsets {
  int64_t off[kSliceChunks];
  ChunkOffsets() {
    for (int64_t t = 0; t < kSliceChunks; ++t) off[t] = t * 32;
  }
};

}  // namespace

bool wgrad_bf16_blocks_take(const Conv2dParams&) { return bf16_block_engine() != nullptr; }

void grad_weight_bf16_blocks(const Conv2dParams& params, const c10::BFloat16* grad_out, const c10::BFloat16* input,
                             c10::BFloat16* gw, const Strides4& gws) {
  const Bf16BlockEngine& engine = *bf16_block_engine();
  Conv2dParams p = params;
  const Bf16ChannelsLastInput in(p, input);
  const uint16_t* x = in.x;
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group(), Kd = p.crs();
  const int64_t M = p.npq(), Mp = round_up(M, 32), Kp = round_up(Kg, 32);
  Scratch<uint16_t> dyt(G * Kp * Mp);
  transpose_grad_output(p, reinterpret_cast<const uint16_t*>(grad_out), Kp, Mp, dyt.get());

  // Tasks: (group, column range, reduction part). Ranges split the columns evenly in whole
  // blocks; the reduction is split only where there are few ranges, by the shape alone.
  const int64_t ranges = ceil_div(round_up(Kd, 32), kRangeCols);
  const int64_t ldw = round_up(ceil_div(Kd, ranges), 32);
  const int64_t want = std::max<int64_t>(1, std::min(ceil_div(8, G * ranges), ceil_div(M, 4 * kSlice)));
  const int64_t part_len = round_up(ceil_div(Mp, want), kSlice), parts = ceil_div(Mp, part_len);
  Scratch<float> partial(parts > 1 ? G * parts * Kg * Kd : 0);
  const ChunkOffsets chunk_off;
  const int64_t a_stride = Mp * int64_t(sizeof(uint16_t));

  auto weight_offset = [&](int64_t col) {
    const int64_t rs = col / Cg, c = col % Cg;
    return c * gws.c + (rs / p.S) * gws.h + (rs % p.S) * gws.w;
  };

  parallel_tasks(
      G * ranges * parts, [&] { return TaskScratch(engine, ldw, Kp); },
      [&](int64_t task, TaskScratch& st) {
        const int64_t g = task / (ranges * parts), range = (task / parts) % ranges, part = task % parts;
        const int64_t j0 = range * ldw, j1 = std::min(Kd, j0 + ldw), width = j1 - j0;
        const RangeLayout lay = range_layout(p, j0, j1);
        const uint16_t* xg = x + g * Cg;
        const uint16_t* dyg = dyt.get() + g * Kp * Mp;
        float* C = st.c.get();
        const int64_t s_begin = part * part_len, s_end = std::min(Mp, s_begin + part_len);
        for (int64_t s0 = s_begin; s0 < s_end; s0 += kSlice) {
          const int64_t chunks = std::min<int64_t>(kSliceChunks, (s_end - s0) / 32);
          stage_windows(p, xg, lay, width, s0, ldw, st.win.get());
          interleave_pairs(st.win.get(), ldw, chunks, st.tiles.get());
          // Filters outer: a block row's 32 rows of grad_output stay in L1 across the range's
          // block columns, whose tiles stay in L2 (with the block columns outer, deep layers --
          // few positions, 2048 filters -- streamed all of grad_output from L3 per column).
          for (int64_t k0 = 0; k0 < Kp; k0 += 32) {
            const Bf16Rows a0{dyg + k0 * Mp + s0, chunk_off.off, a_stride};
            const Bf16Rows a1{dyg + (k0 + 16) * Mp + s0, chunk_off.off, a_stride};
            for (int64_t cp = 0; cp < ldw / 32; ++cp) {
              const uint16_t* b0 = st.tiles.get() + (2 * cp) * kSliceChunks * kBf16TileElems;
              const uint16_t* b1 = b0 + kSliceChunks * kBf16TileElems;
              engine.block(chunks, a0, a1, b0, b1, C + k0 * ldw + cp * 32, ldw, s0 > s_begin);
            }
          }
        }
        for (int64_t j = 0; j < width; ++j) st.woff[j] = weight_offset(j0 + j);
        for (int64_t k = 0; k < Kg; ++k) {
          const float* ck = C + k * ldw;
          if (parts > 1) {
            std::copy(ck, ck + width, partial.get() + ((g * parts + part) * Kg + k) * Kd + j0);
          } else {
            c10::BFloat16* gk = gw + (g * Kg + k) * gws.n;
            for (int64_t j = 0; j < width; ++j) gk[st.woff[j]] = static_cast<c10::BFloat16>(ck[j]);
          }
        }
      });
  if (parts > 1) {
    std::vector<int64_t> woff(Kd);
    for (int64_t col = 0; col < Kd; ++col) woff[col] = weight_offset(col);
    at::parallel_for(0, G * Kg, 1, [&](int64_t begin, int64_t end) {
      for (int64_t gk = begin; gk < end; ++gk) {
        const int64_t g = gk / Kg, k = gk % Kg;
        for (int64_t col = 0; col < Kd; ++col) {
          float v = 0;
          for (int64_t part = 0; part < parts; ++part) v += partial.get()[((g * parts + part) * Kg + k) * Kd + col];
          gw[gk * gws.n + woff[col]] = static_cast<c10::BFloat16>(v);
        }
      }
    });
  }
}

}  // namespace cpu
}  // namespace cnnops
