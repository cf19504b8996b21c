"""cnnops.models: parameter counts, torchvision state_dicts loading with matching outputs, the
ResNet variants, GoogLeNet as in the paper, the multiplication counter, and no torch convolution
or pooling layer anywhere inside."""
import pytest
import torch
import torchvision
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode

import cnnops
from cnnops import models
from cnnops.models.googlenet import INCEPTION_TABLE

# Only cnnops layers may convolve or pool inside these models.
TORCH_CONV_POOL = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
                   nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
                   nn.modules.pooling._LPPoolNd, nn.modules.pooling._MaxUnpoolNd, nn.FractionalMaxPool2d,
                   nn.FractionalMaxPool3d, nn.LocalResponseNorm, nn.Unfold, nn.Fold)
CNNOPS_LAYERS = (cnnops.nn.Conv2d, cnnops.nn.MaxPool2d, cnnops.nn.AvgPool2d, cnnops.nn.AdaptiveAvgPool2d)

BUILDERS = {
    "lenet5": lambda: models.lenet5(10),
    "lenet5_classic": lambda: models.lenet5(10, classic=True),
    "alexnet": models.alexnet,
    "vgg16": models.vgg16,
    "resnet50": models.resnet50,
    "resnet50_v1": lambda: models.resnet50(variant="v1"),
    "googlenet": models.googlenet,
    "googlenet_aux": lambda: models.googlenet(aux_logits=True),
}

PARAMS = {
    "lenet5": 61_706,
    "lenet5_classic": 61_706,
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "resnet50": 25_557_032,
    "resnet50_v1": 25_557_032,
    "googlenet": 6_998_552,  # derived in cnnops/models/googlenet.py's docstring
    "googlenet_aux": 6_998_552 + 3_188_840 + 3_190_888,
}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def on_meta(builder):
    """Builds a model without allocating or initialising its weights."""
    with torch.device("meta"):
        return builder()


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_counts(name):
    assert n_params(on_meta(BUILDERS[name])) == PARAMS[name]


def torch_layers(model):
    """Names of the convolution / pooling layers in `model` that are not cnnops layers."""
    ours = lambda m: isinstance(m, CNNOPS_LAYERS) and type(m).__module__ == "cnnops.nn"  # noqa: E731
    return [name for name, m in model.named_modules() if isinstance(m, TORCH_CONV_POOL) and not ours(m)]


def test_the_layer_check_catches_torch_layers():
    assert torch_layers(on_meta(lambda: torchvision.models.googlenet(weights=None, init_weights=False)))
    assert torch_layers(nn.Sequential(nn.LocalResponseNorm(3))) == ["0"]
    assert torch_layers(on_meta(lambda: cnnops.convert(torchvision.models.alexnet(weights=None)))) == []


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_no_torch_conv_or_pool_layer(name):
    model = on_meta(BUILDERS[name])
    assert torch_layers(model) == []
    kinds = {type(m) for m in model.modules()}
    assert cnnops.nn.Conv2d in kinds or cnnops.nn.Conv1x1 in kinds


@pytest.mark.parametrize("builder,size", [(lambda: models.lenet5(10), 32), (models.googlenet, 64)])
def test_no_aten_convolution_or_pooling_runs(builder, size):
    """The profiler sees no ATen convolution or pooling in a training step (forward and backward)."""
    model = builder()
    if hasattr(model, "fc"):
        model.fc = nn.Identity()  # Linear layers are torch's, and not what this checks
    x = torch.randn(2, 1 if size == 32 else 3, size, size)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(x).sum().backward()
    names = {e.name for e in prof.events()}
    bad = sorted(n for n in names if n.startswith("aten::") and ("conv" in n or "pool" in n))
    assert not bad
    assert any(n.startswith("cnnops::conv2d") for n in names)


