#include "conv2d_host.h"

#include <ATen/Context.h>
#include <torch/version.h>

#include <map>
#include <mutex>
#include <string>

#include "../common/checks.h"
#include "../common/params_from_tensors.h"
#include "../common/poison.h"
#include "conv2d_bprop.h"
#include "conv2d_fprop.h"
#include "dgrad_phases.h"
#include "wgrad_as_fprop.h"

namespace cnnops {
namespace cuda {

DType dtype_of(const at::Tensor& t, const char* op) {
  switch (t.scalar_type()) {
    case at::kFloat: return DType::kFloat32;
    case at::kDouble: return DType::kFloat64;
    case at::kHalf: return DType::kFloat16;
    case at::kBFloat16: return DType::kBFloat16;
    default:
      TORCH_CHECK_TYPE(false, "cnnops.", op, ": CUDA kernels take float32, float64, float16 or bfloat16, got ",
                       t.scalar_type());
  }
}

namespace {
std::mutex g_kernel_log_mutex;
std::map<std::string, std::string>& kernel_log() {
  static std::map<std::string, std::string> log;
  return log;
}

void check_launch(const LaunchResult& r, const char* op) {
  TORCH_CHECK(r.error == nullptr, "cnnops.", op, ": CUDA kernel ", r.kernel, " failed: ", r.error);
  record_kernel(op, r.kernel);
}
}  // namespace

void record_kernel(const char* op, const char* kernel) {
  std::lock_guard<std::mutex> lock(g_kernel_log_mutex);
  kernel_log()[op] = kernel;
}

std::string last_kernel(const std::string& op) {
  std::lock_guard<std::mutex> lock(g_kernel_log_mutex);
  auto it = kernel_log().find(op);
  return it == kernel_log().end() ? std::string() : it->second;
}

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
  check_launch(conv2d_fprop(f.args, stream), "conv2d_forward");
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
  // Gradients take the layout torch gives them (channels_last when input or weight is); every
  // element is written by a kernel (poisoned in tests to prove it), except that with nothing to
  // reduce over grad_weight and grad_bias are zero.
  const auto fmt = output_memory_format(input, weight);
  const bool nothing = grad_output.numel() == 0 || input.numel() == 0 || weight.numel() == 0;
  at::Tensor gi, gw, gb;
  if (output_mask[0]) gi = empty_output(input.sizes(), input.options().memory_format(fmt));
  const auto wopts = weight.options().memory_format(fmt);
  if (output_mask[1]) gw = nothing ? zeros_output(weight.sizes(), wopts) : empty_output(weight.sizes(), wopts);
  if (output_mask[2])
    gb = grad_output.numel() == 0 ? at::zeros({a.p.K}, weight.options()) : empty_output({a.p.K}, weight.options());
  const bool tf32 = a.dtype == DType::kFloat32 && tf32_allowed_for_conv();
  if (gi.defined() && gi.numel() > 0) {
    if (nothing) {
      gi.zero_();
    } else if (const char* kernel = dgrad_by_phases(grad_output, weight, gi, a.p, a.dtype, tf32, stream)) {
      record_kernel("conv2d_dgrad", kernel);  // tensor cores, one forward launch per stride phase
    } else {
      a.dx = gi.mutable_data_ptr();
      a.dx_strides = strides4(gi);
      check_launch(conv2d_dgrad(a, stream), "conv2d_dgrad");
    }
  }
  a.dx = nullptr;
  const char* wgrad_kernel = nullptr;  // set when the tensor cores computed grad_weight
  if (gw.defined() && !nothing) {
    wgrad_kernel = wgrad_as_fprop(grad_output, input, gw, a.p, a.dtype, tf32, stream);
    if (wgrad_kernel == nullptr) {
      a.dw = gw.mutable_data_ptr();
      a.dw_strides = strides4(gw);
    }
  }
  if (gb.defined() && grad_output.numel() > 0) a.db = gb.mutable_data_ptr();
  at::Tensor workspace;
  if (a.dw != nullptr || a.db != nullptr) {
    const size_t bytes = a.dw != nullptr ? conv2d_wgrad_workspace_bytes(a.p, a.dtype) : 0;
    workspace = at::empty({int64_t(bytes)}, input.options().dtype(at::kByte));
    a.workspace = bytes > 0 ? workspace.mutable_data_ptr() : nullptr;
    check_launch(conv2d_wgrad(a, stream), "conv2d_wgrad");
  }
  if (wgrad_kernel != nullptr) record_kernel("conv2d_wgrad", wgrad_kernel);  // batch chunks + ordered sum
  auto none = [&](const at::Tensor& t) { return t.defined() ? t : at::empty({0}, input.options()); };
  return {none(gi), none(gw), none(gb)};
}

std::string conv2d_forward_plan(const at::Tensor& input, const at::Tensor& weight,
                                const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  const PreparedFprop f = prepare_fprop(input, weight, bias, stride, padding, dilation, groups, 0, c10::nullopt);
  return f.y.numel() == 0 ? std::string() : std::string(conv2d_fprop_plan(f.args));
}

}  // namespace cuda
}  // namespace cnnops
