// The bfloat16 block forward (conv2d_forward_bf16.h). Each output element is one 32 x 32 block's
// accumulator summed over the reduction chunks in order, so the result does not depend on the
// tasks or the thread count.
#include "conv2d_forward_bf16.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own AVX-512 intrinsics once
// they are inlined into a target("avx512...") function (GCC bug 105593): not our variables.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>
#include <vector>

#include "bf16_filters.h"
#include "gemm/bf16_block.h"
#include "gemm/gemm_driver.h"
#include "transpose_avx512.h"

namespace cnnops {
namespace cpu {
namespace {

// Where reduction element q of row ii (0-15) lands among a row group's tiles (chunk-major).
inline int64_t a_slot(int64_t q, int64_t ii) { return (q / 32) * kBf16TileElems + ii * 32 + q % 32; }

// Both engines run only where the CPU has AVX-512BW (microkernel_select.cpp checks it): the
// staging and the epilogue use its masked 16-bit moves.
#define CNNOPS_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))

// dst[0:len] = src[0:len] (or zeros when src is null), len <= 32: one masked 64-byte move.
CNNOPS_AVX512BW inline void copy_run(uint16_t* dst, const uint16_t* src, int64_t len) {
  const __mmask32 m = len >= 32 ? ~__mmask32(0) : (__mmask32(1) << len) - 1;
  const __m512i v = src != nullptr ? _mm512_maskz_loadu_epi16(m, src) : _mm512_setzero_si512();
  _mm512_mask_storeu_epi16(dst, m, v);
}

// Copies src[0:len] (zeros for a null src) to reduction elements q .. q + len - 1 of row ii,
// split where the run crosses into the next chunk's tile.
CNNOPS_AVX512BW inline void copy_span(uint16_t* row, int64_t ii, int64_t q, const uint16_t* src, int64_t len) {
  for (int64_t done = 0; done < len;) {
    const int64_t n = std::min(len - done, 32 - (q + done) % 32);
    copy_run(row + a_slot(q + done, ii), src == nullptr ? nullptr : src + done, n);
    done += n;
  }
}

// Stages the window of output position (n, oh, ow) of a channels-last input as row ii of a row
// group's A tiles, zeros in the padding and past the reduction's end. A kernel row whose taps
// are adjacent whole pixels (dense pixels, no dilation along W) and lie inside the input is one
// run of S * Cg channels (the 3- and 4-channel stems), else each tap is a run of Cg.
CNNOPS_AVX512BW void stage_row(const Conv2dParams& p, const uint16_t* xg, int64_t n, int64_t oh, int64_t ow,
                               int64_t chunks, int64_t ii, uint16_t* row) {
  const int64_t Cg = p.channels_per_group(), SC = p.S * Cg;
  const bool dense = p.x.w == Cg && p.dil_w == 1;
  const int64_t iw0 = ow * p.stride_w - p.pad_left;
  for (int64_t r = 0; r < p.R; ++r) {
    const int64_t ih = oh * p.stride_h - p.pad_top + r * p.dil_h, q = r * SC;
    if (ih < 0 || ih >= p.H) {
      copy_span(row, ii, q, nullptr, SC);
      continue;
    }
    const uint16_t* pixels = xg + n * p.x.n + ih * p.x.h;
    if (dense && iw0 >= 0 && iw0 + p.S <= p.W) {
      copy_span(row, ii, q, pixels + iw0 * p.x.w, SC);
      continue;
    }
    for (int64_t s = 0; s < p.S; ++s) {
      const int64_t iw = iw0 + s * p.dil_w;
      copy_span(row, ii, q + s * Cg, iw >= 0 && iw < p.W ? pixels + iw * p.x.w : nullptr, Cg);
    }
  }
  copy_span(row, ii, p.crs(), nullptr, chunks * 32 - p.crs());
}

// The bfloat16 values src[0:16] under mask m as floats (exact: a bfloat16 is a float's top half).
CNNOPS_AVX512BW inline __m512 widen_bf16(__mmask16 m, const uint16_t* src) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src)), 16));
}

// v (+ the residual) (ReLU'd) rounded to bfloat16 as c10::BFloat16 rounds (nearest even; NaN ->
// 0x7FC0) and stored to y[0:16] under mask m: the same float operations in the same order as
// ConvEpilogue, for outputs whose run of elements is contiguous.
CNNOPS_AVX512BW inline void finish16(__mmask16 m, __m512 v, const uint16_t* residual, bool relu, uint16_t* y) {
  if (residual != nullptr) v = _mm512_add_ps(v, widen_bf16(m, residual));
  if (relu) v = _mm512_max_ps(_mm512_setzero_ps(), v);  // the second operand when either is NaN
  const __m512i b = _mm512_castps_si512(v);
  const __m512i round = _mm512_add_epi32(_mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1)),
                                         _mm512_set1_epi32(0x7FFF));
  __m512i h = _mm512_srli_epi32(_mm512_add_epi32(b, round), 16);
  h = _mm512_mask_mov_epi32(h, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
  _mm256_mask_storeu_epi16(y, m, _mm512_cvtepi32_epi16(h));
}

inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// One output position's channels (channels-last output): bias[j] per element.
CNNOPS_AVX512BW void store_pixel_bf16(const float* acc, int64_t count, const uint16_t* bias, const uint16_t* residual,
                                      bool relu, uint16_t* y) {
  for (int64_t j = 0; j < count; j += 16) {
    const __mmask16 m = first_lanes(count - j);
    __m512 v = _mm512_maskz_loadu_ps(m, acc + j);
    if (bias != nullptr) v = _mm512_add_ps(v, widen_bf16(m, bias + j));
    finish16(m, v, residual == nullptr ? nullptr : residual + j, relu, y + j);
  }
}

// One channel's run of positions along an output row (NCHW output): one bias for all.
CNNOPS_AVX512BW void store_run_bf16(const float* acc, int64_t count, const float* bias, const uint16_t* residual,
                                    bool relu, uint16_t* y) {
  const __m512 b = _mm512_set1_ps(bias == nullptr ? 0.f : *bias);
  for (int64_t j = 0; j < count; j += 16) {
    const __mmask16 m = first_lanes(count - j);
    __m512 v = _mm512_maskz_loadu_ps(m, acc + j);
    if (bias != nullptr) v = _mm512_add_ps(v, b);
    finish16(m, v, residual == nullptr ? nullptr : residual + j, relu, y + j);
  }
}

struct TaskScratch {
  Bf16BlockThread thread;
  Scratch<uint16_t> a;
  Scratch<float> c, ct;        // the C block and its transpose (for NCHW outputs)
  std::vector<Bf16Rows> rows;  // the A tile column of each row tile
  std::vector<int64_t> y_off;  // each position's output pixel (the element-wise epilogue)
  std::vector<const c10::BFloat16*> r_pixel;  // and its residual pixel
  TaskScratch(const Bf16BlockEngine& e, int64_t a_elems, int64_t c_elems, int64_t row_tiles, int64_t positions)
      : thread(e), a(a_elems), c(c_elems), ct(c_elems), rows(row_tiles), y_off(positions), r_pixel(positions) {}
};

void to_channels_last(const Conv2dParams& p, const uint16_t* x, uint16_t* xt) {
  // Blocks of 32 channels x 32 pixels of one input row: 32 x 32 transposes where the row's pixels
  // are contiguous (NCHW), element by element else.
  const int64_t wblocks = ceil_div(p.W, 32), cblocks = ceil_div(p.C, 32);
  at::parallel_for(0, p.N * p.H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t nh = begin; nh < end; ++nh) {
      const uint16_t* src = x + (nh / p.H) * p.x.n + (nh % p.H) * p.x.h;
      uint16_t* dst = xt + nh * p.W * p.C;
      for (int64_t wb = 0; wb < wblocks; ++wb)
        for (int64_t cb = 0; cb < cblocks; ++cb) {
          const int64_t w0 = wb * 32, c0 = cb * 32, wn = std::min<int64_t>(32, p.W - w0), cn = std::min<int64_t>(32, p.C - c0);
          if (p.x.w == 1) {
            const uint16_t* channels[32];
            for (int i = 0; i < 32; ++i) channels[i] = i < cn ? src + (c0 + i) * p.x.c : nullptr;
            transpose_rows_u16(channels, w0, wn, dst + w0 * p.C + c0, p.C, wn, cn);
          } else {
            for (int64_t j = 0; j < wn; ++j)
              for (int64_t i = 0; i < cn; ++i) dst[(w0 + j) * p.C + c0 + i] = src[(c0 + i) * p.x.c + (w0 + j) * p.x.w];
          }
        }
    }
  });
}

}  // namespace

Bf16ChannelsLastInput::Bf16ChannelsLastInput(Conv2dParams& p, const c10::BFloat16* input)
    : copy(p.x.c == 1 ? 0 : p.N * p.H * p.W * p.C), x(reinterpret_cast<const uint16_t*>(input)) {
  if (p.x.c == 1) return;
  to_channels_last(p, x, copy.get());
  x = copy.get();
  p.x = Strides4{p.H * p.W * p.C, 1, p.W * p.C, p.C};
}

