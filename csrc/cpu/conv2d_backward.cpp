// CPU convolution backward:
//   grad_input : where a forward kernel pays for it (grouped, channels-last float, bf16 blocks,
//                ungrouped stride-1 float layers of 64+ channels), one stride-1 forward of
//                grad_output per stride phase (dgrad_by_phases below); else,
//                per group, cols[C/g*R*S, N*P*Q] = W^T * dY, scattered back by col2im, chunk by
//                chunk. Tasks are (group, image block, channel range) and own their rows of
//                grad_input, so no two tasks write the same element and no atomics are needed.
//   grad_weight: bfloat16 on pair dot-product blocks where the CPU has them (conv2d_wgrad_bf16.h);
//                else per group, dW[K/g, C/g*R*S] = dY * im2col(X)^T, tasks over column chunks and
//                filter blocks and, when there are few chunks, a split of the N*P*Q reduction
//                whose partial sums are added in a fixed order afterwards.
//   grad_bias  : per channel sums in double.
// Depthwise convolutions (groups == C) take their direct kernels instead (conv2d_depthwise.h), and
// so does the weight gradient of few-channel grouped ones (conv2d_grouped.h).
// Every decision that changes the order of a sum depends on the shape only, never on the thread
// count, so results are bit-identical from run to run and across thread counts.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <numeric>
#include <vector>

#include "../common/checks.h"
#include "../common/dgrad_phases.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "bf16_filters.h"
#include "conv2d_cpu.h"
#include "conv2d_depthwise.h"
#include "conv2d_forward_bf16.h"
#include "conv2d_forward_nhwc.h"
#include "conv2d_grouped.h"
#include "conv2d_packing.h"
#include "conv2d_wgrad_bf16.h"
#include "gemm/bf16_block.h"
#include "gemm/gemm_driver.h"

namespace cnnops {
namespace cpu {
namespace {

// grad_input accumulates in acc_t at `gx` with strides `gs` (the tensor itself for float and
// double, a float buffer for reduced precision).
template <typename scalar_t, typename acc_t>
void grad_input_kernel(const Conv2dParams& p, const scalar_t* go, const scalar_t* w, acc_t* gx,
                       const Strides4& gs) {
  const Microkernel<acc_t>& uk = microkernel<acc_t>();
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group();
  const int64_t RS = p.R * p.S, M = Cg * RS;

  // A = W^T per group: row (c, r, s), reduction index k, packed panel by panel with k outer: a
  // panel's mr rows of one filter are a short run of it (row by row, every value was a line of
  // its own, K lines apart).
  const int64_t mr = uk.mr, panels = ceil_div(M, mr), a_size = packed_a_size(M, Kg, uk.mr);
  Scratch<acc_t> a_packed(G * a_size);
  at::parallel_for(0, G * panels, 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> off(mr);
    for (int64_t t = begin; t < end; ++t) {
      const int64_t g = t / panels, i0 = (t % panels) * mr, n = std::min(mr, M - i0);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = (i0 + i) / RS, r = (i0 + i) % RS / p.S, s = (i0 + i) % p.S;
        off[i] = c * p.w.c + r * p.w.h + s * p.w.w;
      }
      const scalar_t* wg = w + g * Kg * p.w.n;
      acc_t* out = a_packed.get() + g * a_size + i0 * Kg;
      for (int64_t k = 0; k < Kg; ++k, out += mr) {
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<acc_t>(wg[k * p.w.n + off[i]]);
        for (int64_t i = n; i < mr; ++i) out[i] = acc_t(0);
      }
    }
  });

  // Tasks are (group, image block, channel range). A channel range owns rows c0*RS .. c1*RS of
  // W^T and so channels [c0, c1) of grad_input; an image block owns its images: no two tasks
  // write one element. Each task walks its output positions in chunks, in order. Image blocks
  // (at least ~1024 positions each, so deep layers with small maps keep wide GEMMs) and channel
  // ranges (at least ~96 rows of W^T each, so each packed block of dY feeds enough rows) are
  // fixed by the shape alone: every element sums its terms in the same order on any machine.
  // Ranges are whole mr-row panels (c_block * RS is a multiple of mr).
  const int64_t PQ = p.P * p.Q;
  const int64_t images = std::min<int64_t>(p.N, std::max<int64_t>(1, ceil_div(1024, PQ)));
  const int64_t image_blocks = ceil_div(p.N, images);
  const int64_t max_ranges = std::max<int64_t>(1, M / GemmBlocking::mc);
  const int64_t want_ranges = std::min(max_ranges, std::max<int64_t>(1, ceil_div(8, G * image_blocks)));
  const int64_t c_align = uk.mr / std::gcd<int64_t>(RS, uk.mr);
  const int64_t c_block = round_up(ceil_div(Cg, want_ranges), c_align);
  const int64_t ranges = ceil_div(Cg, c_block);
  const int64_t nc = std::min<int64_t>(GemmBlocking::nc, round_up(images * PQ, uk.nr));

