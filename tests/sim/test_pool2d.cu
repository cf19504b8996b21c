// The pooling kernels (csrc/cuda/pool2d_forward.cu, pool2d_backward.cu, pool2d_global.cu, chosen by
// pool2d.cu) through pool2d_forward / pool2d_backward on exact-size cudaMalloc'd buffers, against
// direct loops, under the three schedules: ASan sees a window read outside the input, TSan and
// warps running ahead a missing barrier in the global pooling reduction.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cuda/pool2d.h"
#include "device_buffer.h"
#include "sim_test.h"

namespace {

namespace sim = cnnops::sim;
using cnnops::Pool2dParams;
using cnnops::cuda::DType;
using cnnops::cuda::Pool2dArgs;
using cnnops::cuda::PoolKind;

Pool2dParams nhwc_pool(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, int64_t s, int64_t pad, int64_t P,
                       int64_t Q) {
  Pool2dParams p{};
  p.N = N, p.C = C, p.H = H, p.W = W, p.P = P, p.Q = Q;
  p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = s, p.pad_h = p.pad_w = pad, p.dil_h = p.dil_w = 1;
  p.count_include_pad = true;
  p.x = cnnops::Strides4{H * W * C, 1, W * C, C};
  p.y = cnnops::Strides4{P * Q * C, 1, Q * C, C};
  return p;
}

// The reference of one output of a 3x3/2 pad-1 window on an NHWC map (nhwc_pool(.., 3, 2, 1, ..)):
// the sum of its input elements, and the first maximum in (row, column) order with its index.
struct WindowRef {
  double sum = 0;
  float best = -INFINITY;
  int64_t at = -1;
};

WindowRef window_3x3s2p1(const Pool2dParams& p, const std::vector<float>& x, int64_t n, int64_t c, int64_t oh,
                         int64_t ow) {
  WindowRef r;
  for (int64_t h = oh * 2 - 1; h < oh * 2 + 2; ++h)
    for (int64_t w = ow * 2 - 1; w < ow * 2 + 2; ++w) {
      if (h < 0 || h >= p.H || w < 0 || w >= p.W) continue;
      const float v = x[n * p.x.n + c + h * p.x.h + w * p.x.w];
      r.sum += v;
      if (v > r.best) r.best = v, r.at = h * p.W + w;
    }
  return r;
}

template <typename F>
void for_each_schedule(F&& f) {
  for (int schedule = 0; schedule < 3; ++schedule) {
    sim::Options o = sim::options();
    o.reverse_block_order = o.reverse_thread_order = schedule == 1;
    o.warps_run_ahead = schedule == 2;
    sim::set_options(o);
    f();
  }
}

// Max pooling forward (values and indices) and gather backward of x and dy on exact-size
// buffers, under the current schedule.
struct MaxPoolRun {
  std::vector<float> y;
  std::vector<int64_t> ind;
  std::vector<float> dx;
};

MaxPoolRun run_max_pool(const Pool2dParams& p, const std::vector<float>& x, const std::vector<float>& dy) {
  DeviceBuffer<float> dx_(x), y(dy.size()), ddy(dy), gx(x.size());
  DeviceBuffer<int64_t> ind(dy.size());
  Pool2dArgs a{};
  a.p = p, a.dtype = DType::kFloat32, a.kind = PoolKind::kMax;
  a.x = dx_.get(), a.y = y.get(), a.indices = ind.get(), a.ind = p.y;
  REQUIRE(cnnops::cuda::pool2d_forward(a, nullptr).error == nullptr);
  a.dy = ddy.get(), a.dx = gx.get();
  REQUIRE(cnnops::cuda::pool2d_backward(a, nullptr).error == nullptr);
  return MaxPoolRun{y.download(), ind.download(), gx.download()};
}

}  // namespace

