"""GoogLeNet (Szegedy et al., "Going deeper with convolutions", 2014) as in the paper's Table 1
and Figure 3, on cnnops layers.

Differences from torchvision.models.googlenet, which follows later practice: the 5x5 branch of
each Inception module is a true 5x5 convolution (torchvision's is a 3x3), there is no batch
normalisation (the paper predates it: every convolution has a bias and is followed by a ReLU),
and the stem has the paper's two local response normalisations (lrn=True, the default).

Parameter count, derived from Table 1's filter counts (weights + biases; conv k x k from c_in
to c_out: k*k*c_in*c_out + c_out; Inception with c_in inputs and columns #1x1, #3x3 reduce,
#3x3, #5x5 reduce, #5x5, pool proj = a, r3, b, r5, c, p:
c_in*(a + r3 + r5 + p) + 9*r3*b + 25*r5*c + (a + r3 + b + r5 + c + p)):

    conv 7x7/2, 64                    9,472
    conv 1x1, 64 (3x3 reduce)         4,160
    conv 3x3, 192                   110,784
    inception 3a (in 192)           163,696
    inception 3b (in 256)           388,736
    inception 4a (in 480)           376,176
    inception 4b (in 512)           449,160
    inception 4c (in 512)           510,104
    inception 4d (in 512)           605,376
    inception 4e (in 528)           868,352
    inception 5a (in 832)         1,043,456
    inception 5b (in 832)         1,444,080
    linear 1024 -> 1000           1,025,000
    total                         6,998,552   (5,973,552 without the classifier)

The paper's "params" column sums to about 6.8M, but several of its entries cannot be
reproduced from its own filter counts (conv 7x7/2, 64 on RGB is 9.4K weights, not 2.7K;
inception 4c is 510K, not 463K); its "ops" column, on the other hand, is reproduced by
count_multiplies for every row but two (conv1: 118M, not 34M; 5a: 51M, not 54M) - see
tests/test_models.py. The auxiliary classifiers (aux_logits=True; used in training only) add
3,188,840 + 3,190,888 parameters for 1000 classes and are not in the total above.
"""
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from .. import functional as cf
from .. import nn as cnn

# Table 1: name -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
INCEPTION_TABLE = OrderedDict([
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
])


def conv_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    """A convolution ('same' padding for stride 1) with bias, followed by ReLU."""
    if kernel_size == 1 and stride == 1:
        conv = cnn.Conv1x1(in_channels, out_channels)
    else:
        conv = cnn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=(kernel_size - 1) // 2)
    return nn.Sequential(OrderedDict([("conv", conv), ("relu", nn.ReLU(inplace=True))]))


class LocalResponseNorm(nn.Module):
    """Local response normalisation across channels, y = x / (k + alpha/n * sum of x^2 over n
    neighbouring channels)^beta, the same function as torch.nn.LocalResponseNorm, with the
    windowed sum computed by cnnops.avg_pool2d (torch's module calls F.avg_pool3d)."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        sq = (x * x).reshape(n, 1, c, h * w)
        sq = F.pad(sq, (0, 0, self.size // 2, (self.size - 1) // 2))  # zero channels beyond the edges
        mean = cf.avg_pool2d(sq, (self.size, 1), stride=1).reshape(n, c, h, w)
        return x / (mean * self.alpha + self.k).pow(self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class Inception(nn.Module):
    """The Inception module (Figure 2b): four branches concatenated on the channel axis,
    1x1 conv | 1x1 bottleneck -> 3x3 conv | 1x1 bottleneck -> 5x5 conv | 3x3/1 max pool -> 1x1
    conv; output channels ch1x1 + ch3x3 + ch5x5 + pool_proj, spatial size unchanged."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        self.branch1 = conv_relu(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(conv_relu(in_channels, ch3x3red, 1), conv_relu(ch3x3red, ch3x3, 3))
        self.branch3 = nn.Sequential(conv_relu(in_channels, ch5x5red, 1), conv_relu(ch5x5red, ch5x5, 5))
        self.branch4 = nn.Sequential(cnn.MaxPool2d(3, stride=1, padding=1), conv_relu(in_channels, pool_proj, 1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class AuxClassifier(nn.Module):
    """The auxiliary classifier on 4a and 4d (section 5): 5x5/3 average pool (4x4 at 14x14),
    1x1 conv 128 + ReLU, FC 1024 + ReLU, 70% dropout, linear. Needs a 14x14 input map
    (a 224x224 image)."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.pool = cnn.AvgPool2d(5, stride=3)
        self.conv = conv_relu(in_channels, 128, 1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet, Table 1 (see the module docstring). For a 224x224x3 input:

        conv 7x7/2, 64            112x112x64
        max pool 3x3/2             56x56x64      (+ LRN)
        conv 1x1, 64; conv 3x3, 192 56x56x192    (+ LRN)
        max pool 3x3/2             28x28x192
        inception 3a, 3b           28x28x256, 28x28x480
        max pool 3x3/2             14x14x480
        inception 4a .. 4e         14x14x512, 512, 512, 528, 832
        max pool 3x3/2              7x7x832
        inception 5a, 5b            7x7x832, 7x7x1024
        avg pool 7x7/1              1x1x1024
        dropout 40%, linear         num_classes

    The max pools use ceil_mode (the paper's sizes without padding); the final average pool is
    adaptive (1x1 output), which is the paper's 7x7/1 pool for a 224x224 input and lets smaller
    inputs through. With aux_logits=True, forward in training mode returns (logits, aux1, aux2).
    """

    def __init__(self, num_classes: int = 1000, lrn: bool = True, aux_logits: bool = False, dropout: float = 0.4):
        super().__init__()
        self.conv1 = conv_relu(3, 64, 7, stride=2)
        self.maxpool1 = cnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = LocalResponseNorm() if lrn else nn.Identity()
        self.conv2 = conv_relu(64, 64, 1)
        self.conv3 = conv_relu(64, 192, 3)
        self.lrn2 = LocalResponseNorm() if lrn else nn.Identity()
        self.maxpool2 = cnn.MaxPool2d(3, stride=2, ceil_mode=True)
        channels = 192
        for name, cols in INCEPTION_TABLE.items():
            block = Inception(channels, *cols)
            setattr(self, "inception" + name, block)
            channels = block.out_channels
        self.maxpool3 = cnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool4 = cnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.aux_logits = aux_logits
        self.aux1 = AuxClassifier(512, num_classes) if aux_logits else None
        self.aux2 = AuxClassifier(528, num_classes) if aux_logits else None
        self.avgpool = cnn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He initialisation: keeps the activations' scale through 22 ReLU layers
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor):
        x = self.lrn1(self.maxpool1(self.conv1(x)))
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if aux1 is not None:
            return x, aux1, aux2
        return x


def googlenet(num_classes: int = 1000, lrn: bool = True, aux_logits: bool = False) -> GoogLeNet:
    """GoogLeNet as in the paper; 6,998,552 parameters for 1000 classes (without the auxiliary
    classifiers)."""
    return GoogLeNet(num_classes, lrn=lrn, aux_logits=aux_logits)
