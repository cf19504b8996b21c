// The channels-last indirect-GEMM forward (see conv2d_forward_nhwc.h).
//
// The reduction is cut into segments, each a run of the (r, s, c) order that lies contiguously
// in every window: one kernel row r with all its taps when a pixel's channels are the whole
// pixel (groups 1, dilation 1 along W, S * C <= kMaxSegment: the small-channel stems), else one
// tap (r, s) and a chunk of at most kMaxSegment channels. A micro-kernel call sums one segment,
// so the order of every sum -- segment by segment, each in (s, c) order -- is fixed by the
// shape alone: the blocking into tasks, and the thread count, never change a result.
#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "conv2d_forward_nhwc.h"
#include "gemm/gemm_driver.h"
#include "streaming_store.h"

namespace cnnops {
namespace cpu {
namespace {

constexpr int64_t kMaxSegment = 256;

// A run of the reduction: kernel row r, taps s0 .. s0 + taps - 1, channels c0 .. c0 + channels
// - 1 of the group at each tap; its length is taps * channels and it starts at `offset` in B.
struct Segment {
  int64_t r, s0, taps, c0, channels, offset;
  int64_t length() const { return taps * channels; }
};

std::vector<Segment> segments(const Conv2dParams& p, int64_t ldb) {
  const int64_t Cg = p.channels_per_group();
  std::vector<Segment> out;
  int64_t offset = 0;
  auto add = [&](int64_t r, int64_t s0, int64_t taps, int64_t c0, int64_t channels) {
    out.push_back({r, s0, taps, c0, channels, offset});
    offset += taps * channels * ldb;
  };
  if (p.groups == 1 && p.dil_w == 1 && p.x.w == Cg && p.S * Cg <= kMaxSegment) {
    for (int64_t r = 0; r < p.R; ++r) add(r, 0, p.S, 0, Cg);
  } else {
    const int64_t chunks = ceil_div(Cg, kMaxSegment), len = ceil_div(Cg, chunks);
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s)
        for (int64_t c0 = 0; c0 < Cg; c0 += len) add(r, s, 1, c0, std::min(len, Cg - c0));
  }
  return out;
}

// B of one group, segment by segment: nr-column panels of the segment's rows, (q, k) at
// [offset + (k / nr) * length * nr + q * nr + k % nr], zero past column Kg.
template <typename T>
void pack_weights(const Conv2dParams& p, const std::vector<Segment>& segs, const T* wg, int nr, T* dst) {
  const int64_t Kg = p.filters_per_group(), panels = ceil_div(Kg, nr);
  at::parallel_for(0, int64_t(segs.size()) * panels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const Segment& sg = segs[t / panels];
      const int64_t jp = t % panels, len = sg.length();
      T* panel = dst + sg.offset + jp * len * nr;
      const int64_t k0 = jp * nr, n = std::min<int64_t>(nr, Kg - k0);
      for (int64_t q = 0; q < len; ++q) {
        const int64_t s = sg.s0 + q / sg.channels, c = sg.c0 + q % sg.channels;
        const T* in = wg + k0 * p.w.n + c * p.w.c + sg.r * p.w.h + s * p.w.w;
        T* out = panel + q * nr;
        // Filters adjacent in memory (the input gradient's view of the weights: its filters are
        // input channels) are one contiguous run.
        if (p.w.n == 1) {
          std::copy(in, in + n, out);
        } else {
          for (int64_t jj = 0; jj < n; ++jj) out[jj] = in[jj * p.w.n];
        }
        std::fill(out + n, out + nr, T(0));
      }
    }
  });
}

template <typename T>
struct TaskScratch {
  Scratch<T> cbuf, staged;
  std::vector<const T*> rows;
  std::vector<int64_t> base, ih0, iw0;  // row i's image offset and window origin
  std::vector<int64_t> y_at, r_at;      // row i's output pixel and residual pixel offsets
  TaskScratch(int64_t mb, int64_t nb)
      : cbuf(mb * nb), staged(mb * kMaxSegment), rows(mb), base(mb), ih0(mb), iw0(mb), y_at(mb), r_at(mb) {}
};

}  // namespace

