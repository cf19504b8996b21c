"""Transfer learning with nothing to download: pretrain a small cnnops network on digits 0-4,
then learn digits 5-9 in the course's three regimes, each against training from scratch on the
same 5-9 training set.

    python -m examples.transfer_learning       # writes examples/results/transfer_learning.json
    python -m examples.transfer_learning --pretrain-epochs 1 --epochs-little 2 --epochs-more 1 \\
        --epochs-lots 1 --lots 10 --cache-dir /tmp/cache --output /tmp/tl.json      # a smoke run

1. Pretraining: the network below on the 0-4 images of the fixed 80/20 split of
   scikit-learn's digits (about 720 images), with augmentation.
2. The new task, digits 5-9 (a new 5-way softmax head, labels digit - 5), test set: the 5-9
   images of the test split (about 180):
   - little data (a few images per class): freeze the whole backbone, compute its features
     once - for the clean images and a few augmented copies - cache them to disk
     (torch.save in --cache-dir; a second run loads them) and train only the softmax head on
     the cached features;
   - more data: freeze block1 and block2, train block3 (the last block) and the head;
   - lots of data (the whole 5-9 training split): fine-tune everything, starting from the
     pretrained weights.
   Each regime is compared with the same network trained from random weights on the same images
   for the same number of epochs (with the same augmentation). The little- and more-data regimes
   are repeated on --repeats different random subsets and the accuracies averaged.

Network (32x32x1 input, examples/_common.py's canvas): block k = 3x3 'same' conv -> BN -> ReLU
-> 2x2 max pool, with 16, 32, 64 channels (32 -> 16 -> 8 -> 4): 4x4x64 = 1,024 features, then
the linear softmax head. (A global average pool to 64 or 2x2x64 features made the frozen
features much worse for the new classes: 67-73% and 89% with 5 images per class.)
"""
import argparse
import hashlib
import json
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

if __package__ in (None, ""):  # run as `python examples/transfer_learning.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
from torch import nn

import cnnops
from examples import _common as C

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "cnnops-examples-cache"


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([
        ("conv", cnnops.nn.Conv2d(cin, cout, 3, padding=1, bias=False)),
        ("bn", nn.BatchNorm2d(cout)),
        ("relu", nn.ReLU(inplace=True)),
        ("pool", cnnops.nn.MaxPool2d(2)),
    ]))


class Backbone(nn.Sequential):
    def __init__(self):
        super().__init__(OrderedDict([
            ("block1", block(1, 16)),
            ("block2", block(16, 32)),
            ("block3", block(32, 64)),
            ("pool", cnnops.nn.AdaptiveAvgPool2d(4)),  # 4x4 already for 32x32 inputs
            ("flatten", nn.Flatten()),
        ]))
        self.features = 64 * 4 * 4


