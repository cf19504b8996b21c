// The convolution backward (csrc/cuda/conv2d_{dgrad,wgrad}_simt.cu, and the direct kernels' of
// narrow groups: conv2d_direct*.cu) through its host entries on
// exact-size cudaMalloc'd buffers against direct CPU loops, under the three schedules: ASan sees
// any read outside the buffers (a wrong stride-phase test, a split range past N*P*Q), TSan a
// missing barrier, warps running ahead a missing barrier between warps.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda/conv2d_bprop.h"
#include "cuda/conv2d_direct.h"
#include "cuda/conv2d_direct_wgrad.h"
#include "device_buffer.h"
#include "sim_test.h"

namespace {

namespace sim = cnnops::sim;
using cnnops::Conv2dParams;
using cnnops::cuda::Conv2dBpropArgs;
using cnnops::cuda::DType;

Conv2dParams nchw_params(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t stride,
                         int64_t pad, int64_t dil, int64_t groups) {
  Conv2dParams p{};
  p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = R, p.S = S, p.groups = groups;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.dil_h = p.dil_w = dil;
  p.P = cnnops::conv_out_size(H, 2 * pad, R, stride, dil);
  p.Q = cnnops::conv_out_size(W, 2 * pad, S, stride, dil);
  p.x = cnnops::Strides4{C * H * W, H * W, W, 1};
  p.w = cnnops::Strides4{(C / groups) * R * S, R * S, S, 1};
  p.y = cnnops::Strides4{K * p.P * p.Q, p.P * p.Q, p.Q, 1};
  return p;
}

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& e : v) e = normal(rng);
  return v;
}

// dx, dw, db by the definition (scatter of every product), in double.
void reference(const Conv2dParams& p, const std::vector<float>& x, const std::vector<float>& w,
               const std::vector<float>& dy, std::vector<double>& dx, std::vector<double>& dw, std::vector<double>& db) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  dx.assign(x.size(), 0.0), dw.assign(w.size(), 0.0), db.assign(p.K, 0.0);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const double g = dy[n * p.y.n + k * p.y.c + oh * p.y.h + ow * p.y.w];
          db[k] += g;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < p.R; ++r)
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t h = oh * p.stride_h - p.pad_top + r * p.dil_h, ww = ow * p.stride_w - p.pad_left + s * p.dil_w;
                if (h < 0 || h >= p.H || ww < 0 || ww >= p.W) continue;
                const int64_t xi = n * p.x.n + ((k / Kg) * Cg + c) * p.x.c + h * p.x.h + ww * p.x.w;
                const int64_t wi = k * p.w.n + c * p.w.c + r * p.w.h + s * p.w.w;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
}

int count_off(const std::vector<float>& got, const std::vector<double>& want) {
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) bad += !(std::fabs(got[i] - want[i]) <= 1e-4 * (1 + std::fabs(want[i])));
  return bad;
}

// The same convolution with channels-last input and grad_output (KRSC filters).
Conv2dParams nhwc(Conv2dParams p) {
  p.x = cnnops::Strides4{p.C * p.H * p.W, 1, p.W * p.C, p.C};
  const int64_t Cg = p.C / p.groups;
  p.w = cnnops::Strides4{Cg * p.R * p.S, 1, p.S * Cg, Cg};
  p.y = cnnops::Strides4{p.K * p.P * p.Q, 1, p.Q * p.K, p.K};
  return p;
}

