"""Python-side registrations for the torch.ops.cnnops ops: fake (meta) kernels for tracing and
torch.compile, and autograd (register_autograd) using the same backward functions as the public
autograd.Function classes in cnnops.autograd -- one backward, used by both.

Backward ops are themselves differentiable (their backward is again made of cnnops ops), so
double backward works: gradgradcheck passes on every op.
"""
from typing import List, Optional, Sequence

import torch
from torch._prims_common import suggest_memory_format

from . import _ext  # (loading it registers the op schemas)

ops = torch.ops.cnnops


# ----------------------------------------------------------------------------- shapes & layout
def conv_out_size(in_size: int, pad_total: int, kernel: int, stride: int, dilation: int) -> int:
    return (in_size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def output_memory_format(x: torch.Tensor, w: Optional[torch.Tensor] = None) -> torch.memory_format:
    """Mirrors output_memory_format in csrc/common/params_from_tensors.h."""
    if suggest_memory_format(x) == torch.channels_last:
        return torch.channels_last
    if w is not None and suggest_memory_format(w) == torch.channels_last:
        return torch.channels_last
    return torch.contiguous_format


def _empty(shape: Sequence[int], like: torch.Tensor, fmt: torch.memory_format, dtype=None) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype or like.dtype, device=like.device, memory_format=fmt)


def _nothing(like: torch.Tensor) -> torch.Tensor:
    """What a backward op returns for a gradient its output_mask did not ask for."""
    return like.new_empty((0,))


# ----------------------------------------------------------------------------- fake kernels
@torch.library.register_fake("cnnops::conv2d_forward")
def _conv2d_forward_fake(input, weight, bias, stride, padding, dilation, groups):
    N, _, H, W = input.shape
    K, _, R, S = weight.shape
    P = conv_out_size(H, padding[0] + padding[2], R, stride[0], dilation[0])
    Q = conv_out_size(W, padding[1] + padding[3], S, stride[1], dilation[1])
    return _empty((N, K, P, Q), input, output_memory_format(input, weight))


@torch.library.register_fake("cnnops::conv2d_bias_act")
def _conv2d_bias_act_fake(input, weight, bias, stride, padding, dilation, groups, activation, residual):
    return _conv2d_forward_fake(input, weight, bias, stride, padding, dilation, groups)


@torch.library.register_fake("cnnops::conv2d_backward")
def _conv2d_backward_fake(grad_output, input, weight, stride, padding, dilation, groups, output_mask):
    gi = _empty(input.shape, input, output_memory_format(input, weight)) if output_mask[0] else _nothing(input)
    gw = _empty(weight.shape, weight, output_memory_format(input, weight)) if output_mask[1] else _nothing(input)
    gb = weight.new_empty((weight.shape[0],)) if output_mask[2] else _nothing(input)
    return gi, gw, gb


def _pool_out_shape(input, kernel, stride, padding, dilation, ceil_mode):
    from ._args import pool_out_size

    N, C, H, W = input.shape
    return (N, C, pool_out_size(H, kernel[0], padding[0], stride[0], dilation[0], ceil_mode),
            pool_out_size(W, kernel[1], padding[1], stride[1], dilation[1], ceil_mode))


@torch.library.register_fake("cnnops::max_pool2d_forward")
def _max_pool2d_forward_fake(input, kernel_size, stride, padding, dilation, ceil_mode):
    shape = _pool_out_shape(input, kernel_size, stride, padding, dilation, ceil_mode)
    fmt = output_memory_format(input)
    return _empty(shape, input, fmt), _empty(shape, input, fmt, dtype=torch.int64)


@torch.library.register_fake("cnnops::max_pool2d_values")
def _max_pool2d_values_fake(input, kernel_size, stride, padding, dilation, ceil_mode):
    return _empty(_pool_out_shape(input, kernel_size, stride, padding, dilation, ceil_mode), input,
                  output_memory_format(input))


@torch.library.register_fake("cnnops::max_pool2d_backward")
def _max_pool2d_backward_fake(grad_output, input, indices, kernel_size, stride, padding, dilation, ceil_mode):
    return _empty(input.shape, input, output_memory_format(input))


@torch.library.register_fake("cnnops::avg_pool2d_forward")
def _avg_pool2d_forward_fake(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    shape = _pool_out_shape(input, kernel_size, stride, padding, (1, 1), ceil_mode)
    return _empty(shape, input, output_memory_format(input))


@torch.library.register_fake("cnnops::avg_pool2d_backward")
def _avg_pool2d_backward_fake(grad_output, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                              divisor_override):
    return _empty(input.shape, input, output_memory_format(input))


@torch.library.register_fake("cnnops::adaptive_avg_pool2d_forward")
def _adaptive_avg_pool2d_forward_fake(input, output_size):
    N, C = input.shape[:2]
    return _empty((N, C, output_size[0], output_size[1]), input, output_memory_format(input))


@torch.library.register_fake("cnnops::adaptive_avg_pool2d_backward")
def _adaptive_avg_pool2d_backward_fake(grad_output, input):
    return _empty(input.shape, input, output_memory_format(input))


# ----------------------------------------------------------------------------- backward formulas
# For each op X: X_setup (the setup_context) and X_vjp (its backward formula: one entry per op
# input), named after the op they differentiate -- so conv2d_backward_vjp is the double backward,
# the formula of the conv2d_backward op. They serve both torch.library.register_autograd below
# and the autograd.Function classes in cnnops/autograd.py.

def conv2d_forward_setup(ctx, inputs, output):
    input, weight, bias, stride, padding, dilation, groups = inputs
    ctx.save_for_backward(input, weight)
    ctx.args = (list(stride), list(padding), list(dilation), groups)
    ctx.has_bias = bias is not None


def _conv2d_grads(ctx, grad_output, input, weight):
    """(grad_input, grad_weight, grad_bias) of a convolution, None where not needed."""
    mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]]
    if not any(mask):
        return None, None, None
    _ext.require_backend("conv2d_backward", "conv2d (backward)", grad_output)
    gi, gw, gb = ops.conv2d_backward(grad_output, input, weight, *ctx.args, mask)
    return gi if mask[0] else None, gw if mask[1] else None, gb if mask[2] else None


def conv2d_forward_vjp(ctx, grad_output):
    input, weight = ctx.saved_tensors
    return _conv2d_grads(ctx, grad_output, input, weight) + (None,) * 4


def conv2d_bias_act_setup(ctx, inputs, output):
    input, weight, bias, stride, padding, dilation, groups, activation, residual = inputs
    ctx.args = (list(stride), list(padding), list(dilation), groups)
    ctx.has_bias = bias is not None
    ctx.has_residual = residual is not None
    ctx.activation = activation
    # ReLU's derivative is read off the output (y > 0 exactly where the pre-activation is).
    ctx.save_for_backward(input, weight, output if activation else None)


def conv2d_bias_act_vjp(ctx, grad_output):
    """y = act(conv(x, w) + b + r): dz = dy masked by act'; (dx, dw, db) = the conv2d_backward op on dz; dr = dz."""
    input, weight, output = ctx.saved_tensors
    grad_z = grad_output
    if ctx.activation:  # relu, as torch's threshold_backward: the gradient passes where y > 0
        grad_z = torch.where(output > 0, grad_output, torch.zeros_like(grad_output))
    gi, gw, gb = _conv2d_grads(ctx, grad_z, input, weight)
    g_res = grad_z if ctx.has_residual and ctx.needs_input_grad[8] else None
    return gi, gw, gb, None, None, None, None, None, g_res


def conv2d_backward_setup(ctx, inputs, output):
    grad_output, input, weight, stride, padding, dilation, groups, output_mask = inputs
    ctx.save_for_backward(grad_output, input, weight)
    ctx.args = (list(stride), list(padding), list(dilation), groups)
    ctx.output_mask = list(output_mask)


def conv2d_backward_vjp(ctx, ggi, ggw, ggb):
    """Derivatives of (grad_input, grad_weight, grad_bias) = conv2d_backward(dY, X, W) (the op):
    d/d dY = conv(ggi, W) + conv(X, ggw) + ggb,  d/dX = dgrad(dY, ggw),  d/dW = wgrad(ggi, dY)."""
    grad_output, input, weight = ctx.saved_tensors
    stride, padding, dilation, groups = ctx.args
    use = [m and g is not None for m, g in zip(ctx.output_mask, (ggi, ggw, ggb))]
    g_go = g_x = g_w = None
    if ctx.needs_input_grad[0]:
        terms = []
        if use[0]:
            terms.append(ops.conv2d_forward(ggi, weight, None, stride, padding, dilation, groups))
        if use[1]:
            terms.append(ops.conv2d_forward(input, ggw, None, stride, padding, dilation, groups))
        if use[2]:
            terms.append(ggb.view(1, -1, 1, 1).expand_as(grad_output))
        if terms:
            g_go = terms[0]
            for t in terms[1:]:
                g_go = g_go + t
    if ctx.needs_input_grad[1] and use[1]:
        g_x = ops.conv2d_backward(grad_output, input, ggw, stride, padding, dilation, groups, [True, False, False])[0]
    if ctx.needs_input_grad[2] and use[0]:
        g_w = ops.conv2d_backward(grad_output, ggi, weight, stride, padding, dilation, groups, [False, True, False])[1]
    return g_go, g_x, g_w, None, None, None, None, None


def max_pool2d_forward_setup(ctx, inputs, output):
    input, kernel_size, stride, padding, dilation, ceil_mode = inputs
    _, indices = output
    ctx.mark_non_differentiable(indices)
    ctx.save_for_backward(input, indices)
    ctx.args = (list(kernel_size), list(stride), list(padding), list(dilation), ceil_mode)