namespace {

void check_max_pool(int64_t channels) {
  // ResNet's stem pooling, 3x3/2 pad 1, on an odd NHWC map.
  const Pool2dParams p = nhwc_pool(2, channels, 9, 7, 3, 2, 1, 5, 4);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> x(p.N * p.C * p.H * p.W), dy(p.N * p.C * p.P * p.Q);
  for (float& v : x) v = normal(rng);
  for (float& v : dy) v = normal(rng);
  // Reference: first maximum in (row, col) order; scatter of dy to it.
  std::vector<float> y_ref(dy.size());
  std::vector<int64_t> i_ref(dy.size());
  std::vector<double> dx_ref(x.size(), 0.0);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const WindowRef r = window_3x3s2p1(p, x, n, c, oh, ow);
          const int64_t o = n * p.y.n + c + oh * p.y.h + ow * p.y.w;
          y_ref[o] = r.best, i_ref[o] = r.at;
          dx_ref[n * p.x.n + c + (r.at / p.W) * p.x.h + (r.at % p.W) * p.x.w] += dy[o];
        }
  for_each_schedule([&] {
    const MaxPoolRun run = run_max_pool(p, x, dy);
    CHECK(run.y == y_ref);
    CHECK(run.ind == i_ref);
    int bad = 0;
    for (size_t i = 0; i < run.dx.size(); ++i) bad += std::fabs(run.dx[i] - dx_ref[i]) > 1e-5;
    CHECK_EQ(bad, 0);
  });
}

}  // namespace

TEST(max_pool_forward_and_gather_backward_match_the_definition) {
  check_max_pool(5);  // scalar kernels
  check_max_pool(8);  // 16-byte channel vectors (4 floats)
}

TEST(global_average_pool_both_layouts) {
  for (int layout = 0; layout < 2; ++layout) {
    Pool2dParams p = nhwc_pool(2, 70, 7, 7, 7, 7, 0, 1, 1);
    if (layout == 1) {  // NCHW
      p.x = cnnops::Strides4{p.C * p.H * p.W, p.H * p.W, p.W, 1};
      p.y = cnnops::Strides4{p.C, 1, 1, 1};
    }
    std::vector<float> x(p.N * p.C * p.H * p.W);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 13) - 6) * 0.25f;
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x), y(p.N * p.C);
      Pool2dArgs a{};
      a.p = p, a.dtype = DType::kFloat32, a.kind = PoolKind::kAdaptiveAvg;
      a.x = dx.get(), a.y = y.get();
      REQUIRE(cnnops::cuda::pool2d_forward(a, nullptr).error == nullptr);
      const std::vector<float> got = y.download();
      int bad = 0;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t c = 0; c < p.C; ++c) {
          double sum = 0;
          for (int64_t h = 0; h < p.H; ++h)
            for (int64_t w = 0; w < p.W; ++w) sum += x[n * p.x.n + c * p.x.c + h * p.x.h + w * p.x.w];
          bad += std::fabs(got[n * p.y.n + c * p.y.c] - sum / 49) > 1e-5;
        }
      CHECK_EQ(bad, 0);
    });
  }
}

// Average pooling, count_include_pad, on NHWC with 5 (scalar) and 8 (16-byte vector) channels, and
// max pooling on ties (every value in {-1, 0, 1}: the first maximum in scan order must win).
TEST(avg_pool_and_max_pool_ties_both_paths) {
  for (int64_t channels : {5, 8}) {
    const Pool2dParams p = nhwc_pool(2, channels, 7, 9, 3, 2, 1, 4, 5);
    std::vector<float> x(p.N * p.C * p.H * p.W);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int((i * 7919) % 3) - 1);
    std::vector<double> avg_ref(p.N * p.C * p.P * p.Q);
    std::vector<int64_t> ind_ref(avg_ref.size());
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t c = 0; c < p.C; ++c)
        for (int64_t oh = 0; oh < p.P; ++oh)
          for (int64_t ow = 0; ow < p.Q; ++ow) {
            const WindowRef r = window_3x3s2p1(p, x, n, c, oh, ow);
            const int64_t o = n * p.y.n + c + oh * p.y.h + ow * p.y.w;
            avg_ref[o] = r.sum / 9;  // count_include_pad: the padded 3x3 window
            ind_ref[o] = r.at;
          }
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x), y(avg_ref.size()), ym(avg_ref.size());
      DeviceBuffer<int64_t> ind(avg_ref.size());
      Pool2dArgs a{};
      a.p = p, a.dtype = DType::kFloat32, a.kind = PoolKind::kAvg;
      a.x = dx.get(), a.y = y.get();
      REQUIRE(cnnops::cuda::pool2d_forward(a, nullptr).error == nullptr);
      const std::vector<float> got = y.download();
      int bad = 0;
      for (size_t i = 0; i < got.size(); ++i) bad += std::fabs(got[i] - avg_ref[i]) > 1e-6;
      CHECK_EQ(bad, 0);
      a.kind = PoolKind::kMax, a.y = ym.get(), a.indices = ind.get(), a.ind = p.y;
      REQUIRE(cnnops::cuda::pool2d_forward(a, nullptr).error == nullptr);
      CHECK(ind.download() == ind_ref);
    });
  }
}

