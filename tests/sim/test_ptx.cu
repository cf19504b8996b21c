// The PTX wrappers of csrc/cuda/ptx.cuh under the simulator: mma.sync (f16, bf16, tf32) and
// ldmatrix produce the PTX ISA's fragment layouts (checked against a CPU GEMM on values whose
// products and sums are exact in float, so results must match bit for bit); a kernel with a
// wrong fragment index computes a wrong result; cp.async lands only at its wait; counters count.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda/launch.cuh"
#include "cuda/ptx.cuh"
#include "device_buffer.h"
#include "sim_test.h"

using cnnops::cuda::launch;
namespace ptx = cnnops::cuda::ptx;

namespace {

enum class Kind : int { kF16, kBF16, kTF32 };

// Exactly representable small values: quarter integers in [-2, 2] (never all zero).
std::vector<float> quarter_values(size_t n, int seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(int((i * 7 + seed * 13) % 17) - 8) / 4.0f;
  return v;
}

uint16_t to_half_bits(float v) {  // exact for the quarter integers above
  if (v == 0.0f) return 0;
  const uint16_t sign = v < 0 ? 0x8000 : 0;
  const float a = std::fabs(v);
  const int e = int(std::floor(std::log2(a)));
  const int mant = int(std::lround((a / std::ldexp(1.0f, e) - 1.0f) * 1024.0f));
  return uint16_t(sign | ((e + 15) << 10) | mant);
}
uint16_t to_bf16_bits(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return uint16_t(bits >> 16);  // exact for these values
}

__device__ uint32_t pack(uint16_t lo, uint16_t hi) { return uint32_t(lo) | (uint32_t(hi) << 16); }

// One warp: A (16x16) and B (16x8, stored k-major: B[k * 8 + n]) as 16-bit patterns go through
// shared memory; fragments come from ldmatrix (use_ldmatrix) or from explicit indexing of the
// documented layout; `bug` swaps two A registers, as a kernel with a wrong index would.
__global__ void mma16_kernel(const uint16_t* A, const uint16_t* B, const float* C, float* D, Kind kind,
                             int use_ldmatrix, int bug) {
  alignas(16) __shared__ uint16_t sA[16 * 16];
  alignas(16) __shared__ uint16_t sB[16 * 8];
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  for (int i = lane; i < 256; i += 32) sA[i] = A[i];
  for (int i = lane; i < 128; i += 32) sB[i] = B[i];
  __syncthreads();
  uint32_t a[4], b[2];
  if (use_ldmatrix) {
    ptx::ldmatrix<4, false>(a, &sA[(lane % 16) * 16 + (lane / 16) * 8]);
    ptx::ldmatrix<2, true>(b, &sB[(lane % 16) * 8]);
  } else {
    a[0] = pack(sA[g * 16 + 2 * t], sA[g * 16 + 2 * t + 1]);
    a[1] = pack(sA[(g + 8) * 16 + 2 * t], sA[(g + 8) * 16 + 2 * t + 1]);
    a[2] = pack(sA[g * 16 + 2 * t + 8], sA[g * 16 + 2 * t + 9]);
    a[3] = pack(sA[(g + 8) * 16 + 2 * t + 8], sA[(g + 8) * 16 + 2 * t + 9]);
    b[0] = pack(sB[(2 * t) * 8 + g], sB[(2 * t + 1) * 8 + g]);
    b[1] = pack(sB[(2 * t + 8) * 8 + g], sB[(2 * t + 9) * 8 + g]);
  }
  if (bug) {
    const uint32_t tmp = a[1];
    a[1] = a[2];
    a[2] = tmp;
  }
  const float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  float d[4];
  if (kind == Kind::kF16)
    ptx::mma_m16n8k16_f16(d, a, b, c);
  else
    ptx::mma_m16n8k16_bf16(d, a, b, c);
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// One warp, tf32 m16n8k8: A (16x8) and B (8x8, B[k * 8 + n]) as floats, fragments by index.
__global__ void mma_tf32_kernel(const float* A, const float* B, const float* C, float* D, int bug) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  uint32_t a[4] = {ptx::to_tf32(A[g * 8 + t]), ptx::to_tf32(A[(g + 8) * 8 + t]), ptx::to_tf32(A[g * 8 + t + 4]),
                   ptx::to_tf32(A[(g + 8) * 8 + t + 4])};
  uint32_t b[2] = {ptx::to_tf32(B[t * 8 + g]), ptx::to_tf32(B[(t + 4) * 8 + g])};
  if (bug) {
    const uint32_t tmp = b[0];
    b[0] = b[1];
    b[1] = tmp;
  }
  const float c[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
  float d[4];
  ptx::mma_m16n8k8_tf32(d, a, b, c);
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

std::vector<float> reference(const std::vector<float>& A, const std::vector<float>& B, const std::vector<float>& C,
                             int K) {
  std::vector<float> D(16 * 8);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      double acc = C[i * 8 + j];
      for (int k = 0; k < K; ++k) acc += double(A[i * K + k]) * double(B[k * 8 + j]);
      D[i * 8 + j] = float(acc);
    }
  return D;
}

int mismatches(const std::vector<float>& got, const std::vector<float>& want) {
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) bad += got[i] != want[i];
  return bad;
}

std::vector<float> run_mma16(Kind kind, int use_ldmatrix, int bug, std::vector<float>* want) {
  const std::vector<float> A = quarter_values(256, 1), B = quarter_values(128, 2), C = quarter_values(128, 3);
  std::vector<uint16_t> Ab(256), Bb(128);
  for (int i = 0; i < 256; ++i) Ab[i] = kind == Kind::kF16 ? to_half_bits(A[i]) : to_bf16_bits(A[i]);
  for (int i = 0; i < 128; ++i) Bb[i] = kind == Kind::kF16 ? to_half_bits(B[i]) : to_bf16_bits(B[i]);
  DeviceBuffer<uint16_t> dA(Ab), dB(Bb);
  DeviceBuffer<float> dC(C), dD(128);
  const cudaError_t err = launch(mma16_kernel, dim3(1), dim3(32), 0, nullptr, static_cast<const uint16_t*>(dA.get()),
                                 static_cast<const uint16_t*>(dB.get()), static_cast<const float*>(dC.get()), dD.get(),
                                 kind, use_ldmatrix, bug);
  CHECK_EQ(err, cudaSuccess);
  *want = reference(A, B, C, 16);
  return dD.download();
}

}  // namespace

