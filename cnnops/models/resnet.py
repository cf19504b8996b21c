"""ResNet-50 (He, Zhang, Ren, Sun 2015) from the course's two bottleneck blocks.

The identity block and the convolutional block keep torchvision's attribute names (conv1, bn1,
conv2, bn2, conv3, bn3, downsample.0, downsample.1) and ResNet keeps its (conv1, bn1, layer1..4,
fc), so torchvision's ResNet-50 state_dict loads with strict=True.
"""
from typing import Sequence

import torch
from torch import nn

from .. import nn as cnn


class IdentityBlock(nn.Module):
    """The identity block: input and output have the same shape (in_channels == F3).

    main path: 1x1 conv, F1 filters -> BN -> ReLU -> f x f 'same' conv, F2 filters -> BN -> ReLU
               -> 1x1 conv, F3 filters -> BN
    shortcut:  the unchanged input
    output:    ReLU(main + shortcut)
    """

    def __init__(self, in_channels: int, f: int, filters: Sequence[int]):
        super().__init__()
        F1, F2, F3 = filters
        if type(self) is IdentityBlock and in_channels != F3:
            raise ValueError(f"an identity block needs in_channels == F3, got {in_channels} and {F3}: "
                             "use a ConvolutionalBlock to change the number of channels")
        self.conv1 = cnn.Conv1x1(in_channels, F1, bias=False)
        self.bn1 = nn.BatchNorm2d(F1)
        self.conv2 = cnn.Conv2d(F1, F2, f, padding=(f - 1) // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(F2)
        self.conv3 = cnn.Conv1x1(F2, F3, bias=False)
        self.bn3 = nn.BatchNorm2d(F3)
        self.relu = nn.ReLU(inplace=True)

    def main_path(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.bn3(self.conv3(x))

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.main_path(x) + self.shortcut(x))


class ConvolutionalBlock(IdentityBlock):
    """The convolutional block: the identity block's main path with stride s, and a shortcut
    of a 1x1 conv with F3 filters and stride s -> BN, for when the shape changes.

    variant='v1.5' (torchvision's, and the default) puts the stride on the f x f conv;
    variant='v1' puts it on the first 1x1 conv, as in the original paper (a strided 1x1 conv
    skips three quarters of its input, which costs about 0.5% top-1 accuracy on ImageNet).
    """

    def __init__(self, in_channels: int, f: int, filters: Sequence[int], s: int = 2, variant: str = "v1.5"):
        super().__init__(in_channels, f, filters)
        if variant not in ("v1", "v1.5"):
            raise ValueError(f"variant must be 'v1' or 'v1.5', got {variant!r}")
        F3 = filters[2]
        if variant == "v1":
            self.conv1.stride = (s, s)
        else:
            self.conv2.stride = (s, s)
        self.downsample = nn.Sequential(cnn.Conv1x1(in_channels, F3, stride=s, bias=False), nn.BatchNorm2d(F3))
        self.stride = s
        self.variant = variant

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x)


class ResNet(nn.Module):
    """conv 7x7/2, 64 -> BN -> ReLU -> max pool 3x3/2 -> stages of bottleneck blocks (each a
    convolutional block then identity blocks) -> global average pool -> FC num_classes."""

    def __init__(self, blocks: Sequence[int] = (3, 4, 6, 3), num_classes: int = 1000, variant: str = "v1.5"):
        super().__init__()
        self.variant = variant
        self.conv1 = cnn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = cnn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        channels = 64
        for i, (n, width, s) in enumerate(zip(blocks, (64, 128, 256, 512), (1, 2, 2, 2))):
            filters = (width, width, 4 * width)
            stage = [ConvolutionalBlock(channels, 3, filters, s=s, variant=variant)]
            stage += [IdentityBlock(4 * width, 3, filters) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            channels = 4 * width
        self.avgpool = cnn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(num_classes: int = 1000, variant: str = "v1.5") -> ResNet:
    """ResNet-50: stages of 3, 4, 6 and 3 bottleneck blocks; 25,557,032 parameters for 1000
    classes (both variants: only where the stride sits differs)."""
    return ResNet((3, 4, 6, 3), num_classes, variant)
