"""What the digit examples share: the data (scikit-learn's handwritten digits on a 32x32
canvas), the fixed split, the augmentation, a small training loop and the machine description.

Placement: each 8x8 digit (values 0..16) is scaled to [0, 1], upsampled to 28x28 with bilinear
interpolation (torch.nn.functional.interpolate) and padded with 2 zero pixels on each side to
32x32 - the layout of LeNet-5's MNIST input, a 28x28 digit centred in a 32x32 field.

Augmentation (torchvision.transforms.v2, per image): random shifts of up to 2 pixels
(RandomCrop(32, padding=2)) and intensity changes (ColorJitter brightness/contrast 0.3).
No mirroring: a mirrored 2, 3, 4, 5, 7 or 9 is not a digit of the same class (and not a
digit at all), so flips would teach the network wrong examples.
"""
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "examples" / "results"
MEAN, STD = 0.234, 0.312  # pixel mean and std of the 1,797 digits on the 32x32 canvas (a fixed affine map)

PLACEMENT = "8x8 digit / 16 -> bilinear upsample to 28x28 -> zero-pad 2 pixels per side -> 32x32"
AUGMENTATION = "RandomCrop(32, padding=2) (shifts up to 2 px) + ColorJitter(brightness=0.3, contrast=0.3); no flips"


def load_digits_32():
    """(images N x 1 x 32 x 32 float32 in [0, 1], labels N int64) for scikit-learn's 1,797 digits."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False).clamp_(0, 1)
    x = F.pad(x, (2, 2, 2, 2))
    return x, torch.tensor(d.target, dtype=torch.int64)


def split(labels: torch.Tensor, test_size: float = 0.2, random_state: int = 0):
    """Fixed stratified train/test split: (train indices, test indices)."""
    from sklearn.model_selection import train_test_split

    idx = torch.arange(len(labels)).numpy()
    tr, te = train_test_split(idx, test_size=test_size, stratify=labels.numpy(), random_state=random_state)
    return torch.as_tensor(tr), torch.as_tensor(te)


def stratified_subset(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices (into labels) of the first `per_class` examples of each class in a seeded shuffle."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g)
    keep = []
    for c in labels.unique().tolist():
        keep.append(order[labels[order] == c][:per_class])
    return torch.cat(keep).sort().values


def augmentation():
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(32, padding=2), v2.ColorJitter(brightness=0.3, contrast=0.3)])


def normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


def augment_batch(x: torch.Tensor, transform) -> torch.Tensor:
    """Applies `transform` to each image of the batch separately (v2 transforms draw one set of
    random parameters per call)."""
    return torch.stack([transform(img) for img in x])


@torch.no_grad()
def predict(model, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    was = model.training
    model.eval()
    out = torch.cat([model(normalize(x[i:i + batch_size])).argmax(1) for i in range(0, len(x), batch_size)])
    model.train(was)
    return out


def accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    return (predict(model, x) == y).float().mean().item()


def fit(model, x, y, *, epochs, batch_size=32, lr=2e-3, weight_decay=0.0, augment=True, params=None,
        x_test=None, y_test=None, progress=True, desc="train", frozen=()):
    """Adam with a cosine learning-rate decay over `epochs`; returns the per-epoch history
    (mean training loss, and test accuracy when x_test is given). `frozen` modules stay in eval
    mode (their batch-norm statistics do not move)."""
    from tqdm.auto import tqdm

    params = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = (len(x) + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch))
    transform = augmentation() if augment else None
    history = []
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc, disable=not progress, file=sys.stderr,
               dynamic_ncols=True, mininterval=0.5)
    for epoch in range(epochs):
        model.train()
        for m in frozen:
            m.eval()
        order = torch.randperm(len(x))
        total, seen = 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            if transform is not None:
                xb = augment_batch(xb, transform)
            loss = F.cross_entropy(model(normalize(xb)), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            bar.update(1)
        entry = {"epoch": epoch + 1, "train_loss": round(total / seen, 5)}
        if x_test is not None:
            entry["test_accuracy"] = round(accuracy(model, x_test, y_test), 5)
        history.append(entry)
        bar.set_postfix({k: v for k, v in entry.items() if k != "epoch"})
    bar.close()
    return history


def cpu_name() -> str:
    name = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name


def machine() -> dict:
    import cnnops

    return {
        "platform": platform.platform(),
        "processor": cpu_name(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cnnops": cnnops.__version__,
        "threads": torch.get_num_threads(),
    }


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