TEST(mma_m16n8k16_f16_fragment_layout) {
  std::vector<float> want;
  CHECK_EQ(mismatches(run_mma16(Kind::kF16, 0, 0, &want), want), 0);
}

TEST(mma_m16n8k16_bf16_fragment_layout) {
  std::vector<float> want;
  CHECK_EQ(mismatches(run_mma16(Kind::kBF16, 0, 0, &want), want), 0);
}

TEST(ldmatrix_x4_and_x2_trans_feed_mma) {
  std::vector<float> want;
  CHECK_EQ(mismatches(run_mma16(Kind::kF16, 1, 0, &want), want), 0);
  CHECK_EQ(mismatches(run_mma16(Kind::kBF16, 1, 0, &want), want), 0);
}

TEST(wrong_fragment_index_gives_wrong_result) {
  std::vector<float> want;
  CHECK(mismatches(run_mma16(Kind::kF16, 0, 1, &want), want) > 0);
  CHECK(mismatches(run_mma16(Kind::kBF16, 1, 1, &want), want) > 0);
}

TEST(mma_m16n8k8_tf32_fragment_layout) {
  const std::vector<float> A = quarter_values(128, 4), B = quarter_values(64, 5), C = quarter_values(128, 6);
  DeviceBuffer<float> dA(A), dB(B), dC(C), dD(128);
  for (int bug = 0; bug < 2; ++bug) {
    CHECK_EQ(launch(mma_tf32_kernel, dim3(1), dim3(32), 0, nullptr, static_cast<const float*>(dA.get()),
                    static_cast<const float*>(dB.get()), static_cast<const float*>(dC.get()), dD.get(), bug),
             cudaSuccess);
    const int bad = mismatches(dD.download(), reference(A, B, C, 8));
    if (bug) CHECK(bad > 0); else CHECK_EQ(bad, 0);
  }
}

TEST(mma_and_ldmatrix_are_counted_per_warp) {
  cnnops::sim::reset_counters();
  std::vector<float> want;
  run_mma16(Kind::kF16, 1, 0, &want);
  CHECK_EQ(cnnops::sim::counter(cnnops::sim::Counter::kMmaSync), 1u);
  CHECK_EQ(cnnops::sim::counter(cnnops::sim::Counter::kLdmatrix), 2u);
}

namespace {

// Each thread copies 16-byte pieces of `src` to shared memory with cp.async, waits (or, with the
// planted bug, does not), and writes shared memory back out. zero_fill: src-size 0.
__global__ void cp_async_kernel(const float* src, float* dst, int n, int wait, int zero_fill) {
  alignas(16) __shared__ float s[256];
  for (int i = threadIdx.x * 4; i < n; i += blockDim.x * 4) ptx::cp_async<16>(&s[i], &src[i], zero_fill ? 0 : 16);
  ptx::cp_async_commit();
  if (wait) ptx::cp_async_wait<0>();
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) dst[i] = s[i];
}

__global__ void misaligned_ldmatrix_kernel(int* out) {
  alignas(16) __shared__ uint16_t s[16 * 16 + 8];
  for (int i = threadIdx.x; i < 16 * 16 + 8; i += 32) s[i] = uint16_t(i);
  __syncthreads();
  uint32_t r[1];
  ptx::ldmatrix<1, false>(r, &s[(threadIdx.x % 8) * 16 + 1]);  // 2-byte offset: not 16-byte aligned
  out[threadIdx.x] = int(r[0]);
}