  struct TaskScratch {
    Scratch<acc_t> bbuf, cbuf;
    BlockRuns runs;
  };
  parallel_tasks(
      G * image_blocks * ranges,
      [&] { return TaskScratch{Scratch<acc_t>(GemmBlocking::kc * round_up(nc, uk.nr)),
                               Scratch<acc_t>(std::min(M, c_block * RS) * nc), BlockRuns()}; },
      [&](int64_t task, TaskScratch& st) {
        const int64_t g = task / (image_blocks * ranges), ib = (task / ranges) % image_blocks, cr = task % ranges;
        const int64_t first = ib * images * PQ, last = std::min(p.N, (ib + 1) * images) * PQ;
        const int64_t c0 = cr * c_block, c1 = std::min(Cg, c0 + c_block);
        const int64_t m0 = c0 * RS, m1 = c1 * RS;
        const GradOutColumns<scalar_t, acc_t> pack_b{go + g * Kg * p.y.c, p};
        acc_t* gxg = gx + g * Cg * gs.c;
        for (int64_t j0 = first; j0 < last; j0 += nc) {
          const int64_t ncur = std::min(nc, last - j0);
          // cbuf row 0 is matrix row m0: shift the pointer so gemm_block can index by matrix row.
          acc_t* rows = st.cbuf.get() - m0 * nc;
          std::fill(st.cbuf.get(), st.cbuf.get() + (m1 - m0) * nc, acc_t(0));
          gemm_block<acc_t>(uk, AOperand<acc_t>{a_packed.get() + g * a_size, Kg, false}, m0, m1, j0, ncur, 0, Kg,
                            [&](int64_t j, int64_t ncols, int64_t k0, int64_t kc, acc_t* dst) {
                              pack_b(j, ncols, k0, kc, uk.nr, dst);
                              return dst;
                            },
                            st.bbuf.get(), rows, nc);
          // col2im: row (c, r, s), column (n, oh, ow) adds into grad_input[n, c, ih, iw], one
          // output row run at a time with the padding clipped once per run.
          st.runs.build(p, j0, ncur);
          for (int64_t i = m0; i < m1; ++i) {
            const int64_t c = i / RS, r = (i % RS) / p.S, s = i % p.S;
            const acc_t* row = rows + i * nc;
            for (int64_t ri = 0; ri < st.runs.count; ++ri) {
              const RowRun& run = st.runs.runs[ri];
              const int64_t ih = run.oh * p.stride_h - p.pad_top + r * p.dil_h;
              if (ih < 0 || ih >= p.H) continue;
              const int64_t iw = run.ow * p.stride_w - p.pad_left + s * p.dil_w;
              const int64_t lo = st.runs.lo[ri * p.S + s], hi = st.runs.hi[ri * p.S + s];
              acc_t* dst = gxg + run.n * gs.n + c * gs.c + ih * gs.h + iw * gs.w;
              const acc_t* src = row + run.j;
              const int64_t step = p.stride_w * gs.w;
              for (int64_t t = lo; t < hi; ++t) dst[t * step] += src[t];
            }
          }
        }
      });
}

// Rows [k0, k1) (k0 a multiple of mr) and positions [q0, q1) of the weight gradient's A (dY of
// one group: row k, reduction index = output position), packed into mr-row panels whose rows are
// ld positions long: (k, q) at dst[((k - k0) / mr) * ld * mr + (q - q0) * mr + (k - k0) % mr].
// Where a pixel's filters are contiguous (channels-last grad_output) pixel by pixel, each panel's
// mr filters one run (row by row, each filter's row read its values K elements apart: packing
// took 4x the GEMM's time on 1x1 layers); else row by row along runs of an output row.
template <typename scalar_t, typename acc_t>
void pack_grad_output_block(const Conv2dParams& p, const scalar_t* go_g, int64_t k0, int64_t k1, int64_t q0,
                            int64_t q1, int64_t ld, int mr, acc_t* dst) {
  const int64_t len = q1 - q0, panels = ceil_div(k1 - k0, mr);
  if (p.y.c == 1) {
    for_each_row_run(q0, len, p.P, p.Q, [&](const RowRun& run) {
      const scalar_t* px = go_g + run.n * p.y.n + run.oh * p.y.h + run.ow * p.y.w;
      for (int64_t t = 0; t < run.len; ++t, px += p.y.w)
        for (int64_t ip = 0; ip < panels; ++ip) {
          acc_t* o = dst + (ip * ld + run.j + t) * mr;
          const int64_t kb = k0 + ip * mr, n = std::min<int64_t>(mr, k1 - kb);
          for (int64_t r = 0; r < n; ++r) o[r] = static_cast<acc_t>(px[kb + r]);
          for (int64_t r = n; r < mr; ++r) o[r] = acc_t(0);
        }
    });
    return;
  }
  for (int64_t ip = 0; ip < panels; ++ip)
    for (int64_t r = 0; r < mr; ++r) {
      acc_t* o = dst + ip * ld * mr + r;
      const int64_t k = k0 + ip * mr + r;
      if (k >= k1) {
        for (int64_t t = 0; t < len; ++t) o[t * mr] = acc_t(0);
        continue;
      }
      for_each_row_run(q0, len, p.P, p.Q, [&](const RowRun& run) {
        const scalar_t* row = go_g + k * p.y.c + run.n * p.y.n + run.oh * p.y.h + run.ow * p.y.w;
        for (int64_t t = 0; t < run.len; ++t) o[(run.j + t) * mr] = static_cast<acc_t>(row[t * p.y.w]);
      });
    }
}

template <typename scalar_t, typename acc_t>
void grad_weight_kernel(const Conv2dParams& p, const scalar_t* go, const scalar_t* x, scalar_t* gw,
                        const Strides4& gws) {
  const Microkernel<acc_t>& uk = microkernel<acc_t>();
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group();
  const int64_t Ncols = p.crs(), Kd = p.npq();

  const int64_t nc = std::min<int64_t>(GemmBlocking::nc, round_up(Ncols, uk.nr));
  const int64_t chunks = ceil_div(Ncols, nc);
  // Split the reduction only when there are few column chunks (small C*R*S, e.g. the stem).
  const int64_t splits =
      std::max<int64_t>(1, std::min(ceil_div(8, G * chunks), ceil_div(Kd, 4 * GemmBlocking::kc)));
  const int64_t split_len = round_up(ceil_div(Kd, splits), GemmBlocking::kc);

  // Offset in grad_weight of a filter's reduction column (ImageRows' order: wgrad_column).
  auto weight_offset = [&](int64_t col) {
    int64_t c, r, s;
    wgrad_column(p, col, &c, &r, &s);
    return c * gws.c + r * gws.h + s * gws.w;
  };
  // A = dY per group: row k, reduction index = output position (n, oh, ow). With one column
  // chunk (C*R*S up to nc: 1x1 layers of few channels, stems) each task packs the block of A it
  // multiplies, kc positions at a time, and every element of A is packed once all the same; with
  // more chunks A is packed once up front for all of them. (Packed up front, a MobileNetV2 16->96
  // layer at 112x112 copied all 38 MB of grad_output into fresh pages before the GEMM read it
  // again: 0.14 of torch's speed.)
  const bool local_a = chunks == 1;
  const int64_t a_size = local_a ? 0 : packed_a_size(Kg, Kd, uk.mr);
  Scratch<acc_t> a_packed(a_size);
  Scratch<acc_t> partial(splits > 1 ? G * splits * Kg * Ncols : 0);

  for (int64_t g = 0; g < G; ++g) {
    if (!local_a)
      at::parallel_for(0, ceil_div(Kd, 64), 1, [&](int64_t begin, int64_t end) {
        pack_grad_output_block(p, go + g * Kg * p.y.c, 0, Kg, begin * 64, std::min(Kd, end * 64), Kd, uk.mr,
                               a_packed.get() + begin * 64 * uk.mr);
      });
    const ImageRows<scalar_t, acc_t> pack_b{x + g * Cg * p.x.c, p};
    // Tasks: (column chunk, reduction split, filter block). Filter blocks only share out work
    // (each element is still summed whole by one task); the split is fixed by the shape.
    const int64_t threads = at::get_num_threads();
    const int64_t m_split = threads > 1 ? std::max<int64_t>(1, std::min(ceil_div(Kg, GemmBlocking::mc),
                                                                         ceil_div(4 * threads, chunks * splits)))
                                        : 1;
    const int64_t mb = round_up(ceil_div(Kg, m_split), uk.mr), m_blocks = ceil_div(Kg, mb);
    struct TaskScratch {
      Scratch<acc_t> abuf, bbuf, cbuf;
      std::vector<int64_t> woff;
    };
    parallel_tasks(
        chunks * splits * m_blocks,
        [&] { return TaskScratch{Scratch<acc_t>(local_a ? mb * GemmBlocking::kc : 0),
                                 Scratch<acc_t>(GemmBlocking::kc * round_up(nc, uk.nr)), Scratch<acc_t>(mb * nc),
                                 std::vector<int64_t>(nc)}; },
        [&](int64_t task, TaskScratch& st) {
          const int64_t j0 = (task / (splits * m_blocks)) * nc, sp = (task / m_blocks) % splits;
          const int64_t m0 = (task % m_blocks) * mb, m1 = std::min(Kg, m0 + mb);
          const int64_t ncur = std::min(nc, Ncols - j0);
          const int64_t q0 = sp * split_len, q1 = std::min(Kd, q0 + split_len);
          acc_t* rows = st.cbuf.get() - m0 * nc;  // gemm_block indexes C by matrix row
          std::fill(st.cbuf.get(), st.cbuf.get() + mb * nc, acc_t(0));
          auto pack_b_block = [&](int64_t j, int64_t ncols, int64_t p0, int64_t kc, acc_t* dst) {
            pack_b(j, ncols, p0, kc, uk.nr, dst);
            return dst;
          };
          if (!local_a && q0 < q1)
            gemm_block<acc_t>(uk, AOperand<acc_t>{a_packed.get(), Kd, false}, m0, m1, j0, ncur, q0, q1, pack_b_block,
                              st.bbuf.get(), rows, nc);
          // The same kc blocks in the same order (q0 is a multiple of kc), A packed block by block:
          // the sums are those of the up-front packing, bit for bit.
          for (int64_t pc = q0; local_a && pc < q1; pc += GemmBlocking::kc) {
            const int64_t kcur = std::min<int64_t>(GemmBlocking::kc, q1 - pc);
            pack_grad_output_block(p, go + g * Kg * p.y.c, m0, m1, pc, pc + kcur, kcur, uk.mr, st.abuf.get());
            // gemm_block finds panel (m0 + i) / mr at (i / mr) * kcur * mr + pc * mr from data.
            const acc_t* a_block = st.abuf.get() - (m0 / uk.mr) * kcur * uk.mr - pc * uk.mr;
            gemm_block<acc_t>(uk, AOperand<acc_t>{a_block, kcur, false}, m0, m1, j0, ncur, pc, pc + kcur,
                              pack_b_block, st.bbuf.get(), rows, nc);
          }
          for (int64_t j = 0; j < ncur; ++j) st.woff[j] = weight_offset(j0 + j);
          for (int64_t k = m0; k < m1; ++k) {
            const acc_t* ck = rows + k * nc;
            if (splits > 1) {
              acc_t* part = partial.get() + ((g * splits + sp) * Kg + k) * Ncols + j0;
              std::copy(ck, ck + ncur, part);
            } else {
              scalar_t* gk = gw + (g * Kg + k) * gws.n;
              for (int64_t j = 0; j < ncur; ++j) gk[st.woff[j]] = static_cast<scalar_t>(ck[j]);
            }
          }
        });
    if (splits > 1) {
      at::parallel_for(0, Kg, 1, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k)
          for (int64_t col = 0; col < Ncols; ++col) {
            acc_t v = 0;
            for (int64_t sp = 0; sp < splits; ++sp) v += partial.get()[((g * splits + sp) * Kg + k) * Ncols + col];
            gw[(g * Kg + k) * gws.n + weight_offset(col)] = static_cast<scalar_t>(v);
          }
      });
    }
  }
}