// The average gathers (backward), scalar (5 channels) and 16-byte channel vectors (8), against
// the scatter of the definition: avg_pool2d 3x3/2 pad 1 with count_include_pad (every window
// divides by 9), and adaptive pooling 9x7 -> 4x5 (overlapping windows of unequal sizes).
TEST(average_gather_backward_both_paths) {
  for (int64_t channels : {5, 8})
    for (const bool adaptive : {false, true}) {
      const Pool2dParams p = adaptive ? nhwc_pool(2, channels, 9, 7, 1, 1, 0, 4, 5)
                                      : nhwc_pool(2, channels, 9, 7, 3, 2, 1, 5, 4);
      std::vector<float> dy(p.N * p.C * p.P * p.Q);
      for (size_t i = 0; i < dy.size(); ++i) dy[i] = float(int((i * 7919) % 11) - 5) * 0.5f;
      std::vector<double> dx_ref(p.N * p.C * p.H * p.W, 0.0);
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t c = 0; c < p.C; ++c)
          for (int64_t oh = 0; oh < p.P; ++oh)
            for (int64_t ow = 0; ow < p.Q; ++ow) {
              int64_t h0 = oh * 2 - 1, h1 = oh * 2 + 2, w0 = ow * 2 - 1, w1 = ow * 2 + 2, area = 9;
              if (adaptive) {
                h0 = oh * p.H / p.P, h1 = ((oh + 1) * p.H + p.P - 1) / p.P;
                w0 = ow * p.W / p.Q, w1 = ((ow + 1) * p.W + p.Q - 1) / p.Q;
                area = (h1 - h0) * (w1 - w0);
              }
              const double g = dy[n * p.y.n + c + oh * p.y.h + ow * p.y.w] / double(area);
              for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h1, p.H); ++h)
                for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w1, p.W); ++w)
                  dx_ref[n * p.x.n + c + h * p.x.h + w * p.x.w] += g;
            }
      for_each_schedule([&] {
        DeviceBuffer<float> ddy(dy), dx(dx_ref.size());
        Pool2dArgs a{};
        a.p = p, a.dtype = DType::kFloat32, a.kind = adaptive ? PoolKind::kAdaptiveAvg : PoolKind::kAvg;
        a.dy = ddy.get(), a.dx = dx.get();
        const cnnops::cuda::LaunchResult r = cnnops::cuda::pool2d_backward(a, nullptr);
        REQUIRE(r.error == nullptr);
        const std::string vec = channels == 8 ? "_nhwc_vec16" : "";
        CHECK(std::string(r.kernel) == (adaptive ? "adaptive_avg_pool_backward_gather" : "avg_pool_backward_gather") + vec);
        const std::vector<float> got = dx.download();
        int bad = 0;
        for (size_t i = 0; i < got.size(); ++i) bad += std::fabs(got[i] - dx_ref[i]) > 1e-6;
        CHECK_EQ(bad, 0);
      });
    }
}

