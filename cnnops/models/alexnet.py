"""AlexNet (Krizhevsky, Sutskever, Hinton 2012) as torchvision defines it (the single-GPU
variant of "One weird trick", without local response normalisation): the same modules in the
same order, so torchvision's state_dict (and pretrained weights) load with strict=True."""
import torch
from torch import nn

from .. import nn as cnn


class AlexNet(nn.Module):
    """61,100,840 parameters for 1000 classes. Input 3x224x224 (anything from 63x63 up: the
    adaptive average pool brings the last feature map to 6x6)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            cnn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            cnn.MaxPool2d(kernel_size=3, stride=2),
            cnn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            cnn.MaxPool2d(kernel_size=3, stride=2),
            cnn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            cnn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            cnn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            cnn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = cnn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """torchvision's AlexNet on cnnops layers."""
    return AlexNet(num_classes, dropout)