template <typename scalar_t>
void grad_bias_kernel(const Conv2dParams& p, const scalar_t* go, scalar_t* gb) {
  at::parallel_for(0, p.K, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      double sum = 0;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t oh = 0; oh < p.P; ++oh) {
          const scalar_t* row = go + n * p.y.n + k * p.y.c + oh * p.y.h;
          for (int64_t ow = 0; ow < p.Q; ++ow) sum += static_cast<double>(row[ow * p.y.w]);
        }
      gb[k] = static_cast<scalar_t>(sum);
    }
  });
}

}  // namespace

bool dgrad_as_forward_params(const Conv2dParams& p, const Strides4& gi, const Strides4& wt, Conv2dParams* out) {
  if (p.stride_h != 1 || p.stride_w != 1) return false;
  // The one stride phase: every tap, reversed.
  Conv2dParams q = dgrad_phase_forward(p, 0, 0, dgrad_phase_taps(0, p.pad_top, p.R, p.dil_h, 1),
                                       dgrad_phase_taps(0, p.pad_left, p.S, p.dil_w, 1));
  if (q.pad_top < 0 || q.pad_left < 0 || q.pad_bottom < 0 || q.pad_right < 0) return false;
  q.x = p.y, q.w = wt, q.y = gi;
  *out = q;
  return true;
}