// Dilated windows that hold no input element (kernel 1x2, dilation 2, padding 1 on a 1-wide map:
// both taps fall outside): the output is -inf, the index is where the scan would have started
// (row oh, column 1 -- the element after, or past the plane for the last row), and the backward's
// extra pass adds the gradient at that index when it lies inside the plane, as torch does.
TEST(max_pool_windows_without_elements) {
  Pool2dParams p{};
  p.N = 1, p.C = 2, p.H = 3, p.W = 1, p.P = 3, p.Q = 1;
  p.kernel_h = 1, p.kernel_w = 2, p.stride_h = p.stride_w = 1, p.pad_h = 0, p.pad_w = 1, p.dil_h = 1, p.dil_w = 2;
  p.x = cnnops::Strides4{p.C * p.H * p.W, p.H * p.W, p.W, 1};
  p.y = cnnops::Strides4{p.C * p.P * p.Q, p.P * p.Q, p.Q, 1};
  const std::vector<float> x = {0.5f, -1.5f, 2.5f, -0.25f, 3.0f, 1.0f};
  const std::vector<float> dy = {1.0f, 2.0f, 4.0f, 8.0f, 16.0f, 32.0f};
  const std::vector<float> y_ref(6, -INFINITY);
  const std::vector<int64_t> ind_ref = {1, 2, 3, 1, 2, 3};
  const std::vector<float> dx_ref = {0.0f, 1.0f, 2.0f, 0.0f, 8.0f, 16.0f};  // index 3 is outside the 3-element plane
  for_each_schedule([&] {
    const MaxPoolRun run = run_max_pool(p, x, dy);
    CHECK(run.y == y_ref);
    CHECK(run.ind == ind_ref);
    CHECK(run.dx == dx_ref);
  });
}

