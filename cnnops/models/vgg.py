"""VGG-16 (Simonyan, Zisserman 2014, configuration D) as torchvision defines it, so that
torchvision's state_dicts load with strict=True."""
import torch
from torch import nn

from .. import nn as cnn

# Configuration D: numbers are 3x3 'same' convolutions (output channels), "M" a 2x2/2 max pool.
VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def make_features(layers=VGG16_LAYERS, batch_norm: bool = False) -> nn.Sequential:
    modules, channels = [], 3
    for v in layers:
        if v == "M":
            modules.append(cnn.MaxPool2d(kernel_size=2, stride=2))
            continue
        modules.append(cnn.Conv2d(channels, v, kernel_size=3, padding=1))
        if batch_norm:
            modules.append(nn.BatchNorm2d(v))
        modules.append(nn.ReLU(inplace=True))
        channels = v
    return nn.Sequential(*modules)


class VGG(nn.Module):
    """features -> adaptive average pool to 7x7 -> FC 4096 -> FC 4096 -> FC num_classes.
    VGG-16 has 138,357,544 parameters for 1000 classes (about 102.8M of them in the first FC
    layer, 25088 x 4096)."""

    def __init__(self, features: nn.Module, num_classes: int = 1000, dropout: float = 0.5,
                 init_weights: bool = True):
        super().__init__()
        self.features = features
        self.avgpool = cnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:  # torchvision's initialisation
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg16(num_classes: int = 1000, batch_norm: bool = False, dropout: float = 0.5) -> VGG:
    """torchvision's VGG-16 (vgg16, or vgg16_bn with batch_norm=True) on cnnops layers."""
    return VGG(make_features(VGG16_LAYERS, batch_norm), num_classes, dropout)