class Net(nn.Module):
    def __init__(self, num_classes: int = 5, backbone: Backbone = None):
        super().__init__()
        self.backbone = backbone if backbone is not None else Backbone()
        self.head = nn.Linear(self.backbone.features, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def n_trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def features(backbone, x, batch_size=512):
    backbone.eval()
    return torch.cat([backbone(C.normalize(x[i:i + batch_size])) for i in range(0, len(x), batch_size)])


def cached_features(backbone, x_train, x_test, views: int, cache_dir: Path, seed: int):
    """Features of the training images (clean + `views` - 1 augmented copies) and of the test
    images, computed once with the frozen backbone and cached with torch.save; the file name is
    a hash of the backbone's weights, the images and the settings, so a stale cache is never used."""
    h = hashlib.sha256()
    for t in list(backbone.state_dict().values()) + [x_train, x_test]:
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    h.update(f"{views}-{seed}".encode())
    path = Path(cache_dir) / f"features-{h.hexdigest()[:16]}.pt"
    if path.exists():
        return torch.load(path), path, True
    torch.manual_seed(seed)
    transform = C.augmentation()
    train = [features(backbone, x_train)]
    for _ in range(views - 1):
        train.append(features(backbone, C.augment_batch(x_train, transform)))
    data = {"train": torch.stack(train), "test": features(backbone, x_test)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, path)
    return data, path, False


def train_head(head: nn.Linear, f_train, y_train, epochs: int, lr=1e-2, weight_decay=1e-3):
    """Softmax regression on cached features (views x N x D): one full-batch Adam step per view
    per epoch."""
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        for v in range(f_train.shape[0]):
            loss = F.cross_entropy(head(f_train[v]), y_train)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return loss.item()


def run(pretrain_epochs=15, little=5, more=30, lots=None, epochs_little=100, epochs_more=40, epochs_lots=15,
        views=8, lr=2e-3, seed=0, repeats=3, cache_dir=None, progress=True):
    cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE
    torch.manual_seed(seed)
    x, y = C.load_digits_32()
    tr, te = C.split(y)
    x_tr, y_tr, x_te, y_te = x[tr], y[tr], x[te], y[te]
    old_tr, old_te = y_tr < 5, y_te < 5
    xa, ya = x_tr[~old_tr], y_tr[~old_tr] - 5  # the new task: digits 5-9, labels 0-4
    xa_te, ya_te = x_te[~old_te], y_te[~old_te] - 5
    result = {"seed": seed, "repeats": repeats, "placement": C.PLACEMENT, "augmentation": C.AUGMENTATION,
              "lr": lr, "network": "3 x (3x3 conv -> BN -> ReLU -> 2x2 max pool), 16/32/64 channels, "
                                   "1024 features, linear softmax head"}

    # 1. pretraining on digits 0-4
    torch.manual_seed(seed)
    pre = Net(5)
    with C.Timer() as t:
        C.fit(pre, x_tr[old_tr], y_tr[old_tr], epochs=pretrain_epochs, lr=lr, progress=progress,
              desc="pretrain 0-4")
    result["pretrain"] = {"train_size": int(old_tr.sum()), "epochs": pretrain_epochs,
                          "test_accuracy_0_4": round(C.accuracy(pre, x_te[old_te], y_te[old_te]), 5),
                          "trainable_parameters": n_trainable(pre), "seconds": round(t.seconds, 2)}

    def pretrained_net():
        net = Net(5, Backbone())
        net.backbone.load_state_dict(pre.backbone.state_dict())
        return net

    def scratch(xs, ys, epochs, rep, name):
        torch.manual_seed(seed + 1 + rep)
        net = Net(5)
        with C.Timer() as t:
            C.fit(net, xs, ys, epochs=epochs, lr=lr, progress=progress, desc=f"{name}: scratch")
        return C.accuracy(net, xa_te, ya_te), n_trainable(net), t.seconds

    def little_data(xs, ys, rep):
        net = pretrained_net()
        for p in net.backbone.parameters():
            p.requires_grad_(False)
        torch.manual_seed(seed + 1 + rep)
        with C.Timer() as t:
            data, path, hit = cached_features(net.backbone, xs, xa_te, views, cache_dir, seed + rep)
            train_head(net.head, data["train"], ys, epochs_little)
            acc = (net.head(data["test"]).argmax(1) == ya_te).float().mean().item()
        return acc, n_trainable(net), t.seconds, {"feature_cache": str(path), "cache_hit": hit}

    def more_data(xs, ys, rep):
        net = pretrained_net()
        frozen = [net.backbone.block1, net.backbone.block2]  # kept in eval mode: their BN statistics stay
        for m in frozen:
            for p in m.parameters():
                p.requires_grad_(False)
        torch.manual_seed(seed + 1 + rep)
        with C.Timer() as t:
            C.fit(net, xs, ys, epochs=epochs_more, lr=lr, progress=progress, desc="more: block3 + head",
                  frozen=frozen)
        return C.accuracy(net, xa_te, ya_te), n_trainable(net), t.seconds, {}

    def lots_of_data(xs, ys, rep):
        net = pretrained_net()
        torch.manual_seed(seed + 1 + rep)
        with C.Timer() as t:
            C.fit(net, xs, ys, epochs=epochs_lots, lr=lr, progress=progress, desc="lots: fine-tune all")
        return C.accuracy(net, xa_te, ya_te), n_trainable(net), t.seconds, {}

    plan = [
        ("little_data", little, epochs_little, repeats, little_data,
         "backbone frozen; its features (clean + %d augmented copies) computed once and cached to disk; "
         "only the new softmax head trained" % (views - 1)),
        ("more_data", more, epochs_more, repeats, more_data,
         "block1 and block2 frozen; the last block (block3) and a new head trained"),
        ("lots_of_data", lots, epochs_lots, 1, lots_of_data,
         "every layer fine-tuned, starting from the pretrained weights (new head)"),
    ]
    regimes = {}
    for name, per_class, epochs, reps, fn, what in plan:
        transfer, base, extra = [], [], []
        for rep in range(reps):
            # a different stratified subset per repeat (all of the 5-9 training split when per_class is None)
            idx = torch.arange(len(ya)) if per_class is None else C.stratified_subset(ya, per_class, seed + rep)
            xs, ys = xa[idx], ya[idx]
            acc, n_t, sec, info = fn(xs, ys, rep)
            transfer.append((acc, sec))
            extra.append(info)
            b_acc, n_s, b_sec = scratch(xs, ys, epochs, rep, name)
            base.append((b_acc, b_sec))
        mean = lambda v: round(sum(v) / len(v), 5)  # noqa: E731
        regimes[name] = {
            "train_size": len(ys), "per_class": per_class if per_class is not None else "all", "epochs": epochs,
            "what": what,
            "transfer": {"test_accuracy": mean([a for a, _ in transfer]),
                         "test_accuracy_per_repeat": [round(a, 5) for a, _ in transfer],
                         "trainable_parameters": n_t, "seconds": round(sum(s for _, s in transfer) / reps, 2)},
            "scratch": {"test_accuracy": mean([a for a, _ in base]),
                        "test_accuracy_per_repeat": [round(a, 5) for a, _ in base],
                        "trainable_parameters": n_s, "seconds": round(sum(s for _, s in base) / reps, 2)},
        }
        if name == "little_data":
            regimes[name]["transfer"]["feature_cache"] = [e["feature_cache"] for e in extra]
            regimes[name]["transfer"]["cache_hit"] = [e["cache_hit"] for e in extra]
    result["test_size_5_9"] = len(ya_te)
    result["regimes"] = regimes
    result["machine"] = C.machine()
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pretrain-epochs", type=int, default=15)
    p.add_argument("--little", type=int, default=5, help="images per class, little-data regime")
    p.add_argument("--more", type=int, default=30, help="images per class, more-data regime")
    p.add_argument("--lots", type=int, default=None, help="images per class, lots-of-data regime (default: all)")
    p.add_argument("--epochs-little", type=int, default=100)
    p.add_argument("--epochs-more", type=int, default=40)
    p.add_argument("--epochs-lots", type=int, default=15)
    p.add_argument("--views", type=int, default=8, help="cached feature copies: 1 clean + views-1 augmented")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3, help="subsets drawn for the little- and more-data regimes")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where the frozen features are cached")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--output", type=Path, default=C.RESULTS / "transfer_learning.json")
    a = p.parse_args(argv)
    r = run(a.pretrain_epochs, a.little, a.more, a.lots, a.epochs_little, a.epochs_more, a.epochs_lots, a.views,
            a.lr, a.seed, a.repeats, a.cache_dir, not a.no_progress)
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text(json.dumps(r, indent=2) + "\n")
    print(f"pretrained on 0-4: test accuracy {r['pretrain']['test_accuracy_0_4']:.4f}")
    print(f"{'regime':14} {'images':>6}  {'transfer':>8} {'(s)':>6}  {'scratch':>8} {'(s)':>6}   test accuracy on 5-9")
    for name, g in r["regimes"].items():
        t, b = g["transfer"], g["scratch"]
        print(f"{name:14} {g['train_size']:6d}  {t['test_accuracy']:8.4f} {t['seconds']:6.1f}  "
              f"{b['test_accuracy']:8.4f} {b['seconds']:6.1f}")
    print(f"-> {a.output}")
    return r


if __name__ == "__main__":
    main()
