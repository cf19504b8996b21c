// The Hopper PTX the sm_90a kernels use, behind wrappers as in ptx.cuh: warpgroup MMA
// (wgmma.mma_async with shared-memory descriptors, wgmma.fence / commit_group / wait_group),
// mbarrier (init, arrive, the try_wait.parity loop) and the async-proxy fence. Under nvcc each is
// inline asm (wgmma only when compiling for sm_90a: __CUDA_ARCH_FEAT_SM90_ALL); under the CPU
// simulator each calls the runtime, which models what the PTX ISA makes observable:
// csrc/sim/async_proxy.h (wgmma's asynchrony, the proxy fence), csrc/sim/mbarrier.h (phases),
// csrc/sim/gmma_layout.h (descriptor decoding, the accumulator fragment). No kernel writes asm()
// itself.
//
// wgmma here is always m64nNk16 (f16, bf16) or m64nNk8 (tf32) with K-major A and B in shared
// memory (descriptors from common/gmma_descriptor.h) and fp32 accumulators: thread t of the
// warpgroup holds D[16 (t/32) + (t%32)/4 + 8 ((i/2)%2)][8 (i/4) + 2 (t%4) + i%2] in d[i].
#pragma once
#include <cstdint>

#include "dtypes.cuh"

#if defined(CNNOPS_SIM)
#include <cstring>
#endif

namespace cnnops {
namespace cuda {
namespace ptx {

enum class WgmmaType { kF16, kBF16, kTF32 };

#if defined(CNNOPS_SIM)
namespace sim_detail {
inline float wgmma_f16(const unsigned char* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return sim_bits::half_to_float(h);
}
inline float wgmma_bf16(const unsigned char* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return sim_bits::bf16_to_float(h);
}
inline float wgmma_tf32(const unsigned char* p) {  // the tensor cores read the 19 high bits
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  bits &= 0xffffe000u;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace sim_detail
#else
#define CNNOPS_WGMMA_D32_REGS \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define CNNOPS_WGMMA_D64_REGS \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define CNNOPS_WGMMA_D128_REGS \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, " \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, " \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}"
#define CNNOPS_WGMMA_D32_OPERANDS(d) \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
  "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
  "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
  "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define CNNOPS_WGMMA_D64_OPERANDS(d) \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
  "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
  "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
  "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
  "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
  "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
  "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
  "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
#define CNNOPS_WGMMA_D128_OPERANDS(d) \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
  "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
  "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
  "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
  "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
  "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
  "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
  "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), \
  "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), \
  "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), \
  "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), \
  "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), \
  "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), \
  "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), \
  "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), \
  "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
#endif  // CNNOPS_SIM

// The shared-memory address of a pointer into shared memory (the simulator: dynamic shared
// memory only, numbered from 0).
__device__ __forceinline__ uint32_t shared_address(const void* p, const char* file = __builtin_FILE(),
                                                   int line = __builtin_LINE()) {
#if defined(CNNOPS_SIM)
  return ::cnnops::sim::detail::shared_address(p, file, line);
#else
  (void)file, (void)line;
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
#endif
}

// fence.proxy.async.shared::cta: this thread's earlier ordinary shared-memory writes (stores,
// cp.async that have landed) become visible to later async-proxy reads (wgmma operands, bulk
// copies) -- once a barrier also orders them with the reading thread.
__device__ __forceinline__ void fence_proxy_async() {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::fence_proxy_async();
#else
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// mbarrier.init: `count` arrivals complete each phase; the first phase has parity 0.
__device__ __forceinline__ void mbarrier_init(uint64_t* barrier, unsigned count, const char* file = __builtin_FILE(),
                                              int line = __builtin_LINE()) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::mbarrier_init(barrier, count, file, line);
#else
  (void)file, (void)line;
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(barrier)), "r"(count) : "memory");
#endif
}

