// The blocked GEMM loop nest shared by the CPU convolution kernels (forward, dgrad, wgrad).
//
// Each convolution pass is a GEMM whose operands are never materialised: the left operand is
// packed once into mr-row panels (pack_a_panels), the right operand is packed block by block
// (kc x nc) by an op-specific packer that gathers straight from the input tensor -- im2col fused
// into the packing -- and the product accumulates into a small row-major buffer owned by the
// calling task. Loop order follows BLIS: a kc x nr panel of B stays in L1 across the mr-row
// panels of an mc x kc block of A that stays in L2.
#pragma once
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "microkernel.h"

namespace cnnops {
namespace cpu {

// Cache blocking in elements. kc * nr * sizeof(float) = 16 KiB (AVX2) or 32 KiB (AVX-512): one
// B panel in L1. kc also fixes the order of every sum (each micro-kernel call sums kc products
// before adding into C), so it is the same for every micro-kernel: they agree bit for bit.
struct GemmBlocking {
  static constexpr int64_t kc = 256;
  static constexpr int64_t mc = 96;   // a multiple of every micro-kernel's mr (6, 8)
  static constexpr int64_t nc = 192;  // a multiple of every micro-kernel's nr (8, 16, 32)
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Size of a packed A (M x Kd) in elements: whole mr-row panels, the last one zero-padded.
inline int64_t packed_a_size(int64_t M, int64_t Kd, int mr) { return round_up(M, mr) * Kd; }

// Packs the M x Kd left operand into mr-row panels: element (i, p) lands at
//   dst[(i / mr) * Kd * mr + p * mr + i % mr].
// `row(i, out, stride)` writes the Kd values of row i to out[p * stride]. Rows past M are zero.
template <typename T, typename RowFn>
void pack_a_panels(int64_t M, int64_t Kd, int mr, T* dst, const RowFn& row) {
  const int64_t panels = ceil_div(M, mr);
  at::parallel_for(0, panels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t ip = begin; ip < end; ++ip) {
      T* panel = dst + ip * Kd * mr;
      for (int r = 0; r < mr; ++r) {
        const int64_t i = ip * mr + r;
        if (i < M) {
          row(i, panel + r, int64_t(mr));
        } else {
          for (int64_t p = 0; p < Kd; ++p) panel[p * mr + r] = T(0);
        }
      }
    }
  });
}

// The left operand of a GEMM: packed mr-row panels (pack_a_panels, ld = Kd), or a row-major
// matrix read in place (row i at data + i * ld), e.g. contiguous float conv weights.
template <typename T>
struct AOperand {
  const T* data;
  int64_t ld;
  bool rows;
};

// C[m_begin:m_end, 0:nc] += A[m_begin:m_end, p_begin:p_end] * B[p_begin:p_end, j0:j0+nc].
// m_begin must be a multiple of mr. `pack_b(j0, nc, p0, kc, dst)` provides the kc x nc block of B
// as nr-column panels, (p, j) at [(j / nr) * kc * nr + p * nr + j % nr], zero past column nc: it
// packs them into dst and returns dst, or returns where they were packed beforehand.
// `bbuf` holds GemmBlocking::kc * round_up(nc, nr) elements; C is row-major with leading
// dimension ldc and row 0 = matrix row 0.
template <typename T, typename PackB>
void gemm_block(const Microkernel<T>& uk, const AOperand<T>& A, int64_t m_begin, int64_t m_end, int64_t j0,
                int64_t nc, int64_t p_begin, int64_t p_end, const PackB& pack_b, T* bbuf, T* C, int64_t ldc) {
  const int mr = uk.mr, nr = uk.nr;
  for (int64_t pc = p_begin; pc < p_end; pc += GemmBlocking::kc) {
    const int64_t kc = std::min<int64_t>(GemmBlocking::kc, p_end - pc);
    const T* bblock = pack_b(j0, nc, pc, kc, bbuf);
    for (int64_t ic = m_begin; ic < m_end; ic += GemmBlocking::mc) {
      const int64_t ic_end = std::min<int64_t>(ic + GemmBlocking::mc, m_end);
      for (int64_t jr = 0; jr < nc; jr += nr) {
        const T* bpanel = bblock + (jr / nr) * kc * nr;
        const int n = int(std::min<int64_t>(nr, nc - jr));
        for (int64_t ir = ic; ir < ic_end; ir += mr) {
          const int m = int(std::min<int64_t>(mr, ic_end - ir));
          if (A.rows)
            uk.fn_rows(kc, A.data + ir * A.ld + pc, A.ld, bpanel, C + ir * ldc + jr, ldc, m, n);
          else
            uk.fn(kc, A.data + (ir / mr) * A.ld * mr + pc * mr, bpanel, C + ir * ldc + jr, ldc, m, n);
        }
      }
    }
  }
}

// Runs fn(task, state) for every task in [0, n) on the intra-op threads. Threads take the next
// task from a shared counter, so none idles while tasks remain (tasks differ in cost at the
// ragged edges); `state = make_state()` is built once per thread (scratch buffers). Tasks own
// their outputs, so which thread runs one never changes a result.
template <typename MakeState, typename Fn>
void parallel_tasks(int64_t n, const MakeState& make_state, const Fn& fn) {
  if (n <= 0) return;
  std::atomic<int64_t> next{0};
  const int64_t workers = std::min<int64_t>(n, at::get_num_threads());
  at::parallel_for(0, workers, 1, [&](int64_t begin, int64_t end) {
    for (int64_t w = begin; w < end; ++w) {
      auto state = make_state();
      for (int64_t task = next.fetch_add(1); task < n; task = next.fetch_add(1)) fn(task, state);
    }
  });
}

// 64-byte aligned scratch that is not zeroed on allocation (the kernels write before reading).
template <typename T>
class Scratch {
 public:
  explicit Scratch(int64_t n)
      : data_(static_cast<T*>(std::aligned_alloc(64, round_up(std::max<int64_t>(n, 1) * sizeof(T), 64)))) {
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~Scratch() { std::free(data_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return data_; }

 private:
  T* data_;
};

}  // namespace cpu
}  // namespace cnnops
