"""Argument normalisation and checking for the functional API, once, with torch's own rules
and error messages (so cnnops is a drop-in replacement down to its exceptions).

Each function returns the normalised arguments the custom ops take: tuples of ints, padding as
[top, left, bottom, right] for convolution.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch

IntOrPair = Union[int, Sequence[int]]
SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_DTYPE_NAMES = {
    torch.float32: "float",
    torch.float64: "double",
    torch.float16: "c10::Half",
    torch.bfloat16: "c10::BFloat16",
}


def _dtype_name(dt: torch.dtype) -> str:
    return _DTYPE_NAMES.get(dt, str(dt).replace("torch.", ""))


def _expand(value, name: str, where: str) -> List[int]:
    """int -> [v, v]; a list/tuple of 1 or 2 ints -> 2 ints (torch's expand_param_if_needed)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value, value]
    if isinstance(value, (list, tuple, torch.Size)) and all(isinstance(v, int) for v in value):
        if len(value) == 1:
            return [value[0], value[0]]
        if len(value) == 2:
            return list(value)
        raise RuntimeError(
            "expected %s to be a single integer value or a list of 2 values to match the "
            "convolution dimensions, but got %s=%s" % (name, name, list(value))
        )
    raise TypeError("%s(): argument '%s' must be an int or a tuple of ints, not %s" % (where, name, type(value).__name__))


def check_dtype(public_name: str, t: torch.Tensor) -> None:
    if t.dtype not in SUPPORTED_DTYPES:
        raise NotImplementedError(
            "cnnops.%s: unsupported dtype %s; cnnops supports float32, float64, float16 and "
            "bfloat16" % (public_name, t.dtype)
        )


def conv2d(input: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], stride, padding, dilation,
           groups: int) -> Tuple[List[int], List[int], List[int], int]:
    """Checks conv2d's arguments; returns (stride[2], padding[4] = top, left, bottom, right,
    dilation[2], groups)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError("conv2d(): argument 'input' must be Tensor, not %s" % type(input).__name__)
    if not isinstance(weight, torch.Tensor):
        raise TypeError("conv2d(): argument 'weight' must be Tensor, not %s" % type(weight).__name__)
    if input.dim() not in (3, 4):
        raise RuntimeError(
            "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: %s" % list(input.shape)
        )
    if weight.dim() != 4:
        raise RuntimeError("conv2d: expected a 4-D weight [out_channels, in_channels/groups, kH, kW], "
                           "but got weight of size %s" % list(weight.shape))
    stride_ = _expand(stride, "stride", "conv2d")
    dilation_ = _expand(dilation, "dilation", "conv2d")
    if not isinstance(groups, int) or isinstance(groups, bool):
        raise TypeError("conv2d(): argument 'groups' must be int, not %s" % type(groups).__name__)
    if input.dtype != weight.dtype:
        raise RuntimeError("Input type (%s) and weight type (%s) should be the same"
                           % (_dtype_name(input.dtype), _dtype_name(weight.dtype)))
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError("Input type (%s) and bias type (%s) should be the same"
                           % (_dtype_name(input.dtype), _dtype_name(bias.dtype)))
    if input.device != weight.device or (bias is not None and bias.device != input.device):
        raise RuntimeError("Input, weight and bias should be on the same device, but got input on %s, weight on %s%s"
                           % (input.device, weight.device, "" if bias is None else ", bias on %s" % bias.device))
    check_dtype("conv2d", input)
    kernel = list(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pad4 = [0, 0, 0, 0]
        elif padding == "same":
            if any(s != 1 for s in stride_):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # torch pads dilation*(k-1) in total, the odd element at the end (bottom/right).
            total = [d * (k - 1) for d, k in zip(dilation_, kernel)]
            pad4 = [total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2]
        else:
            raise RuntimeError("Invalid padding string: '%s'" % padding)
    else:
        pad2 = _expand(padding, "padding", "conv2d")
        pad4 = [pad2[0], pad2[1], pad2[0], pad2[1]]
    if any(s <= 0 for s in stride_):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in pad4):
        raise RuntimeError("negative padding is not supported")
    if any(d <= 0 for d in dilation_):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.shape[0] == 0 or weight.shape[0] % groups != 0:
        what = "at least %d" % groups if weight.shape[0] < groups else "divisible by %d" % groups
        raise RuntimeError("Given groups=%d, expected weight to be %s at dimension 0, but got weight of size %s instead"
                           % (groups, what, list(weight.shape)))
    channels = input.shape[0] if input.dim() == 3 else input.shape[1]
    if channels != weight.shape[1] * groups:
        batched = list(input.shape) if input.dim() == 4 else [1] + list(input.shape)
        raise RuntimeError(
            "Given groups=%d, weight of size %s, expected input%s to have %d channels, but got %d channels instead"
            % (groups, list(weight.shape), batched, weight.shape[1] * groups, channels)
        )
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(
            "Given weight of size %s, expected bias to be 1-dimensional with %d elements, but got bias of size %s instead"
            % (list(weight.shape), weight.shape[0], list(bias.shape))
        )
    spatial = list(input.shape[-2:])
    padded = [spatial[0] + pad4[0] + pad4[2], spatial[1] + pad4[1] + pad4[3]]
    dilated = [d * (k - 1) + 1 for d, k in zip(dilation_, kernel)]
    if padded[0] < dilated[0] or padded[1] < dilated[1]:
        raise RuntimeError(
            "Calculated padded input size per channel: (%d x %d). Kernel size: (%d x %d). Kernel size can't be "
            "greater than actual input size" % (padded[0], padded[1], dilated[0], dilated[1])
        )
    return stride_, pad4, dilation_, groups


def _pool_param(value, name: str, op: str, allow_none: bool = False) -> List[int]:
    if allow_none and (value is None or (isinstance(value, (list, tuple)) and len(value) == 0)):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [value, value]
    if isinstance(value, (list, tuple, torch.Size)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise TypeError("%s(): argument '%s' must be a tuple of ints, but found element of type %s"
                            % (op, name, type(next(v for v in value if not isinstance(v, int))).__name__))
        if len(value) in (1, 2):
            return [value[0], value[-1]]
        omitted = "be omitted, " if allow_none else ""
        raise RuntimeError("%s: %s must either %sbe a single int, or a tuple of two ints" % (op, name, omitted))
    raise TypeError("%s(): argument '%s' must be an int or a tuple of ints, not %s" % (op, name, type(value).__name__))


def pool_out_size(in_size: int, kernel: int, pad: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    """torch's pooling_output_shape (the same arithmetic as csrc/common/pool_params.h)."""
    numer = in_size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numer // stride + 1
    if ceil_mode and (out - 1) * stride >= in_size + pad:
        out -= 1
    return out