namespace {

// Whether the forward kernels beat the col2im GEMM below for this input gradient (phase q of p):
// where the forward has its own path for the layout and dtype -- a few-channel grouped
// convolution (the direct kernels), channels-last grad_output of the accumulation type (the
// indirect GEMM) or bfloat16 on pair dot-product blocks -- and for ungrouped float and double
// layers of stride 1 with at least 64 input channels in any layout: there the forward of the
// flipped filters (a view of w, packed as the forward reads it, the output stored once) beat
// col2im's scatter-add into a zeroed grad_input on every such layer of the seed networks (NCHW
// ResNet-50 dgrad 0.72 -> 0.87 of torch's speed), while with fewer channels the forward's few
// filter rows (GoogLeNet's 16-channel 5x5) and with strides the phases' strided stores lose.
template <typename scalar_t, typename acc_t>
bool dgrad_as_forward_pays(const Conv2dParams& p, const Conv2dParams& q) {
  if (grouped_applies(q)) return true;
  if constexpr (std::is_same_v<scalar_t, c10::BFloat16>) {
    if (bf16_block_engine() != nullptr && forward_bf16_blocks_take(q)) return true;
  }
  if (!std::is_same_v<scalar_t, acc_t>) return false;
  return forward_nhwc_applies(q) || (p.groups == 1 && p.stride_h == 1 && p.stride_w == 1 && p.C >= 64);
}

// The input gradient as one stride-1 forward per stride phase (common/dgrad_phases.h; at stride 1
// the one phase is the forward of the flipped filters), written through the phase's strided view
// of gi, where the forward kernels pay for every phase (dgrad_as_forward_pays); false, with
// nothing written, where they do not. gi may come uninitialised: every element is written.
template <typename scalar_t, typename acc_t>
bool dgrad_by_phases(const Conv2dParams& p, const scalar_t* go, const scalar_t* w, at::Tensor& gi) {
  struct Phase {
    int64_t ph, pw;
    PhaseTaps rows, cols;
    Conv2dParams q;
  };
  const Strides4 gs = strides4(gi);
  std::vector<Phase> phases;
  for (int64_t ph = 0; ph < std::min(p.stride_h, p.H); ++ph)
    for (int64_t pw = 0; pw < std::min(p.stride_w, p.W); ++pw) {
      Phase f{ph, pw, dgrad_phase_taps(ph, p.pad_top, p.R, p.dil_h, p.stride_h),
              dgrad_phase_taps(pw, p.pad_left, p.S, p.dil_w, p.stride_w), Conv2dParams{}};
      if (f.rows.taps.empty() || f.cols.taps.empty()) continue;
      f.q = dgrad_phase_forward(p, ph, pw, f.rows, f.cols);
      f.q.x = p.y;
      f.q.w = Strides4{p.filters_per_group() * f.q.R * f.q.S, f.q.R * f.q.S, f.q.S, 1};  // [C, K/g, R', S']
      f.q.y = Strides4{gs.n, gs.c, gs.h * p.stride_h, gs.w * p.stride_w};
      if (!dgrad_as_forward_pays<scalar_t, acc_t>(p, f.q)) return false;
      phases.push_back(std::move(f));
    }
  // gi comes uninitialised: each phase's forward writes every position of its phase, and the
  // phases that no tap reaches are zero.
  if (int64_t(phases.size()) < std::min(p.stride_h, p.H) * std::min(p.stride_w, p.W)) gi.zero_();
  const int64_t Cg = p.channels_per_group(), Kg = p.filters_per_group();
  for (const Phase& f : phases) {
    // The phase's sub-filter: its taps (at stride 1 all of them, reversed: the flipped filters),
    // each group's [K/g, C/g] block transposed.
    const int64_t Rt = f.q.R, St = f.q.S;
    scalar_t* out = gi.mutable_data_ptr<scalar_t>() + f.ph * gs.h + f.pw * gs.w;
    if constexpr (std::is_same_v<scalar_t, c10::BFloat16>) {
      // For the bfloat16 blocks: channels-last sub-filters (each one's (r, s, k) row is what
      // the blocks pack), by block transposes.
      if (bf16_block_engine() != nullptr && !grouped_applies(f.q) && !depthwise_applies(f.q)) {
        Conv2dParams q = f.q;
        q.w = Strides4{Rt * St * Kg, 1, St * Kg, Kg};
        Scratch<scalar_t> sub(p.C * Kg * Rt * St);
        bf16_dgrad_filters(p, reinterpret_cast<const uint16_t*>(w), f.rows.taps, f.cols.taps,
                           reinterpret_cast<uint16_t*>(sub.get()));
        conv2d_forward_into<scalar_t>(q, go, sub.get(), out);
        continue;
      }
    }
    if (p.groups == 1) {
      // A view of w: filter c, channel k, the taps reversed at the phase's spacing (a phase's
      // taps are equally spaced), packed by the forward as it reads it.
      Conv2dParams q = f.q;
      const int64_t dr = Rt > 1 ? f.rows.taps[1] - f.rows.taps[0] : 0;
      const int64_t ds = St > 1 ? f.cols.taps[1] - f.cols.taps[0] : 0;
      q.w = Strides4{p.w.c, p.w.n, dr * p.w.h, ds * p.w.w};
      conv2d_forward_into<scalar_t>(q, go, w + f.rows.taps[0] * p.w.h + f.cols.taps[0] * p.w.w, out);
      continue;
    }
    // Grouped: [C, K/g, R', S'] contiguous, by a blocked transpose (16 channels of a group x 16
    // filters at a time, so that reads and writes each stay within 16 lines).
    Scratch<scalar_t> sub(p.C * Kg * Rt * St);
    const int64_t cblocks = ceil_div(Cg, 16);
    at::parallel_for(0, p.groups * cblocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t g = task / cblocks, c0 = (task % cblocks) * 16, c1 = std::min(Cg, c0 + 16);
        for (int64_t k0 = 0; k0 < Kg; k0 += 16) {
          const int64_t k1 = std::min(Kg, k0 + 16);
          for (int64_t c = c0; c < c1; ++c) {
            scalar_t* o = sub.get() + ((g * Cg + c) * Kg + k0) * Rt * St;
            for (int64_t k = k0; k < k1; ++k) {
              const scalar_t* wk = w + (g * Kg + k) * p.w.n + c * p.w.c;
              for (int64_t a = 0; a < Rt; ++a)
                for (int64_t b = 0; b < St; ++b) *o++ = wk[f.rows.taps[a] * p.w.h + f.cols.taps[b] * p.w.w];
            }
          }
        }
      }
    });
    conv2d_forward_into<scalar_t>(f.q, go, sub.get(), out);
  }
  return true;
}

