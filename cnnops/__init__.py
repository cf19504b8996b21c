"""cnnops: hand-written CPU (and CUDA) kernels for 2-D convolution, max/average pooling and 1x1
bottleneck convolutions, registered as PyTorch custom ops (torch.ops.cnnops) with autograd.

    import cnnops
    y = cnnops.conv2d(x, w, b, stride=2, padding="same")      # torch.nn.functional's arguments
    model = cnnops.convert(torchvision.models.resnet50())     # swap a model's layers
"""
from . import ops as _ops  # noqa: F401  (fake kernels and autograd registrations)
from . import autograd, models, nn
from ._ext import build_info, last_cuda_kernel
from ._version import __version__
from .convert import convert
from .functional import adaptive_avg_pool2d, avg_pool2d, conv2d, conv2d_bias_act, max_pool2d

__all__ = [
    "__version__",
    "adaptive_avg_pool2d",
    "autograd",
    "avg_pool2d",
    "build_info",
    "conv2d",
    "conv2d_bias_act",
    "convert",
    "last_cuda_kernel",
    "max_pool2d",
    "nn",
]
