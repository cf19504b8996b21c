"""Layer fusion for inference, behind cnnops.convert(model, fuse=True).

The model is traced with torch.fx (cnnops and torch conv / BatchNorm / pooling layers as leaves)
and every chain

    conv -> [eval-mode BatchNorm2d] -> [+ residual] -> [ReLU]

becomes one FusedConv2d: the BatchNorm's running statistics are folded into the convolution's
weight and bias, and the residual add and the ReLU run in its epilogue (cnnops.conv2d_bias_act).
A ResNet block's `out += shortcut; relu(out)` is such a chain. The result is a
torch.fx.GraphModule with the same outputs (up to rounding) as the model it came from.
"""
import operator
from typing import Dict, Optional

import torch
from torch import fx, nn
from torch.nn import functional as F

from . import functional as cf
from .nn import Conv1x1, Conv2d


class FusedConv2d(Conv2d):
    """A convolution with BatchNorm folded in and act(. + residual) fused into its epilogue:
    forward(input, residual=None) = act(conv2d(input) + bias + residual)."""

    activation: Optional[str] = None

    def forward(self, input, residual=None):
        return cf.conv2d_bias_act(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                  self.groups, activation=self.activation, residual=residual)

    @classmethod
    def fold(cls, conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], activation: Optional[str]) -> "FusedConv2d":
        fused = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    conv.groups, bias=True, device=conv.weight.device, dtype=conv.weight.dtype)
        fused.activation = activation
        with torch.no_grad():
            weight = conv.weight.detach()
            bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(weight[:, 0, 0, 0])
            if bn is not None:  # y = (conv + b - mean) * gamma / sqrt(var + eps) + beta
                gamma = bn.weight.detach() if bn.weight is not None else torch.ones_like(bias)
                beta = bn.bias.detach() if bn.bias is not None else torch.zeros_like(bias)
                scale = gamma / torch.sqrt(bn.running_var + bn.eps)
                weight = weight * scale.view(-1, 1, 1, 1)
                bias = (bias - bn.running_mean) * scale + beta
            fused.weight.copy_(weight)
            fused.bias.copy_(bias)
        return fused

    def extra_repr(self):
        return super().extra_repr() + ", activation=%s" % (self.activation,)


_FUSABLE_CONVS = (nn.Conv2d, Conv2d, Conv1x1)  # exact types: a user's subclass keeps its forward
_RELU_FUNCTIONS = (torch.relu, torch.relu_, F.relu)
_ADD_FUNCTIONS = (operator.add, operator.iadd, torch.add)


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)) or \
            super().is_leaf_module(m, qualname)


def _only_user(node: fx.Node) -> Optional[fx.Node]:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _is_relu(node: Optional[fx.Node], modules: Dict[str, nn.Module]) -> bool:
    if node is None:
        return False
    if node.op == "call_module":
        return type(modules[node.target]) is nn.ReLU
    if node.op == "call_function":
        return node.target in _RELU_FUNCTIONS
    return node.op == "call_method" and node.target in ("relu", "relu_")


def _residual_of_add(node: Optional[fx.Node], operand: fx.Node) -> Optional[fx.Node]:
    """The other operand when `node` is operand + other (other a distinct graph value), else None."""
    if node is None or node.kwargs:
        return None
    is_add = (node.op == "call_function" and node.target in _ADD_FUNCTIONS) or \
        (node.op == "call_method" and node.target in ("add", "add_"))
    if not is_add or len(node.args) != 2:
        return None
    a, b = node.args
    other = b if a is operand else a if b is operand else None
    return other if isinstance(other, fx.Node) and other is not operand else None


def fuse(model: nn.Module) -> fx.GraphModule:
    """The fused model (see the module docstring). BatchNorm layers must be in eval mode."""
    training_bn = [name for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d) and m.training]
    if training_bn:
        raise ValueError("cnnops.convert(fuse=True) folds BatchNorm's running statistics into the convolutions, "
                         "but %d BatchNorm2d layers are in training mode (e.g. %r): call model.eval() first"
                         % (len(training_bn), training_bn[0]))
    graph = _Tracer().trace(model)
    gm = fx.GraphModule(model, graph, class_name=type(model).__name__ + "Fused")
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or type(modules.get(node.target)) not in _FUSABLE_CONVS:
            continue
        conv = modules[node.target]
        if conv.padding_mode != "zeros" or len(node.args) != 1 or node.kwargs:
            continue
        chain = [node]
        bn = None
        nxt = _only_user(node)
        if nxt is not None and nxt.op == "call_module" and type(modules[nxt.target]) is nn.BatchNorm2d and \
                modules[nxt.target].track_running_stats and modules[nxt.target].running_mean is not None:
            bn = modules[nxt.target]
            chain.append(nxt)
        residual = _residual_of_add(_only_user(chain[-1]), chain[-1])
        if residual is not None:
            chain.append(_only_user(chain[-1]))
        activation = "relu" if _is_relu(_only_user(chain[-1]), modules) else None
        if activation:
            chain.append(_only_user(chain[-1]))
        if len(chain) == 1:
            continue  # a lone convolution: nothing to fuse
        name = node.target.replace(".", "_") + "_fused"
        modules[name] = FusedConv2d.fold(conv, bn, activation)
        gm.add_submodule(name, modules[name])
        with gm.graph.inserting_before(chain[-1]):
            kwargs = {"residual": residual} if residual is not None else {}
            fused = gm.graph.call_module(name, (node.args[0],), kwargs)
        chain[-1].replace_all_uses_with(fused)
        for old in reversed(chain):
            gm.graph.erase_node(old)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm
