// Packers that gather convolution operands straight from the tensors into GEMM panels
// (see gemm/gemm_driver.h for the panel layouts). One struct per operand shape:
//   ImageColumns   -- B of the forward pass: rows (c, r, s), columns output positions (n, p, q).
//                     This is im2col, fused into the packing so no im2col buffer exists.
//   ImageRows      -- B of the weight gradient: the transpose (rows positions, columns (c, r, s),
//                     or (r, s, c) for channels-last inputs, whose channels are then contiguous).
//   GradOutColumns -- B of the input gradient: rows k, columns output positions of one image.
// Values are converted to the accumulation type T while packing, so the micro-kernels only see
// float or double (bfloat16 and float16 inputs accumulate in float).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../common/conv_params.h"
#include "gemm/gemm_driver.h"

namespace cnnops {
namespace cpu {

// Row runs in one packed block: a block of at most GemmBlocking::nc columns spans at most
// nc + 1 output rows (one per column when Q = 1).
constexpr int64_t kMaxRuns = GemmBlocking::nc + 1;

// A run of output positions inside one output row: columns [j, j + len) of a block are the
// positions (n, oh, ow .. ow + len - 1). Splitting a block of columns into such runs turns the
// im2col gather and the col2im scatter into strided copies with the padding clipped once per
// run instead of tested per element.
struct RowRun {
  int64_t j, len, n, oh, ow;
};

// Calls f(RowRun) for the positions [first, first + count), ordered (n, oh, ow) over P x Q maps.
template <typename F>
inline void for_each_row_run(int64_t first, int64_t count, int64_t P, int64_t Q, const F& f) {
  int64_t n = first / (P * Q), oh = (first / Q) % P, ow = first % Q;
  for (int64_t j = 0; j < count;) {
    const int64_t len = std::min(Q - ow, count - j);
    f(RowRun{j, len, n, oh, ow});
    j += len;
    ow = 0;
    if (++oh == P) {
      oh = 0;
      ++n;
    }
  }
}

// The indices t in [0, len) for which start + t * step lies in [0, size): [*lo, *hi), with
// 0 <= lo <= hi <= len. lo is clamped to len: a short run that lies wholly in the left padding
// (wide padding, a run at the end of a block) must not make the packer zero past its end, which
// is the end of a row buffer on the stack (tests: padding 5 on a 44-wide map, under ASan).
inline void clip_run(int64_t start, int64_t step, int64_t len, int64_t size, int64_t* lo, int64_t* hi) {
  *lo = start >= 0 ? 0 : std::min(len, (-start + step - 1) / step);
  *hi = start > size - 1 ? 0 : std::min(len, (size - 1 - start) / step + 1);
  if (*hi < *lo) *hi = *lo;
}

// Packs one group's Kg filters as the forward GEMM's left operand, pack_a_panels' layout (mr-row
// panels, reduction index (c, r, s)). Filter by filter, the panel was strided once per value, and
// the input gradient's views of the weights (filters = input channels, w.n == 1) read one line per
// value; so:
//  - w.n == 1: the filters of one reduction index are one contiguous run. Tasks take 16
//    reduction indices each and walk the panels: 16 sequential read streams, and each panel's
//    16 x mr values written as one run.
//  - otherwise panel by panel, the mr filters' values of one reduction index written together
//    (mr lines of the weights in use at a time).
template <typename src_t, typename T>
void pack_filter_panels(const Conv2dParams& p, const src_t* wg, int64_t Kg, int mr, T* dst) {
  const int64_t Cg = p.channels_per_group(), RS = p.R * p.S, Kd = p.crs(), panels = ceil_div(Kg, mr);
  auto offset = [&](int64_t col) { return col / RS * p.w.c + col % RS / p.S * p.w.h + col % p.S * p.w.w; };
  if (p.w.n == 1) {
    constexpr int64_t kBlock = 16;
    at::parallel_for(0, ceil_div(Kd, kBlock), 1, [&](int64_t begin, int64_t end) {
      const src_t* in[kBlock];
      for (int64_t b = begin; b < end; ++b) {
        const int64_t q0 = b * kBlock, qn = std::min(kBlock, Kd - q0);
        for (int64_t q = 0; q < qn; ++q) in[q] = wg + offset(q0 + q);
        for (int64_t ip = 0; ip < panels; ++ip) {
          const int64_t k0 = ip * mr, n = std::min<int64_t>(mr, Kg - k0);
          T* out = dst + (ip * Kd + q0) * mr;
          for (int64_t q = 0; q < qn; ++q, out += mr) {
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(in[q][k0 + i]);
            for (int64_t i = n; i < mr; ++i) out[i] = T(0);
          }
        }
      }
    });
    return;
  }
  at::parallel_for(0, panels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t ip = begin; ip < end; ++ip) {
      const int64_t k0 = ip * mr, n = std::min<int64_t>(mr, Kg - k0);
      const src_t* wk = wg + k0 * p.w.n;
      T* out = dst + ip * Kd * mr;
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t r = 0; r < p.R; ++r)
          for (int64_t s = 0; s < p.S; ++s, out += mr) {
            const src_t* in = wk + c * p.w.c + r * p.w.h + s * p.w.w;
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(in[i * p.w.n]);
            for (int64_t i = n; i < mr; ++i) out[i] = T(0);
          }
    }
  });
}

