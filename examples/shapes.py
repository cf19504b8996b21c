"""Output sizes of convolution and pooling layers, checked against cnnops.

    python -m examples.shapes

For an n x n input, an f x f filter, padding p and stride s the output is
floor((n + 2p - f) / s) + 1 on each side; 'same' padding (output size n) with stride 1 is
p = (f - 1) / 2, an integer for odd f. Pooling follows the same formula (floor mode).
"""
import argparse
import itertools
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python examples/shapes.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

import cnnops

# (n, f, p, s, what): the course's examples.
EXAMPLES = [
    (6, 3, 0, 1, "6x6 image, 3x3 filter: 4x4"),
    (6, 3, 1, 1, "padding 1 keeps 6x6 ('same')"),
    (7, 3, 0, 2, "stride 2: 3x3"),
    (39, 3, 0, 1, "39x39x3 -> 37x37"),
    (37, 5, 0, 2, "37 -> 17, stride 2"),
    (17, 5, 0, 2, "17 -> 7"),
    (32, 5, 0, 1, "LeNet-5 C1: 32 -> 28"),
    (28, 2, 0, 2, "2x2/2 pool halves: 28 -> 14"),
    (224, 7, 3, 2, "ResNet / GoogLeNet stem: 224 -> 112"),
    (224, 11, 2, 4, "AlexNet conv1: 224 -> 55"),
    (28, 5, 2, 1, "5x5 'same' in an Inception module"),
]


def out_size(n: int, f: int, p: int = 0, s: int = 1) -> int:
    """floor((n + 2p - f) / s) + 1."""
    return (n + 2 * p - f) // s + 1


def same_padding(f: int) -> int:
    """Padding that keeps the size at stride 1: (f - 1) / 2 (odd f)."""
    if f % 2 == 0:
        raise ValueError("'same' padding (f - 1) / 2 is a whole number only for odd f")
    return (f - 1) // 2


def cnnops_sizes(n: int, f: int, p: int, s: int):
    """(conv2d, max_pool2d) output sizes that cnnops computes; max pooling needs p <= f / 2."""
    x = torch.zeros(1, 1, n, n)
    conv = cnnops.conv2d(x, torch.zeros(1, 1, f, f), stride=s, padding=p).shape[-1]
    pool = cnnops.max_pool2d(x, f, s, p).shape[-1] if 2 * p <= f else None
    return conv, pool


def check(ns=range(1, 24), fs=(1, 2, 3, 4, 5, 7), ps=(0, 1, 2, 3), ss=(1, 2, 3)) -> int:
    """Checks the formula against cnnops for every valid combination; returns how many."""
    checked = 0
    for n, f, p, s in itertools.product(ns, fs, ps, ss):
        if n + 2 * p < f:
            continue  # the filter does not fit: no output
        expected = out_size(n, f, p, s)
        conv, pool = cnnops_sizes(n, f, p, s)
        assert conv == expected, (n, f, p, s, conv, expected)
        assert pool in (None, expected), (n, f, p, s, pool, expected)
        checked += 1
    for f, n in itertools.product((1, 3, 5, 7, 9, 11), (7, 12, 28)):
        p = same_padding(f)
        assert out_size(n, f, p) == n
        assert cnnops.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), padding=p).shape[-1] == n
        assert cnnops.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), padding="same").shape[-1] == n
        checked += 1
    return checked


def table(rows=EXAMPLES) -> str:
    lines = ["   n   f   p   s | floor((n+2p-f)/s)+1 | cnnops conv | cnnops pool | example",
             "-" * 100]
    for n, f, p, s, what in rows:
        conv, pool = cnnops_sizes(n, f, p, s)
        lines.append(f"{n:4d}{f:4d}{p:4d}{s:4d} | {out_size(n, f, p, s):19d} | {conv:11d} | "
                     f"{'-' if pool is None else pool:>11} | {what}")
    lines.append("")
    lines.append("'same' padding at stride 1: " + ", ".join(f"f={f}: p={same_padding(f)}" for f in (1, 3, 5, 7, 9, 11)))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.parse_args(argv)
    print(table())
    n = check()
    print(f"\nthe formula matches cnnops.conv2d and cnnops.max_pool2d in all {n} cases checked")
    return n


if __name__ == "__main__":
    main()
