// The convolution forward (csrc/cuda/conv2d_fprop*.cu) through its real host entry,
// conv2d_fprop(), on cudaMalloc'd buffers sized exactly to the tensors, against a direct CPU loop.
// In the ASan flavour an out-of-bounds read of an input, weight or bias element (a wrong padding
// test, a stride mix-up) is reported; in the TSan flavour a missing barrier between the
// shared-memory tiles and their readers is.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/conv2d_fprop.h"
#include "cuda/dtypes.cuh"
#include "device_buffer.h"
#include "sim_test.h"

namespace {

namespace sim = cnnops::sim;
using cnnops::Conv2dParams;
using cnnops::cuda::Conv2dFpropArgs;
using cnnops::cuda::DType;

struct Shape {
  int64_t N, C, H, W, K, R, S, stride, pad_top, pad_left, pad_bottom, pad_right, dil, groups;
  bool nhwc;
};

Conv2dParams params_of(const Shape& s) {
  Conv2dParams p{};
  p.N = s.N, p.C = s.C, p.H = s.H, p.W = s.W, p.K = s.K, p.R = s.R, p.S = s.S, p.groups = s.groups;
  p.stride_h = p.stride_w = s.stride;
  p.pad_top = s.pad_top, p.pad_left = s.pad_left, p.pad_bottom = s.pad_bottom, p.pad_right = s.pad_right;
  p.dil_h = p.dil_w = s.dil;
  p.P = cnnops::conv_out_size(p.H, p.pad_top + p.pad_bottom, p.R, p.stride_h, p.dil_h);
  p.Q = cnnops::conv_out_size(p.W, p.pad_left + p.pad_right, p.S, p.stride_w, p.dil_w);
  const int64_t Cg = p.C / p.groups;
  // NCHW or NHWC element strides for input and output; weights [K, C/g, R, S] contiguous.
  p.x = s.nhwc ? cnnops::Strides4{p.H * p.W * p.C, 1, p.W * p.C, p.C} : cnnops::Strides4{p.C * p.H * p.W, p.H * p.W, p.W, 1};
  p.y = s.nhwc ? cnnops::Strides4{p.P * p.Q * p.K, 1, p.Q * p.K, p.K} : cnnops::Strides4{p.K * p.P * p.Q, p.P * p.Q, p.Q, 1};
  p.w = cnnops::Strides4{Cg * p.R * p.S, p.R * p.S, p.S, 1};
  return p;
}

// The definition, one output at a time, in double: act(conv + bias + residual).
std::vector<double> reference(const Conv2dParams& p, const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& b, const std::vector<float>* residual = nullptr,
                              cnnops::Strides4 rs = {}, bool relu = false) {
  std::vector<double> y(p.N * p.K * p.P * p.Q);
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t oh = 0; oh < p.P; ++oh)
        for (int64_t ow = 0; ow < p.Q; ++ow) {
          double acc = b[k];
          const int64_t g = k / Kg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < p.R; ++r)
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t h = oh * p.stride_h - p.pad_top + r * p.dil_h, ww = ow * p.stride_w - p.pad_left + s * p.dil_w;
                if (h < 0 || h >= p.H || ww < 0 || ww >= p.W) continue;
                acc += double(x[n * p.x.n + (g * Cg + c) * p.x.c + h * p.x.h + ww * p.x.w]) *
                       double(w[k * p.w.n + c * p.w.c + r * p.w.h + s * p.w.w]);
              }
          if (residual != nullptr) acc += (*residual)[n * rs.n + k * rs.c + oh * rs.h + ow * rs.w];
          y[n * p.y.n + k * p.y.c + oh * p.y.h + ow * p.y.w] = relu && acc < 0 ? 0.0 : acc;
        }
  return y;
}

