// Packers that gather convolution operands straight from the tensors into GEMM panels
// (see gemm/gemm_driver.h for the panel layouts). One struct per operand shape:
//   ImageColumns   -- B of the forward pass: rows (c, r, s), columns output positions (n, p, q).
//                     This is im2col, fused into the packing so no im2col buffer exists.
//   ImageRows      -- B of the weight gradient: the transpose (rows positions, columns (c, r, s)).
//   GradOutColumns -- B of the input gradient: rows k, columns output positions of one image.
// Values are converted to the accumulation type T while packing, so the micro-kernels only see
// float or double (bfloat16 and float16 inputs accumulate in float).
#pragma once
#include <algorithm>
#include <cstdint>

#include "../common/conv_params.h"

namespace cnnops {
namespace cpu {

constexpr int kMaxNr = 16;

template <typename src_t, typename T>
struct ImageColumns {
  const src_t* x;     // input, already offset to the first channel of the group
  const Conv2dParams& p;

  // dst: the kc x nc block at rows [p0, p0 + kc) and columns [j0, j0 + nc).
  void operator()(int64_t j0, int64_t nc, int64_t p0, int64_t kc, int nr, T* dst) const {
    const int64_t PQ = p.P * p.Q, RS = p.R * p.S;
    for (int64_t jp = 0; jp * nr < nc; ++jp) {
      T* panel = dst + jp * kc * nr;
      int64_t base[kMaxNr], ih0[kMaxNr], iw0[kMaxNr];
      const int ncols = int(std::min<int64_t>(nr, nc - jp * nr));
      for (int jj = 0; jj < ncols; ++jj) {
        const int64_t j = j0 + jp * nr + jj;
        const int64_t n = j / PQ, pq = j % PQ, oh = pq / p.Q, ow = pq % p.Q;
        ih0[jj] = oh * p.stride_h - p.pad_top;
        iw0[jj] = ow * p.stride_w - p.pad_left;
        base[jj] = n * p.x.n + ih0[jj] * p.x.h + iw0[jj] * p.x.w;
      }
      // A full panel of one output row, unit-stride along w: each (c, r, s) row of the panel is
      // a contiguous run of the input whenever it lies inside the image.
      bool run = ncols == nr;
      for (int jj = 0; run && jj < nr; ++jj)
        run = ih0[jj] == ih0[0] && iw0[jj] == iw0[0] + jj && base[jj] == base[0] + jj;
      int64_t c = p0 / RS, rs = p0 % RS, r = rs / p.S, s = rs % p.S;
      for (int64_t k = 0; k < kc; ++k) {
        T* out = panel + k * nr;
        const int64_t dh = r * p.dil_h, dw = s * p.dil_w;
        const int64_t off = c * p.x.c + dh * p.x.h + dw * p.x.w;
        if (run && ih0[0] + dh >= 0 && ih0[0] + dh < p.H && iw0[0] + dw >= 0 &&
            iw0[nr - 1] + dw < p.W) {
          const src_t* in = x + base[0] + off;
          for (int jj = 0; jj < nr; ++jj) out[jj] = static_cast<T>(in[jj]);
        } else {
          for (int jj = 0; jj < ncols; ++jj) {
            const int64_t ih = ih0[jj] + dh, iw = iw0[jj] + dw;
            out[jj] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W)
                          ? static_cast<T>(x[base[jj] + off])
                          : T(0);
          }
          for (int jj = ncols; jj < nr; ++jj) out[jj] = T(0);
        }
        if (++s == p.S) {
          s = 0;
          if (++r == p.R) {
            r = 0;
            ++c;
          }
        }
      }
    }
  }
};

template <typename src_t, typename T>
struct ImageRows {
  const src_t* x;  // input, already offset to the first channel of the group
  const Conv2dParams& p;

  // dst: the kc x nc block at rows (positions) [p0, p0 + kc), columns (c, r, s) [j0, j0 + nc).
  void operator()(int64_t j0, int64_t nc, int64_t p0, int64_t kc, int nr, T* dst) const {
    const int64_t RS = p.R * p.S;
    for (int64_t jp = 0; jp * nr < nc; ++jp) {
      T* panel = dst + jp * kc * nr;
      int64_t off[kMaxNr], dh[kMaxNr], dw[kMaxNr];
      const int ncols = int(std::min<int64_t>(nr, nc - jp * nr));
      for (int jj = 0; jj < ncols; ++jj) {
        const int64_t j = j0 + jp * nr + jj;
        const int64_t c = j / RS, rs = j % RS, r = rs / p.S, s = rs % p.S;
        dh[jj] = r * p.dil_h;
        dw[jj] = s * p.dil_w;
        off[jj] = c * p.x.c + dh[jj] * p.x.h + dw[jj] * p.x.w;
      }
      int64_t n = p0 / (p.P * p.Q), oh = (p0 / p.Q) % p.P, ow = p0 % p.Q;
      for (int64_t k = 0; k < kc; ++k) {
        T* out = panel + k * nr;
        const int64_t ih0 = oh * p.stride_h - p.pad_top, iw0 = ow * p.stride_w - p.pad_left;
        const int64_t base = n * p.x.n + ih0 * p.x.h + iw0 * p.x.w;
        const bool inside = ih0 >= 0 && ih0 + (p.R - 1) * p.dil_h < p.H && iw0 >= 0 &&
                            iw0 + (p.S - 1) * p.dil_w < p.W;
        if (inside) {
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
  const src_t* go;  // grad_output, offset to image n and the first channel of the group
  const Conv2dParams& p;  // p.y holds grad_output's strides

  // dst: rows (output channels) [p0, p0 + kc), columns (positions of the image) [j0, j0 + nc).
  void operator()(int64_t j0, int64_t nc, int64_t p0, int64_t kc, int nr, T* dst) const {
    for (int64_t jp = 0; jp * nr < nc; ++jp) {
      T* panel = dst + jp * kc * nr;
      int64_t off[kMaxNr];
      const int ncols = int(std::min<int64_t>(nr, nc - jp * nr));
      for (int jj = 0; jj < ncols; ++jj) {
        const int64_t j = j0 + jp * nr + jj;
        off[jj] = (j / p.Q) * p.y.h + (j % p.Q) * p.y.w;
      }
      bool run = ncols == nr;
      for (int jj = 0; run && jj < nr; ++jj) run = off[jj] == off[0] + jj;
      for (int64_t k = 0; k < kc; ++k) {
        T* out = panel + k * nr;
        const src_t* in = go + (p0 + k) * p.y.c;
        if (run) {
          for (int jj = 0; jj < nr; ++jj) out[jj] = static_cast<T>(in[off[0] + jj]);
        } else {
          for (int jj = 0; jj < ncols; ++jj) out[jj] = static_cast<T>(in[off[jj]]);
          for (int jj = ncols; jj < nr; ++jj) out[jj] = T(0);
        }
      }
    }
  }
};

}  // namespace cpu
}  // namespace cnnops
