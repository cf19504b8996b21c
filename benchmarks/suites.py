"""The benchmark suites as data: layer shapes from the classic networks.

A conv case is (name, C, H, W, K, R, S, stride, padding) with one stride and one padding for
both axes (every layer here pads symmetrically; a filter may be R x S with R != S); a DeepBench
entry adds a tenth field, its own batch size N, which the runner's --batch does not change
(ConvSpec reads both forms). A pooling case is (name, kind, C, H, W, kernel, stride,
padding). A grouped or depthwise layer names its groups (ConvSpec(..., groups=G), or dw() for
groups == C); the filters then hold C / groups channels each. Batch size, dtype and device are
chosen by the runner. Shapes are the networks' at 224x224 input (torchvision's ResNet-50 v1.5 puts the stride on the 3x3 of a downsampling block;
v1 on the first 1x1, see RESNET50_V1_CONVS).
"""
from typing import NamedTuple, Optional


class ConvSpec(NamedTuple):
    name: str
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    stride: int
    padding: int
    batch: Optional[int] = None  # None: the runner's --batch
    groups: int = 1

    @property
    def Cg(self) -> int:  # input channels each filter reads
        return self.C // self.groups

    @classmethod
    def of(cls, spec) -> "ConvSpec":
        return spec if isinstance(spec, cls) else cls(*spec)

    @property
    def P(self) -> int:
        return (self.H + 2 * self.padding - self.R) // self.stride + 1

    @property
    def Q(self) -> int:
        return (self.W + 2 * self.padding - self.S) // self.stride + 1


RESNET50_CONVS = [
    ("stem 7x7/2 3->64", 3, 224, 224, 64, 7, 7, 2, 3),
    ("l1 1x1 64->64", 64, 56, 56, 64, 1, 1, 1, 0),
    ("l1 3x3 64->64", 64, 56, 56, 64, 3, 3, 1, 1),
    ("l1 1x1 64->256", 64, 56, 56, 256, 1, 1, 1, 0),
    ("l1 1x1 256->64", 256, 56, 56, 64, 1, 1, 1, 0),
    ("l2 1x1 256->128", 256, 56, 56, 128, 1, 1, 1, 0),
    ("l2 3x3/2 128->128", 128, 56, 56, 128, 3, 3, 2, 1),
    ("l2 1x1 128->512", 128, 28, 28, 512, 1, 1, 1, 0),
    ("l2 down 1x1/2 256->512", 256, 56, 56, 512, 1, 1, 2, 0),
    ("l2 1x1 512->128", 512, 28, 28, 128, 1, 1, 1, 0),
    ("l2 3x3 128->128", 128, 28, 28, 128, 3, 3, 1, 1),
    ("l3 1x1 512->256", 512, 28, 28, 256, 1, 1, 1, 0),
    ("l3 3x3/2 256->256", 256, 28, 28, 256, 3, 3, 2, 1),
    ("l3 1x1 256->1024", 256, 14, 14, 1024, 1, 1, 1, 0),
    ("l3 down 1x1/2 512->1024", 512, 28, 28, 1024, 1, 1, 2, 0),
    ("l3 1x1 1024->256", 1024, 14, 14, 256, 1, 1, 1, 0),
    ("l3 3x3 256->256", 256, 14, 14, 256, 3, 3, 1, 1),
    ("l4 1x1 1024->512", 1024, 14, 14, 512, 1, 1, 1, 0),
    ("l4 3x3/2 512->512", 512, 14, 14, 512, 3, 3, 2, 1),
    ("l4 1x1 512->2048", 512, 7, 7, 2048, 1, 1, 1, 0),
    ("l4 down 1x1/2 1024->2048", 1024, 14, 14, 2048, 1, 1, 2, 0),
    ("l4 1x1 2048->512", 2048, 7, 7, 512, 1, 1, 1, 0),
    ("l4 3x3 512->512", 512, 7, 7, 512, 3, 3, 1, 1),
]

# ResNet-50 v1 (the original paper, Caffe) strides the first 1x1 of a downsampling block; its
# 3x3 then runs at the smaller map, a shape RESNET50_CONVS already has ("l2 3x3 128->128", ...).
# So only these three are v1's own: its other convs are resnet50's.
RESNET50_V1_CONVS = [
    ("l2 1x1/2 256->128", 256, 56, 56, 128, 1, 1, 2, 0),
    ("l3 1x1/2 512->256", 512, 28, 28, 256, 1, 1, 2, 0),
    ("l4 1x1/2 1024->512", 1024, 14, 14, 512, 1, 1, 2, 0),
]