// Runs the forward in element type T (float, or half_t with KRSC filters for the tensor-core
// kernel) on random data; checks every element against the reference and which kernel ran.
// epilogue: also add a residual (NCHW strides, whatever the output's; NHWC with nhwc_residual)
// and apply ReLU. offset: the bias and the residual start that many elements past their
// allocation (1: misaligned for any vector access).
template <typename T>
void check_fprop(const Shape& shape, DType dtype, const char* kernel, double tolerance, bool epilogue = false,
                 bool allow_tf32 = false, bool nhwc_residual = false, int offset = 0, bool nchw_output = false) {
  Conv2dParams p = params_of(shape);
  if (nchw_output) p.y = cnnops::Strides4{p.K * p.P * p.Q, p.P * p.Q, p.Q, 1};
  const int64_t Cg = p.C / p.groups;
  if (!std::is_same<T, float>::value || allow_tf32)
    p.w = cnnops::Strides4{p.R * p.S * Cg, 1, p.S * Cg, Cg};  // KRSC, as the tensor-core kernels read
  std::mt19937 rng(uint32_t(p.N * 1000003 + p.C * 101 + p.K));
  std::normal_distribution<float> normal;
  // Values rounded to T, so the reference sees exactly what the kernel reads -- and, for TF32,
  // what the tensor cores multiply (cvt.rna.tf32: 10-bit mantissas, ties away from zero).
  auto random = [&](int64_t count, std::vector<T>& dev, std::vector<float>& host, bool mma_operand = false) {
    for (int64_t i = 0; i < count; ++i) {
      dev.push_back(cnnops::cuda::from_acc<T>(normal(rng)));
      float v = float(cnnops::cuda::widen(dev.back()));
      if (allow_tf32 && mma_operand) {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        bits = (bits + 0x1000u) & 0xffffe000u;
        std::memcpy(&v, &bits, 4);
      }
      host.push_back(v);
    }
  };
  std::vector<T> x, w, b;
  std::vector<float> xf, wf, bf;
  random(p.N * p.C * p.H * p.W, x, xf, true);
  random(p.K * (p.C / p.groups) * p.R * p.S, w, wf, true);
  random(p.K, b, bf);
  std::vector<T> r;
  std::vector<float> rf;
  random(p.N * p.K * p.P * p.Q, r, rf);
  const cnnops::Strides4 rs = nhwc_residual ? cnnops::Strides4{p.K * p.P * p.Q, 1, p.Q * p.K, p.K}
                                             : cnnops::Strides4{p.K * p.P * p.Q, p.P * p.Q, p.Q, 1};
  b.insert(b.begin(), offset, T{});
  r.insert(r.begin(), offset, T{});
  DeviceBuffer<T> dx(x), dw(w), db(b), dr(r), dy(p.N * p.K * p.P * p.Q);  // dy: 0xFF (NaN) poisoned
  Conv2dFpropArgs a{};
  a.p = p;
  a.dtype = dtype;
  a.allow_tf32 = allow_tf32;
  a.x = dx.get(), a.w = dw.get(), a.bias = db.get() + offset, a.y = dy.get();
  if (epilogue) a.ep = cnnops::EpilogueParams{dr.get() + offset, rs, cnnops::Activation::kRelu, false};
  const std::vector<double> ref = epilogue ? reference(p, xf, wf, bf, &rf, rs, true) : reference(p, xf, wf, bf);
  // Three legal schedules: the default rounds; blocks and threads last to first (a block that
  // writes another's outputs, or a thread order dependence, shows); each warp running ahead to
  // the next __syncthreads (a missing barrier between warps reads poison).
  for (int schedule = 0; schedule < 3; ++schedule) {
    sim::Options o = sim::options();
    o.reverse_block_order = o.reverse_thread_order = schedule == 1;
    o.warps_run_ahead = schedule == 2;
    o.count_memory_accesses = true;
    sim::set_options(o);
    dy.upload(std::vector<T>(dy.size(), cnnops::cuda::from_acc<T>(NAN)));
    sim::reset_counters();
    sim::reset_memory_access_counts();
    const cnnops::cuda::LaunchResult r = cnnops::cuda::conv2d_fprop(a, nullptr);
    REQUIRE(r.error == nullptr);
    CHECK_EQ(std::string(r.kernel), std::string(kernel));
    CHECK(sim::counter(sim::Counter::kLaunches) == 1);
    // The tensor-core kernels' shared tiles are laid out so that no access conflicts: every
    // wavefront count at its ideal (a swizzle that keeps results right but conflicts fails here).
    if (std::string(kernel).rfind("fprop_tc", 0) == 0 || std::string(kernel).rfind("fprop_wgmma", 0) == 0) {
      int shared_sites = 0;
      for (const sim::MemoryAccessSite& m : sim::memory_access_counts()) {
        if (m.kernel != kernel || m.space != sim::MemorySpace::kShared) continue;
        ++shared_sites;
        CHECK_EQ(m.wavefronts, m.ideal_wavefronts);
      }
      // the A and B cp.async writes, and the A and B fragment reads (mma.sync) or the epilogue's
      // staging (wgmma, whose operand reads the counters do not see)
      CHECK(shared_sites >= 4);
      // The epilogue stores whole 16-byte vectors wherever the output allows them: NHWC with
      // K a whole number of vectors.
      const int64_t vec = 16 / int64_t(sizeof(T));
      if (p.y.c == 1 && p.K % vec == 0)
        for (const sim::MemoryAccessSite& m : sim::memory_access_counts())
          if (m.kernel == kernel && m.instruction == "st.global") CHECK_EQ(m.bytes, 16 * m.lane_accesses);
    }
    const std::vector<T> y = dy.download();
    int bad = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double v = cnnops::cuda::widen(y[i]);
      const bool off = !(std::fabs(v - ref[i]) <= tolerance * (1 + std::fabs(ref[i])));
      if (off && bad == 0) std::printf("     first mismatch at %zu: got %.9g, expected %.9g\n", i, v, ref[i]);
      bad += off;
    }
    CHECK_EQ(bad, 0);
  }
}

// The Hopper (wgmma) forward on for a scope (the simulator starts with it off).
struct WgmmaOn {
  explicit WgmmaOn(bool on) { cnnops::cuda::set_fprop_wgmma_enabled(on); }
  ~WgmmaOn() { cnnops::cuda::set_fprop_wgmma_enabled(false); }
};

void check_fprop_f32(const Shape& shape, bool epilogue = false, const char* kernel = "fprop_simt_64x64x16<f32>") {
  check_fprop<float>(shape, DType::kFloat32, kernel, 1e-4, epilogue);
}

}  // namespace

