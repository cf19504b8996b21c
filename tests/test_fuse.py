"""cnnops.convert(model, fuse=True): BatchNorm folded into the convolutions, ReLU and residual adds
fused into their epilogues; the fused model computes what the original computes."""
import pytest
import torch
import torchvision
from torch import nn

import cnnops
from cnnops.fuse import FusedConv2d


def _randomise_batchnorm(model):
    """Non-trivial running statistics and affine parameters, so that folding is really tested."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model


def _fused_layers(gm):
    return [m for m in gm.modules() if isinstance(m, FusedConv2d)]


def _check(model, x, fused_count, relu_count, residual_count):
    model = _randomise_batchnorm(model).double().eval()
    x = x.double()
    fused = cnnops.convert(model, fuse=True)
    layers = _fused_layers(fused)
    assert len(layers) == fused_count
    assert sum(m.activation == "relu" for m in layers) == relu_count
    assert str(fused.code).count("residual =") == residual_count
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-9, atol=1e-9)
    return fused


def test_torchvision_resnet50():
    # 53 convolutions, each followed by BatchNorm; 49 ReLUs; 16 blocks add their shortcut.
    _check(torchvision.models.resnet50(), torch.randn(2, 3, 64, 64), 53, 49, 16)


def test_torchvision_resnet18_basic_blocks():
    _check(torchvision.models.resnet18(), torch.randn(2, 3, 64, 64), 20, 17, 8)


def test_cnnops_resnet50_identity_and_convolutional_blocks():
    _check(cnnops.models.resnet50(num_classes=10), torch.randn(1, 3, 64, 64), 53, 49, 16)


def test_vgg16_conv_relu_without_batchnorm():
    _check(torchvision.models.vgg16(), torch.randn(1, 3, 32, 32), 13, 13, 0)


def test_fused_model_in_float32_and_channels_last():
    model = _randomise_batchnorm(torchvision.models.resnet18()).eval()
    fused = cnnops.convert(model, fuse=True)
    x = torch.randn(2, 3, 48, 48).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-4)


def test_training_mode_batchnorm_is_refused():
    with pytest.raises(ValueError, match="model.eval"):
        cnnops.convert(torchvision.models.resnet18(), fuse=True)


def test_original_model_is_left_alone():
    model = _randomise_batchnorm(torchvision.models.resnet18()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cnnops.convert(model, fuse=True)
    assert type(model.conv1) is nn.Conv2d
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_lone_convolutions_and_other_layers_are_kept():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sigmoid(), nn.Conv2d(4, 4, 1), nn.ReLU(), nn.Conv2d(4, 2, 3)).eval()
    fused = cnnops.convert(model, fuse=True)
    assert len(_fused_layers(fused)) == 1  # only conv -> relu
    x = torch.randn(1, 3, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x))


def test_torchvision_googlenet_inception_branches():
    # 57 BasicConv2d (conv -> BatchNorm -> ReLU) in the stem and the nine Inception modules.
    model = torchvision.models.googlenet(aux_logits=False, init_weights=True)
    _check(model, torch.randn(1, 3, 64, 64), 57, 57, 0)