void forward_bf16_blocks(const Conv2dParams& params, const c10::BFloat16* input, const c10::BFloat16* w,
                      const c10::BFloat16* bias, c10::BFloat16* y, const EpilogueParams& ep) {
  const Bf16BlockEngine& engine = *bf16_block_engine();
  Conv2dParams p = params;
  const Bf16ChannelsLastInput in(p, input);
  const uint16_t* x = in.x;
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group();
  const int64_t Kd = p.crs(), chunks = ceil_div(Kd, 32), M = p.npq(), PQ = p.P * p.Q;
  const int64_t col_tiles = round_up(ceil_div(Kg, 16), 2), ldc = col_tiles * 16;
  const int64_t b_size = col_tiles * chunks * kBf16TileElems;
  Scratch<uint16_t> b_packed(G * b_size);
  {
    // The filters as rows in the reduction order (r, s, c) -- in place where they already are --
    // then as pair tiles.
    const bool in_place = filters_are_rsc(p);
    Scratch<uint16_t> rsc(in_place ? 0 : p.K * Kd);
    if (!in_place) bf16_filters_rsc(p, reinterpret_cast<const uint16_t*>(w), rsc.get());
    const uint16_t* rows = in_place ? reinterpret_cast<const uint16_t*>(w) : rsc.get();
    const int64_t ld = in_place ? p.w.n : Kd;
    for (int64_t g = 0; g < G; ++g)
      bf16_pack_filter_tiles(rows + g * Kg * ld, ld, Kg, Kd, chunks, col_tiles, b_packed.get() + g * b_size);
  }

  // Tasks are (group, block of mb positions); a task computes all of its group's filters, so
  // each window is staged once.
  const int64_t threads = at::get_num_threads();
  int64_t mb = 64;
  if (G * ceil_div(M, mb) < 4 * threads) mb = 32;
  const int64_t m_blocks = ceil_div(M, mb), group_elems = chunks * kBf16TileElems;
  const ConvEpilogue<c10::BFloat16, float> epilogue(bias, ep);

  // Where chunk t's tile starts: in a staged row group, or, for 16 channels-last pixels read in
  // place, relative to the first pixel's window origin (each chunk then lies in one tap, which
  // needs whole chunks of channels).
  std::vector<int64_t> staged_off(chunks), direct_off(chunks);
  const bool direct_ok = Cg % 32 == 0;
  for (int64_t t = 0; t < chunks; ++t) {
    const int64_t rs = t * 32 / Cg, c0 = t * 32 % Cg;
    staged_off[t] = t * kBf16TileElems;
    direct_off[t] = (rs / p.S) * p.dil_h * p.x.h + (rs % p.S) * p.dil_w * p.x.w + c0;
  }
  const int64_t direct_stride = p.stride_w * p.x.w * int64_t(sizeof(uint16_t));
  // A 1x1 stride-1 unpadded convolution over densely stored pixels: position pos reads pixel pos,
  // so any 16 consecutive positions (across rows and images too) are a tile in place.
  const bool linear = p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                      p.pad_left == 0 && p.P == p.H && p.Q == p.W && p.x.h == p.W * p.x.w && p.x.n == p.H * p.x.h;

  parallel_tasks(
      G * m_blocks, [&] { return TaskScratch(engine, (mb / 16) * group_elems, mb * ldc, mb / 16, mb); },
      [&](int64_t task, TaskScratch& st) {
        const int64_t g = task / m_blocks, m0 = (task % m_blocks) * mb, mcur = std::min(mb, M - m0);
        const uint16_t* xg = x + g * Cg;
        // Row tile k (16 positions): read in place when its positions are consecutive pixels
        // of one output row whose windows lie wholly inside the input (or of a linear 1x1
        // convolution), else staged.
        uint16_t* A = st.a.get();
        const int64_t tiles = round_up(mcur, 32) / 16;
        for (int64_t k = 0; k < tiles; ++k) {
          const int64_t pos0 = m0 + k * 16, n = pos0 / PQ, oh = (pos0 % PQ) / p.Q, ow0 = pos0 % p.Q;
          const int64_t ih0 = oh * p.stride_h - p.pad_top, iw0 = ow0 * p.stride_w - p.pad_left;
          if (direct_ok && linear && k * 16 + 16 <= mcur) {
            st.rows[k] = {xg + pos0 * p.x.w, direct_off.data(), direct_stride};
            continue;
          }
          if (direct_ok && k * 16 + 16 <= mcur && ow0 + 16 <= p.Q && ih0 >= 0 && ih0 + (p.R - 1) * p.dil_h < p.H &&
              iw0 >= 0 && iw0 + 15 * p.stride_w + (p.S - 1) * p.dil_w < p.W) {
            st.rows[k] = {xg + n * p.x.n + ih0 * p.x.h + iw0 * p.x.w, direct_off.data(), direct_stride};
            continue;
          }
          uint16_t* tile = A + k * group_elems;
          for (int64_t ii = 0; ii < 16; ++ii) {
            const int64_t i = k * 16 + ii, pos = m0 + i;
            if (i < mcur)
              stage_row(p, xg, pos / PQ, (pos % PQ) / p.Q, pos % p.Q, chunks, ii, tile);
            else
              for (int64_t t = 0; t < chunks; ++t) std::memset(tile + a_slot(t * 32, ii), 0, 64);
          }
          st.rows[k] = {tile, staged_off.data(), 64};
        }
        const uint16_t* B = b_packed.get() + g * b_size;
        float* C = st.c.get();
        for (int64_t cp = 0; cp < col_tiles; cp += 2)
          for (int64_t rp = 0; 2 * rp < tiles; ++rp)
            engine.block(chunks, st.rows[2 * rp], st.rows[2 * rp + 1], B + cp * group_elems,
                           B + (cp + 1) * group_elems, C + rp * 32 * ldc + cp * 16, ldc, false);
        // The epilogue: channels-last outputs pixel by pixel; other outputs channel by channel
        // from a transposed C block (16 x 16 word transposes) -- over runs of one output row
        // where its pixels are contiguous (NCHW), element by element else (the stride phases of
        // an input gradient write every s-th pixel of a row).
        auto u16 = [](const c10::BFloat16* v) { return reinterpret_cast<const uint16_t*>(v); };
        const bool relu = ep.act == Activation::kRelu;
        if (!ep.store_float && p.y.c == 1 && (ep.residual == nullptr || ep.r.c == 1)) {
          for (int64_t i = 0; i < mcur; ++i) {
            const int64_t pos = m0 + i, n = pos / PQ, oh = (pos % PQ) / p.Q, ow = pos % p.Q;
            const c10::BFloat16* r_pixel = epilogue.residual_pixel(n, oh, ow);
            store_pixel_bf16(C + i * ldc, Kg, bias == nullptr ? nullptr : u16(bias + g * Kg),
                             r_pixel == nullptr ? nullptr : u16(r_pixel + g * Kg), relu,
                             reinterpret_cast<uint16_t*>(y + n * p.y.n + oh * p.y.h + ow * p.y.w + g * Kg));
          }
          return;
        }
        float* ct = st.ct.get();
        for (int64_t i0 = 0; i0 < mcur; i0 += 16)
          for (int64_t j0 = 0; j0 < Kg; j0 += 16)
            transpose16x16_u32(reinterpret_cast<const uint32_t*>(C + i0 * ldc + j0), ldc,
                               reinterpret_cast<uint32_t*>(ct + j0 * mb + i0), mb);
        if (!ep.store_float && p.y.w == 1 && (ep.residual == nullptr || ep.r.w == 1)) {
          for (int64_t i = 0; i < mcur;) {
            const int64_t pos = m0 + i, n = pos / PQ, oh = (pos % PQ) / p.Q, ow = pos % p.Q;
            const int64_t len = std::min(mcur - i, p.Q - ow);
            const c10::BFloat16* r_pixel = epilogue.residual_pixel(n, oh, ow);
            for (int64_t j = 0; j < Kg; ++j) {
              const int64_t k = g * Kg + j;
              const float bk = bias == nullptr ? 0.f : float(bias[k]);
              store_run_bf16(ct + j * mb + i, len, bias == nullptr ? nullptr : &bk,
                             r_pixel == nullptr ? nullptr : u16(r_pixel + k * ep.r.c), relu,
                             reinterpret_cast<uint16_t*>(y + n * p.y.n + k * p.y.c + oh * p.y.h + ow));
            }
            i += len;
          }
          return;
        }
        for (int64_t i = 0; i < mcur; ++i) {
          const int64_t pos = m0 + i, n = pos / PQ, oh = (pos % PQ) / p.Q, ow = pos % p.Q;
          st.y_off[i] = n * p.y.n + oh * p.y.h + ow * p.y.w;
          st.r_pixel[i] = epilogue.residual_pixel(n, oh, ow);
        }
        for (int64_t j = 0; j < Kg; ++j) {
          const int64_t k = g * Kg + j;
          const float* cj = ct + j * mb;
          for (int64_t i = 0; i < mcur; ++i)
            epilogue.store(y, st.y_off[i] + k * p.y.c, epilogue(cj[i], k, st.r_pixel[i]));
        }
      });
}

}  // namespace cpu
}  // namespace cnnops