TEST(conv2d_fprop_nchw_padding_stride_dilation) {
  check_fprop_f32({2, 3, 9, 7, 5, 3, 3, 2, 1, 2, 0, 1, 2, 1, false});
}

// Narrow groups take the direct kernels (conv2d_direct.cu): 2 x 18 channels per group, three
// channel tiles of 32 that cut groups; wide groups stay on the implicit GEMM.
TEST(conv2d_fprop_nhwc_groups_several_tiles) {
  check_fprop_f32({3, 8, 11, 9, 72, 3, 2, 1, 1, 0, 1, 1, 1, 4, true}, false, "direct_nhwc_32x8x16_sliding<f32>");
  check_fprop_f32({1, 80, 5, 6, 80, 3, 3, 1, 1, 1, 1, 1, 1, 2, true}, false, "fprop_simt_64x64x16<f32>");
}

TEST(conv2d_fprop_fused_epilogue_cuda_cores) {
  // 80 filters: two 64-wide filter tiles; residual in NCHW while the output is NHWC.
  check_fprop_f32({2, 5, 7, 6, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1, true}, true);
}

TEST(conv2d_fprop_fused_epilogue_tensor_cores_and_tf32) {
  check_fprop<cnnops::cuda::bf16_t>({2, 16, 9, 7, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1, true}, DType::kBFloat16,
                                    "fprop_tc_64x64x64_s3<bf16>", 2e-2, true);
  // float32 as TF32 (C % 4 == 0), KRSC filters: inputs rounded to 10-bit mantissas.
  check_fprop<float>({2, 12, 9, 7, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, true}, DType::kFloat32,
                     "fprop_tc_64x64x32_s3<tf32>", 1e-4, true, true);
}

TEST(conv2d_fprop_depthwise_nhwc) {
  check_fprop_f32({1, 6, 6, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, true}, false, "direct_nhwc_32x8x16_s3<f32>");
}

// Depthwise 7x7 in NCHW with the fused epilogue (threads along columns, taps unrolled), 12
// channels (two 8-channel tiles) and ragged 8 x 32 output tiles; bfloat16 groups of 3 at stride 2
// (the stride-2 unrolled filter).
TEST(conv2d_fprop_direct_nchw_epilogue_and_bf16) {
  check_fprop_f32({2, 12, 19, 37, 12, 7, 7, 1, 3, 3, 3, 3, 1, 12, false}, true, "direct_nchw_8x8x32_s7<f32>");
  check_fprop<cnnops::cuda::bf16_t>({2, 9, 13, 11, 18, 3, 3, 2, 1, 1, 1, 1, 1, 3, false}, DType::kBFloat16,
                                    "direct_nchw_8x8x32_s3_stride2<bf16>", 2e-2, true);
}

// A 6x9 filter at unit strides: input rows walked 4 taps at a time plus a 1-tap tail, in both
// thread layouts (8 channels, one tile of channels-last lanes mostly idle).
TEST(conv2d_fprop_direct_sliding_rows) {
  check_fprop_f32({1, 8, 14, 21, 8, 6, 9, 1, 2, 3, 3, 4, 1, 8, false}, true, "direct_nchw_8x8x32_sliding<f32>");
  check_fprop_f32({1, 8, 14, 21, 8, 6, 9, 1, 2, 3, 3, 4, 1, 8, true}, false, "direct_nhwc_32x8x16_sliding<f32>");
}

// The tensor-core kernel: padding taps zero-filled by cp.async (ASan sees any read outside the
// exact-size buffers), several k-steps through the pipeline (TSan sees a missing barrier).
TEST(conv2d_fprop_tensor_cores_f16_nhwc) {
  using cnnops::cuda::half_t;
  check_fprop<half_t>({2, 16, 7, 9, 24, 3, 3, 2, 1, 1, 2, 0, 1, 1, true}, DType::kFloat16,
                      "fprop_tc_64x64x64_s3<f16>", 4e-3);
  CHECK(sim::counter(sim::Counter::kMmaSync) > 0);
  // Right and bottom padding reached, N*P*Q = 130 (two 128-row tiles, every warp row used), a
  // K tile and a half, 3 pipeline steps.
  check_fprop<half_t>({2, 32, 9, 10, 96, 3, 3, 1, 0, 1, 2, 1, 1, 1, true}, DType::kFloat16,
                      "fprop_tc_64x64x64_s3<f16>", 4e-3);
}

// On a GPU with 2 SMs the same shapes get the 128 x 64 tile (the heuristic reads the SM count).
TEST(conv2d_fprop_tensor_cores_large_tile) {
  cudaDeviceProp small_gpu = sim::default_device_properties();
  small_gpu.multiProcessorCount = 2;
  REQUIRE(sim::set_device_properties(small_gpu) == cudaSuccess);
  using cnnops::cuda::half_t;
  check_fprop<half_t>({2, 32, 9, 10, 96, 3, 3, 1, 0, 1, 2, 1, 1, 1, true}, DType::kFloat16,
                      "fprop_tc_128x64x32_s3<f16>", 4e-3, true);
  check_fprop<cnnops::cuda::bf16_t>({2, 16, 13, 10, 72, 1, 1, 1, 0, 0, 0, 0, 1, 1, true}, DType::kBFloat16,
                                    "fprop_tc1x1_128x64x32_s3<bf16>", 2e-2);
}