// NCHW with 16-byte aligned rows: the row-vector forward kernel, for each window shape along W
// it is built for -- VGG's 2/2, ResNet's 3/2 pad 1 (a left column outside the row at the first
// vector), GoogLeNet's ceil-mode 3/2 (a right column outside the row at the last), Inception's
// 3/1 pad 1 (both). Rows 3-tall, stride 2, padded by 1 (the padded divisor of
// count_include_pad), values in {-3, -2, -1} so that max pooling has ties and every maximum is
// negative (a running maximum not started at -inf shows); max pooling also without indices (a
// null index pointer), and the backward gathers of both. Exact-size buffers: ASan sees a load past
// a row or before the first.
TEST(nchw_row_vector_forward_and_backward_max_and_avg) {
  struct Along {
    int64_t kernel, stride, pad, W, Q;
  };
  // The last five end their rows in a partial vector (6, 7, 10 or 9 outputs of 4-float vectors): the
  // forward fills the loads past the row, stores the outputs one by one; the backward gathers
  // are the scalar ones there.
  for (const Along wa : {Along{2, 2, 0, 16, 8}, Along{3, 2, 1, 16, 8}, Along{3, 2, 0, 16, 8}, Along{3, 1, 1, 8, 8},
                         Along{2, 2, 0, 12, 6}, Along{3, 2, 1, 12, 6}, Along{3, 2, 0, 16, 7},
                         Along{3, 2, 0, 20, 10},   // ceil mode: the last window runs past the row
                         Along{3, 2, 0, 20, 9}}) {  // a last vector of one output
    const bool row_gathers = wa.stride * wa.Q == wa.W && wa.Q % 4 == 0;
    Pool2dParams p{};
    p.N = 2, p.C = 3, p.H = 9, p.W = wa.W, p.P = 5, p.Q = wa.Q;
    p.kernel_h = 3, p.kernel_w = wa.kernel, p.stride_h = 2, p.stride_w = wa.stride, p.pad_h = 1, p.pad_w = wa.pad;
    p.dil_h = p.dil_w = 1;
    p.count_include_pad = true;
    p.x = cnnops::Strides4{p.C * p.H * p.W, p.H * p.W, p.W, 1};
    p.y = cnnops::Strides4{p.C * p.P * p.Q, p.P * p.Q, p.Q, 1};
    std::vector<float> x(p.N * p.C * p.H * p.W);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(-1 - int((i * 7919) % 3));
    // Rows 0-2 of the second plane all -inf: its first output row's windows keep their initial
    // index (the first tap inside the input), as torch's.
    std::fill(x.begin() + p.H * p.W, x.begin() + p.H * p.W + 3 * p.W, -INFINITY);
    std::vector<float> max_ref(p.N * p.C * p.P * p.Q), dy(max_ref.size());
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = float(int((i * 104729) % 7) - 3);
    std::vector<double> avg_ref(max_ref.size()), dx_max_ref(x.size(), 0.0), dx_avg_ref(x.size(), 0.0);
    std::vector<int64_t> ind_ref(max_ref.size());
    for (int64_t plane = 0; plane < p.N * p.C; ++plane)
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          const int64_t h0 = oh * 2 - 1, h1 = std::min<int64_t>(h0 + 3, p.H + 1);
          const int64_t w0 = ow * wa.stride - wa.pad, w1 = std::min<int64_t>(w0 + wa.kernel, p.W + wa.pad);
          const int64_t o = plane * p.P * p.Q + oh * p.Q + ow, area = (h1 - h0) * (w1 - w0);
          double sum = 0;
          float best = -INFINITY;
          int64_t at = std::max<int64_t>(h0, 0) * p.W + std::max<int64_t>(w0, 0);
          for (int64_t h = std::max<int64_t>(h0, 0); h < std::min<int64_t>(h1, p.H); ++h)
            for (int64_t w = std::max<int64_t>(w0, 0); w < std::min<int64_t>(w1, p.W); ++w) {
              const float v = x[plane * p.H * p.W + h * p.W + w];
              sum += v;
              if (v > best) best = v, at = h * p.W + w;
              dx_avg_ref[plane * p.H * p.W + h * p.W + w] += dy[o] / double(area);
            }
          avg_ref[o] = sum / double(area);
          max_ref[o] = best, ind_ref[o] = at;
          dx_max_ref[plane * p.H * p.W + at] += dy[o];
        }
    // The backward gathers too (these windows tile the rows), against the scatters above.
    auto close = [](const std::vector<float>& got, const std::vector<double>& want) {
      int bad = 0;
      for (size_t i = 0; i < got.size(); ++i) bad += !(got[i] == want[i] || std::fabs(got[i] - want[i]) <= 1e-5);
      return bad;
    };
    for_each_schedule([&] {
      DeviceBuffer<float> dx(x), y(max_ref.size()), yv(max_ref.size()), ya(max_ref.size());
      DeviceBuffer<int64_t> ind(max_ref.size());
      Pool2dArgs a{};
      a.p = p, a.dtype = DType::kFloat32, a.kind = PoolKind::kMax;
      a.x = dx.get(), a.y = y.get(), a.indices = ind.get(), a.ind = p.y;
      const cnnops::cuda::LaunchResult r = cnnops::cuda::pool2d_forward(a, nullptr);
      REQUIRE(r.error == nullptr);
      CHECK(std::string(r.kernel) == "max_pool_forward_nchw_wvec16");
      CHECK(y.download() == max_ref);
      CHECK(ind.download() == ind_ref);
      a.y = yv.get(), a.indices = nullptr;  // the values alone
      REQUIRE(cnnops::cuda::pool2d_forward(a, nullptr).error == nullptr);
      CHECK(yv.download() == max_ref);
      a.kind = PoolKind::kAvg, a.y = ya.get();
      const cnnops::cuda::LaunchResult ra = cnnops::cuda::pool2d_forward(a, nullptr);
      REQUIRE(ra.error == nullptr);
      CHECK(std::string(ra.kernel) == "avg_pool_forward_nchw_wvec16");
      CHECK_EQ(close(ya.download(), avg_ref), 0);
      DeviceBuffer<float> ddy(dy), gm(x.size()), ga(x.size());
      a.dy = ddy.get(), a.dx = gm.get(), a.kind = PoolKind::kMax, a.indices = ind.get();
      const cnnops::cuda::LaunchResult rb = cnnops::cuda::pool2d_backward(a, nullptr);
      REQUIRE(rb.error == nullptr);
      CHECK(std::string(rb.kernel) == (row_gathers ? "max_pool_backward_gather_nchw_wvec16" : "max_pool_backward_gather"));
      CHECK_EQ(close(gm.download(), dx_max_ref), 0);
      a.dx = ga.get(), a.kind = PoolKind::kAvg, a.indices = nullptr;
      const cnnops::cuda::LaunchResult rab = cnnops::cuda::pool2d_backward(a, nullptr);
      REQUIRE(rab.error == nullptr);
      CHECK(std::string(rab.kernel) == (row_gathers ? "avg_pool_backward_gather_nchw_wvec16" : "avg_pool_backward_gather"));
      CHECK_EQ(close(ga.download(), dx_avg_ref), 0);
    });
  }
}