// direct: grad_input and grad_weight on the direct kernels (the plan's BpropPath::kDirect),
// grad_bias alone on the CUDA-core wgrad.
void check_backward(const Conv2dParams& p, bool direct = false) {
  std::mt19937 rng(uint32_t(p.N * 7919 + p.C * 131 + p.K * 17 + p.H));
  const std::vector<float> x = random_vector(p.N * p.C * p.H * p.W, rng);
  const std::vector<float> w = random_vector(p.K * (p.C / p.groups) * p.R * p.S, rng);
  const std::vector<float> dy = random_vector(p.N * p.K * p.P * p.Q, rng);
  std::vector<double> rdx, rdw, rdb;
  reference(p, x, w, dy, rdx, rdw, rdb);
  for (int schedule = 0; schedule < 3; ++schedule) {
    sim::Options o = sim::options();
    o.reverse_block_order = o.reverse_thread_order = schedule == 1;
    o.warps_run_ahead = schedule == 2;
    sim::set_options(o);
    DeviceBuffer<float> dx_(x), dw_(w), ddy(dy), dgx(x.size()), dgw(w.size()), dgb(size_t(p.K));  // NaN-poisoned
    DeviceBuffer<char> workspace(direct ? cnnops::cuda::conv2d_direct_wgrad_plan(p, DType::kFloat32).workspace_bytes
                                        : cnnops::cuda::conv2d_wgrad_workspace_bytes(p, DType::kFloat32));
    Conv2dBpropArgs a{};
    a.p = p;
    a.dtype = DType::kFloat32;
    a.dy = ddy.get(), a.x = dx_.get(), a.w = dw_.get();
    a.dx = dgx.get(), a.dx_strides = p.x;
    if (direct) {
      const cnnops::cuda::LaunchResult r = cnnops::cuda::conv2d_direct_dgrad(a, nullptr);
      REQUIRE(r.error == nullptr);
      CHECK(std::string(r.kernel).rfind("direct_", 0) == 0 || std::string(r.kernel) == "zero_fill");
      a.db = dgb.get();  // grad_bias alone
      REQUIRE(cnnops::cuda::conv2d_wgrad(a, nullptr).error == nullptr);
      a.db = nullptr, a.dw = dgw.get(), a.dw_strides = p.w, a.workspace = workspace.get();
      REQUIRE(cnnops::cuda::conv2d_direct_wgrad_plan(p, DType::kFloat32).fits);
      REQUIRE(cnnops::cuda::conv2d_direct_wgrad(a, nullptr).error == nullptr);
    } else {
      REQUIRE(cnnops::cuda::conv2d_dgrad(a, nullptr).error == nullptr);
      a.dw = dgw.get(), a.dw_strides = p.w, a.db = dgb.get(), a.workspace = workspace.get();
      REQUIRE(cnnops::cuda::conv2d_wgrad(a, nullptr).error == nullptr);
    }
    CHECK_EQ(count_off(dgx.download(), rdx), 0);
    CHECK_EQ(count_off(dgw.download(), rdw), 0);
    CHECK_EQ(count_off(dgb.download(), rdb), 0);
  }
}

}  // namespace

TEST(conv2d_backward_stride_padding_dilation) { check_backward(nchw_params(2, 3, 9, 8, 5, 3, 3, 2, 1, 2, 1)); }

TEST(conv2d_backward_groups_and_several_tiles) { check_backward(nchw_params(2, 8, 11, 9, 72, 3, 2, 1, 1, 1, 4)); }

// 50 channels: every thread row of the 64-wide grad_input channel tile is used.
TEST(conv2d_backward_wide_channel_tile) { check_backward(nchw_params(1, 50, 5, 6, 8, 3, 3, 1, 1, 1, 1)); }

// 80 filters: two 64-wide filter tiles of grad_weight (a tile writing past its own rows shows).
TEST(conv2d_backward_two_filter_tiles) { check_backward(nchw_params(1, 2, 6, 5, 80, 3, 3, 1, 1, 1, 1)); }

// The direct kernels' gradients: depthwise 3x3/2 (four phases, two of them single taps), a
// channel multiplier with dilation, 2x2 groups of 4 x 4 at stride 3 (the phases no tap
// reaches are zero-filled), a 2 x 18 grouping whose 32-channel tiles cut groups; both layouts.
TEST(conv2d_backward_direct_kernels) {
  for (const Conv2dParams& p : {nchw_params(2, 6, 11, 13, 6, 3, 3, 2, 1, 1, 6), nchw_params(1, 5, 12, 17, 10, 5, 5, 1, 4, 2, 5),
                                nchw_params(1, 16, 8, 10, 16, 2, 2, 3, 0, 1, 4), nchw_params(2, 8, 7, 9, 72, 3, 2, 1, 1, 1, 4)}) {
    check_backward(p, true);
    check_backward(nhwc(p), true);
  }
}

TEST(conv2d_backward_split_k_reduction) {
  // N*P*Q = 2 * 35 * 35 = 2450 over one 64 x 64 weight tile: three split ranges, the last short.
  const Conv2dParams p = nchw_params(2, 2, 37, 37, 3, 3, 3, 1, 0, 1, 1);
  CHECK(cnnops::cuda::conv2d_wgrad_workspace_bytes(p, DType::kFloat32) == 3 * 3 * 2 * 9 * sizeof(float));
  check_backward(p);
}