// A 180 x 160 output, ragged in both directions, on small GPUs: with 4 SMs every SM gets a
// 128 x 128 tile (the wide configuration, 64 x 64 warp tiles); with 2, a 256 x 128 tile (eight
// warps, its stages in dynamic shared memory).
TEST(conv2d_fprop_tensor_cores_wide_and_tall_tiles) {
  for (const int sms : {4, 2}) {
    cudaDeviceProp small_gpu = sim::default_device_properties();
    small_gpu.multiProcessorCount = sms;
    REQUIRE(sim::set_device_properties(small_gpu) == cudaSuccess);
    const std::string tile = sms == 4 ? "128x128" : "256x128";
    check_fprop<cnnops::cuda::bf16_t>({2, 16, 9, 10, 160, 3, 3, 1, 0, 1, 2, 1, 1, 1, true}, DType::kBFloat16,
                                      ("fprop_tc_" + tile + "x32_s3<bf16>").c_str(), 2e-2, true);
    check_fprop<float>({2, 8, 9, 10, 160, 3, 3, 1, 0, 1, 2, 1, 1, 1, true}, DType::kFloat32,
                       ("fprop_tc_" + tile + "x16_s3<tf32>").c_str(), 1e-4, false, true);
  }
}

// The tensor-core loaders walk the reduction's tap offsets in 32 bits: a shape whose offsets from a
// window origin to its taps (up to one tap past the last) reach 2^31 elements takes the CUDA-core
// kernel instead, decided on the shape alone (nothing is allocated or launched here). NHWC, C = 64,
// 3x3: the span is 3 * W * 64 + 3 * 64 + 64, past the limit from W = 11184810.
TEST(conv2d_fprop_tensor_cores_need_32_bit_tap_offsets) {
  alignas(16) static cnnops::cuda::bf16_t dummy[8];
  for (const int64_t W : {int64_t(11184800), int64_t(11184812)}) {
    Conv2dParams p = params_of({1, 64, 3, W, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true});
    p.w = cnnops::Strides4{9 * 64, 1, 3 * 64, 64};  // KRSC
    Conv2dFpropArgs a{};
    a.p = p;
    a.dtype = DType::kBFloat16;
    a.x = dummy, a.w = dummy, a.y = dummy;
    const bool fits = W < 11184810;
    CHECK(std::string(cnnops::cuda::conv2d_fprop_plan(a)) ==
          (fits ? "fprop_tc_128x64x32_s3<bf16>" : "fprop_simt_64x64x16<bf16>"));
    CHECK(cnnops::cuda::conv2d_fprop_prefers_channels_last(p, DType::kBFloat16, false) == fits);
  }
}

// Every tile configuration sums an output's products in the same order (mma k-slices in k order),
// so the tile the SM count picks changes speed, never bits: 132 SMs give the 64x64 tile (128-byte
// rows), 6 the 128x64, 4 the 128x128 and 2 the 256x128 (dynamic shared memory; 64-byte rows).
// C = 40: taps change inside k-tiles of either depth.
template <typename T>
void check_same_bits_on_every_tile(DType dtype, bool allow_tf32, const char* type) {
  Conv2dParams p = params_of({2, 40, 9, 10, 160, 3, 3, 1, 1, 1, 1, 1, 1, 1, true});
  p.w = cnnops::Strides4{9 * 40, 1, 3 * 40, 40};  // KRSC
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  auto random = [&](int64_t count) {
    std::vector<T> v;
    for (int64_t i = 0; i < count; ++i) v.push_back(cnnops::cuda::from_acc<T>(normal(rng)));
    return v;
  };
  DeviceBuffer<T> dx(random(p.N * p.C * p.H * p.W)), dw(random(p.K * p.C * 9)), db(random(p.K));
  DeviceBuffer<T> dy(p.N * p.K * p.P * p.Q);
  std::vector<std::vector<T>> outputs;
  for (const int sms : {132, 6, 4, 2}) {
    cudaDeviceProp gpu = sim::default_device_properties();
    gpu.multiProcessorCount = sms;
    REQUIRE(sim::set_device_properties(gpu) == cudaSuccess);
    Conv2dFpropArgs a{};
    a.p = p;
    a.dtype = dtype;
    a.allow_tf32 = allow_tf32;
    a.x = dx.get(), a.w = dw.get(), a.bias = db.get(), a.y = dy.get();
    dy.upload(std::vector<T>(dy.size(), cnnops::cuda::from_acc<T>(NAN)));
    sim::reset_counters();
    const cnnops::cuda::LaunchResult r = cnnops::cuda::conv2d_fprop(a, nullptr);
    REQUIRE(r.error == nullptr);
    const std::string tile = sms == 132 ? "64x64x" : sms == 6 ? "128x64x" : sms == 4 ? "128x128x" : "256x128x";
    const std::string depth = sms == 132 ? (allow_tf32 ? "32" : "64") : (allow_tf32 ? "16" : "32");
    CHECK_EQ(std::string(r.kernel), "fprop_tc_" + tile + depth + "_s3<" + type + ">");
    // The stages (3 x (M + N) rows of 64 or 128 bytes) are static shared memory up to the 48 KB a
    // kernel may declare -- the 64x64 tile's are exactly 48 KB -- and dynamic past it: only the
    // 256x128 tile's 72 KB.
    const std::vector<sim::LaunchRecord> log = sim::launch_log();
    REQUIRE(!log.empty());
    CHECK_EQ(log.back().dynamic_shared_bytes, size_t(sms == 2 ? 3 * (256 + 128) * 64 : 0));
    outputs.push_back(dy.download());
  }
  for (size_t i = 1; i < outputs.size(); ++i)
    CHECK(std::memcmp(outputs[i].data(), outputs[0].data(), outputs[0].size() * sizeof(T)) == 0);
}

