"""cnnops.nn layers and cnnops.convert: drop-in for torch.nn, on real torchvision models."""
import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import cnnops


def test_layers_are_torch_subclasses_with_same_state_dict():
    pairs = [
        (cnnops.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=True),
         nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=True)),
        (cnnops.nn.Conv1x1(4, 6, stride=2, bias=False), nn.Conv2d(4, 6, 1, stride=2, bias=False)),
    ]
    for ours, theirs in pairs:
        assert isinstance(ours, nn.Conv2d)
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        theirs.load_state_dict(ours.state_dict())
        x = torch.randn(2, 4, 9, 8)
        assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    assert isinstance(cnnops.nn.MaxPool2d(2), nn.MaxPool2d)
    assert isinstance(cnnops.nn.AvgPool2d(2), nn.AvgPool2d)
    assert isinstance(cnnops.nn.AdaptiveAvgPool2d(1), nn.AdaptiveAvgPool2d)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv_padding_modes(mode):
    ours = cnnops.nn.Conv2d(3, 5, 3, padding=2, padding_mode=mode, dilation=2)
    ref = nn.Conv2d(3, 5, 3, padding=2, padding_mode=mode, dilation=2)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 8, 7, requires_grad=True)
    y, r = ours(x), ref(x)
    assert torch.allclose(y, r, atol=1e-5)
    assert torch.allclose(torch.autograd.grad(y.sum(), x)[0], torch.autograd.grad(r.sum(), x)[0], atol=1e-5)


def test_pool_layers_match_torch():
    x = torch.randn(2, 3, 11, 10, requires_grad=True)
    layers = [
        (cnnops.nn.MaxPool2d(3, 2, 1, dilation=1, ceil_mode=True), nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (cnnops.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=None),
         nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
        (cnnops.nn.AdaptiveAvgPool2d((3, None)), nn.AdaptiveAvgPool2d((3, None))),
    ]
    for ours, ref in layers:
        assert torch.allclose(ours(x), ref(x), atol=1e-6)
    y, i = cnnops.nn.MaxPool2d(2, return_indices=True)(x)
    r, j = nn.MaxPool2d(2, return_indices=True)(x)
    assert torch.equal(y, r) and torch.equal(i, j)


def test_convert_shares_parameters_and_keeps_original():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 1), nn.AdaptiveAvgPool2d(1))
    converted = cnnops.convert(model)
    assert type(model[0]) is nn.Conv2d and type(converted[0]) is cnnops.nn.Conv2d
    assert type(converted[2]) is cnnops.nn.MaxPool2d and type(converted[4]) is cnnops.nn.AdaptiveAvgPool2d
    assert converted[0].weight is model[0].weight
    same = cnnops.convert(model, inplace=True)
    assert same is model and type(model[3]) is cnnops.nn.Conv2d


def test_convert_keeps_user_subclasses_and_hooks():
    class MyConv(nn.Conv2d):
        pass

    model = nn.Sequential(MyConv(3, 3, 3), nn.Conv2d(3, 3, 3))
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    converted = cnnops.convert(model)
    assert type(converted[0]) is MyConv and type(converted[1]) is cnnops.nn.Conv2d
    converted(torch.randn(1, 3, 8, 8))
    assert seen == [torch.Size([1, 3, 4, 4])]


def _check_model(model, x, atol):
    model.eval()
    ref_model = copy.deepcopy(model)
    conv = cnnops.convert(model)
    assert not any(type(m) in cnnops.nn.REPLACEMENTS for m in conv.modules())
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    y, r = conv(x1), ref_model(x2)
    if isinstance(y, tuple):
        y, r = y[0], r[0]
    scale = r.abs().max().item() + 1e-6
    assert torch.allclose(y, r, atol=atol * scale, rtol=atol), (y - r).abs().max()
    g = torch.randn_like(r)
    y.backward(g)
    r.backward(g)
    params = dict(ref_model.named_parameters())
    for name, p in conv.named_parameters():
        q = params[name]
        if p.grad is None:
            assert q.grad is None, name
            continue
        gs = q.grad.abs().max().item() + 1e-6
        assert torch.allclose(p.grad, q.grad, atol=atol * gs, rtol=atol), (name, (p.grad - q.grad).abs().max())
    gs = x2.grad.abs().max().item() + 1e-6
    assert torch.allclose(x1.grad, x2.grad, atol=atol * gs, rtol=atol)


@pytest.mark.slow
@pytest.mark.parametrize("name,size", [("resnet50", 64), ("vgg16", 32), ("alexnet", 63), ("googlenet", 64),
                                       ("inception_v3", 75), ("mobilenet_v2", 64), ("convnext_tiny", 64),
                                       ("resnext50_32x4d", 64)])
def test_convert_torchvision_models(name, size):
    torch.manual_seed(0)
    kwargs = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(aux_logits=False, init_weights=True)
    model = getattr(torchvision.models, name)(**kwargs).double()
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    _check_model(model, x, atol=1e-9)


def test_meta_device_forward():
    """Shape-only forwards (torch.device('meta')) work as with torch's layers."""
    with torch.device("meta"):
        model = nn.Sequential(cnnops.nn.Conv2d(3, 8, 3, padding=1), cnnops.nn.MaxPool2d(2),
                              cnnops.nn.AvgPool2d(2), cnnops.nn.AdaptiveAvgPool2d(1))
        y = model(torch.randn(2, 3, 16, 16))
    assert y.device.type == "meta" and y.shape == (2, 8, 1, 1)


@pytest.mark.parametrize("fn, args", [
    (cnnops.conv2d, lambda x: (x, torch.randn(4, 3, 3, 3, requires_grad=True))),
    (cnnops.max_pool2d, lambda x: (x, 2)),
    (cnnops.avg_pool2d, lambda x: (x, 2)),
    (cnnops.adaptive_avg_pool2d, lambda x: (x, 1)),
])
def test_functional_applies_the_autograd_function_only_when_a_gradient_can_flow(fn, args, monkeypatch):
    """With a gradient possible, the output comes from the public autograd.Function (its node
    names the class); under no_grad or with no input requiring grad, the op runs directly
    (Function.apply is never called) and gives the same values."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    xg = x.clone().requires_grad_()
    a = args(xg)
    y = fn(*a)
    assert type(y.grad_fn).__name__.endswith("FunctionBackward"), type(y.grad_fn).__name__
    function = type(y.grad_fn)._forward_cls

    def no_apply(*unused):
        raise AssertionError(f"{function.__name__}.apply called where no gradient can flow")

    monkeypatch.setattr(function, "apply", no_apply)
    with torch.no_grad():
        y_ng = fn(*a)
    plain = tuple(t.detach() if isinstance(t, torch.Tensor) else t for t in a)
    y_plain = fn(*plain)
    assert y_ng.grad_fn is None and y_plain.grad_fn is None
    assert torch.equal(y.detach(), y_ng) and torch.equal(y_ng, y_plain)