def test_lenet5_shapes_and_classic():
    x = torch.randn(3, 1, 32, 32)
    sizes = []
    m = models.lenet5(10)
    for layer in m:
        x = layer(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes[:6] == [(6, 28, 28)] * 2 + [(6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5)]
    assert x.shape == (3, 10)
    assert all(c.padding == (0, 0) for c in (m.conv1, m.conv2))
    assert isinstance(m.pool1, cnnops.nn.MaxPool2d) and isinstance(m.act1, nn.ReLU)
    c = models.lenet5(7, classic=True)
    assert isinstance(c.pool1, cnnops.nn.AvgPool2d) and isinstance(c.pool2, cnnops.nn.AvgPool2d)
    assert isinstance(c.act1, nn.Tanh) and not any(isinstance(l, nn.ReLU) for l in c)
    assert c(torch.randn(2, 1, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("name,size", [("alexnet", 64), ("vgg16", 32), ("resnet50", 32)])
def test_torchvision_state_dict_loads_and_outputs_match(name, size):
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)(weights=None, num_classes=10)
    model = getattr(models, name)(num_classes=10)
    assert list(model.state_dict()) == list(ref.state_dict())
    for m in ref.modules():  # non-trivial batch-norm statistics and affine parameters (ResNet)
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    model.load_state_dict(ref.state_dict(), strict=True)
    ref, model = ref.double().eval(), model.double().eval()
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    with torch.no_grad():
        y, r = model(x), ref(x)
    assert y.shape == (2, 10)
    scale = r.abs().max().item()
    assert scale > 0
    torch.testing.assert_close(y, r, rtol=1e-10, atol=1e-10 * scale)


def test_vgg16_bn_state_dict_loads():
    ref = on_meta(lambda: torchvision.models.vgg16_bn(weights=None))
    assert list(on_meta(lambda: models.vgg16(batch_norm=True)).state_dict()) == list(ref.state_dict())


def test_resnet50_state_dict_names():
    model = on_meta(models.resnet50)
    keys = set(model.state_dict())
    for k in ("conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.0.downsample.0.weight",
              "layer1.0.downsample.1.num_batches_tracked", "layer3.5.conv3.weight", "layer4.2.bn3.bias",
              "fc.weight", "fc.bias"):
        assert k in keys
    assert keys == set(on_meta(lambda: torchvision.models.resnet50(weights=None)).state_dict())
    # stage structure: a convolutional block first, then identity blocks
    for i, n in enumerate((3, 4, 6, 3)):
        layer = getattr(model, f"layer{i + 1}")
        assert len(layer) == n
        assert type(layer[0]) is models.ConvolutionalBlock
        assert all(type(b) is models.IdentityBlock for b in layer[1:])


@pytest.mark.parametrize("variant", ["v1", "v1.5"])
def test_resnet50_stride_placement(variant):
    model = models.resnet50(variant=variant)
    for i, s in enumerate((1, 2, 2, 2)):
        block = getattr(model, f"layer{i + 1}")[0]
        assert block.downsample[0].stride == (s, s) and block.downsample[0].kernel_size == (1, 1)
        assert block.conv3.stride == (1, 1)
        if variant == "v1":
            assert block.conv1.stride == (s, s) and block.conv2.stride == (1, 1)
        else:
            assert block.conv1.stride == (1, 1) and block.conv2.stride == (s, s)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for b in layer[1:]:
            assert {b.conv1.stride, b.conv2.stride, b.conv3.stride} == {(1, 1)}
    # both variants give the same shapes and load each other's state_dicts, but compute differently
    other = models.resnet50(variant="v1" if variant == "v1.5" else "v1.5")
    other.load_state_dict(model.state_dict(), strict=True)
    model.eval(), other.eval()
    x = torch.randn(1, 64, 64, 64)  # the stem's output for a 256x256 image
    with torch.no_grad():
        a, b = model.layer2(model.layer1(x)), other.layer2(other.layer1(x))
    assert a.shape == b.shape == (1, 512, 32, 32)
    assert not torch.allclose(a, b)


def test_resnet_blocks_as_in_the_course():
    x = torch.randn(2, 256, 8, 8, dtype=torch.float64)
    ident = models.IdentityBlock(256, 3, (64, 64, 256)).double().eval()
    with torch.no_grad():
        main = ident.main_path(x)
        assert torch.equal(ident(x), torch.relu(main + x))
    assert [type(m) for m in (ident.conv1, ident.conv2, ident.conv3)] == \
        [cnnops.nn.Conv1x1, cnnops.nn.Conv2d, cnnops.nn.Conv1x1]
    assert ident.conv2.padding == (1, 1) and not hasattr(ident, "downsample")
    with pytest.raises(ValueError):
        models.IdentityBlock(128, 3, (64, 64, 256))
    conv = models.ConvolutionalBlock(256, 5, (32, 32, 128), s=2).double().eval()
    assert conv.conv2.kernel_size == (5, 5) and conv.conv2.padding == (2, 2)
    with torch.no_grad():
        y = conv(x)
        assert y.shape == (2, 128, 4, 4)
        assert torch.equal(y, torch.relu(conv.main_path(x) + conv.downsample(x)))


def test_googlenet_matches_table_1():
    model = models.googlenet().eval()
    assert [getattr(model, "inception" + k).out_channels for k in INCEPTION_TABLE] == \
        [256, 480, 512, 512, 512, 528, 832, 832, 1024]
    shapes = {}
    hooks = [getattr(model, n).register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape[1:])))
             for n in ("conv1", "maxpool1", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                       "inception4a", "inception4e", "maxpool4", "inception5b", "avgpool")]
    with FakeTensorMode(allow_non_fake_inputs=True), torch.no_grad():  # shapes only, nothing computed
        y = model(torch.empty(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    assert tuple(y.shape) == (1, 1000)
    assert shapes == {
        "conv1": (64, 112, 112), "maxpool1": (64, 56, 56), "conv3": (192, 56, 56), "maxpool2": (192, 28, 28),
        "inception3a": (256, 28, 28), "inception3b": (480, 28, 28), "maxpool3": (480, 14, 14),
        "inception4a": (512, 14, 14), "inception4e": (832, 14, 14), "maxpool4": (832, 7, 7),
        "inception5b": (1024, 7, 7), "avgpool": (1024, 1, 1)}
    assert model.dropout.p == 0.4
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, cnnops.nn.Conv2d)]
    assert len(convs) == 3 + 9 * 6 and all(c.bias is not None for c in convs)