TEST(conv2d_fprop_tensor_core_tiles_give_the_same_bits) {
  check_same_bits_on_every_tile<cnnops::cuda::bf16_t>(DType::kBFloat16, false, "bf16");
  check_same_bits_on_every_tile<float>(DType::kFloat32, true, "tf32");
}

// One inf pixel makes non-finite exactly the outputs whose windows hold it: the loaders zero-fill
// the reduction columns past the last tap (C = 40, 3x3: columns 360.. of the last k-tile) rather
// than read the pixel one tap below the window, which the zero-filled filter column would turn
// into NaN (inf * 0). NHWC, 2 x 40 x 9 x 8, pad 1; the pixel at n = 1, h = 6, w = 3, channel 7.
template <typename T>
void check_inf_stays_in_its_windows(DType dtype, bool allow_tf32) {
  Conv2dParams p = params_of({2, 40, 9, 8, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, true});
  p.w = cnnops::Strides4{9 * 40, 1, 3 * 40, 40};  // KRSC
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<T> x, w;
  for (int64_t i = 0; i < p.N * p.C * p.H * p.W; ++i) x.push_back(cnnops::cuda::from_acc<T>(normal(rng)));
  for (int64_t i = 0; i < p.K * p.C * 9; ++i) w.push_back(cnnops::cuda::from_acc<T>(normal(rng)));
  x[1 * p.x.n + 6 * p.x.h + 3 * p.x.w + 7] = cnnops::cuda::from_acc<T>(INFINITY);
  DeviceBuffer<T> dx(x), dw(w), dy(p.N * p.K * p.P * p.Q);
  Conv2dFpropArgs a{};
  a.p = p;
  a.dtype = dtype;
  a.allow_tf32 = allow_tf32;
  a.x = dx.get(), a.w = dw.get(), a.y = dy.get();
  const cnnops::cuda::LaunchResult r = cnnops::cuda::conv2d_fprop(a, nullptr);
  REQUIRE(r.error == nullptr);
  CHECK(std::string(r.kernel).rfind("fprop_tc_", 0) == 0);
  const std::vector<T> y = dy.download();
  int wrong = 0;
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t oh = 0; oh < p.P; ++oh)
      for (int64_t ow = 0; ow < p.Q; ++ow)
        for (int64_t k = 0; k < p.K; ++k) {
          const bool holds = n == 1 && oh >= 5 && oh <= 7 && ow >= 2 && ow <= 4;  // window rows oh-1..oh+1
          const double v = cnnops::cuda::widen(y[n * p.y.n + oh * p.y.h + ow * p.y.w + k]);
          wrong += std::isfinite(v) == holds;
        }
  CHECK_EQ(wrong, 0);
}

TEST(conv2d_fprop_tensor_cores_inf_stays_in_its_windows) {
  check_inf_stays_in_its_windows<cnnops::cuda::bf16_t>(DType::kBFloat16, false);
  check_inf_stays_in_its_windows<float>(DType::kFloat32, true);
}

TEST(conv2d_fprop_tensor_cores_1x1_bf16) {
  check_fprop<cnnops::cuda::bf16_t>({1, 16, 13, 10, 40, 1, 1, 1, 0, 0, 0, 0, 1, 1, true}, DType::kBFloat16,
                                    "fprop_tc1x1_64x64x64_s3<bf16>", 2e-2);
}

