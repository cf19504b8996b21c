// The one place that chooses the convolution-forward kernel for a shape and dtype: the Hopper
// (wgmma) kernel where it is available, the tensor-core kernel where its layout and alignment
// rules hold, the direct kernels for narrow
// groups (depthwise, ResNeXt's), the CUDA-core implicit GEMM otherwise.
// conv2d_fprop_plan() answers with the same choice without launching anything.
#include <type_traits>

#include "conv2d_direct.h"
#include "conv2d_fprop_kernels.cuh"

namespace cnnops {
namespace cuda {
namespace {

template <typename T>
LaunchResult run(const Conv2dFpropArgs& args, cudaStream_t stream, bool launch) {
  if constexpr (std::is_same<T, half_t>::value || std::is_same<T, bf16_t>::value) {
    if (fprop_wgmma_supports(args))
      return launch ? launch_fprop_wgmma<T>(args, stream) : LaunchResult{nullptr, fprop_wgmma_name<T>(args)};
  }
  if constexpr (!std::is_same<T, double>::value) {
    if (fprop_tc_supports(args)) return launch ? launch_fprop_tc<T>(args, stream) : LaunchResult{nullptr, fprop_tc_name<T>(args)};
  }
  if (args.splits.count() != 1 || args.phases.count != 0)
    return LaunchResult{"reduction splits and output phases need the tensor-core kernel (channels-last, aligned "
                        "operands, at most OutputPhases::kMax phases)",
                        fprop_simt_name<T>()};
  if (conv2d_direct_supports(args.p, args.dtype) && !args.ep.store_float) {
    if (!launch) return LaunchResult{nullptr, conv2d_direct_name(args.p, args.dtype)};
    const Conv2dDirectArgs d{args.p, args.dtype, args.x, args.w, args.bias, args.y, forward_filters(args.p), args.ep};
    return conv2d_direct(d, stream);
  }
  return launch ? launch_fprop_simt<T>(args, stream) : LaunchResult{nullptr, fprop_simt_name<T>()};
}

LaunchResult dispatch(const Conv2dFpropArgs& args, cudaStream_t stream, bool launch) {
  return with_element_type(args.dtype, [&](auto type) { return run<typename decltype(type)::type>(args, stream, launch); });
}

}  // namespace

bool conv2d_fprop_prefers_channels_last(const Conv2dParams& p, DType dtype, bool allow_tf32) {
  return fprop_tc_supports_shape(p, dtype, allow_tf32);
}

LaunchResult conv2d_fprop(const Conv2dFpropArgs& args, void* stream) {
  return dispatch(args, static_cast<cudaStream_t>(stream), true);
}

const char* conv2d_fprop_plan(const Conv2dFpropArgs& args) { return dispatch(args, nullptr, false).kernel; }

}  // namespace cuda
}  // namespace cnnops
