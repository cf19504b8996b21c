// CPU convolution forward: per group, the GEMM  Y[K/g, N*P*Q] = W[K/g, C/g*R*S] * im2col(X).
// The weights are packed once into micro-kernel panels; im2col is fused into the packing of
// each kc x nc block of the right operand (ImageColumns); tasks are (group, column chunk) pairs
// split across threads, each accumulating in its own buffer before one converting store.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <type_traits>
#include <vector>

#include "../common/checks.h"
#include "../common/epilogue.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "conv2d_cpu.h"
#include "conv2d_depthwise.h"
#include "conv2d_grouped.h"
#include "conv2d_forward_bf16.h"
#include "conv2d_forward_nhwc.h"
#include "gemm/bf16_block.h"
#include "conv2d_packing.h"
#include "gemm/gemm_driver.h"
#include "streaming_store.h"

namespace cnnops {
namespace cpu {
namespace {

// Columns [j, j + len) of a chunk whose outputs are consecutive in memory.
struct ColumnRun {
  int64_t j, len;
};

// Task scratch: one packed B block, the accumulators of one (row block x column chunk) tile, the
// output offsets of its columns and their consecutive runs.
template <typename acc_t>
struct ForwardScratch {
  Scratch<acc_t> bbuf, cbuf;
  std::vector<int64_t> col_off, res_off;
  std::vector<ColumnRun> runs;
  ForwardScratch(int64_t b, int64_t c, int64_t cols) : bbuf(b), cbuf(c), col_off(cols), res_off(cols) {
    runs.reserve(cols);
  }
};

template <typename scalar_t, typename acc_t>
void forward_kernel(const Conv2dParams& p, const scalar_t* x, const scalar_t* w, const scalar_t* bias, scalar_t* y,
                    const EpilogueParams& ep) {
  const scalar_t* residual = static_cast<const scalar_t*>(ep.residual);
  const ConvEpilogue<scalar_t, acc_t> epilogue(bias, ep);
  const Microkernel<acc_t>& uk = microkernel<acc_t>();
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group();
  const int64_t Kd = p.crs(), cols = p.npq(), PQ = p.P * p.Q;

  // The left operand is the weights. Contiguous [K, C/g, R, S] weights of the accumulation type
  // already are a row-major K x (C/g*R*S) matrix: read them in place. Otherwise (reduced
  // precision, other strides) pack them once into panels.
  const bool in_place = std::is_same_v<scalar_t, acc_t> && p.w.w == 1 && p.w.h == p.S && p.w.c == p.R * p.S;
  const int64_t a_size = in_place ? 0 : packed_a_size(Kg, Kd, uk.mr);
  Scratch<acc_t> a_packed(G * a_size);
  for (int64_t g = 0; g < G && !in_place; ++g)
    pack_filter_panels(p, w + g * Kg * p.w.n, Kg, uk.mr, a_packed.get() + g * a_size);
  auto a_operand = [&](int64_t g) {
    if constexpr (std::is_same_v<scalar_t, acc_t>) {
      if (in_place) return AOperand<acc_t>{w + g * Kg * p.w.n, p.w.n, true};
    }
    return AOperand<acc_t>{a_packed.get() + g * a_size, Kd, false};
  };

  // Tasks are (group, column chunk, row block). Columns come in chunks of up to nc; when that
  // leaves too few tasks for the threads (deep layers: few positions, many filters) the filters
  // are split into row blocks too, each packing its own copy of the chunk's B. The blocking
  // never changes the order of a sum (that is fixed by kc), so results do not depend on it.
  const int64_t threads = at::get_num_threads();
  const int64_t want_tasks = threads > 1 ? 4 * threads : 1;
  const int64_t nc = std::min<int64_t>(GemmBlocking::nc, round_up(cols, uk.nr));
  const int64_t chunks = ceil_div(cols, nc);
  const int64_t m_split =
      std::max<int64_t>(1, std::min(ceil_div(Kg, GemmBlocking::mc), ceil_div(want_tasks, chunks * G)));
  const int64_t mb = round_up(ceil_div(Kg, m_split), uk.mr);
  const int64_t m_blocks = ceil_div(Kg, mb);

  // With row blocks, the row blocks of a chunk would each pack the same B: pack all of B once
  // up front instead (in parallel, block by block) when it is small enough -- it is in exactly
  // the deep layers that split rows, where B (C*R*S x few positions) is small.
  const int64_t ncr = round_up(nc, uk.nr);
  const bool prepack = m_blocks > 1 && G * chunks * Kd * ncr <= (int64_t(64) << 20) / int64_t(sizeof(acc_t));
  Scratch<acc_t> b_packed(prepack ? G * chunks * Kd * ncr : 0);
  const int64_t kblocks = ceil_div(Kd, GemmBlocking::kc);
  auto b_block = [&](int64_t g, int64_t chunk, int64_t pc) { return b_packed.get() + ((g * chunks + chunk) * Kd + pc) * ncr; };
  if (prepack) {
    at::parallel_for(0, G * chunks * kblocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t g = t / (chunks * kblocks), chunk = (t / kblocks) % chunks, pc = (t % kblocks) * GemmBlocking::kc;
        const ImageColumns<scalar_t, acc_t> pack_b{x + g * Cg * p.x.c, p};
        pack_b(chunk * nc, std::min(nc, cols - chunk * nc), pc, std::min<int64_t>(GemmBlocking::kc, Kd - pc), uk.nr,
               b_block(g, chunk, pc));
      }
    });
  }

