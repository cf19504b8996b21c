"""Drop-in layers: subclasses of the torch.nn classes (same constructor arguments, parameters,
state_dicts, hooks and isinstance checks) whose forward runs on cnnops kernels.
"""
import torch
from torch import nn
from torch.nn import functional as F

from . import functional as cf


class Conv2d(nn.Conv2d):
    """torch.nn.Conv2d on cnnops kernels. padding_mode other than 'zeros' pads with F.pad (a
    data movement, not a convolution) and then convolves without padding, exactly as torch."""

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return cf.conv2d(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return cf.conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1x1(Conv2d):
    """The 1x1 "bottleneck" convolution (Inception, ResNet): a Conv2d with kernel_size=1 and no
    padding; its state_dict is that of nn.Conv2d(in_channels, out_channels, 1, stride)."""

    def __init__(self, in_channels: int, out_channels: int, stride=1, groups: int = 1, bias: bool = True,
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size=1, stride=stride, padding=0, groups=groups,
                         bias=bias, device=device, dtype=dtype)


class MaxPool2d(nn.MaxPool2d):
    def forward(self, input):
        return cf.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                             ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(nn.AvgPool2d):
    def forward(self, input):
        return cf.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    def forward(self, input):
        return cf.adaptive_avg_pool2d(input, self.output_size)


# torch.nn class -> cnnops class, for cnnops.convert.
REPLACEMENTS = {
    nn.Conv2d: Conv2d,
    nn.MaxPool2d: MaxPool2d,
    nn.AvgPool2d: AvgPool2d,
    nn.AdaptiveAvgPool2d: AdaptiveAvgPool2d,
}

__all__ = ["Conv2d", "Conv1x1", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]
