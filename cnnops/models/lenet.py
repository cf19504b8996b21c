"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998), in the simplified form taught in courses."""
from collections import OrderedDict

from torch import nn

from .. import nn as cnn


class LeNet5(nn.Sequential):
    """32x32x1 -> CONV 6@5x5 -> POOL 2x2/2 -> CONV 16@5x5 -> POOL 2x2/2 -> FC 120 -> FC 84 -> FC
    num_classes, all convolutions 'valid' (28x28x6, 14x14x6, 10x10x16, 5x5x16 = 400).

    61,706 parameters for 10 classes: 6*(25+1) + 16*(6*25+1) + 120*(400+1) + 84*(120+1) + 10*(84+1)
    = 156 + 2,416 + 48,120 + 10,164 + 850.

    classic=True uses average pooling and tanh as the 1998 network; the default uses max pooling
    and ReLU, as most modern re-implementations. Both are the course's simplification of the
    paper: its subsampling layers have a trainable weight and bias per map, C3 connects each map
    to only some of S2's maps, C5 is a 5x5 convolution (the same as an FC layer on a 5x5 input)
    and the output layer is made of Euclidean RBF units instead of a linear layer with softmax.
    """

    def __init__(self, num_classes: int = 10, classic: bool = False):
        act = nn.Tanh if classic else nn.ReLU
        pool = (lambda: cnn.AvgPool2d(2, 2)) if classic else (lambda: cnn.MaxPool2d(2, 2))
        super().__init__(OrderedDict([
            ("conv1", cnn.Conv2d(1, 6, 5)),
            ("act1", act()),
            ("pool1", pool()),
            ("conv2", cnn.Conv2d(6, 16, 5)),
            ("act2", act()),
            ("pool2", pool()),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(16 * 5 * 5, 120)),
            ("act3", act()),
            ("fc2", nn.Linear(120, 84)),
            ("act4", act()),
            ("fc3", nn.Linear(84, num_classes)),
        ]))
        self.num_classes = num_classes
        self.classic = classic


def lenet5(num_classes: int = 10, classic: bool = False) -> LeNet5:
    """LeNet-5 for 32x32x1 images (see LeNet5)."""
    return LeNet5(num_classes, classic)