def test_inception_module_branches():
    block = models.Inception(192, 64, 96, 128, 16, 32, 32)
    assert isinstance(block.branch1[0], cnnops.nn.Conv1x1)
    assert isinstance(block.branch2[0][0], cnnops.nn.Conv1x1) and block.branch2[1][0].kernel_size == (3, 3)
    assert isinstance(block.branch3[0][0], cnnops.nn.Conv1x1)
    assert block.branch3[1][0].kernel_size == (5, 5) and block.branch3[1][0].padding == (2, 2)  # a true 5x5
    pool = block.branch4[0]
    assert isinstance(pool, cnnops.nn.MaxPool2d) and (pool.kernel_size, pool.stride, pool.padding) == (3, 1, 1)
    x = torch.randn(2, 192, 9, 9, dtype=torch.float64)
    block = block.double()
    y = block(x)
    assert y.shape == (2, 256, 9, 9)
    torch.testing.assert_close(y[:, :64], block.branch1(x))
    torch.testing.assert_close(y[:, 64 + 128 + 32:], block.branch4(x))
    assert (y >= 0).all()  # every branch ends with a ReLU


def test_googlenet_forward_backward_and_aux():
    model = models.googlenet(num_classes=10, aux_logits=True)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)  # eval: main classifier only
    model.train()
    out, aux1, aux2 = model(torch.randn(2, 3, 224, 224))
    assert out.shape == aux1.shape == aux2.shape == (2, 10)
    (out.sum() + 0.3 * (aux1.sum() + aux2.sum())).backward()
    assert model.conv1[0].weight.grad is not None and model.aux1.fc2.weight.grad is not None


