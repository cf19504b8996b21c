"""The drop-in functional API: the arguments, semantics and errors of torch.nn.functional's
conv2d, max_pool2d, avg_pool2d and adaptive_avg_pool2d, computed by cnnops kernels.

Each function checks its arguments once (cnnops/_args.py), handles unbatched 3-D input and
autocast, and applies the autograd Function of cnnops/autograd.py (_apply).
"""
import contextlib
from typing import Optional

import torch

from . import _args
from ._ext import require_backend
from .autograd import (AdaptiveAvgPool2dFunction, AvgPool2dFunction, Conv2dBiasActFunction, Conv2dFunction,
                       MaxPool2dFunction)

ACTIVATIONS = {None: 0, "relu": 1}


def _batched(input: torch.Tensor):
    """(4-D view, whether the caller passed an unbatched 3-D tensor)."""
    return (input.unsqueeze(0), True) if input.dim() == 3 else (input, False)


def _grad_can_flow(*args) -> bool:
    return torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)


def _apply(function, *args):
    """function.apply(*args) when a gradient may flow (grad mode on and a tensor argument that
    requires grad), else the Function's own forward: the same op call without Function.apply's
    Python bookkeeping (tens of microseconds, as much as a small layer's kernel) -- inference and
    no_grad calls pay only for the op."""
    if _grad_can_flow(*args):
        return function.apply(*args)
    return function.forward(*args)


def _has_autocast(device_type: str) -> bool:
    """Whether autocast exists for this device type: devices without it (meta, ...) pass
    through, since asking torch.is_autocast_enabled about them raises. While torch.compile traces,
    the answer is yes without asking: the tracer of some supported torch releases (2.11) cannot
    trace torch.amp.is_autocast_available and would break the graph, and the devices it traces
    for (cpu, cuda) have autocast."""
    return torch.compiler.is_compiling() or torch.amp.is_autocast_available(device_type)


def _autocast(device_type: str, *tensors):
    """(tensors, cast): the floating tensors cast to the autocast dtype when autocast is on for
    this device -- convolution is on autocast's lower-precision list, and this honours the dtype
    the user chose (fp16 or bf16) -- and whether that happened."""
    if not _has_autocast(device_type) or not torch.is_autocast_enabled(device_type):
        return tensors, False
    dtype = torch.get_autocast_dtype(device_type)
    return tuple(t.to(dtype) if t is not None and t.is_floating_point() else t for t in tensors), True


def _autocast_off(device_type: str, cast: bool):
    """After _autocast has cast the inputs, the op runs with autocast off: its own op-level
    autocast (cnnops/ops.py, one fixed dtype per device) must not cast them again."""
    return torch.autocast(device_type, enabled=False) if cast else contextlib.nullcontext()


def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> torch.Tensor:
    """2-D cross-correlation, as torch.nn.functional.conv2d (padding may be 'valid' or 'same')."""
    cast = False
    if isinstance(input, torch.Tensor) and isinstance(weight, torch.Tensor):
        (input, weight, bias), cast = _autocast(input.device.type, input, weight, bias)
    stride, padding, dilation, groups = _args.conv2d(input, weight, bias, stride, padding, dilation, groups)
    require_backend("conv2d_forward", "conv2d", input)
    x, unbatched = _batched(input)
    with _autocast_off(input.device.type, cast):
        y = _apply(Conv2dFunction, x, weight, bias, stride, padding, dilation, groups)
    return y.squeeze(0) if unbatched else y


def conv2d_bias_act(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, stride=1,
                    padding=0, dilation=1, groups: int = 1, activation: Optional[str] = None,
                    residual: Optional[torch.Tensor] = None) -> torch.Tensor:
    """act(conv2d(input, weight, bias, ...) + residual) with the bias, the residual add and the
    activation fused into the convolution's epilogue (one pass over the output, computed in the
    accumulation type and rounded once). activation: None or 'relu'; residual: None or a tensor
    of the output's shape (a ResNet block's shortcut). Differentiable in every tensor argument."""
    if activation not in ACTIVATIONS:
        raise ValueError("cnnops.conv2d_bias_act: activation must be None or 'relu', got %r" % (activation,))
    cast = False
    if isinstance(input, torch.Tensor) and isinstance(weight, torch.Tensor):
        (input, weight, bias, residual), cast = _autocast(input.device.type, input, weight, bias, residual)
    stride, padding, dilation, groups = _args.conv2d(input, weight, bias, stride, padding, dilation, groups)
    require_backend("conv2d_bias_act", "conv2d_bias_act", input)
    x, unbatched = _batched(input)
    if residual is not None:
        if not isinstance(residual, torch.Tensor):
            raise TypeError("cnnops.conv2d_bias_act: residual must be a Tensor or None, got %s" % type(residual).__name__)
        if unbatched:
            residual = residual.unsqueeze(0)
    with _autocast_off(input.device.type, cast):
        y = _apply(Conv2dBiasActFunction, x, weight, bias, stride, padding, dilation, groups,
                   ACTIVATIONS[activation], residual)
    return y.squeeze(0) if unbatched else y


def max_pool2d(input: torch.Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max pooling, as torch.nn.functional.max_pool2d (indices as torch: h * W + w per plane)."""
    kernel, stride, padding, dilation = _args.pool2d("max_pool2d", input, kernel_size, stride, padding, dilation,
                                                     ceil_mode)
    require_backend("max_pool2d_forward", "max_pool2d", input)
    x, unbatched = _batched(input)
    if not return_indices and not _grad_can_flow(x):
        # Inference: the values alone, no int64 indices allocated or written (for float32 a
        # third of the bytes).
        y = torch.ops.cnnops.max_pool2d_values(x, kernel, stride, padding, dilation, bool(ceil_mode))
        return y.squeeze(0) if unbatched else y
    y, indices = _apply(MaxPool2dFunction, x, kernel, stride, padding, dilation, bool(ceil_mode))
    if unbatched:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return (y, indices) if return_indices else y


def avg_pool2d(input: torch.Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: Optional[int] = None) -> torch.Tensor:
    """Average pooling, as torch.nn.functional.avg_pool2d."""
    kernel, stride, padding, _ = _args.pool2d("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, int) or isinstance(divisor_override, bool)):
        raise TypeError("avg_pool2d(): argument 'divisor_override' must be int, not %s" % type(divisor_override).__name__)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    require_backend("avg_pool2d_forward", "avg_pool2d", input)
    x, unbatched = _batched(input)
    y = _apply(AvgPool2dFunction, x, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override)
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool2d(input: torch.Tensor, output_size) -> torch.Tensor:
    """Adaptive average pooling, as torch.nn.functional.adaptive_avg_pool2d (None keeps a size)."""
    size = _args.adaptive_avg_pool2d(input, output_size)
    require_backend("adaptive_avg_pool2d_forward", "adaptive_avg_pool2d", input)
    x, unbatched = _batched(input)
    y = _apply(AdaptiveAvgPool2dFunction, x, size)
    return y.squeeze(0) if unbatched else y


__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]