namespace {

// The kernel pool2d.cu chooses for a float max-pooling forward of p (indices with strides ind,
// or none), run on exact-size buffers.
std::string max_forward_kernel(const Pool2dParams& p, const cnnops::Strides4* ind) {
  DeviceBuffer<float> x(p.N * p.x.n), y(p.N * p.y.n);
  DeviceBuffer<int64_t> indices(p.N * p.C * p.P * p.Q);
  Pool2dArgs a{};
  a.p = p, a.dtype = DType::kFloat32, a.kind = PoolKind::kMax;
  a.x = x.get(), a.y = y.get();
  if (ind != nullptr) a.indices = indices.get(), a.ind = *ind;
  const cnnops::cuda::LaunchResult r = cnnops::cuda::pool2d_forward(a, nullptr);
  REQUIRE(r.error == nullptr);
  return r.kernel;
}

// NCHW rows of W elements, each row starting 16-byte aligned (a row pitch rounded up to 4 floats).
Pool2dParams nchw_row_pool(int64_t W, int64_t k, int64_t s, int64_t pad, int64_t Q) {
  Pool2dParams p{};
  const int64_t pitch = (W + 3) / 4 * 4;
  p.N = 1, p.C = 2, p.H = 4, p.W = W, p.P = 2, p.Q = Q;
  p.kernel_h = 2, p.kernel_w = k, p.stride_h = 2, p.stride_w = s, p.pad_h = 0, p.pad_w = pad;
  p.dil_h = p.dil_w = 1;
  p.x = cnnops::Strides4{p.C * p.H * pitch, p.H * pitch, pitch, 1};
  p.y = cnnops::Strides4{p.C * p.P * p.Q, p.P * p.Q, p.Q, 1};
  return p;
}

}  // namespace

// Which path each shape takes: the vector paths compute the same values as the scalar kernels,
// so only the choice itself shows a wrong condition in pool2d.cu.
TEST(forward_kernel_choice) {
  // NHWC channel vectors (4 floats): whole vectors of channels, indices channels-innermost.
  const Pool2dParams nhwc = nhwc_pool(1, 8, 6, 6, 2, 2, 0, 3, 3);
  CHECK(max_forward_kernel(nhwc, &nhwc.y) == "max_pool_forward_nhwc_vec16");
  CHECK(max_forward_kernel(nhwc, nullptr) == "max_pool_forward_nhwc_vec16");
  const cnnops::Strides4 planar_ind{nhwc.C * 9, 9, 3, 1};  // indices NCHW beside an NHWC output
  CHECK(max_forward_kernel(nhwc, &planar_ind) == "max_pool_forward");
  const Pool2dParams odd_channels = nhwc_pool(1, 6, 6, 6, 2, 2, 0, 3, 3);
  CHECK(max_forward_kernel(odd_channels, &odd_channels.y) == "max_pool_forward");
  // NCHW row vectors: rows of whole vectors, or windows ending inside the row with whole output vectors.
  const Pool2dParams inside = nchw_row_pool(17, 3, 2, 0, 8);  // 2 * 8 <= 17, Q % 4 == 0, W % 4 != 0
  CHECK(max_forward_kernel(inside, &inside.y) == "max_pool_forward_nchw_wvec16");
  const Pool2dParams past = nchw_row_pool(15, 3, 2, 1, 8);  // 2 * 8 > 15: the last loads would leave the row
  CHECK(max_forward_kernel(past, &past.y) == "max_pool_forward");
  const Pool2dParams partial_q = nchw_row_pool(19, 3, 2, 0, 9);  // 2 * 9 <= 19 but a partial output vector
  CHECK(max_forward_kernel(partial_q, &partial_q.y) == "max_pool_forward");
}