// Zero-fills the columns past nc of the last panel (they are computed, then never stored).
template <typename T>
inline void zero_tail_columns(T* dst, int64_t nc, int64_t kc, int nr) {
  const int64_t tail = round_up(nc, nr) - nc;
  if (tail == 0) return;
  T* panel = dst + (nc / nr) * kc * nr;
  for (int64_t k = 0; k < kc; ++k)
    for (int64_t jj = nr - tail; jj < nr; ++jj) panel[k * nr + jj] = T(0);
}

// Copies one row of a block (nc contiguous values) into its nr-wide panels.
template <typename T>
inline void scatter_row_to_panels(const T* row, int64_t nc, int64_t kc, int nr, int64_t k, T* dst) {
  for (int64_t j = 0, jp = 0; j < nc; j += nr, ++jp) {
    T* o = dst + jp * kc * nr + k * nr;
    const int64_t n = std::min<int64_t>(nr, nc - j);
    for (int64_t jj = 0; jj < n; ++jj) o[jj] = row[j + jj];
  }
}

// The row runs of a block of output positions with their clipping precomputed once per block:
// for kernel column s, run i reads input columns [lo, hi) of its length (lohi[i * S + s]).
struct BlockRuns {
  RowRun runs[kMaxRuns];
  int64_t count = 0;
  std::vector<int64_t> lo, hi;

  void build(const Conv2dParams& p, int64_t first, int64_t ncols) {
    count = 0;
    for_each_row_run(first, ncols, p.P, p.Q, [&](const RowRun& r) { runs[count++] = r; });
    lo.resize(count * p.S);
    hi.resize(count * p.S);
    for (int64_t i = 0; i < count; ++i)
      for (int64_t s = 0; s < p.S; ++s)
        clip_run(runs[i].ow * p.stride_w - p.pad_left + s * p.dil_w, p.stride_w, runs[i].len, p.W, &lo[i * p.S + s],
                 &hi[i * p.S + s]);
  }
};

template <typename src_t, typename T>
struct ImageColumns {
  const src_t* x;     // input, already offset to the first channel of the group
  const Conv2dParams& p;

  // dst: the kc x nc block at rows [p0, p0 + kc) and columns [j0, j0 + nc). Each row (c, r, s)
  // is gathered run by run into a contiguous row (reads stream along input rows), then copied
  // into the panels.
  void operator()(int64_t j0, int64_t nc, int64_t p0, int64_t kc, int nr, T* dst) const {
    thread_local BlockRuns br;
    br.build(p, j0, nc);
    zero_tail_columns(dst, nc, kc, nr);
    T row[GemmBlocking::nc];
    const int64_t RS = p.R * p.S, step = p.stride_w * p.x.w;
    int64_t c = p0 / RS, rs = p0 % RS, r = rs / p.S, s = rs % p.S;
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t i = 0; i < br.count; ++i) {
        const RowRun& run = br.runs[i];
        T* o = row + run.j;
        const int64_t ih = run.oh * p.stride_h - p.pad_top + r * p.dil_h;
        const bool inside = ih >= 0 && ih < p.H;
        const int64_t lo = inside ? br.lo[i * p.S + s] : run.len, hi = inside ? br.hi[i * p.S + s] : run.len;
        for (int64_t t = 0; t < lo; ++t) o[t] = T(0);
        const src_t* src = x + (run.n * p.x.n + c * p.x.c + ih * p.x.h + (run.ow * p.stride_w - p.pad_left + s * p.dil_w) * p.x.w);
        if (step == 1) {
          for (int64_t t = lo; t < hi; ++t) o[t] = static_cast<T>(src[t]);
        } else {
          for (int64_t t = lo; t < hi; ++t) o[t] = static_cast<T>(src[t * step]);
        }
        for (int64_t t = std::max(lo, hi); t < run.len; ++t) o[t] = T(0);
      }
      scatter_row_to_panels(row, nc, kc, nr, k, dst);
      if (++s == p.S) {
        s = 0;
        if (++r == p.R) {
          r = 0;
          ++c;
        }
      }
    }
  }
};

// The weight gradient's column order: (c, r, s), or (r, s, c) where the input's channels are
// contiguous (channels-last), so that a panel's columns are runs of channels of one tap.
inline bool wgrad_columns_rsc(const Conv2dParams& p) { return p.x.c == 1 && p.channels_per_group() > 1; }