def test_local_response_norm_matches_torch():
    x = torch.randn(2, 13, 5, 6, dtype=torch.float64) * 3
    for size in (5, 4, 1):
        ours = models.LocalResponseNorm(size, alpha=1e-2, beta=0.75, k=2.0)
        ref = nn.LocalResponseNorm(size, alpha=1e-2, beta=0.75, k=2.0)
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    assert isinstance(models.googlenet().lrn1, models.LocalResponseNorm)
    assert isinstance(models.googlenet(lrn=False).lrn1, nn.Identity)


def test_count_multiplies_course_example():
    direct = nn.Sequential(cnnops.nn.Conv2d(192, 32, 5, padding="same"))
    assert models.count_multiplies(direct, (1, 192, 28, 28)) == 28 * 28 * 32 * 5 * 5 * 192 == 120_422_400
    bottleneck = nn.Sequential(cnnops.nn.Conv1x1(192, 16), cnnops.nn.Conv2d(16, 32, 5, padding=2))
    total, per = models.count_multiplies(bottleneck, (1, 192, 28, 28), per_layer=True)
    assert per == {"0": 28 * 28 * 16 * 192, "1": 28 * 28 * 32 * 5 * 5 * 16}
    assert total == 2_408_448 + 10_035_200 == 12_443_648


def test_count_multiplies_general():
    m = nn.Sequential(cnnops.nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=4), nn.ReLU(), cnnops.nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(12 * 4 * 4, 5))
    m.train()
    before = [t.clone() for t in m.state_dict().values()]
    conv = 3 * 12 * 8 * 8 * (8 // 4) * 3 * 3
    assert models.count_multiplies(m, (3, 8, 16, 16)) == conv + 3 * 5 * 192
    assert models.count_multiplies(m, (3, 8, 16, 16), linear=False) == conv
    assert m.training and all(torch.equal(a, b) for a, b in zip(before, m.state_dict().values()))
    # LeNet-5: C1 28*28*6*25, C3 10*10*16*150, then 400*120 + 120*84 + 84*10
    assert models.count_multiplies(models.lenet5(), (1, 1, 32, 32)) == \
        117_600 + 240_000 + 48_000 + 10_080 + 840


# GoogLeNet, Table 1, "ops" (millions), for the rows the paper's numbers are consistent with its
# filter counts; conv1 (paper: 34M; 7x7x3x64 at 112x112 is 118M) and 5a (paper: 54M, counted
# 51.1M) are not.
PAPER_OPS = {"conv2+conv3": 360, "inception3a": 128, "inception3b": 304, "inception4a": 73, "inception4b": 88,
             "inception4c": 100, "inception4d": 119, "inception4e": 170, "inception5b": 71, "fc": 1}


def test_googlenet_multiplies_match_the_paper():
    total, per = models.count_multiplies(models.googlenet(), (1, 3, 224, 224), per_layer=True)
    rows = {}
    for name, n in per.items():
        top = name.split(".")[0]
        key = "conv2+conv3" if top in ("conv2", "conv3") else top
        rows[key] = rows.get(key, 0) + n
    for key, millions in PAPER_OPS.items():
        assert abs(rows[key] / 1e6 - millions) < 1.0, (key, rows[key])
    assert rows["conv1"] == 112 * 112 * 64 * 7 * 7 * 3
    assert total == 1_582_671_872  # about 1.5 billion multiply-adds, as the paper says


def test_models_train_a_step():
    """Gradients reach every parameter through the cnnops layers (LeNet and a small ResNet)."""
    for model, shape in ((models.lenet5(10, classic=True), (4, 1, 32, 32)),
                         (models.ResNet((1, 1, 1, 1), num_classes=3), (2, 3, 32, 32))):
        model(torch.randn(*shape)).logsumexp(1).sum().backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_exposed_on_the_package():
    assert cnnops.models is models
    for name in ("lenet5", "alexnet", "vgg16", "resnet50", "googlenet", "count_multiplies"):
        assert callable(getattr(cnnops.models, name))