// mbarrier.arrive (release): one of the phase's arrivals.
__device__ __forceinline__ void mbarrier_arrive(uint64_t* barrier, const char* file = __builtin_FILE(),
                                                int line = __builtin_LINE()) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::mbarrier_arrive(barrier, file, line);
#else
  (void)file, (void)line;
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(shared_address(barrier))
               : "memory");
#endif
}

// Waits (acquire) until the phase of parity `parity` has completed: mbarrier.try_wait.parity in
// a loop. Waiting on parity 1 before any phase completed returns at once (how a producer waits
// for slots that start empty).
__device__ __forceinline__ void mbarrier_wait(uint64_t* barrier, unsigned parity, const char* file = __builtin_FILE(),
                                              int line = __builtin_LINE()) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::mbarrier_wait_parity(barrier, parity, file, line);
#else
  (void)file, (void)line;
  const uint32_t addr = shared_address(barrier);
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(addr), "r"(parity)
        : "memory");
  } while (!done);
#endif
}

// wgmma.fence.sync.aligned: before the first wgmma of a batch, once the accumulators (and
// operands) were last touched by other instructions.
__device__ __forceinline__ void wgmma_fence() {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::wgmma_fence();
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#else
  __trap();
#endif
}

__device__ __forceinline__ void wgmma_commit_group() {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::wgmma_commit_group();
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#else
  __trap();
#endif
}

// Waits until at most kPending committed wgmma groups of this warpgroup are in flight.
template <int kPending>
__device__ __forceinline__ void wgmma_wait_group(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
#if defined(CNNOPS_SIM)
  ::cnnops::sim::detail::wgmma_wait_group(kPending, file, line);
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
  (void)file, (void)line;
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#else
  (void)file, (void)line;
  __trap();
#endif
}

// setmaxnreg: a warpgroup's register budget moves to the warpgroups that hold accumulators (the
// producer gives registers back, the consumers take them). Effective only when the kernel has a
// register cap at entry (__launch_bounds__(threads, 1)) and each role is one branch of an
// if/else; ptxas says so otherwise (warning C7508, an error in this build: setup.py makes ptxas
// warnings errors).
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
  static_assert(kRegs % 8 == 0 && kRegs >= 24 && kRegs <= 256, "setmaxnreg takes multiples of 8 in [24, 256]");
#if !defined(CNNOPS_SIM) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
  static_assert(kRegs % 8 == 0 && kRegs >= 24 && kRegs <= 256, "setmaxnreg takes multiples of 8 in [24, 256]");
#if !defined(CNNOPS_SIM) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}

// Keeps the compiler from moving accesses of the accumulators across the wgmma instructions
// (which read and write them behind its back); nothing is emitted.
template <int kRegs>
__device__ __forceinline__ void fence_accumulators(float (&d)[kRegs]) {
#if !defined(CNNOPS_SIM)
#pragma unroll
  for (int i = 0; i < kRegs; ++i) asm volatile("" : "+f"(d[i])::"memory");
#else
  (void)d;
#endif
}

