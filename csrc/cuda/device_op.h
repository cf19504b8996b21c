// One wrapper for every op's `*_device` host function (conv2d_host.h, pool2d_host.h: the op's
// arguments, then the stream), so that registering an op on a backend is one line:
//   m.impl("conv2d_forward", DeviceOp<CudaBackend, &conv2d_forward_device>::call);
// DeviceOp<Backend, F>::call takes F's arguments without the stream. It hands every defined
// tensor argument (optional ones included) to Backend::check, then calls Backend::run with the
// first tensor and a callable that runs F on the stream it is given. The CUDA extension's
// backend (register.cpp) adds the device guard and the current stream; the simulator module's
// (sim_module/module.cpp) requires CPU tensors and turns simulator faults into Python errors.
#pragma once
#include <ATen/ATen.h>

namespace cnnops {
namespace cuda {
namespace device_op_detail {

template <typename... T>
struct TypeList {};

// R(A0, ..., An-1) from the argument types A0 .. An of a function: its signature without the
// trailing stream.
template <typename R, typename Kept, typename... Rest>
struct DropLast;
template <typename R, typename... Kept, typename Last>
struct DropLast<R, TypeList<Kept...>, Last> {
  using type = R(Kept...);
};
template <typename R, typename... Kept, typename Head, typename Next, typename... Tail>
struct DropLast<R, TypeList<Kept...>, Head, Next, Tail...> : DropLast<R, TypeList<Kept..., Head>, Next, Tail...> {};

template <typename Fn>
struct WithoutStream;
template <typename R, typename... A>
struct WithoutStream<R (*)(A...)> {
  using type = typename DropLast<R, TypeList<>, A...>::type;
};

template <typename V>
void visit_tensor(V& v, const at::Tensor& t) {
  if (t.defined()) v(t);
}
template <typename V>
void visit_tensor(V& v, const c10::optional<at::Tensor>& t) {
  if (t.has_value() && t->defined()) v(*t);
}
template <typename V, typename T>
void visit_tensor(V&, const T&) {}  // not a tensor

}  // namespace device_op_detail

template <typename Backend, auto DeviceFn,
          typename Signature = typename device_op_detail::WithoutStream<decltype(DeviceFn)>::type>
struct DeviceOp;

template <typename Backend, auto DeviceFn, typename R, typename... A>
struct DeviceOp<Backend, DeviceFn, R(A...)> {
  static R call(A... args) {
    const at::Tensor* first = nullptr;
    auto check = [&](const at::Tensor& t) {
      if (first == nullptr) first = &t;
      Backend::check(t, *first);
    };
    (device_op_detail::visit_tensor(check, args), ...);
    TORCH_CHECK(first != nullptr, "cnnops: an op was called without a tensor argument");
    return Backend::run(*first, [&](void* stream) { return DeviceFn(args..., stream); });
  }
};

}  // namespace cuda
}  // namespace cnnops