// One launch of 2 channel chunks x 3 bands of filter rows (ReductionSplits, the tensor-core
// wgrad's form): split z = zr * 2 + zc stores, unrounded, the sum over its channels and filter
// rows alone -- the last band one row, its window starting lower (pad_top moved) -- at z * y_stride.
void check_reduction_splits_in_one_launch(bool wgmma) {
  const WgmmaOn on(wgmma);
  using cnnops::cuda::bf16_t;
  Conv2dParams p = params_of({2, 16, 9, 7, 24, 5, 3, 1, 2, 1, 2, 1, 1, 1, true});
  p.w = cnnops::Strides4{p.R * p.S * p.C, 1, p.S * p.C, p.C};  // KRSC
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<bf16_t> x, w;
  std::vector<float> xf, wf;
  for (int64_t i = 0; i < p.N * p.C * p.H * p.W; ++i) x.push_back(cnnops::cuda::from_acc<bf16_t>(normal(rng)));
  for (int64_t i = 0; i < p.K * p.C * p.R * p.S; ++i) w.push_back(cnnops::cuda::from_acc<bf16_t>(normal(rng)));
  for (const bf16_t& v : x) xf.push_back(float(cnnops::cuda::widen(v)));
  for (const bf16_t& v : w) wf.push_back(float(cnnops::cuda::widen(v)));
  const int64_t out = p.N * p.K * p.P * p.Q;
  DeviceBuffer<bf16_t> dx(x), dw(w);
  DeviceBuffer<float> dy(6 * out);  // 0xFF (NaN) poisoned
  Conv2dFpropArgs a{};
  a.p = p;
  a.dtype = DType::kBFloat16;
  a.x = dx.get(), a.w = dw.get(), a.y = dy.get();
  a.ep.store_float = true;
  a.splits.c_splits = 2, a.splits.c_step = 8;
  a.splits.r_splits = 3, a.splits.r_step = 2;
  a.splits.y_stride = out;
  const cnnops::cuda::LaunchResult r = cnnops::cuda::conv2d_fprop(a, nullptr);
  REQUIRE(r.error == nullptr);
  CHECK_CONTAINS(std::string(r.kernel), wgmma ? "fprop_wgmma_" : "fprop_tc_");
  const std::vector<float> y = dy.download();
  int bad = 0;
  for (int z = 0; z < 6; ++z) {
    const int64_t c0 = (z % 2) * 8, r0 = (z / 2) * 2, r1 = std::min<int64_t>(r0 + 2, p.R);
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t k = 0; k < p.K; ++k)
        for (int64_t oh = 0; oh < p.P; ++oh)
          for (int64_t ow = 0; ow < p.Q; ++ow) {
            double acc = 0;
            for (int64_t c = c0; c < c0 + 8; ++c)
              for (int64_t rr = r0; rr < r1; ++rr)
                for (int64_t ss = 0; ss < p.S; ++ss) {
                  const int64_t h = oh - p.pad_top + rr, ww = ow - p.pad_left + ss;
                  if (h < 0 || h >= p.H || ww < 0 || ww >= p.W) continue;
                  acc += double(xf[n * p.x.n + c * p.x.c + h * p.x.h + ww * p.x.w]) *
                         double(wf[k * p.w.n + c * p.w.c + rr * p.w.h + ss * p.w.w]);
                }
            const double got = y[z * out + n * p.y.n + k * p.y.c + oh * p.y.h + ow * p.y.w];
            bad += !(std::fabs(got - acc) <= 1e-4 * (1 + std::fabs(acc)));
          }
  }
  CHECK_EQ(bad, 0);
}

// One launch of two output phases (OutputPhases, the tensor-core dgrad's form): the same NHWC
// input convolved with two filters of different shapes -- 2 x 2 taps with the window one row up,
// and 1 x 3 taps spaced 2 apart starting two columns left -- into the even/even and odd/odd
// positions of one output; phase 1 has fewer rows than phase 0, so some of the grid's blocks have
// nothing to do. The positions of neither phase keep their poison.
TEST(conv2d_fprop_reduction_splits_in_one_launch) {
  check_reduction_splits_in_one_launch(false);
  check_reduction_splits_in_one_launch(true);
}