# VGG-16's 13 convs are 9 distinct shapes (3x3, stride 1, padding 1).
VGG16_CONVS = [
    ("conv1_1 3->64", 3, 224, 224, 64, 3, 3, 1, 1),
    ("conv1_2 64->64", 64, 224, 224, 64, 3, 3, 1, 1),
    ("conv2_1 64->128", 64, 112, 112, 128, 3, 3, 1, 1),
    ("conv2_2 128->128", 128, 112, 112, 128, 3, 3, 1, 1),
    ("conv3_1 128->256", 128, 56, 56, 256, 3, 3, 1, 1),
    ("conv3_x 256->256", 256, 56, 56, 256, 3, 3, 1, 1),
    ("conv4_1 256->512", 256, 28, 28, 512, 3, 3, 1, 1),
    ("conv4_x 512->512", 512, 28, 28, 512, 3, 3, 1, 1),
    ("conv5_x 512->512", 512, 14, 14, 512, 3, 3, 1, 1),
]

# LeNet-5 (LeCun et al. 1998) on its 32x32 grey input: C1 and C3 (C3 as a full 6->16
# connection, as every modern reimplementation has it).
LENET5_CONVS = [
    ("c1 5x5 1->6", 1, 32, 32, 6, 5, 5, 1, 0),
    ("c3 5x5 6->16", 6, 14, 14, 16, 5, 5, 1, 0),
]

# AlexNet as torchvision defines it (the single-GPU "one weird trick" variant).
ALEXNET_CONVS = [
    ("conv1 11x11/4 3->64", 3, 224, 224, 64, 11, 11, 4, 2),
    ("conv2 5x5 64->192", 64, 27, 27, 192, 5, 5, 1, 2),
    ("conv3 3x3 192->384", 192, 13, 13, 384, 3, 3, 1, 1),
    ("conv4 3x3 384->256", 384, 13, 13, 256, 3, 3, 1, 1),
    ("conv5 3x3 256->256", 256, 13, 13, 256, 3, 3, 1, 1),
]

# GoogLeNet's Table 1 (Szegedy et al. 2014), as cnnops/models/googlenet.py has it:
# module -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), and the map size it runs at.
INCEPTION_TABLE = [
    ("3a", 28, (64, 96, 128, 16, 32, 32)),
    ("3b", 28, (128, 128, 192, 32, 96, 64)),
    ("4a", 14, (192, 96, 208, 16, 48, 64)),
    ("4b", 14, (160, 112, 224, 24, 64, 64)),
    ("4c", 14, (128, 128, 256, 24, 64, 64)),
    ("4d", 14, (112, 144, 288, 32, 64, 64)),
    ("4e", 14, (256, 160, 320, 32, 128, 128)),
    ("5a", 7, (256, 160, 320, 32, 128, 128)),
    ("5b", 7, (384, 192, 384, 48, 128, 128)),
]
INCEPTION_INPUT_CHANNELS = 192  # the stem's 3x3 conv output, 3a's input


