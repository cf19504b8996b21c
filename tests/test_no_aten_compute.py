"""Proof that cnnops computes with its own kernels: every op forward and backward, and a
converted ResNet-50 training step, run under torch.profiler without a single ATen convolution,
pooling, matrix-multiply, einsum or unfold/im2col event."""
import re

import torch
import torchvision
from torch import nn

import cnnops

FORBIDDEN = re.compile(
    r"^aten::(.*conv.*|.*pool.*|mm|bmm|addmm|addbmm|baddbmm|matmul|einsum|unfold.*|im2col|col2im|"
    r"_?mkldnn.*|linear|dot|vdot|mv|addmv|tensordot)$"
)


def _aten_events(fn):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return {e.name for e in prof.events() if e.name.startswith("aten::")}


def _assert_clean(fn):
    names = _aten_events(fn)
    bad = sorted(n for n in names if FORBIDDEN.match(n))
    assert not bad, f"ATen compute ops ran inside cnnops: {bad}"
    return names


def test_the_pattern_catches_torch():
    """The check can fail: torch's own functions do show up."""
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    names = _aten_events(lambda: torch.nn.functional.conv2d(x, torch.randn(3, 2, 3, 3)).sum().backward())
    assert any(FORBIDDEN.match(n) for n in names)


def test_every_op_forward_and_backward():
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    w = torch.randn(6, 2, 3, 3, requires_grad=True)
    b = torch.randn(6, requires_grad=True)

    def run():
        y = cnnops.conv2d(x, w, b, stride=2, padding="valid", groups=2)
        y = y + cnnops.conv2d(x, w[:, :, :1, :1].contiguous(), None, stride=2, groups=2)[:, :, :4, :4]
        m, _ = cnnops.max_pool2d(x, 3, 2, 1, return_indices=True)
        a = cnnops.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        g = cnnops.adaptive_avg_pool2d(x, (2, 3))
        (y.sum() + m.sum() + a.sum() + g.sum()).backward()

    names = _assert_clean(run)
    assert not any(n.startswith("cnnops") for n in names)  # sanity: we looked at aten events only


def test_converted_resnet50_training_step():
    model = torchvision.models.resnet50(weights=None)
    model.fc = nn.Identity()  # the classifier is a Linear layer: torch's, not a cnnops op
    model = cnnops.convert(model)
    x = torch.randn(1, 3, 64, 64)
    _assert_clean(lambda: model(x).sum().backward())
