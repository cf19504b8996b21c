"""Public torch.autograd.Function classes for the cnnops ops. Their forward calls the custom op
and their backward is the very function registered with torch.library.register_autograd in
cnnops/ops.py, so both routes to a gradient run the same code (and support double backward).

The functional API (cnnops.conv2d, ...) applies these classes to 4-D inputs with normalised
arguments: Conv2dFunction.apply(x, w, b, stride[2], padding[4] (top, left, bottom, right),
dilation[2], groups).
"""
import inspect

import torch

from . import ops as _ops

_cnn = torch.ops.cnnops


class Conv2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(input, weight, bias, stride, padding, dilation, groups):
        return _cnn.conv2d_forward(input, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _ops.conv2d_forward_setup(ctx, inputs, output)

    @staticmethod
    def backward(ctx, grad_output):
        return _ops.conv2d_forward_vjp(ctx, grad_output)


class Conv2dBiasActFunction(torch.autograd.Function):
    """act(conv2d + bias + residual) in one kernel: apply(x, w, b, stride[2], padding[4],
    dilation[2], groups, activation (0 none, 1 relu), residual or None)."""

    @staticmethod
    def forward(input, weight, bias, stride, padding, dilation, groups, activation, residual):
        return _cnn.conv2d_bias_act(input, weight, bias, stride, padding, dilation, groups, activation, residual)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _ops.conv2d_bias_act_setup(ctx, inputs, output)

    @staticmethod
    def backward(ctx, grad_output):
        return _ops.conv2d_bias_act_vjp(ctx, grad_output)


class MaxPool2dFunction(torch.autograd.Function):
    """Returns (output, indices); indices are int64 positions h * W + w in each input plane."""

    @staticmethod
    def forward(input, kernel_size, stride, padding, dilation, ceil_mode):
        return _cnn.max_pool2d_forward(input, kernel_size, stride, padding, dilation, ceil_mode)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _ops.max_pool2d_forward_setup(ctx, inputs, output)

    @staticmethod
    def backward(ctx, grad_output, grad_indices):
        return _ops.max_pool2d_forward_vjp(ctx, grad_output, grad_indices)


class AvgPool2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        return _cnn.avg_pool2d_forward(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                       divisor_override)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _ops.avg_pool2d_forward_setup(ctx, inputs, output)

    @staticmethod
    def backward(ctx, grad_output):
        return _ops.avg_pool2d_forward_vjp(ctx, grad_output)


class AdaptiveAvgPool2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(input, output_size):
        return _cnn.adaptive_avg_pool2d_forward(input, output_size)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _ops.adaptive_avg_pool2d_forward_setup(ctx, inputs, output)

    @staticmethod
    def backward(ctx, grad_output):
        return _ops.adaptive_avg_pool2d_forward_vjp(ctx, grad_output)


# Function.apply binds its arguments to forward's signature on every call when setup_context is
# defined (torch.autograd.function._bind_default_args), and inspect.signature re-derives it each
# time unless the function carries __signature__: cached here once, that work leaves the per-call
# path of small layers.
for _cls in (Conv2dFunction, Conv2dBiasActFunction, MaxPool2dFunction, AvgPool2dFunction, AdaptiveAvgPool2dFunction):
    _cls.forward.__signature__ = inspect.signature(_cls.forward)

__all__ = ["Conv2dFunction", "Conv2dBiasActFunction", "MaxPool2dFunction", "AvgPool2dFunction", "AdaptiveAvgPool2dFunction"]