  // Outputs far larger than the caches (the 64->256 1x1 layers of ResNet-50's first stage write
  // 25 MB at batch 8) are stored without reading their lines first.
  const bool streaming = std::is_same_v<scalar_t, float> && !ep.store_float &&
                         p.N * p.K * p.P * p.Q * int64_t(sizeof(scalar_t)) >= kStreamingStoreBytes;
  parallel_tasks(
      G * chunks * m_blocks,
      [&] { return ForwardScratch<acc_t>(prepack ? 0 : GemmBlocking::kc * ncr, mb * nc, nc); },
      [&](int64_t task, ForwardScratch<acc_t>& st) {
        const int64_t g = task / (chunks * m_blocks), chunk = (task / m_blocks) % chunks, j0 = chunk * nc;
        const int64_t m0 = (task % m_blocks) * mb, m1 = std::min(Kg, m0 + mb);
        const int64_t ncur = std::min<int64_t>(nc, cols - j0);
        std::fill(st.cbuf.get(), st.cbuf.get() + mb * nc, acc_t(0));
        const ImageColumns<scalar_t, acc_t> pack_b{x + g * Cg * p.x.c, p};
        acc_t* rows = st.cbuf.get() - m0 * nc;  // gemm_block indexes C by matrix row
        gemm_block<acc_t>(uk, a_operand(g), m0, m1, j0, ncur, 0, Kd,
                          [&](int64_t j, int64_t n, int64_t p0, int64_t kc, acc_t* dst) -> const acc_t* {
                            if (prepack) return b_block(g, chunk, p0);
                            pack_b(j, n, p0, kc, uk.nr, dst);
                            return dst;
                          },
                          st.bbuf.get(), rows, nc);
        for (int64_t j = 0; j < ncur; ++j) {
          const int64_t col = j0 + j, n = col / PQ, pq = col % PQ;
          st.col_off[j] = n * p.y.n + (pq / p.Q) * p.y.h + (pq % p.Q) * p.y.w;
          st.res_off[j] = n * ep.r.n + (pq / p.Q) * ep.r.h + (pq % p.Q) * ep.r.w;
        }
        // Runs of columns whose outputs (and residuals) are consecutive in memory -- whole images
        // of a contiguous NCHW output -- are stored as plain vectorizable loops; other layouts
        // get runs of one.
        st.runs.clear();
        for (int64_t j = 0; j < ncur;) {
          int64_t len = 1;
          while (j + len < ncur && st.col_off[j + len] == st.col_off[j] + len &&
                 (residual == nullptr || st.res_off[j + len] == st.res_off[j] + len))
            ++len;
          st.runs.push_back({j, len});
          j += len;
        }
        for (int64_t k = m0; k < m1; ++k) {
          const int64_t kg = g * Kg + k;
          acc_t* ck = rows + k * nc;
          for (const ColumnRun& run : st.runs) {
            const int64_t y0 = kg * p.y.c + st.col_off[run.j];
            acc_t* src = ck + run.j;
            if constexpr (std::is_same_v<scalar_t, float>) {
              if (streaming && residual == nullptr && run.len >= 16) {
                // The epilogue in place in the task's buffer, then whole lines to y.
                for (int64_t t = 0; t < run.len; ++t) src[t] = epilogue(src[t], kg, nullptr);
                copy_streaming(y + y0, src, run.len);
                continue;
              }
            }
            if (residual == nullptr) {
              for (int64_t t = 0; t < run.len; ++t) epilogue.store(y, y0 + t, epilogue(src[t], kg, nullptr));
            } else {
              const scalar_t* r_pixel = residual + st.res_off[run.j];
              for (int64_t t = 0; t < run.len; ++t) epilogue.store(y, y0 + t, epilogue(src[t], kg, r_pixel + t));
            }
          }
        }
        if (streaming) streaming_store_fence();
      });
}

// A convolution over zero input channels: every output is the epilogue of an empty sum.
template <typename scalar_t, typename acc_t>
void empty_reduction(const Conv2dParams& p, const scalar_t* bias, scalar_t* y, const EpilogueParams& ep) {
  const ConvEpilogue<scalar_t, acc_t> epilogue(bias, ep);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t oh = 0; oh < p.P; ++oh)
      for (int64_t ow = 0; ow < p.Q; ++ow) {
        const scalar_t* r_pixel = epilogue.residual_pixel(n, oh, ow);
        for (int64_t k = 0; k < p.K; ++k)
          epilogue.store(y, n * p.y.n + k * p.y.c + oh * p.y.h + ow * p.y.w, epilogue(acc_t(0), k, r_pixel));
      }
}

