"""Classic convolutional networks built from cnnops layers.

Every convolution and pooling layer in these models is a ``cnnops.nn`` layer (Conv2d, Conv1x1,
MaxPool2d, AvgPool2d, AdaptiveAvgPool2d); the rest (BatchNorm2d, Linear, ReLU, Tanh, Dropout,
Flatten) is torch's. Each builder takes ``num_classes``.

    lenet5(num_classes=10, classic=False)      LeNet-5 (LeCun et al. 1998), 32x32x1 input
    alexnet(num_classes=1000)                  torchvision's AlexNet (same state_dict)
    vgg16(num_classes=1000)                    torchvision's VGG-16 (same state_dict)
    resnet50(num_classes=1000, variant="v1.5") torchvision's ResNet-50 (same state_dict)
    googlenet(num_classes=1000)                GoogLeNet as in Szegedy et al. 2014, Table 1

``count_multiplies(model, input_shape)`` counts the multiplications of a forward pass.
"""
from .alexnet import AlexNet, alexnet
from .cost import count_multiplies
from .googlenet import GoogLeNet, Inception, LocalResponseNorm, googlenet
from .lenet import LeNet5, lenet5
from .resnet import ConvolutionalBlock, IdentityBlock, ResNet, resnet50
from .vgg import VGG, vgg16

__all__ = [
    "AlexNet",
    "ConvolutionalBlock",
    "GoogLeNet",
    "IdentityBlock",
    "Inception",
    "LeNet5",
    "LocalResponseNorm",
    "ResNet",
    "VGG",
    "alexnet",
    "count_multiplies",
    "googlenet",
    "lenet5",
    "resnet50",
    "vgg16",
]
