#include "conv2d_host.h"

#include <ATen/Context.h>
#include <torch/version.h>

#include <string>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "conv2d_bprop.h"
#include "conv2d_bprop_plan.h"
#include "conv2d_direct_wgrad.h"
#include "conv2d_fprop.h"
#include "conv2d_direct.h"
#include "dgrad_phases.h"
#include "host_common.h"
#include "wgrad_as_fprop.h"

namespace cnnops {
namespace cuda {

namespace {

// Whether torch's own cuDNN convolution would run float32 as TF32 right now: the per-op setting
// (torch.backends.cudnn.conv.fp32_precision) where torch has it (2.9+), else allow_tf32.
bool tf32_allowed_for_conv() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
  return at::globalContext().allowTF32CuDNN(at::Float32Op::CONV);
#else
  return at::globalContext().allowTF32CuDNN();
#endif
}

// The launch arguments of a forward call and the tensors they point into (kept alive with them).
struct PreparedFprop {
  Conv2dFpropArgs args{};
  at::Tensor x, w, b, y, r;
};

PreparedFprop prepare_fprop(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                            at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                            int64_t activation, const c10::optional<at::Tensor>& residual) {
  check_conv2d_args(input, weight, bias, stride, padding, dilation, groups);
  PreparedFprop f;
  Conv2dFpropArgs& a = f.args;
  a.dtype = dtype_of(input, "conv2d");
  a.allow_tf32 = a.dtype == DType::kFloat32 && tf32_allowed_for_conv();
  a.p = make_conv2d_params(input, weight, at::Tensor(), stride, padding, dilation, groups);
  check_epilogue_args(input, a.p, activation, residual);
  a.ep.act = Activation(activation);
  if (residual.has_value() && residual->defined()) {
    f.r = *residual;
    a.ep.residual = f.r.const_data_ptr();
    a.ep.r = strides4(f.r);
  }
  f.y = empty_output({a.p.N, a.p.K, a.p.P, a.p.Q}, input.options().memory_format(output_memory_format(input, weight)));
  // The tensor-core kernels read channels-last operands; convert the others here (a copy, part
  // of the op). The output keeps torch's layout: the kernels write through its strides.
  f.x = input;
  f.w = weight;
  if (conv2d_fprop_prefers_channels_last(a.p, a.dtype, a.allow_tf32)) {
    f.x = input.contiguous(at::MemoryFormat::ChannelsLast);
    f.w = weight.contiguous(at::MemoryFormat::ChannelsLast);
  }
  a.p.x = strides4(f.x);
  a.p.w = strides4(f.w);
  a.p.y = strides4(f.y);
  // A bias view with a stride is read as contiguous [K]: make it so (K elements, cheap).
  if (bias.has_value() && bias->defined()) f.b = bias->contiguous();
  a.x = f.x.const_data_ptr();
  a.w = f.w.const_data_ptr();
  a.bias = f.b.defined() ? f.b.const_data_ptr() : nullptr;
  a.y = f.y.mutable_data_ptr();
  return f;
}

}  // namespace

at::Tensor conv2d_bias_act_device(const at::Tensor& input, const at::Tensor& weight,
                                  const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                  at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                  int64_t activation, const c10::optional<at::Tensor>& residual, void* stream) {
  PreparedFprop f = prepare_fprop(input, weight, bias, stride, padding, dilation, groups, activation, residual);
  if (f.y.numel() == 0) return f.y;
  record_launch(conv2d_fprop(f.args, stream), "conv2d_forward");
  return f.y;
}

at::Tensor conv2d_forward_device(const at::Tensor& input, const at::Tensor& weight,
                                 const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                 void* stream) {
  return conv2d_bias_act_device(input, weight, bias, stride, padding, dilation, groups, 0, c10::nullopt, stream);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward_device(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, std::array<bool, 3> output_mask, void* stream) {
  check_conv2d_args(input, weight, c10::nullopt, stride, padding, dilation, groups);
  TORCH_CHECK(grad_output.dim() == 4, "cnnops.conv2d backward: expected a 4-D grad_output, got ", grad_output.dim(), "-D");
  Conv2dBpropArgs a{};
  a.dtype = dtype_of(input, "conv2d backward");
  a.p = make_conv2d_params(input, weight, grad_output, stride, padding, dilation, groups);
  check_conv2d_grad_output(grad_output, input, a.p);
  a.dy = grad_output.const_data_ptr();
  a.x = input.const_data_ptr();
  a.w = weight.const_data_ptr();
  const bool tf32 = a.dtype == DType::kFloat32 && tf32_allowed_for_conv();
  const Conv2dBpropPlan plan = conv2d_bprop_plan(a.p, a.dtype, tf32, output_mask[0], output_mask[1], output_mask[2]);
  // Gradients take the layout torch gives them (channels_last when input or weight is); every
  // element is written by a kernel (poisoned in tests to prove it) or, where the plan says
  // kZeros, is zero.
  const auto fmt = output_memory_format(input, weight);
  const auto allocate = [](BpropPath path, at::IntArrayRef sizes, const at::TensorOptions& opts) {
    return path == BpropPath::kZeros ? zeros_output(sizes, opts) : empty_output(sizes, opts);
  };
  at::Tensor gi, gw, gb;
  if (output_mask[0]) gi = allocate(plan.dgrad, input.sizes(), input.options().memory_format(fmt));
  if (output_mask[1]) gw = allocate(plan.wgrad, weight.sizes(), weight.options().memory_format(fmt));
  if (output_mask[2]) gb = allocate(plan.bias, {a.p.K}, weight.options());

  if (plan.dgrad == BpropPath::kTensorCores) {
    // the stride phases with taps, up to OutputPhases::kMax to a launch; the others zero-filled
    record_kernel("conv2d_dgrad", dgrad_by_phases(grad_output, weight, gi, a.p, plan, a.dtype, tf32, stream));
  } else if (plan.dgrad == BpropPath::kCudaCores || plan.dgrad == BpropPath::kDirect) {
    a.dx = gi.mutable_data_ptr();
    a.dx_strides = strides4(gi);
    record_launch(plan.dgrad == BpropPath::kDirect ? conv2d_direct_dgrad(a, stream) : conv2d_dgrad(a, stream),
                  "conv2d_dgrad");
    a.dx = nullptr;
  }
  if (plan.wgrad_simt_launch()) {
    if (plan.wgrad == BpropPath::kCudaCores) {
      a.dw = gw.mutable_data_ptr();
      a.dw_strides = strides4(gw);
    }
    if (plan.bias == BpropPath::kCudaCores) a.db = gb.mutable_data_ptr();
    const size_t bytes = a.dw != nullptr ? conv2d_wgrad_workspace_bytes(a.p, a.dtype) : 0;
    const at::Tensor workspace = at::empty({int64_t(bytes)}, input.options().dtype(at::kByte));
    a.workspace = bytes > 0 ? workspace.mutable_data_ptr() : nullptr;
    record_launch(conv2d_wgrad(a, stream), "conv2d_wgrad");
  }
  if (plan.wgrad == BpropPath::kDirect) {  // splits of the output tiles + ordered sum
    a.dw = gw.mutable_data_ptr();
    a.dw_strides = strides4(gw);
    a.db = nullptr;
    const at::Tensor workspace =
        at::empty({int64_t(conv2d_direct_wgrad_plan(a.p, a.dtype).workspace_bytes)}, input.options().dtype(at::kByte));
    a.workspace = workspace.mutable_data_ptr();
    record_launch(conv2d_direct_wgrad(a, stream), "conv2d_wgrad");
  }
  if (plan.wgrad == BpropPath::kTensorCores)  // batch chunks + ordered sum
    record_kernel("conv2d_wgrad", wgrad_as_fprop(grad_output, input, gw, a.p, plan, a.dtype, tf32, stream));
  auto none = [&](const at::Tensor& t) { return t.defined() ? t : at::empty({0}, input.options()); };
  return {none(gi), none(gw), none(gb)};
}

std::string conv2d_forward_plan(const at::Tensor& input, const at::Tensor& weight,
                                const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  const PreparedFprop f = prepare_fprop(input, weight, bias, stride, padding, dilation, groups, 0, c10::nullopt);
  return f.y.numel() == 0 ? std::string() : std::string(conv2d_fprop_plan(f.args));
}

DirectPlan conv2d_direct_forward_plan(const at::Tensor& input, const at::Tensor& weight, at::IntArrayRef stride,
                                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  const PreparedFprop f = prepare_fprop(input, weight, c10::nullopt, stride, padding, dilation, groups, 0, c10::nullopt);
  return conv2d_direct_supports(f.args.p, f.args.dtype) ? conv2d_direct_plan(f.args.p, f.args.dtype) : DirectPlan{};
}

std::string conv2d_backward_plan(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                                 at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                 int64_t groups, std::array<bool, 3> output_mask) {
  check_conv2d_args(input, weight, c10::nullopt, stride, padding, dilation, groups);
  const Conv2dParams p = make_conv2d_params(input, weight, grad_output, stride, padding, dilation, groups);
  check_conv2d_grad_output(grad_output, input, p);
  const DType dtype = dtype_of(input, "conv2d backward");
  const bool tf32 = dtype == DType::kFloat32 && tf32_allowed_for_conv();
  return conv2d_bprop_plan(p, dtype, tf32, output_mask[0], output_mask[1], output_mask[2]).describe();
}

}  // namespace cuda
}  // namespace cnnops