// Column j of the weight gradient as (c, r, s) in the order wgrad_columns_rsc picks.
inline void wgrad_column(const Conv2dParams& p, int64_t j, int64_t* c, int64_t* r, int64_t* s) {
  const int64_t Cg = p.channels_per_group(), RS = p.R * p.S;
  const int64_t rs = wgrad_columns_rsc(p) ? j / Cg : j % RS;
  *c = wgrad_columns_rsc(p) ? j % Cg : j / RS;
  *r = rs / p.S;
  *s = rs % p.S;
}

template <typename src_t, typename T>
struct ImageRows {
  const src_t* x;  // input, already offset to the first channel of the group
  const Conv2dParams& p;

  // dst: the kc x nc block at rows (positions) [p0, p0 + kc), columns [j0, j0 + nc) in
  // wgrad_column's order.
  void operator()(int64_t j0, int64_t nc, int64_t p0, int64_t kc, int nr, T* dst) const {
    for (int64_t jp = 0; jp * nr < nc; ++jp) {
      T* panel = dst + jp * kc * nr;
      int64_t off[kMaxNr], dh[kMaxNr], dw[kMaxNr];  // nr <= kMaxNr (microkernel.h)
      const int ncols = int(std::min<int64_t>(nr, nc - jp * nr));
      for (int jj = 0; jj < ncols; ++jj) {
        int64_t c, r, s;
        wgrad_column(p, j0 + jp * nr + jj, &c, &r, &s);
        dh[jj] = r * p.dil_h;
        dw[jj] = s * p.dil_w;
        off[jj] = c * p.x.c + dh[jj] * p.x.h + dw[jj] * p.x.w;
      }
      // Columns that are consecutive elements (channels of one tap, channels-last) copy as a run.
      bool run = true;
      for (int jj = 1; jj < ncols; ++jj) run = run && off[jj] == off[0] + jj;
      int64_t n = p0 / (p.P * p.Q), oh = (p0 / p.Q) % p.P, ow = p0 % p.Q;
      for (int64_t k = 0; k < kc; ++k) {
        T* out = panel + k * nr;
        const int64_t ih0 = oh * p.stride_h - p.pad_top, iw0 = ow * p.stride_w - p.pad_left;
        const int64_t base = n * p.x.n + ih0 * p.x.h + iw0 * p.x.w;
        const bool inside = ih0 >= 0 && ih0 + (p.R - 1) * p.dil_h < p.H && iw0 >= 0 &&
                            iw0 + (p.S - 1) * p.dil_w < p.W;
        if (inside && run) {
          const src_t* src = x + base + off[0];
          for (int jj = 0; jj < ncols; ++jj) out[jj] = static_cast<T>(src[jj]);
        } else if (inside) {
          for (int jj = 0; jj < ncols; ++jj) out[jj] = static_cast<T>(x[base + off[jj]]);
        } else {
          for (int jj = 0; jj < ncols; ++jj) {
            const int64_t ih = ih0 + dh[jj], iw = iw0 + dw[jj];
            out[jj] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W)
                          ? static_cast<T>(x[base + off[jj]])
                          : T(0);
          }
        }
        for (int jj = ncols; jj < nr; ++jj) out[jj] = T(0);
        if (++ow == p.Q) {
          ow = 0;
          if (++oh == p.P) {
            oh = 0;
            ++n;
          }
        }
      }
    }
  }
};

template <typename src_t, typename T>
struct GradOutColumns {
  const src_t* go;  // grad_output, offset to the first channel of the group
  const Conv2dParams& p;  // p.y holds grad_output's strides

  // dst: rows (output channels) [p0, p0 + kc), columns (output positions (n, oh, ow)) [j0, j0 + nc).
  void operator()(int64_t j0, int64_t nc, int64_t p0, int64_t kc, int nr, T* dst) const {
    RowRun runs[kMaxRuns];
    int64_t nruns = 0;
    for_each_row_run(j0, nc, p.P, p.Q, [&](const RowRun& r) { runs[nruns++] = r; });
    zero_tail_columns(dst, nc, kc, nr);
    T row[GemmBlocking::nc];
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t i = 0; i < nruns; ++i) {
        const RowRun& run = runs[i];
        const src_t* src = go + (run.n * p.y.n + (p0 + k) * p.y.c + run.oh * p.y.h + run.ow * p.y.w);
        T* o = row + run.j;
        if (p.y.w == 1) {
          for (int64_t t = 0; t < run.len; ++t) o[t] = static_cast<T>(src[t]);
        } else {
          for (int64_t t = 0; t < run.len; ++t) o[t] = static_cast<T>(src[t * p.y.w]);
        }
      }
      scatter_row_to_panels(row, nc, kc, nr, k, dst);
    }
  }
};

}  // namespace cpu
}  // namespace cnnops
