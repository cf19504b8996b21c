"""cnnops.convert: run an existing model's convolution and pooling layers on cnnops."""
import copy

import torch
from torch import nn

from .nn import REPLACEMENTS


def convert(model: nn.Module, inplace: bool = False, fuse: bool = False) -> nn.Module:
    """Swap every nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d and nn.AdaptiveAvgPool2d in `model` for
    its cnnops.nn counterpart.

    fuse=True (inference; BatchNorm layers in eval mode) also folds each BatchNorm2d into the
    convolution before it and fuses a following ReLU and residual add into that convolution's
    epilogue (cnnops.fuse; the model is traced with torch.fx and a torch.fx.GraphModule comes
    back). Folded convolutions own new weights; the other layers still share the original's.

    The layers keep their parameters, buffers, hooks and attributes: each one's class is switched
    to the cnnops subclass, which adds no state. With inplace=False (the default) the module tree
    is copied first but the copy shares the original's parameters and buffers, so both models
    train the same tensors. Only exact instances of the torch classes are swapped (a user's own
    subclass keeps its behaviour); functional calls inside a forward (F.max_pool2d, ...) are not
    layers and stay torch's.
    """
    if not inplace:
        memo = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
        model = copy.deepcopy(model, memo)
    for module in model.modules():
        replacement = REPLACEMENTS.get(type(module))
        if replacement is not None:
            module.__class__ = replacement
    if fuse:
        from .fuse import fuse as _fuse

        return _fuse(model)
    return model