void check_output_phases_in_one_launch(bool wgmma) {
  const WgmmaOn on(wgmma);
  using cnnops::cuda::bf16_t;
  Conv2dParams p = params_of({2, 16, 7, 6, 24, 1, 1, 1, 0, 0, 0, 0, 1, 1, true});
  const int64_t Hy = 13, Wy = 11, K = p.K, C = p.C;
  p.y = cnnops::Strides4{Hy * Wy * K, 1, 2 * Wy * K, 2 * K};
  cnnops::cuda::OutputPhases phases;
  phases.count = 2;
  // R, S, dil_h, dil_w, pad_top, pad_left, P, Q, w strides (KRSC), w_at, y_at
  phases.phase[0] = {2, 2, 1, 1, 1, 0, 7, 6, {2 * 2 * C, 1, 2 * C, C}, 0, 0};
  phases.phase[1] = {1, 3, 1, 2, 0, 2, 6, 5, {3 * C, 1, 3 * C, C}, K * 2 * 2 * C, Wy * K + K};
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<bf16_t> x, w;
  std::vector<float> xf, wf;
  for (int64_t i = 0; i < p.N * C * p.H * p.W; ++i) x.push_back(cnnops::cuda::from_acc<bf16_t>(normal(rng)));
  for (int64_t i = 0; i < K * C * (4 + 3); ++i) w.push_back(cnnops::cuda::from_acc<bf16_t>(normal(rng)));
  for (const bf16_t& v : x) xf.push_back(float(cnnops::cuda::widen(v)));
  for (const bf16_t& v : w) wf.push_back(float(cnnops::cuda::widen(v)));
  const int64_t out = p.N * Hy * Wy * K;
  DeviceBuffer<bf16_t> dx(x), dw(w), dy(out);  // dy: 0xFF (NaN) poisoned
  Conv2dFpropArgs a{};
  a.p = p;
  a.dtype = DType::kBFloat16;
  a.x = dx.get(), a.w = dw.get(), a.y = dy.get();
  a.phases = phases;
  sim::reset_counters();
  const cnnops::cuda::LaunchResult r = cnnops::cuda::conv2d_fprop(a, nullptr);
  REQUIRE(r.error == nullptr);
  CHECK_CONTAINS(std::string(r.kernel), wgmma ? "fprop_wgmma_" : "fprop_tc_");
  CHECK_EQ(sim::counter(sim::Counter::kLaunches), uint64_t(1));
  std::vector<float> y;
  for (const bf16_t& v : dy.download()) y.push_back(float(cnnops::cuda::widen(v)));
  std::vector<bool> written(out, false);
  int bad = 0;
  for (int z = 0; z < 2; ++z) {
    const Conv2dParams q = phases.problem(p, z);
    const int64_t w_at = phases.phase[z].w_at, y_at = phases.phase[z].y_at;
    for (int64_t n = 0; n < q.N; ++n)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t oh = 0; oh < q.P; ++oh)
          for (int64_t ow = 0; ow < q.Q; ++ow) {
            double acc = 0;
            for (int64_t c = 0; c < C; ++c)
              for (int64_t rr = 0; rr < q.R; ++rr)
                for (int64_t ss = 0; ss < q.S; ++ss) {
                  const int64_t h = oh - q.pad_top + rr * q.dil_h, ww = ow - q.pad_left + ss * q.dil_w;
                  if (h < 0 || h >= q.H || ww < 0 || ww >= q.W) continue;
                  acc += double(xf[n * q.x.n + c * q.x.c + h * q.x.h + ww * q.x.w]) *
                         double(wf[w_at + k * q.w.n + c * q.w.c + rr * q.w.h + ss * q.w.w]);
                }
            const int64_t at = y_at + n * q.y.n + k * q.y.c + oh * q.y.h + ow * q.y.w;
            written[at] = true;
            bad += !(std::fabs(y[at] - acc) <= 2e-2 * (1 + std::fabs(acc)));
          }
  }
  CHECK_EQ(bad, 0);
  int stray = 0;
  for (int64_t i = 0; i < out; ++i) stray += !written[i] && !std::isnan(y[i]);
  CHECK_EQ(stray, 0);
}

TEST(conv2d_fprop_output_phases_in_one_launch) {
  check_output_phases_in_one_launch(false);
  check_output_phases_in_one_launch(true);
}

// The Hopper (wgmma) forward on the shape classes of the seed networks, every element against
// the reference under the three schedules (check_fprop), its cp.async writes and epilogue
// staging free of bank conflicts, its stores 16-byte vectors.
TEST(conv2d_fprop_wgmma_layers) {
  const WgmmaOn on(true);
  using cnnops::cuda::bf16_t;
  using cnnops::cuda::half_t;
  sim::reset_counters();
  // a 3x3 with 9 k-tiles of one tap each, bias + residual + ReLU, N*P*Q = 180 (ragged)
  check_fprop<bf16_t>({2, 64, 9, 10, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true}, DType::kBFloat16,
                      "fprop_wgmma_128x64x64_s6<bf16>", 2e-2, true, false, true);
  CHECK(sim::counter(sim::Counter::kWgmma) > 0);
  CHECK_EQ(sim::counter(sim::Counter::kMmaSync), uint64_t(0));
  // stride 2, asymmetric padding, K = 24 (a ragged 64-wide tile), C = 16: taps wrap inside k-tiles
  check_fprop<half_t>({2, 16, 7, 9, 24, 3, 3, 2, 1, 1, 2, 0, 1, 1, true}, DType::kFloat16,
                      "fprop_wgmma_128x64x64_s6<f16>", 4e-3);
  // the 1x1 GEMM variant, C = 72: a partial second k-tile
  check_fprop<bf16_t>({2, 72, 13, 10, 72, 1, 1, 1, 0, 0, 0, 0, 1, 1, true}, DType::kBFloat16,
                      "fprop_wgmma1x1_128x64x64_s6<bf16>", 2e-2);
  // a 5x5 with dilation 2 and a 7x7/2 stem with 8 channels
  check_fprop<bf16_t>({1, 32, 11, 12, 40, 5, 5, 1, 4, 4, 4, 4, 2, 1, true}, DType::kBFloat16,
                      "fprop_wgmma_128x64x64_s6<bf16>", 2e-2);
  check_fprop<half_t>({2, 8, 17, 15, 16, 7, 7, 2, 3, 3, 3, 3, 1, 1, true}, DType::kFloat16,
                      "fprop_wgmma_128x64x64_s6<f16>", 4e-3, true, false, true);
}