namespace {

std::string adaptive_forward_kernel(const Pool2dParams& p) {
  DeviceBuffer<float> x(p.N * p.x.n), y(p.N * p.y.n);
  Pool2dArgs a{};
  a.p = p, a.dtype = DType::kFloat32, a.kind = PoolKind::kAdaptiveAvg;
  a.x = x.get(), a.y = y.get();
  const cnnops::cuda::LaunchResult r = cnnops::cuda::pool2d_forward(a, nullptr);
  REQUIRE(r.error == nullptr);
  return r.kernel;
}

Pool2dParams adaptive_pool(int64_t C, int64_t P, int64_t Q, bool channels_last) {
  Pool2dParams p = nhwc_pool(2, C, 5, 6, 1, 1, 0, P, Q);
  if (!channels_last) {
    p.x = cnnops::Strides4{C * 30, 30, 6, 1};
    p.y = cnnops::Strides4{C * P * Q, P * Q, Q, 1};
  }
  return p;
}

}  // namespace

TEST(adaptive_forward_kernel_choice) {
  // To 1 x 1: the global reductions (never the window kernels, vector or not).
  CHECK(adaptive_forward_kernel(adaptive_pool(8, 1, 1, true)) == "global_avg_pool_channels");
  CHECK(adaptive_forward_kernel(adaptive_pool(8, 1, 1, false)) == "global_avg_pool_planes");
  // To any other size: the window kernels.
  CHECK(adaptive_forward_kernel(adaptive_pool(8, 1, 2, true)) == "adaptive_avg_pool_forward_nhwc_vec16");
  CHECK(adaptive_forward_kernel(adaptive_pool(8, 2, 1, true)) == "adaptive_avg_pool_forward_nhwc_vec16");
  CHECK(adaptive_forward_kernel(adaptive_pool(8, 2, 1, false)) == "adaptive_avg_pool_forward");
  CHECK(adaptive_forward_kernel(adaptive_pool(8, 1, 2, false)) == "adaptive_avg_pool_forward");
}

// The NHWC max gather takes channel vectors only with int64 indices aligned to a whole vector
// of them (4 floats' indices: 32 bytes).
TEST(max_gather_index_alignment) {
  const Pool2dParams p = nhwc_pool(1, 8, 6, 6, 2, 2, 0, 3, 3);
  DeviceBuffer<float> dy(p.N * p.y.n), dx(p.N * p.x.n);
  DeviceBuffer<int64_t> indices(p.N * p.y.n + 8);
  std::vector<int64_t> zeros(p.N * p.y.n + 8, 0);
  indices.upload(zeros);
  const auto gather_kernel = [&](const int64_t* ind) {
    Pool2dArgs a{};
    a.p = p, a.dtype = DType::kFloat32, a.kind = PoolKind::kMax;
    a.dy = dy.get(), a.dx = dx.get(), a.indices = const_cast<int64_t*>(ind), a.ind = p.y;
    const cnnops::cuda::LaunchResult r = cnnops::cuda::pool2d_backward(a, nullptr);
    REQUIRE(r.error == nullptr);
    return std::string(r.kernel);
  };
  // A 32-byte aligned start that is not 12- (or 36-) byte aligned, and a 16-byte aligned one that is not 32.
  const int64_t* aligned = nullptr;
  for (int k = 0; k < 8 && aligned == nullptr; ++k) {
    const uintptr_t at = reinterpret_cast<uintptr_t>(indices.get() + k);
    if (at % 32 == 0 && at % 12 != 0) aligned = indices.get() + k;
  }
  REQUIRE(aligned != nullptr);
  CHECK(gather_kernel(aligned) == "max_pool_backward_gather_nhwc_vec16");
  CHECK(gather_kernel(aligned + 2) == "max_pool_backward_gather");
}