// D (+)= A * B for one wgmma.mma_async.m64nNk16 (f16, bf16) / m64nNk8 (tf32), N in {64, 128,
// 256}: d holds this thread's N/2 accumulators; accumulate = false ignores their old values.
template <WgmmaType kType, int kN>
__device__ __forceinline__ void wgmma(float (&d)[kN / 2], uint64_t desc_a, uint64_t desc_b, bool accumulate,
                                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(kN == 64 || kN == 128 || kN == 256, "wgmma wrappers exist for N = 64, 128, 256");
#if defined(CNNOPS_SIM)
  ::cnnops::sim::WgmmaOp op;
  op.n = kN;
  op.element_bytes = kType == WgmmaType::kTF32 ? 4 : 2;
  op.element = kType == WgmmaType::kF16 ? sim_detail::wgmma_f16
             : kType == WgmmaType::kBF16 ? sim_detail::wgmma_bf16 : sim_detail::wgmma_tf32;
  op.accumulators = d;
  op.desc_a = desc_a;
  op.desc_b = desc_b;
  op.accumulate = accumulate;
  op.file = file;
  op.line = line;
  ::cnnops::sim::detail::wgmma_issue(op);
#elif defined(__CUDA_ARCH_FEAT_SM90_ALL)
  (void)file, (void)line;
  const int scale_d = accumulate ? 1 : 0;
  // One asm statement per shape and type: the accumulators are operands 0 .. N/2-1, then the
  // two descriptors and the scale-d flag.
#define CNNOPS_WGMMA_ASM(SHAPE_TYPES, REGS, OPERANDS, A, B, SCALE, IMMEDIATES)                           \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" SCALE ", 0;\nwgmma.mma_async.sync.aligned." SHAPE_TYPES \
               " " REGS ", %" A ", %" B ", p" IMMEDIATES ";\n}\n"                                        \
               : OPERANDS(d)                                                                           \
               : "l"(desc_a), "l"(desc_b), "r"(scale_d))
  if constexpr (kType == WgmmaType::kTF32) {
    if constexpr (kN == 64)
      CNNOPS_WGMMA_ASM("m64n64k8.f32.tf32.tf32", CNNOPS_WGMMA_D32_REGS, CNNOPS_WGMMA_D32_OPERANDS, "32", "33", "34",
                       ", 1, 1");
    else if constexpr (kN == 128)
      CNNOPS_WGMMA_ASM("m64n128k8.f32.tf32.tf32", CNNOPS_WGMMA_D64_REGS, CNNOPS_WGMMA_D64_OPERANDS, "64", "65",
                       "66", ", 1, 1");
    else
      CNNOPS_WGMMA_ASM("m64n256k8.f32.tf32.tf32", CNNOPS_WGMMA_D128_REGS, CNNOPS_WGMMA_D128_OPERANDS, "128", "129",
                       "130", ", 1, 1");
  } else if constexpr (kType == WgmmaType::kBF16) {
    if constexpr (kN == 64)
      CNNOPS_WGMMA_ASM("m64n64k16.f32.bf16.bf16", CNNOPS_WGMMA_D32_REGS, CNNOPS_WGMMA_D32_OPERANDS, "32", "33", "34",
                       ", 1, 1, 0, 0");
    else if constexpr (kN == 128)
      CNNOPS_WGMMA_ASM("m64n128k16.f32.bf16.bf16", CNNOPS_WGMMA_D64_REGS, CNNOPS_WGMMA_D64_OPERANDS, "64", "65",
                       "66", ", 1, 1, 0, 0");
    else
      CNNOPS_WGMMA_ASM("m64n256k16.f32.bf16.bf16", CNNOPS_WGMMA_D128_REGS, CNNOPS_WGMMA_D128_OPERANDS, "128", "129",
                       "130", ", 1, 1, 0, 0");
  } else {
    if constexpr (kN == 64)
      CNNOPS_WGMMA_ASM("m64n64k16.f32.f16.f16", CNNOPS_WGMMA_D32_REGS, CNNOPS_WGMMA_D32_OPERANDS, "32", "33", "34",
                       ", 1, 1, 0, 0");
    else if constexpr (kN == 128)
      CNNOPS_WGMMA_ASM("m64n128k16.f32.f16.f16", CNNOPS_WGMMA_D64_REGS, CNNOPS_WGMMA_D64_OPERANDS, "64", "65", "66",
                       ", 1, 1, 0, 0");
    else
      CNNOPS_WGMMA_ASM("m64n256k16.f32.f16.f16", CNNOPS_WGMMA_D128_REGS, CNNOPS_WGMMA_D128_OPERANDS, "128", "129",
                       "130", ", 1, 1, 0, 0");
  }
#undef CNNOPS_WGMMA_ASM
#else
  (void)d, (void)desc_a, (void)desc_b, (void)accumulate, (void)file, (void)line;
  __trap();
#endif
}

}  // namespace ptx
}  // namespace cuda
}  // namespace cnnops