def max_pool2d_forward_vjp(ctx, grad_output, grad_indices=None):
    input, indices = ctx.saved_tensors
    if not ctx.needs_input_grad[0]:
        return (None,) * 6
    return ops.max_pool2d_backward(grad_output, input, indices, *ctx.args), None, None, None, None, None


def max_pool2d_values_setup(ctx, inputs, output):
    pass


def max_pool2d_values_vjp(ctx, grad_output):
    """max_pool2d_values keeps no indices, so it has no gradient: say so instead of returning
    a wrong one (cnnops.max_pool2d uses it only where no gradient can flow)."""
    raise RuntimeError("cnnops::max_pool2d_values is not differentiable (it keeps no indices); "
                       "use cnnops::max_pool2d_forward, or cnnops.max_pool2d, when a gradient is needed")


def max_pool2d_backward_setup(ctx, inputs, output):
    input, indices = inputs[1], inputs[2]
    ctx.save_for_backward(indices)
    ctx.input_shape = input.shape


def max_pool2d_backward_vjp(ctx, ggi):
    """max_pool2d_backward is linear in grad_output: its derivative gathers ggi at the indices."""
    (indices,) = ctx.saved_tensors
    g_go = None
    if ctx.needs_input_grad[0]:
        N, C = indices.shape[:2]
        g_go = ggi.reshape(N, C, -1).gather(2, indices.reshape(N, C, -1)).view(indices.shape)
    return (g_go,) + (None,) * 7


def avg_pool2d_forward_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.args = tuple(inputs[1:])


def avg_pool2d_forward_vjp(ctx, grad_output):
    (input,) = ctx.saved_tensors
    if not ctx.needs_input_grad[0]:
        return (None,) * 7
    return (ops.avg_pool2d_backward(grad_output, input, *ctx.args),) + (None,) * 6


def avg_pool2d_backward_setup(ctx, inputs, output):
    ctx.args = tuple(inputs[2:])


def avg_pool2d_backward_vjp(ctx, ggi):
    """avg_pool2d_backward is linear in grad_output; its adjoint is avg_pool2d itself."""
    g_go = ops.avg_pool2d_forward(ggi, *ctx.args) if ctx.needs_input_grad[0] else None
    return (g_go,) + (None,) * 7


def adaptive_avg_pool2d_forward_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])


def adaptive_avg_pool2d_forward_vjp(ctx, grad_output):
    (input,) = ctx.saved_tensors
    if not ctx.needs_input_grad[0]:
        return None, None
    return ops.adaptive_avg_pool2d_backward(grad_output, input), None


def adaptive_avg_pool2d_backward_setup(ctx, inputs, output):
    grad_output = inputs[0]
    ctx.output_size = list(grad_output.shape[2:])


def adaptive_avg_pool2d_backward_vjp(ctx, ggi):
    g_go = ops.adaptive_avg_pool2d_forward(ggi, ctx.output_size) if ctx.needs_input_grad[0] else None
    return g_go, None


_AUTOGRAD = {
    "conv2d_forward": (conv2d_forward_vjp, conv2d_forward_setup),
    "conv2d_bias_act": (conv2d_bias_act_vjp, conv2d_bias_act_setup),
    "conv2d_backward": (conv2d_backward_vjp, conv2d_backward_setup),
    "max_pool2d_forward": (max_pool2d_forward_vjp, max_pool2d_forward_setup),
    "max_pool2d_values": (max_pool2d_values_vjp, max_pool2d_values_setup),
    "max_pool2d_backward": (max_pool2d_backward_vjp, max_pool2d_backward_setup),
    "avg_pool2d_forward": (avg_pool2d_forward_vjp, avg_pool2d_forward_setup),
    "avg_pool2d_backward": (avg_pool2d_backward_vjp, avg_pool2d_backward_setup),
    "adaptive_avg_pool2d_forward": (adaptive_avg_pool2d_forward_vjp, adaptive_avg_pool2d_forward_setup),
    "adaptive_avg_pool2d_backward": (adaptive_avg_pool2d_backward_vjp, adaptive_avg_pool2d_backward_setup),
}
for _name, (_backward, _setup) in _AUTOGRAD.items():
    torch.library.register_autograd("cnnops::" + _name, _backward, setup_context=_setup)

# Autocast at the op level, for code that calls torch.ops.cnnops.* directly: convolution is on
# autocast's lower-precision list, cast to the device's default autocast dtype (CUDA float16,
# CPU bfloat16). register_autocast pins one dtype per device, so the functional API casts to the
# dtype the user chose itself and calls the op with autocast off (cnnops/functional.py).
AUTOCAST_DTYPES = {"cuda": torch.float16, "cpu": torch.bfloat16}
for _name in ("conv2d_forward", "conv2d_bias_act"):
    for _device, _dtype in AUTOCAST_DTYPES.items():
        torch.library.register_autocast("cnnops::" + _name, _device, _dtype)

ALL_OPS: List[str] = list(_AUTOGRAD)