template <typename T>
void forward_nhwc(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, const EpilogueParams& ep) {
  const Microkernel<T>& uk = microkernel<T>();
  const int mr = uk.mr, nr = uk.nr;
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group();
  const int64_t M = p.npq(), PQ = p.P * p.Q, ldb = round_up(Kg, nr);
  alignas(64) static const T kZeros[kMaxSegment] = {};

  const std::vector<Segment> segs = segments(p, ldb);
  const int64_t b_size = p.crs() * ldb;
  Scratch<T> b_packed(G * b_size);
  for (int64_t g = 0; g < G; ++g) pack_weights(p, segs, w + g * Kg * p.w.n, nr, b_packed.get() + g * b_size);

  // Tasks are (group, block of positions, block of filters). A task's C block (mb x nb, at most
  // 16 K elements) stays in L2 across the segments; each B panel (segment x nr) stays in L1
  // while the task's rows stream past it.
  const int64_t nb = std::min<int64_t>(ldb, 8 * int64_t(nr));
  const int64_t n_blocks = ceil_div(Kg, nb);
  const int64_t threads = at::get_num_threads();
  int64_t mb = std::clamp<int64_t>((16384 / nb) / mr * mr, mr, 64 * int64_t(mr));
  while (mb > mr && G * n_blocks * ceil_div(M, mb) < 4 * threads) mb = std::max<int64_t>(mr, (mb / 2) / mr * mr);
  const int64_t m_blocks = ceil_div(M, mb);

  const ConvEpilogue<T, T> epilogue(bias, ep);
  // Outputs far larger than the caches are stored without reading their lines first.
  const bool streaming = std::is_same_v<T, float> && !ep.store_float &&
                         p.N * p.K * p.P * p.Q * int64_t(sizeof(T)) >= kStreamingStoreBytes;
  parallel_tasks(
      G * m_blocks * n_blocks, [&] { return TaskScratch<T>(mb, nb); },
      [&](int64_t task, TaskScratch<T>& st) {
        const int64_t g = task / (m_blocks * n_blocks), m0 = ((task / n_blocks) % m_blocks) * mb;
        const int64_t n0 = (task % n_blocks) * nb;
        const int64_t mcur = std::min(mb, M - m0), ncur = std::min(nb, Kg - n0);
        const T* xg = x + g * Cg * p.x.c;
        // The task's positions in order, (n, oh, ow) stepped rather than divided out per row (the
        // divisions were the larger cost of a pointwise layer's 32-deep reduction).
        for (int64_t i = 0, n = m0 / PQ, oh = (m0 % PQ) / p.Q, ow = m0 % p.Q; i < mcur; ++i) {
          st.base[i] = n * p.x.n;
          st.ih0[i] = oh * p.stride_h - p.pad_top;
          st.iw0[i] = ow * p.stride_w - p.pad_left;
          st.y_at[i] = n * p.y.n + oh * p.y.h + ow * p.y.w;
          st.r_at[i] = n * ep.r.n + oh * ep.r.h + ow * ep.r.w;
          if (++ow == p.Q) {
            ow = 0;
            if (++oh == p.P) oh = 0, ++n;
          }
        }
        T* C = st.cbuf.get();
        std::fill(C, C + mb * nb, T(0));
        for (const Segment& sg : segs) {
          const int64_t len = sg.length();
          // Row i of A for this segment: the window's run in place, zeros where the kernel row
          // lies in the padding, or a staged copy where only some of its taps do.
          for (int64_t i = 0; i < mcur; ++i) {
            const int64_t ih = st.ih0[i] + sg.r * p.dil_h, iw = st.iw0[i] + sg.s0 * p.dil_w;
            const T* pixel = xg + st.base[i] + ih * p.x.h + sg.c0;
            if (ih < 0 || ih >= p.H) {
              st.rows[i] = kZeros;
            } else if (iw >= 0 && iw + (sg.taps - 1) * p.dil_w < p.W) {
              st.rows[i] = pixel + iw * p.x.w;
            } else if (sg.taps == 1) {
              st.rows[i] = kZeros;
            } else {
              T* row = st.staged.get() + i * kMaxSegment;
              for (int64_t t = 0; t < sg.taps; ++t) {
                const int64_t iwt = iw + t * p.dil_w;
                T* o = row + t * sg.channels;
                if (iwt >= 0 && iwt < p.W)
                  std::copy(pixel + iwt * p.x.w, pixel + iwt * p.x.w + sg.channels, o);
                else
                  std::fill(o, o + sg.channels, T(0));
              }
              st.rows[i] = row;
            }
          }
          const T* bseg = b_packed.get() + g * b_size + sg.offset;
          for (int64_t jr = 0; jr < ncur; jr += nr) {
            const T* bpanel = bseg + ((n0 + jr) / nr) * len * nr;
            const int n = int(std::min<int64_t>(nr, ncur - jr));
            for (int64_t ir = 0; ir < mcur; ir += mr)
              uk.fn_ptrs(len, st.rows.data() + ir, bpanel, C + ir * nb + jr, nb, int(std::min<int64_t>(mr, mcur - ir)),
                         n);
          }
        }
        const int64_t k0 = g * Kg + n0;
        const T* residual = static_cast<const T*>(ep.residual);
        for (int64_t i = 0; i < mcur; ++i) {
          const T* r_pixel = residual == nullptr ? nullptr : residual + st.r_at[i];
          const int64_t y0 = st.y_at[i];
          const T* ci = C + i * nb;
          if (p.y.c == 1 && (r_pixel == nullptr || ep.r.c == 1)) {
            // Channels innermost: the pixel's outputs, bias and residual are runs, combined as
            // operator() does, in loops the compiler vectorises (a 24-deep reduction left the
            // per-element epilogue the larger cost).
            T* yo = y + y0 + k0;
            const T* ro = r_pixel == nullptr ? nullptr : r_pixel + k0;
            const bool plain = bias == nullptr && ro == nullptr && ep.act == Activation::kNone;
            if constexpr (std::is_same_v<T, float>) {
              if (streaming) {
                // The epilogue in place in the task's buffer, then whole lines to y.
                T* cw = C + i * nb;
                if (!plain)
                  for (int64_t j = 0; j < ncur; ++j)
                    cw[j] = epilogue.combine(cw[j], bias == nullptr ? T(0) : bias[k0 + j],
                                             ro == nullptr ? T(0) : ro[j], ro != nullptr);
                copy_streaming(yo, cw, ncur);
                continue;
              }
            }
            if (plain) {
              std::copy(ci, ci + ncur, yo);
            } else {
              for (int64_t j = 0; j < ncur; ++j)
                yo[j] = epilogue.combine(ci[j], bias == nullptr ? T(0) : bias[k0 + j], ro == nullptr ? T(0) : ro[j],
                                         ro != nullptr);
            }
            continue;
          }
          for (int64_t j = 0; j < ncur; ++j) {
            const int64_t k = k0 + j;
            epilogue.store(y, y0 + k * p.y.c, epilogue(ci[j], k, r_pixel));
          }
        }
        if (streaming) streaming_store_fence();
      });
}

template void forward_nhwc<float>(const Conv2dParams&, const float*, const float*, const float*, float*,
                                  const EpilogueParams&);
template void forward_nhwc<double>(const Conv2dParams&, const double*, const double*, const double*, double*,
                                   const EpilogueParams&);

}  // namespace cpu
}  // namespace cnnops
