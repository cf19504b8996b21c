// The host interface of the CUDA convolution forward: what the torch-side code (conv2d_host.cpp)
// hands the torch-free launchers. Free of torch *and* of CUDA headers, so the same binding code
// compiles into the CUDA extension and into the simulator module (where "device" pointers are
// CPU memory and the stream is null).
#pragma once
#include "../common/conv_params.h"
#include "../common/epilogue.h"
#include "dtypes.cuh"
#include "launch_result.h"

namespace cnnops {
namespace cuda {

// One launch of several independent partial problems (blockIdx.z = split), each a slice of the
// reduction: split z = zr * c_splits + zc sums channels [zc * c_step, ..) and filter rows
// [zr * r_step, ..) (the last of each may be shorter) and stores its partial result at
// y + z * y_stride. The tensor-core wgrad's chunks of the batch and of the output rows, which
// fill the GPU in one launch where one chunk's tiles would not. Only the tensor-core kernel
// takes more than one split.
struct ReductionSplits {
  int32_t c_splits = 1, r_splits = 1;
  int64_t c_step = 0, r_step = 0;
  int64_t y_stride = 0;
  int32_t count() const { return c_splits * r_splits; }
};

// One launch of up to kMax independent problems that share the input x and differ in their
// filters and outputs (blockIdx.z = phase): the stride phases of a tensor-core dgrad, which
// convolve the same grad_output with different filter taps into different strided views of
// grad_input. Phase z is the launch's problem with its own taps (R x S, spaced dil_h x dil_w, the
// first at -pad_top, -pad_left), output window P x Q and filter strides, its filters at
// w + w_at and its outputs at y + y_at. The grid covers the largest phase; a block past its
// phase's positions does nothing. Only the tensor-core kernel takes phases.
struct OutputPhases {
  static constexpr int kMax = 4;  // a 2 x 2 stride grid in one launch; larger grids take several
  struct Phase {
    int64_t R, S, dil_h, dil_w, pad_top, pad_left, P, Q;
    Strides4 w;
    int64_t w_at, y_at;
  };
  int32_t count = 0;  // 0: a plain launch
  Phase phase[kMax];

  // The problem phase z solves, given the launch's.
  CNNOPS_HD_INLINE Conv2dParams problem(Conv2dParams p, int z) const {
    const Phase& f = phase[z];
    p.R = f.R, p.S = f.S, p.dil_h = f.dil_h, p.dil_w = f.dil_w, p.pad_top = f.pad_top, p.pad_left = f.pad_left;
    p.P = f.P, p.Q = f.Q, p.w = f.w;
    return p;
  }
};

struct Conv2dFpropArgs {
  Conv2dParams p;  // sizes and element strides (x, w, y)
  DType dtype;     // of x, w, bias and y alike
  const void* x;
  const void* w;
  const void* bias;  // [K] or null
  void* y;
  // float32 may run as TF32 on tensor cores (torch's cuDNN rule: conv fp32_precision == "tf32",
  // torch.backends.cudnn.allow_tf32 on older torch); otherwise IEEE float32 on CUDA cores.
  bool allow_tf32;
  EpilogueParams ep;  // y = act(conv + bias + residual)
  ReductionSplits splits;
  OutputPhases phases;  // count > 0: a phased launch (splits must then be 1)
};

// Runs y = act(conv2d(x, w) + bias + residual) on `stream` (a cudaStream_t; null = the legacy default stream).
// Asynchronous on a GPU; the simulator finishes before returning. Any Conv2dParams with
// N*P*Q > 0 and K > 0 is valid (the caller skips empty outputs).
LaunchResult conv2d_fprop(const Conv2dFpropArgs& args, void* stream);

// The kernel configuration conv2d_fprop() would run for these arguments (nothing is launched).
const char* conv2d_fprop_plan(const Conv2dFpropArgs& args);

// Whether a faster kernel serves this shape when x and w are channels-last (NHWC input, KRSC
// filters, 16-byte aligned): the host converts operands in other layouts before the launch
// (the conversion is part of the op's time).
// The Hopper (wgmma) forward: whether it runs where it applies (a compute capability 9.0 device, a
// build with sm_90a code, not switched off), and the switch. On by default on a GPU (off with
// CNNOPS_WGMMA=0 in the environment), off by default in the simulator.
bool fprop_wgmma_available();
void set_fprop_wgmma_enabled(bool enabled);

bool conv2d_fprop_prefers_channels_last(const Conv2dParams& p, DType dtype, bool allow_tf32);

}  // namespace cuda
}  // namespace cnnops
