// CPU convolution forward: per group, the GEMM  Y[K/g, N*P*Q] = W[K/g, C/g*R*S] * im2col(X).
// The weights are packed once into micro-kernel panels; im2col is fused into the packing of
// each kc x nc block of the right operand (ImageColumns); tasks are (group, column chunk) pairs
// split across threads, each accumulating in its own buffer before one converting store.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "conv2d_cpu.h"
#include "conv2d_packing.h"
#include "gemm/gemm_driver.h"

namespace cnnops {
namespace cpu {
namespace {

template <typename scalar_t, typename acc_t>
void forward_kernel(const Conv2dParams& p, const scalar_t* x, const scalar_t* w,
                    const scalar_t* bias, scalar_t* y) {
  const Microkernel<acc_t>& uk = microkernel<acc_t>();
  const int64_t G = p.groups, Cg = p.channels_per_group(), Kg = p.filters_per_group();
  const int64_t Kd = p.crs(), cols = p.npq(), PQ = p.P * p.Q, RS = p.R * p.S;

  // Weights of all groups, packed once: group g's panels start at g * packed_a_size(Kg, Kd).
  const int64_t a_size = packed_a_size(Kg, Kd, uk.mr);
  Scratch<acc_t> a_packed(G * a_size);
  for (int64_t g = 0; g < G; ++g) {
    pack_a_panels<acc_t>(Kg, Kd, uk.mr, a_packed.get() + g * a_size,
                         [&](int64_t k, acc_t* out, int64_t stride) {
                           const scalar_t* wk = w + (g * Kg + k) * p.w.n;
                           for (int64_t q = 0; q < Kd; ++q) {
                             const int64_t c = q / RS, r = (q % RS) / p.S, s = q % p.S;
                             out[q * stride] = static_cast<acc_t>(wk[c * p.w.c + r * p.w.h + s * p.w.w]);
                           }
                         });
  }

  // Enough chunks to keep every thread busy, never wider than the cache blocking allows.
  const int64_t threads = at::get_num_threads();
  const int64_t nc = std::min<int64_t>(
      GemmBlocking::nc, round_up(std::max<int64_t>(1, ceil_div(cols * G, threads * 4)), uk.nr));
  const int64_t chunks = ceil_div(cols, nc);

  at::parallel_for(0, G * chunks, 1, [&](int64_t begin, int64_t end) {
    Scratch<acc_t> bbuf(GemmBlocking::kc * round_up(nc, uk.nr));
    Scratch<acc_t> cbuf(Kg * nc);
    std::vector<int64_t> col_off(nc);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t g = task / chunks, j0 = (task % chunks) * nc;
      const int64_t ncur = std::min<int64_t>(nc, cols - j0);
      std::fill(cbuf.get(), cbuf.get() + Kg * nc, acc_t(0));
      const ImageColumns<scalar_t, acc_t> pack_b{x + g * Cg * p.x.c, p};
      gemm_block<acc_t>(uk, a_packed.get() + g * a_size, Kd, 0, Kg, j0, ncur, 0, Kd,
                        [&](int64_t j, int64_t n, int64_t p0, int64_t kc, acc_t* dst) {
                          pack_b(j, n, p0, kc, uk.nr, dst);
                        },
                        bbuf.get(), cbuf.get(), nc);
      for (int64_t j = 0; j < ncur; ++j) {
        const int64_t col = j0 + j, n = col / PQ, pq = col % PQ;
        col_off[j] = n * p.y.n + (pq / p.Q) * p.y.h + (pq % p.Q) * p.y.w;
      }
      for (int64_t k = 0; k < Kg; ++k) {
        const acc_t b = bias != nullptr ? static_cast<acc_t>(bias[g * Kg + k]) : acc_t(0);
        scalar_t* yk = y + (g * Kg + k) * p.y.c;
        const acc_t* ck = cbuf.get() + k * nc;
        for (int64_t j = 0; j < ncur; ++j) yk[col_off[j]] = static_cast<scalar_t>(ck[j] + b);
      }
    }
  });
}

}  // namespace

at::Tensor conv2d_forward(const at::Tensor& input, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                          at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  check_conv2d_args(input, weight, bias, stride, padding, dilation, groups);
  Conv2dParams p = make_conv2d_params(input, weight, at::Tensor(), stride, padding, dilation, groups);
  at::Tensor y = empty_output({p.N, p.K, p.P, p.Q},
                           input.options().memory_format(output_memory_format(input, weight)));
  if (y.numel() == 0) return y;
  if (p.crs() == 0) return bias.has_value() && bias->defined() ? y.copy_(bias->view({1, -1, 1, 1})) : y.zero_();
  p.y = strides4(y);
  const at::Tensor b = bias.has_value() && bias->defined() ? bias->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "cnnops_conv2d_forward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    forward_kernel<scalar_t, acc_t>(p, input.const_data_ptr<scalar_t>(), weight.const_data_ptr<scalar_t>(),
                                    b.defined() ? b.const_data_ptr<scalar_t>() : nullptr,
                                    y.mutable_data_ptr<scalar_t>());
  });
  return y;
}

}  // namespace cpu
}  // namespace cnnops