def pool2d(op: str, input: torch.Tensor, kernel_size, stride, padding, dilation, ceil_mode: bool
           ) -> Tuple[List[int], List[int], List[int], List[int]]:
    """Checks max/avg pooling arguments; returns (kernel, stride, padding, dilation), 2 ints each."""
    if not isinstance(input, torch.Tensor):
        raise TypeError("%s(): argument 'input' must be Tensor, not %s" % (op, type(input).__name__))
    kernel = _pool_param(kernel_size, "kernel_size", op)
    stride_ = _pool_param(stride, "stride", op, allow_none=True) or list(kernel)
    pad = _pool_param(padding, "padding", op)
    dil = _pool_param(dilation, "dilation", op)
    # torch's order: avg_pool2d reads input.size(-3) first; max_pool2d checks the rank first;
    # both check the window parameters before the input is required to be non-empty.
    if op == "avg_pool2d" and input.dim() < 3:
        raise IndexError("Dimension out of range (expected to be in range of [-%d, %d], but got -3)"
                         % (max(input.dim(), 1), max(input.dim(), 1) - 1))
    if input.dim() not in (3, 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if any(s == 0 for s in stride_):
        raise RuntimeError("stride should not be zero")
    if any(p < 0 for p in pad):
        raise RuntimeError("pad must be non-negative, but got pad: %d" % min(pad))
    if any(k <= 0 for k in kernel):
        raise RuntimeError("kernel size should be greater than zero, but got kH: %d kW: %d" % tuple(kernel))
    if any(s < 0 for s in stride_):
        raise RuntimeError("stride should be greater than zero, but got dH: %d dW: %d" % tuple(stride_))
    if any(d <= 0 for d in dil):
        raise RuntimeError("dilation should be greater than zero, but got dilationH: %d dilationW: %d" % tuple(dil))
    for k, p, d in zip(kernel, pad, dil):
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError("pad should be at most half of effective kernel size, but got pad=%d, kernel_size=%d and "
                               "dilation=%d" % (p, k, d))
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise RuntimeError("pad should be smaller than or equal to half of kernel size, but got padW = %d, padH = %d, "
                           "kW = %d, kH = %d" % (pad[1], pad[0], kernel[1], kernel[0]))
    if any(s == 0 for s in input.shape[-3:]):
        if op == "max_pool2d":
            raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got: "
                               "%s" % list(input.shape))
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    check_dtype(op, input)
    H, W = input.shape[-2:]
    C = input.shape[-3]
    P = pool_out_size(H, kernel[0], pad[0], stride_[0], dil[0], ceil_mode)
    Q = pool_out_size(W, kernel[1], pad[1], stride_[1], dil[1], ceil_mode)
    if P < 1 or Q < 1:
        raise RuntimeError("Given input size: (%dx%dx%d). Calculated output size: (%dx%dx%d). Output size is too small"
                           % (C, H, W, C, P, Q))
    return kernel, stride_, pad, dil


def adaptive_avg_pool2d(input: torch.Tensor, output_size) -> List[int]:
    """Checks adaptive_avg_pool2d's arguments; returns the output size as 2 ints (None -> input size)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError("adaptive_avg_pool2d(): argument 'input' must be Tensor, not %s" % type(input).__name__)
    if isinstance(output_size, (list, tuple, torch.Size)) and input.dim() < 3:
        raise ValueError("Input dimension should be at least 3")  # torch's Python wrapper checks this first
    if input.dim() not in (3, 4):
        raise RuntimeError("adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got %s" % list(input.shape))
    if isinstance(output_size, int) and not isinstance(output_size, bool):
        size = [output_size, output_size]
    elif isinstance(output_size, (list, tuple, torch.Size)):
        if len(output_size) != 2:
            raise RuntimeError("adaptive_avg_pool2d: output_size must be 2")
        if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in output_size):
            raise TypeError("adaptive_avg_pool2d(): argument 'output_size' must be a tuple of ints (or None)")
        size = [input.shape[-2 + i] if v is None else v for i, v in enumerate(output_size)]
    else:
        raise TypeError("adaptive_avg_pool2d(): argument 'output_size' must be an int or a tuple, not %s"
                        % type(output_size).__name__)
    if any(s < 0 for s in size):
        raise RuntimeError("adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                           "received {%d, %d}" % tuple(size))
    for d in (input.dim() - 2, input.dim() - 1):
        if input.shape[d] == 0:
            raise RuntimeError("adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, "
                               "but input has sizes %s with dimension %d being empty" % (list(input.shape), d))
    check_dtype("adaptive_avg_pool2d", input)
    return size
