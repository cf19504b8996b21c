"""The cost of a convolution and what a 1x1 bottleneck saves (the course's Inception example),
and GoogLeNet's per-layer multiplications against the paper's Table 1, counted with
cnnops.models.count_multiplies.

    python -m examples.bottleneck_cost
"""
import argparse
import sys
from collections import OrderedDict
from pathlib import Path

if __package__ in (None, ""):  # run as `python examples/bottleneck_cost.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from torch import nn

import cnnops
from cnnops.models import count_multiplies

# GoogLeNet, Table 1, "ops" column (millions of multiply-adds) for a 224x224 input.
PAPER_OPS = OrderedDict([("conv1", 34), ("conv2+conv3", 360), ("inception3a", 128), ("inception3b", 304),
                         ("inception4a", 73), ("inception4b", 88), ("inception4c", 100), ("inception4d", 119),
                         ("inception4e", 170), ("inception5a", 54), ("inception5b", 71), ("fc", 1)])


def direct():
    """28x28x192 -> 5x5 'same' conv, 32 filters -> 28x28x32."""
    return nn.Sequential(cnnops.nn.Conv2d(192, 32, 5, padding="same"))


def bottleneck():
    """28x28x192 -> 1x1 conv, 16 filters -> 28x28x16 -> 5x5 'same' conv, 32 filters -> 28x28x32."""
    return nn.Sequential(cnnops.nn.Conv1x1(192, 16), cnnops.nn.Conv2d(16, 32, 5, padding="same"))


def googlenet_rows():
    """{Table 1 row: multiplications} for GoogLeNet at 224x224."""
    _, per = count_multiplies(cnnops.models.googlenet(), (1, 3, 224, 224), per_layer=True)
    rows = OrderedDict((k, 0) for k in PAPER_OPS)
    for name, n in per.items():
        top = name.split(".")[0]
        rows["conv2+conv3" if top in ("conv2", "conv3") else top] += n
    return rows


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    shape = (1, 192, 28, 28)
    a = count_multiplies(direct(), shape)
    b, per = count_multiplies(bottleneck(), shape, per_layer=True)
    print(f"5x5 conv, 28x28x192 -> 28x28x32:          {a:>13,} multiplications (28*28*32 * 5*5*192)")
    print(f"1x1 to 16 channels, then the 5x5 conv:    {b:>13,} = {per['0']:,} + {per['1']:,}")
    print(f"the bottleneck needs {a / b:.1f}x fewer multiplications\n")
    rows = googlenet_rows()
    print(f"{'GoogLeNet layer':16} {'counted (M)':>12} {'paper (M)':>10}")
    for k, n in rows.items():
        print(f"{k:16} {n / 1e6:12.1f} {PAPER_OPS[k]:10d}")
    print(f"{'total':16} {sum(rows.values()) / 1e6:12.1f} {sum(PAPER_OPS.values()):10d}")
    return a, b, rows


if __name__ == "__main__":
    main()