// Depthwise and few-channel grouped convolutions go to their direct kernels (conv2d_depthwise.h,
// conv2d_grouped.h), bfloat16 to pair dot-product blocks (AMX tiles or AVX512-BF16 vectors)
// where the CPU has them (conv2d_forward_bf16.h), channels-last input of the accumulation type to
// the indirect GEMM (conv2d_forward_nhwc.h), everything else to the im2col-packing GEMM above.
template <typename scalar_t, typename acc_t>
void forward(const Conv2dParams& p, const scalar_t* x, const scalar_t* w, const scalar_t* bias, scalar_t* y,
             const EpilogueParams& ep) {
  if (depthwise_applies(p)) return depthwise_forward<scalar_t>(p, x, w, bias, y, ep);
  if (grouped_applies(p)) return grouped_forward<scalar_t>(p, x, w, bias, y, ep);
  if constexpr (std::is_same_v<scalar_t, c10::BFloat16>) {
    if (bf16_block_engine() != nullptr && forward_bf16_blocks_take(p)) return forward_bf16_blocks(p, x, w, bias, y, ep);
  }
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    if (forward_nhwc_applies(p)) return forward_nhwc<scalar_t>(p, x, w, bias, y, ep);
  }
  forward_kernel<scalar_t, acc_t>(p, x, w, bias, y, ep);
}

}  // namespace

template <typename scalar_t>
void conv2d_forward_into(const Conv2dParams& p, const scalar_t* x, const scalar_t* w, scalar_t* y) {
  forward<scalar_t, at::opmath_type<scalar_t>>(p, x, w, nullptr, y, EpilogueParams{nullptr, Strides4{}, Activation::kNone, false});
}
template void conv2d_forward_into<float>(const Conv2dParams&, const float*, const float*, float*);
template void conv2d_forward_into<double>(const Conv2dParams&, const double*, const double*, double*);
template void conv2d_forward_into<c10::BFloat16>(const Conv2dParams&, const c10::BFloat16*, const c10::BFloat16*,
                                                 c10::BFloat16*);
template void conv2d_forward_into<c10::Half>(const Conv2dParams&, const c10::Half*, const c10::Half*, c10::Half*);

at::Tensor conv2d_bias_act(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                           at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                           int64_t activation, const c10::optional<at::Tensor>& residual) {
  check_conv2d_args(input, weight, bias, stride, padding, dilation, groups);
  Conv2dParams p = make_conv2d_params(input, weight, at::Tensor(), stride, padding, dilation, groups);
  check_epilogue_args(input, p, activation, residual);
  at::Tensor y = empty_output({p.N, p.K, p.P, p.Q},
                              input.options().memory_format(output_memory_format(input, weight)));
  if (y.numel() == 0) return y;
  const bool has_residual = residual.has_value() && residual->defined();
  p.y = strides4(y);
  const at::Tensor b = bias.has_value() && bias->defined() ? bias->contiguous() : at::Tensor();
  const EpilogueParams ep{has_residual ? residual->const_data_ptr() : nullptr,
                          has_residual ? strides4(*residual) : Strides4{}, Activation(activation), false};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_conv2d_forward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* bias_ptr = b.defined() ? b.const_data_ptr<scalar_t>() : nullptr;
    if (p.crs() == 0)  // no input channels: an empty reduction, y = act(bias + residual)
      empty_reduction<scalar_t, acc_t>(p, bias_ptr, y.mutable_data_ptr<scalar_t>(), ep);
    else
      forward<scalar_t, acc_t>(p, input.const_data_ptr<scalar_t>(), weight.const_data_ptr<scalar_t>(), bias_ptr,
                               y.mutable_data_ptr<scalar_t>(), ep);
  });
  return y;
}

at::Tensor conv2d_forward(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                          at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  return conv2d_bias_act(input, weight, bias, stride, padding, dilation, groups, 0, c10::nullopt);
}

}  // namespace cpu
}  // namespace cnnops
