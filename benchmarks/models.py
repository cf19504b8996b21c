"""Whole-model cases (suite `models`): torchvision's ResNet-50, VGG-16, MobileNetV2, ConvNeXt-T and
ResNeXt-50 32x4d (suites.MODELS) with random weights,
stock against `cnnops.convert(copy.deepcopy(model))`, at 224x224 (image_size: smaller for tests)
and the runner's batch size.

Passes: fwd (an eval-mode forward under no_grad) and train (one SGD step: forward in training
mode, cross-entropy loss, backward, optimizer step); `--passes fwdbwd` selects train too. The
FLOPs are counted by torch's FlopCounterMode on the meta device (no real compute): the forward's
for fwd, three times it for a training step (a forward, and a backward of about twice its work).
"""
import copy
from typing import Iterator

import torch
import torch.nn.functional as F

import cnnops

from . import precision
from .cases import Callables, Case, memory_format, with_cudnn_benchmark

PASSES = ("fwd", "train")
# Relative norm error ||ours - torch|| / ||torch|| allowed on a whole network's output (eval mode
# for fwd, training mode for train): rounding grows over 16-50 layers, while a wrong kernel shows
# up as an error of order 1.
TOLERANCE = {"float64": 1e-9, "float32": 1e-3, "tf32": 2e-2, "bfloat16": 1e-1, "float16": 5e-2}
# ... and on all parameter gradients of a training step, taken together. These are ill-conditioned
# (batch-statistics normalisation subtracts nearly equal terms: at batch 2, torch's own float32
# ResNet-50 gradients are 2.5e-2 off its float64 ones), so the bound only catches a broken
# backward, whose error is of order 1.
GRAD_TOLERANCE = {"float64": 1e-6, "float32": 0.2, "tf32": 0.3, "bfloat16": 0.5, "float16": 0.5}


def _torchvision_model(name: str):
    import torchvision  # imported only when a model case runs: the layer suites do without it

    return getattr(torchvision.models, name)(weights=None)


def _forward_flops(name: str, batch: int, image_size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model = _torchvision_model(name).to("meta").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(batch, 3, image_size, image_size, device="meta"))
    return float(counter.get_total_flops())


def model_cases(name: str, batch: int, dtype_name: str, device: str, layout: str,
                image_size: int = 224) -> Iterator[Case]:
    info = {"N": batch, "H": image_size, "W": image_size, "dtype": dtype_name, "layout": layout}
    for pass_ in PASSES:
        yield Case("models", name, pass_,
                   lambda p=pass_: _build(name, batch, dtype_name, device, layout, p, image_size), info=dict(info))


def _rel_norm_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def _build(name: str, batch: int, dtype_name: str, device: str, layout: str, pass_: str,
           image_size: int) -> Callables:
    dtype, fmt, tol = precision.DTYPES[dtype_name], memory_format(layout), TOLERANCE[dtype_name]
    torch.manual_seed(0)
    stock = _torchvision_model(name).to(device=device, dtype=dtype, memory_format=fmt)
    ours_model = cnnops.convert(copy.deepcopy(stock))  # its own parameters: each side steps its own
    x = torch.randn(batch, 3, image_size, image_size, device=device, dtype=dtype).contiguous(memory_format=fmt)
    flops = _forward_flops(name, batch, image_size)

    if pass_ == "fwd":
        stock.eval()
        ours_model.eval()

        def forward(model):
            with torch.no_grad():
                return model(x)

        def check():
            err = _rel_norm_err(forward(ours_model), forward(stock))
            return None if err <= tol else f"output relative error {err:.1e} > {tol:.0e}"

        bench = with_cudnn_benchmark(lambda: forward(stock)) if device == "cuda" else None
        return Callables(lambda: forward(ours_model), lambda: forward(stock), check, base_benchmark=bench, flops=flops)

    labels = torch.randint(0, 1000, (batch,), device=device)
    stock.train()
    ours_model.train()
    optimizers = {id(m): torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for m in (stock, ours_model)}

    def loss_of(model):
        torch.manual_seed(1)  # the same dropout masks on both sides (VGG-16)
        return F.cross_entropy(model(x).float(), labels)

    def step(model):
        opt = optimizers[id(model)]
        opt.zero_grad(set_to_none=True)
        loss_of(model).backward()
        opt.step()

    def check():  # at the same weights, before either side has stepped
        outputs, grads = [], []
        for model in (ours_model, stock):
            model.zero_grad(set_to_none=True)
            torch.manual_seed(1)
            out = model(x)
            F.cross_entropy(out.float(), labels).backward()
            outputs.append(out)
            grads.append(torch.cat([p.grad.flatten().double() for p in model.parameters() if p.grad is not None]))
        out_err, grad_err = _rel_norm_err(*outputs), _rel_norm_err(*grads)
        if out_err <= tol and grad_err <= GRAD_TOLERANCE[dtype_name]:
            return None
        return (f"training-mode output / gradient relative error {out_err:.1e} / {grad_err:.1e} "
                f"> {tol:.0e} / {GRAD_TOLERANCE[dtype_name]:.0e}")

    bench = with_cudnn_benchmark(lambda: step(stock)) if device == "cuda" else None
    return Callables(lambda: step(ours_model), lambda: step(stock), check, base_benchmark=bench, flops=3 * flops)