// bfloat16 weight gradients run on pair dot-product blocks where the CPU has an engine for them.
template <typename scalar_t>
bool bf16_wgrad_on_blocks(const Conv2dParams& p) {
  return std::is_same_v<scalar_t, c10::BFloat16> && wgrad_bf16_blocks_take(p);
}

template <typename scalar_t, typename acc_t>
void grad_input(const Conv2dParams& p, const scalar_t* go, const at::Tensor& weight, at::Tensor& gi) {
  // On the forward kernels where they pay: at stride 1 a single phase, the flipped filters.
  if (dgrad_by_phases<scalar_t, acc_t>(p, go, weight.const_data_ptr<scalar_t>(), gi)) return;
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    gi.zero_();  // col2im adds into it
    grad_input_kernel<scalar_t, acc_t>(p, go, weight.const_data_ptr<scalar_t>(), gi.mutable_data_ptr<scalar_t>(),
                                       strides4(gi));
  } else {
    // Reduced precision: accumulate in a float copy of the layout, convert once at the end.
    at::Tensor acc = at::zeros_like(gi, gi.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
    grad_input_kernel<scalar_t, acc_t>(p, go, weight.const_data_ptr<scalar_t>(), acc.mutable_data_ptr<acc_t>(),
                                       strides4(acc));
    gi.copy_(acc);
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask) {
  check_conv2d_args(input, weight, c10::nullopt, stride, padding, dilation, groups);
  TORCH_CHECK(grad_output.dim() == 4, "cnnops.conv2d backward: expected a 4-D grad_output, got ", grad_output.dim(), "-D");
  Conv2dParams p = make_conv2d_params(input, weight, grad_output, stride, padding, dilation, groups);
  check_conv2d_grad_output(grad_output, input, p);
  const auto fmt = output_memory_format(input, weight);
  at::Tensor gi, gw, gb;
  const bool empty = grad_output.numel() == 0 || input.numel() == 0 || weight.numel() == 0;
  // Gradients take the layout torch gives them (channels_last when input or weight is).
  // grad_input: the depthwise kernels add into a zero-filled one, grad_input() writes every
  // element of its own. grad_weight and grad_bias are written element by element. (Outputs
  // written whole are poisoned in tests to prove it.) With nothing to reduce over, all are zero.
  const auto iopts = input.options().memory_format(fmt);
  if (output_mask[0])
    gi = empty || depthwise_applies(p) ? zeros_output(input.sizes(), iopts) : empty_output(input.sizes(), iopts);
  const auto wopts = weight.options().memory_format(fmt);
  if (output_mask[1]) gw = empty ? zeros_output(weight.sizes(), wopts) : empty_output(weight.sizes(), wopts);
  if (output_mask[2]) gb = grad_output.numel() == 0 ? at::zeros({p.K}, weight.options()) : empty_output({p.K}, weight.options());

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_conv2d_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* go = grad_output.const_data_ptr<scalar_t>();
    if (depthwise_applies(p)) {
      if (gi.defined() && !empty)
        depthwise_grad_input<scalar_t>(p, go, weight.const_data_ptr<scalar_t>(), gi.mutable_data_ptr<scalar_t>(),
                                       strides4(gi));
      if (gw.defined() && !empty)
        depthwise_grad_weight<scalar_t>(p, go, input.const_data_ptr<scalar_t>(), gw.mutable_data_ptr<scalar_t>(),
                                        strides4(gw));
    } else {
      if (gi.defined() && !empty) grad_input<scalar_t, acc_t>(p, go, weight, gi);
      if (gw.defined() && !empty && grouped_applies(p))
        grouped_grad_weight<scalar_t>(p, go, input.const_data_ptr<scalar_t>(), gw.mutable_data_ptr<scalar_t>(),
                                      strides4(gw));
      else if (gw.defined() && !empty && bf16_wgrad_on_blocks<scalar_t>(p))
        grad_weight_bf16_blocks(p, reinterpret_cast<const c10::BFloat16*>(go),
                                reinterpret_cast<const c10::BFloat16*>(input.const_data_ptr<scalar_t>()),
                                reinterpret_cast<c10::BFloat16*>(gw.mutable_data_ptr<scalar_t>()), strides4(gw));
      else if (gw.defined() && !empty)
        grad_weight_kernel<scalar_t, acc_t>(p, go, input.const_data_ptr<scalar_t>(),
                                            gw.mutable_data_ptr<scalar_t>(), strides4(gw));
    }
    if (gb.defined() && grad_output.numel() > 0) grad_bias_kernel<scalar_t>(p, go, gb.mutable_data_ptr<scalar_t>());
  });
  auto none = [&](const at::Tensor& t) { return t.defined() ? t : at::empty({0}, input.options()); };
  return {none(gi), none(gw), none(gb)};
}

}  // namespace cpu
}  // namespace cnnops