def inception_convs(table=INCEPTION_TABLE, in_channels: int = INCEPTION_INPUT_CHANNELS):
    """The distinct convolutions of the Inception modules (the paper's true 5x5, 'same' padding),
    each shape once, named by every module and branch that has it ("4b/4c/4d proj 512->64",
    "4b 3x3red/4d 1x1 512->112")."""
    uses = {}  # shape -> {module: [branches]}, in table order
    for module, size, (n1, r3, n3, r5, n5, proj) in table:
        branches = [("1x1", in_channels, n1, 1), ("3x3red", in_channels, r3, 1), ("3x3", r3, n3, 3),
                    ("5x5red", in_channels, r5, 1), ("5x5", r5, n5, 5), ("proj", in_channels, proj, 1)]
        for branch, c, k, r in branches:
            uses.setdefault((c, size, size, k, r, r, 1, (r - 1) // 2), {}).setdefault(module, []).append(branch)
        in_channels = n1 + n3 + n5 + proj  # the module's output: its four branches concatenated
    convs = []
    for shape, by_module in uses.items():
        branch_sets = {"/".join(b) for b in by_module.values()}
        if len(branch_sets) == 1:
            where = "/".join(by_module) + " " + branch_sets.pop()
        else:
            where = "/".join(f"{m} {'/'.join(b)}" for m, b in by_module.items())
        convs.append((f"{where} {shape[0]}->{shape[3]}",) + shape)
    return convs


GOOGLENET_CONVS = inception_convs()

# DeepBench-style (Baidu's DeepBench conv sweep): odd map sizes, odd channel counts, non-square
# maps and filters, strides 1 and 2, small batches (each entry carries its own N).
DEEPBENCH_CONVS = [
    ("79x341 32->32 5x5/2", 32, 79, 341, 32, 5, 5, 2, 2, 4),
    ("161x161 3->32 7x7/2", 3, 161, 161, 32, 7, 7, 2, 3, 1),
    ("79x79 32->64 3x3", 32, 79, 79, 64, 3, 3, 1, 1, 2),
    ("27x27 96->129 5x5", 96, 27, 27, 129, 5, 5, 1, 2, 2),
    ("27x27 64->96 1x1/2", 64, 27, 27, 96, 1, 1, 2, 0, 4),
    ("13x13 129->256 3x3", 129, 13, 13, 256, 3, 3, 1, 1, 4),
    ("13x341 64->32 3x7/2", 64, 13, 341, 32, 3, 7, 2, 1, 2),
    ("7x7 256->129 3x3", 256, 7, 7, 129, 3, 3, 1, 1, 1),
]



def dw(name: str, C: int, HW: int, k: int, stride: int = 1) -> ConvSpec:
    """A depthwise layer (groups == C, one filter per channel) on a square HW x HW map, padded to
    keep the map (k // 2) as every network below pads it."""
    return ConvSpec(name, C, HW, HW, C, k, k, stride, k // 2, groups=C)


def pw(name: str, C: int, HW: int, K: int) -> ConvSpec:
    return ConvSpec(name, C, HW, HW, K, 1, 1, 1, 0)


# MobileNetV2 (torchvision mobilenet_v2, width 1.0): each distinct depthwise and pointwise shape
# of its 17 inverted-residual blocks, in network order, and the stem and the last 1x1.
MOBILENETV2_CONVS = [
    ("stem 3x3/2 3->32", 3, 224, 224, 32, 3, 3, 2, 1),
    dw("b1 dw 3x3 32", 32, 112, 3), pw("b1 pw 32->16", 32, 112, 16),
    pw("b2 expand 16->96", 16, 112, 96), dw("b2 dw 3x3/2 96", 96, 112, 3, 2), pw("b2 project 96->24", 96, 56, 24),
    pw("b3 expand 24->144", 24, 56, 144), dw("b3 dw 3x3 144", 144, 56, 3), pw("b3 project 144->24", 144, 56, 24),
    dw("b4 dw 3x3/2 144", 144, 56, 3, 2), pw("b4 project 144->32", 144, 28, 32),
    pw("b5 expand 32->192", 32, 28, 192), dw("b5 dw 3x3 192", 192, 28, 3), pw("b5 project 192->32", 192, 28, 32),
    dw("b7 dw 3x3/2 192", 192, 28, 3, 2), pw("b7 project 192->64", 192, 14, 64),
    pw("b8 expand 64->384", 64, 14, 384), dw("b8 dw 3x3 384", 384, 14, 3), pw("b8 project 384->64", 384, 14, 64),
    pw("b11 project 384->96", 384, 14, 96),
    pw("b12 expand 96->576", 96, 14, 576), dw("b12 dw 3x3 576", 576, 14, 3), pw("b12 project 576->96", 576, 14, 96),
    dw("b14 dw 3x3/2 576", 576, 14, 3, 2), pw("b14 project 576->160", 576, 7, 160),
    pw("b15 expand 160->960", 160, 7, 960), dw("b15 dw 3x3 960", 960, 7, 3), pw("b15 project 960->160", 960, 7, 160),
    pw("b17 project 960->320", 960, 7, 320), pw("last 1x1 320->1280", 320, 7, 1280),
]

# ConvNeXt-T (torchvision convnext_tiny): the 4x4/4 stem, each stage's 7x7 depthwise and its
# inverted-bottleneck pointwise pair (torchvision runs those as Linear layers on NHWC; here they
# are the 1x1 convolutions they equal), and the 2x2/2 downsampling convs.
CONVNEXT_T_CONVS = [("stem 4x4/4 3->96", 3, 224, 224, 96, 4, 4, 4, 0)]
for _i, (_dim, _hw) in enumerate(((96, 56), (192, 28), (384, 14), (768, 7))):
    if _i:
        CONVNEXT_T_CONVS.append(ConvSpec(f"s{_i + 1} down 2x2/2 {_dim // 2}->{_dim}", _dim // 2, 2 * _hw, 2 * _hw,
                                         _dim, 2, 2, 2, 0))
    CONVNEXT_T_CONVS += [dw(f"s{_i + 1} dw 7x7 {_dim}", _dim, _hw, 7),
                         pw(f"s{_i + 1} pw {_dim}->{4 * _dim}", _dim, _hw, 4 * _dim),
                         pw(f"s{_i + 1} pw {4 * _dim}->{_dim}", 4 * _dim, _hw, _dim)]

# ResNeXt-50 32x4d (torchvision resnext50_32x4d): its grouped 3x3s, 32 groups of 4, 8, 16 and 32
# channels (v1.5: the stride on the 3x3 of each stage's first block).
RESNEXT50_CONVS = []
for _stage, (_width, _hw) in enumerate(((128, 56), (256, 28), (512, 14), (1024, 7)), start=1):
    if _stage > 1:
        RESNEXT50_CONVS.append(ConvSpec(f"l{_stage} 3x3/2 {_width} g32", _width, 2 * _hw, 2 * _hw, _width, 3, 3, 2, 1,
                                        groups=32))
    RESNEXT50_CONVS.append(ConvSpec(f"l{_stage} 3x3 {_width} g32", _width, _hw, _hw, _width, 3, 3, 1, 1, groups=32))

# RepLKNet-31B's large depthwise kernels (Ding et al. 2022: 31, 29, 27 and 13 at channels 128 to
# 1024) and the 5x5 depthwise it trains beside each (re-parameterised into the large one for
# inference).
REPLKNET_CONVS = [
    dw("s1 dw 31x31 128", 128, 56, 31), dw("s2 dw 29x29 256", 256, 28, 29),
    dw("s3 dw 27x27 512", 512, 14, 27), dw("s4 dw 13x13 1024", 1024, 7, 13),
    dw("s1 dw 5x5 128", 128, 56, 5),
]

POOLING = [
    ("resnet stem max 3x3/2 p1", "max", 64, 112, 112, 3, 2, 1),
    ("vgg pool1 max 2x2/2", "max", 64, 224, 224, 2, 2, 0),
    ("vgg pool2 max 2x2/2", "max", 128, 112, 112, 2, 2, 0),
    ("vgg pool3 max 2x2/2", "max", 256, 56, 56, 2, 2, 0),
    ("vgg pool4 max 2x2/2", "max", 512, 28, 28, 2, 2, 0),
    ("vgg pool5 max 2x2/2", "max", 512, 14, 14, 2, 2, 0),
    ("alexnet pool1 max 3x3/2", "max", 64, 55, 55, 3, 2, 0),
    ("alexnet pool2 max 3x3/2", "max", 192, 27, 27, 3, 2, 0),
    ("alexnet pool3 max 3x3/2", "max", 256, 13, 13, 3, 2, 0),
    ("lenet s2 avg 2x2/2", "avg", 6, 28, 28, 2, 2, 0),
    ("lenet s4 avg 2x2/2", "avg", 16, 10, 10, 2, 2, 0),
    ("googlenet avg 3x3/1 p1", "avg", 192, 28, 28, 3, 1, 1),
    ("resnet global avg 7x7", "avg", 2048, 7, 7, 7, 7, 0),
]

CONV_SUITES = {
    "lenet5": LENET5_CONVS,
    "alexnet": ALEXNET_CONVS,
    "vgg16": VGG16_CONVS,
    "resnet50": RESNET50_CONVS,
    "resnet50_v1": RESNET50_V1_CONVS,
    "googlenet": GOOGLENET_CONVS,
    "deepbench": DEEPBENCH_CONVS,
    "mobilenetv2": MOBILENETV2_CONVS,
    "convnext_t": CONVNEXT_T_CONVS,
    "resnext50": RESNEXT50_CONVS,
    "replknet": REPLKNET_CONVS,
}
# The grouped and depthwise networks' suites (--preset grouped).
GROUPED_SUITES = ["mobilenetv2", "convnext_t", "resnext50", "replknet"]
POOL_SUITES = {"pooling": POOLING}
MODEL_SUITE = "models"  # whole networks (benchmarks/models.py), not layer shapes
# torchvision names; the depthwise and grouped networks after the seed ones.
MODELS = ["resnet50", "vgg16", "mobilenet_v2", "convnext_tiny", "resnext50_32x4d"]

# Every layer suite; whole models are their own command. The grouped suites run last, so that a
# time budget (the GPU check's) is spent on the seed networks first.
LAYER_SUITES = [s for s in CONV_SUITES if s not in GROUPED_SUITES] + list(POOL_SUITES) + GROUPED_SUITES
ALL_SUITES = [s for s in LAYER_SUITES if s not in GROUPED_SUITES] + [MODEL_SUITE] + GROUPED_SUITES

# The seed networks' suites and pooling: what the default CPU run covers, in every dtype and
# layout it times (the other suites stay in --preset full).
CPU_DEFAULT_SUITES = ["lenet5", "alexnet", "vgg16", "resnet50", "googlenet", "pooling"]

# The layers of the default CPU run (--cases cpu): each seed network's stem, its typical 3x3 and
# 1x1 layers at large and small maps, GoogLeNet's few-channel 5x5 branch, and the pooling of every
# network -- 31 layers, so that float32 and bfloat16 in NCHW and NHWC fit the 3 minutes of
# `make bench` on 2 cores.
CPU_CASES = {
    "lenet5": ["c1 5x5 1->6", "c3 5x5 6->16"],
    "alexnet": ["conv1 11x11/4 3->64", "conv2 5x5 64->192", "conv4 3x3 384->256"],
    "vgg16": ["conv1_2 64->64", "conv2_2 128->128", "conv3_x 256->256", "conv4_x 512->512", "conv5_x 512->512"],
    "resnet50": ["stem 7x7/2 3->64", "l1 1x1 64->64", "l1 3x3 64->64", "l1 1x1 64->256", "l1 1x1 256->64",
                 "l2 3x3 128->128", "l3 1x1 1024->256", "l3 3x3 256->256", "l4 3x3/2 512->512", "l4 1x1 512->2048"],
    "googlenet": ["3a 1x1 192->64", "3a 3x3 96->128", "4a 5x5 16->48", "4c 3x3 128->256", "5b 1x1 832->384"],
    "pooling": ["resnet stem max 3x3/2 p1", "vgg pool2 max 2x2/2", "alexnet pool1 max 3x3/2", "lenet s2 avg 2x2/2",
                "googlenet avg 3x3/1 p1", "resnet global avg 7x7"],
}

# The few cases per suite of the quick GPU selection (--preset gpu-quick): each network's
# typical layers (a stem, a 3x3, a 1x1 bottleneck, a large and a small map).
QUICK_CASES = {
    "lenet5": ["c3 5x5 6->16"],
    "alexnet": ["conv1 11x11/4 3->64", "conv2 5x5 64->192", "conv4 3x3 384->256"],
    "vgg16": ["conv1_2 64->64", "conv3_x 256->256", "conv5_x 512->512"],
    "resnet50": ["stem 7x7/2 3->64", "l1 3x3 64->64", "l3 1x1 1024->256", "l4 3x3/2 512->512"],
    "resnet50_v1": ["l2 1x1/2 256->128"],
    "googlenet": ["3a 3x3 96->128", "4a 5x5 16->48", "5b 1x1 832->384"],
    "deepbench": ["79x341 32->32 5x5/2", "27x27 96->129 5x5", "13x341 64->32 3x7/2"],
    "pooling": ["resnet stem max 3x3/2 p1", "vgg pool2 max 2x2/2", "resnet global avg 7x7"],
    "models": ["resnet50"],
    "mobilenetv2": ["b3 dw 3x3 144", "b3 project 144->24"],
    "convnext_t": ["s1 dw 7x7 96", "s1 pw 96->384"],
    "resnext50": ["l1 3x3 128 g32", "l3 3x3/2 512 g32"],
    "replknet": ["s1 dw 31x31 128"],
}
