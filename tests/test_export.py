"""Deployment by export: `torch.export.export` of converted models gives a graph that holds
cnnops' ops (and no aten convolution or pooling), survives `torch.export.save` / `load`, and runs
under AOTInductor (`aoti_compile_and_package` / `aoti_load_package`) with eager's outputs; a
batch dimension exported as dynamic (`torch.export.Dim`) runs at batch sizes it was not traced at.

Models: torchvision's ResNet-50, VGG-16 and GoogLeNet through `cnnops.convert`, and ResNet-50
through `convert(fuse=True)` (BatchNorm folded, ReLU and the residual add in the convolutions'
epilogue). VGG-16's classifier is replaced by one 25088 -> 10 layer: AOTInductor packs the weights
into the compiled package, and the stock classifier's 120 M parameters would make that the bulk of
the test's time while adding nothing that cnnops computes. Small images (64 x 64) keep it quick.
"""
import pytest
import torch
import torchvision
from torch import nn

import cnnops

IMAGE = 64
BATCH = 2


@pytest.fixture(autouse=True)
def _ieee_float32_convolutions():
    """Replaces conftest's fixture of that name: it sets torch.backends.cudnn.conv.fp32_precision
    alone, and torch.export (2.14.1, dynamic shapes) reads the legacy cudnn.allow_tf32 flag, which
    raises while the conv and RNN precisions differ. Export on the CPU runs no TF32 either way."""
    yield


def _vgg16():
    m = torchvision.models.vgg16()
    m.classifier = nn.Linear(512 * 7 * 7, 10)
    return m


MODELS = {
    "resnet50": (lambda: torchvision.models.resnet50(), False),
    "vgg16": (_vgg16, False),
    "googlenet": (lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False), False),
    "resnet50-fused": (lambda: torchvision.models.resnet50(), True),
}
EXPECTED_OPS = {
    "resnet50": {"conv2d_forward", "max_pool2d_forward", "adaptive_avg_pool2d_forward"},
    "vgg16": {"conv2d_forward", "max_pool2d_forward", "adaptive_avg_pool2d_forward"},
    "googlenet": {"conv2d_forward", "max_pool2d_forward", "adaptive_avg_pool2d_forward"},
    "resnet50-fused": {"conv2d_bias_act", "max_pool2d_forward", "adaptive_avg_pool2d_forward"},
}
BANNED = ("aten.convolution", "aten.conv2d", "aten.max_pool2d", "aten.avg_pool2d", "aten.adaptive_avg_pool2d",
          "aten._adaptive_avg_pool2d", "aten.cudnn", "aten.mkldnn")


def _build(name):
    make, fuse = MODELS[name]
    torch.manual_seed(0)
    stock = make().eval()
    if fuse:
        # non-trivial BatchNorm statistics, so that folding them is visible in the outputs
        for m in stock.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return cnnops.convert(stock, fuse=fuse)


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request):
    model = _build(request.param)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, 3, IMAGE, IMAGE, generator=g)
    with torch.no_grad():
        want = model(x)
    return request.param, model, x, want, torch.export.export(model, (x,))


def _cnnops_ops(ep):
    targets = [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]
    return targets, {t.split(".")[1] for t in targets if t.startswith("cnnops.")}


def test_graph_holds_cnnops_ops(exported):
    name, _, _, _, ep = exported
    targets, ops = _cnnops_ops(ep)
    assert ops == EXPECTED_OPS[name], ops
    assert not [t for t in targets if t.startswith(BANNED)], [t for t in targets if t.startswith(BANNED)]


def test_save_and_load_give_eager_outputs(exported, tmp_path):
    name, _, x, want, ep = exported
    path = tmp_path / (name + ".pt2")
    torch.export.save(ep, path)
    loaded = torch.export.load(path)
    assert _cnnops_ops(loaded)[1] == EXPECTED_OPS[name]
    with torch.no_grad():
        got = loaded.module()(x)
    assert torch.equal(got, want)  # the same ops on the same inputs, run eagerly


def test_aot_inductor_package_gives_eager_outputs(exported, tmp_path):
    """The cnnops ops stay calls into cnnops (AOTInductor's proxy executor); the ops around them
    (BatchNorm, ReLU, additions) inductor compiles itself, with its own float32 rounding: hence
    float32's tolerance rather than bit equality."""
    name, _, x, want, ep = exported
    path = torch._inductor.aoti_compile_and_package(ep, package_path=str(tmp_path / (name + "-aoti.pt2")))
    runner = torch._inductor.aoti_load_package(path)
    with torch.no_grad():
        got = runner(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_dynamic_batch_export_and_aot_inductor(tmp_path):
    model = _build("resnet50-fused")
    x = torch.randn(BATCH, 3, IMAGE, IMAGE)
    batch = torch.export.Dim("batch", min=1, max=64)
    ep = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    assert _cnnops_ops(ep)[1] == EXPECTED_OPS["resnet50-fused"]
    torch.export.save(ep, tmp_path / "dyn.pt2")
    loaded = torch.export.load(tmp_path / "dyn.pt2").module()
    runner = torch._inductor.aoti_load_package(
        torch._inductor.aoti_compile_and_package(ep, package_path=str(tmp_path / "dyn-aoti.pt2")))
    for n in (1, 3, 5):
        xn = torch.randn(n, 3, IMAGE, IMAGE)
        with torch.no_grad():
            want = model(xn)
            assert torch.equal(loaded(xn), want)
            got = runner(xn)
        assert got.shape == (n, 1000)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