// Two warps in a 3-D block (16 x 2 x 2): a lane is the linear thread id mod 32, not threadIdx.x.
// Each warp loads A by ldmatrix.x4 and B by ldmatrix.x2.trans and runs one f16 mma into its own
// 16 x 8 slice of D; lanes 8-31 of an ldmatrix.x1 pass unaligned addresses, which it ignores.
__global__ void mma_3d_block_kernel(const uint16_t* A, const uint16_t* B, float* D) {
  alignas(16) __shared__ uint16_t sA[16 * 16];
  alignas(16) __shared__ uint16_t sB[16 * 8 + 8];
  const int tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int lane = tid % 32, warp = tid / 32, g = lane / 4, t = lane % 4;
  for (int i = tid; i < 256; i += 64) sA[i] = A[i];
  for (int i = tid; i < 136; i += 64) sB[i] = i < 128 ? B[i] : 0;
  __syncthreads();
  uint32_t a[4], b[2], unused[1];
  ptx::ldmatrix<4, false>(a, &sA[(lane % 16) * 16 + (lane / 16) * 8]);
  ptx::ldmatrix<2, true>(b, &sB[(lane % 16) * 8]);
  ptx::ldmatrix<1, false>(unused, lane < 8 ? &sB[lane * 8] : &sB[lane % 8 * 8 + 1]);
  const float c[4] = {0, 0, 0, 0};
  float d[4];
  ptx::mma_m16n8k16_f16(d, a, b, c);
  float* Dw = D + warp * 128;
  Dw[g * 8 + 2 * t] = d[0];
  Dw[g * 8 + 2 * t + 1] = d[1];
  Dw[(g + 8) * 8 + 2 * t] = d[2];
  Dw[(g + 8) * 8 + 2 * t + 1] = d[3];
}

}  // namespace

TEST(mma_and_ldmatrix_lanes_in_a_3d_block) {
  const std::vector<float> A = quarter_values(256, 11), B = quarter_values(128, 12), zero(128, 0.0f);
  std::vector<uint16_t> Ab(256), Bb(128);
  for (int i = 0; i < 256; ++i) Ab[i] = to_half_bits(A[i]);
  for (int i = 0; i < 128; ++i) Bb[i] = to_half_bits(B[i]);
  DeviceBuffer<uint16_t> dA(Ab), dB(Bb);
  DeviceBuffer<float> dD(256);
  CHECK_EQ(launch(mma_3d_block_kernel, dim3(1), dim3(16, 2, 2), 0, nullptr, static_cast<const uint16_t*>(dA.get()),
                  static_cast<const uint16_t*>(dB.get()), dD.get()),
           cudaSuccess);
  const std::vector<float> want = reference(A, B, zero, 16), D = dD.download();
  CHECK_EQ(mismatches(std::vector<float>(D.begin(), D.begin() + 128), want), 0);
  CHECK_EQ(mismatches(std::vector<float>(D.begin() + 128, D.end()), want), 0);
}

TEST(cp_async_lands_at_wait) {
  const std::vector<float> src = quarter_values(256, 7);
  DeviceBuffer<float> dsrc(src), ddst(256);
  CHECK_EQ(launch(cp_async_kernel, dim3(1), dim3(64), 0, nullptr, static_cast<const float*>(dsrc.get()), ddst.get(),
                  256, 1, 0),
           cudaSuccess);
  CHECK(ddst.download() == src);
  CHECK_EQ(launch(cp_async_kernel, dim3(1), dim3(64), 0, nullptr, static_cast<const float*>(dsrc.get()), ddst.get(),
                  256, 1, 1),
           cudaSuccess);
  CHECK(ddst.download() == std::vector<float>(256, 0.0f));
}

TEST(missing_cp_async_wait_reads_poison) {
  const std::vector<float> src = quarter_values(256, 8);
  DeviceBuffer<float> dsrc(src), ddst(256);
  CHECK_EQ(launch(cp_async_kernel, dim3(1), dim3(64), 0, nullptr, static_cast<const float*>(dsrc.get()), ddst.get(),
                  256, 0, 0),
           cudaSuccess);
  int nans = 0;
  for (float v : ddst.download()) nans += std::isnan(v);
  CHECK_EQ(nans, 256);
}

TEST(misaligned_ldmatrix_is_refused) {
  DeviceBuffer<int> out(32);
  CHECK_EQ(launch(misaligned_ldmatrix_kernel, dim3(1), dim3(32), 0, nullptr, out.get()), cudaErrorLaunchFailure);
  CHECK_CONTAINS(cnnops::sim::last_error_message(), "not aligned to 16 bytes");
  CHECK_CONTAINS(cnnops::sim::last_error_message(), "test_ptx.cu:");
  cnnops::sim::reset_device();
}