// The square tile on a small GPU: with 2 SMs, K = 160 gives each a 128 x 128 block.
TEST(conv2d_fprop_wgmma_square_tile) {
  const WgmmaOn on(true);
  cudaDeviceProp small_gpu = sim::default_device_properties();
  small_gpu.multiProcessorCount = 2;
  REQUIRE(sim::set_device_properties(small_gpu) == cudaSuccess);
  check_fprop<cnnops::cuda::bf16_t>({2, 16, 9, 10, 160, 3, 3, 1, 0, 1, 2, 1, 1, 1, true}, DType::kBFloat16,
                                    "fprop_wgmma_128x128x64_s5<bf16>", 2e-2, true, false, true);
  check_fprop<cnnops::cuda::half_t>({2, 24, 9, 10, 160, 1, 1, 1, 0, 0, 0, 0, 1, 1, true}, DType::kFloat16,
                                    "fprop_wgmma1x1_128x128x64_s5<f16>", 4e-3);
}

// The simulator sums every product in k order whatever the kernel, so the Hopper kernel and the
// mma.sync kernel give the same bits -- a second, independent route to the same answer.
TEST(conv2d_fprop_wgmma_gives_the_mma_sync_bits) {
  using cnnops::cuda::bf16_t;
  Conv2dParams p = params_of({2, 40, 9, 10, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, true});
  p.w = cnnops::Strides4{9 * 40, 1, 3 * 40, 40};  // KRSC
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  auto random = [&](int64_t count) {
    std::vector<bf16_t> v;
    for (int64_t i = 0; i < count; ++i) v.push_back(cnnops::cuda::from_acc<bf16_t>(normal(rng)));
    return v;
  };
  DeviceBuffer<bf16_t> dx(random(p.N * p.C * p.H * p.W)), dw(random(p.K * p.C * 9)), db(random(p.K));
  DeviceBuffer<bf16_t> dy(p.N * p.K * p.P * p.Q);
  std::vector<std::vector<bf16_t>> outputs;
  for (const bool wgmma : {false, true}) {
    const WgmmaOn on(wgmma);
    Conv2dFpropArgs a{};
    a.p = p;
    a.dtype = DType::kBFloat16;
    a.x = dx.get(), a.w = dw.get(), a.bias = db.get(), a.y = dy.get();
    dy.upload(std::vector<bf16_t>(dy.size(), cnnops::cuda::from_acc<bf16_t>(NAN)));
    const cnnops::cuda::LaunchResult r = cnnops::cuda::conv2d_fprop(a, nullptr);
    REQUIRE(r.error == nullptr);
    CHECK_EQ(std::string(r.kernel), wgmma ? "fprop_wgmma_128x64x64_s6<bf16>" : "fprop_tc_64x64x64_s3<bf16>");
    outputs.push_back(dy.download());
  }
  CHECK(std::memcmp(outputs[1].data(), outputs[0].data(), outputs[0].size() * sizeof(bf16_t)) == 0);
}

// The tensor-core epilogue's vector and element paths (conv2d_fprop_tc_epilogue.cuh): an NHWC
// residual read as 16-byte vectors, the same misaligned (element by element), K = 20 leaving a
// ragged last vector of 4 channels; TF32 with its 4-channel items.
TEST(conv2d_fprop_tensor_core_epilogue_paths) {
  using cnnops::cuda::bf16_t;
  const Shape shape{2, 16, 7, 6, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
  for (int offset = 0; offset < 2; ++offset) {
    check_fprop<bf16_t>(shape, DType::kBFloat16, "fprop_tc_64x64x64_s3<bf16>", 2e-2, true, false, true, offset);
    check_fprop<float>(shape, DType::kFloat32, "fprop_tc_64x64x32_s3<tf32>", 1e-4, true, true, true, offset);
  }
  check_fprop<bf16_t>(shape, DType::kBFloat16, "fprop_tc_64x64x64_s3<bf16>", 2e-2, false, false, false, 1);
  // NCHW outputs (channel stride P * Q) take the element path, with and without a residual.
  check_fprop<bf16_t>(shape, DType::kBFloat16, "fprop_tc_64x64x64_s3<bf16>", 2e-2, false, false, false, 0, true);
  check_fprop<bf16_t>(shape, DType::kBFloat16, "fprop_tc_64x64x64_s3<bf16>", 2e-2, true, false, true, 0, true);
  // K = 24 fills its vectors: every store is one (checked in check_fprop).
  const Shape full{2, 16, 7, 6, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
  check_fprop<bf16_t>(full, DType::kBFloat16, "fprop_tc_64x64x64_s3<bf16>", 2e-2, false);
  check_fprop<bf16_t>(full, DType::kBFloat16, "fprop_tc_64x64x64_s3<bf16>", 2e-2, true, false, true);
  check_fprop<float>(full, DType::kFloat32, "fprop_tc_64x64x32_s3<tf32>", 1e-4, true, true, true);
}

TEST(conv2d_fprop_cuda_cores_f64_and_bf16_names) {
  // N*P*Q = 65: one position past a 64-wide tile.
  check_fprop<double>({1, 3, 5, 13, 5, 1, 1, 1, 0, 0, 0, 0, 1, 1, false}, DType::kFloat64, "fprop_simt_64x64x16<f64>",
                      1e-12);
  check_fprop<cnnops::cuda::bf16_t>({1, 4, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, false}, DType::kBFloat16,
                                    "fprop_simt_64x64x16<bf16>", 2e-2);
}
