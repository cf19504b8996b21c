"""LeNet-5 on real handwritten digits (scikit-learn's 8x8 digits), trained on the CPU with cnnops.

    python -m examples.lenet5_digits                 # 30 epochs, writes examples/results/lenet5_digits.json
    python -m examples.lenet5_digits --epochs 1 --train-subset 200 --output /tmp/out.json

Data: the 1,797 digits of sklearn.datasets.load_digits, each 8x8 image upsampled to 28x28
(bilinear) and centred on a 32x32 canvas (examples/_common.py), split 80/20 with
train_test_split(stratify=labels, random_state=0): 1,437 training and 360 test images.
Training: the default LeNet-5 (max pooling, ReLU), Adam (lr 2e-3, cosine decay), batch 32,
random shifts of up to 2 pixels and brightness/contrast jitter (no mirroring: a mirrored digit
is not the same digit), seed 0. The reported accuracy is the test accuracy after the last epoch.
"""
import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python examples/lenet5_digits.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from examples import _common as C


def run(epochs=30, batch_size=32, lr=2e-3, seed=0, train_subset=None, classic=False, progress=True):
    import cnnops

    torch.manual_seed(seed)
    x, y = C.load_digits_32()
    tr, te = C.split(y)
    if train_subset:
        tr = tr[C.stratified_subset(y[tr], max(1, train_subset // 10), seed)]
    model = cnnops.models.lenet5(num_classes=10, classic=classic)
    with C.Timer() as t:
        history = C.fit(model, x[tr], y[tr], epochs=epochs, batch_size=batch_size, lr=lr, x_test=x[te],
                        y_test=y[te], progress=progress, desc="LeNet-5 digits")
    return {
        "test_accuracy": history[-1]["test_accuracy"],
        "epochs": epochs,
        "seconds": round(t.seconds, 2),
        "train_size": len(tr),
        "test_size": len(te),
        "model": "cnnops.models.lenet5(classic=%s)" % classic,
        "parameters": sum(p.numel() for p in model.parameters()),
        "optimizer": f"Adam(lr={lr}), cosine decay, batch {batch_size}",
        "seed": seed,
        "split": "sklearn train_test_split(test_size=0.2, stratify=labels, random_state=0)",
        "placement": C.PLACEMENT,
        "augmentation": C.AUGMENTATION,
        "history": history,
        "machine": C.machine(),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-subset", type=int, default=None, help="train on about this many images (stratified)")
    p.add_argument("--classic", action="store_true", help="average pooling and tanh, as in 1998")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--output", type=Path, default=C.RESULTS / "lenet5_digits.json")
    a = p.parse_args(argv)
    result = run(a.epochs, a.batch_size, a.lr, a.seed, a.train_subset, a.classic, not a.no_progress)
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"test accuracy {result['test_accuracy']:.4f} after {result['epochs']} epochs "
          f"({result['seconds']:.1f} s, {result['train_size']} training images) -> {a.output}")
    return result


if __name__ == "__main__":
    main()
