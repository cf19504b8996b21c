"""Builds runnable benchmark cases from the suite data: for each layer and pass, the cnnops and
torch callables, the work done (FLOPs, and the bytes a pass must at least move), and a
correctness check run before timing.

A Case holds only its description until it runs: build() allocates its tensors then, so a long
selection does not hold every layer's tensors at once, and a case skipped by the time budget
never allocates.

Passes: fwd (forward), dgrad (the input gradient alone), wgrad (the weight gradient alone), fwdbwd
(forward + backward, both gradients). dgrad and wgrad build the forward graph once, with only
the input (dgrad) or only the weight (wgrad) requiring a gradient, and time
torch.autograd.grad(..., retain_graph=True) on it: each side then runs just that one backward
kernel (torch's convolution_backward and cnnops' backward both honour which inputs need a grad).
"""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F

import cnnops

from . import precision
from .suites import ConvSpec

CONV_PASSES = ("fwd", "fwdbwd", "dgrad", "wgrad")
POOL_PASSES = ("fwd", "fwdbwd")


@dataclass
class Callables:
    """What a case runs, built when it runs."""
    ours: Callable[[], object]
    base: Callable[[], object]
    check: Callable[[], Optional[str]]  # None when cnnops agrees with the baseline, else a message
    # torch with cudnn.benchmark=True (CUDA convolutions only; `base` runs with it False).
    base_benchmark: Optional[Callable[[], object]] = None
    flops: Optional[float] = None       # set where the work is only known once built (whole models)


@dataclass
class Case:
    suite: str
    name: str
    pass_: str
    build: Callable[[], Callables]
    flops: float = 0.0                  # conv cases and models: the rate is GFLOP/s
    bytes: float = 0.0                  # minimum traffic; pooling's rate is GB/s of it
    info: Dict[str, object] = field(default_factory=dict)
    kernel_ops: Tuple[str, ...] = ()    # the cnnops ops whose last CUDA kernel the row records


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)).item()


def agreement_check(ours: Callable, base: Callable, tol: float, what: str) -> Callable[[], Optional[str]]:
    def check():
        a, b = ours(), base()
        a, b = (a, b) if isinstance(a, (list, tuple)) else ([a], [b])
        errs = [rel_err(x, y) for x, y in zip(a, b)]
        return None if max(errs) <= tol else f"{what} relative error {', '.join('%.1e' % e for e in errs)} > {tol:.0e}"
    return check


def with_cudnn_benchmark(fn: Callable) -> Callable:
    def run():
        with precision.cudnn_benchmark(True):
            return fn()
    return run


def _run_fwdbwd(fn, inputs, go):
    for t in inputs:
        t.grad = None
    fn().backward(go)
    return [t.grad for t in inputs]


def memory_format(layout: str):
    return torch.channels_last if layout == "nhwc" else torch.contiguous_format


def conv_cases(suite: str, spec, batch: int, dtype_name: str, device: str, layout: str) -> Iterator[Case]:
    g = ConvSpec.of(spec)
    N = g.batch or batch  # DeepBench entries carry their own batch
    dtype = precision.DTYPES[dtype_name]
    esize = torch.empty((), dtype=dtype).element_size()
    fwd_flops = 2.0 * N * g.K * g.P * g.Q * g.Cg * g.R * g.S
    x_b, w_b, y_b = (N * g.C * g.H * g.W * esize, g.K * g.Cg * g.R * g.S * esize, N * g.K * g.P * g.Q * esize)
    # The first layer of a network needs no input gradient (its input is the data): no dgrad.
    data_layer = g.C <= 3
    info = {"N": N, "C": g.C, "H": g.H, "W": g.W, "K": g.K, "R": g.R, "S": g.S, "stride": g.stride,
            "padding": g.padding, "groups": g.groups, "dtype": dtype_name, "layout": layout}
    work = {  # pass -> (FLOPs, bytes each operand read or written once, the ops whose kernels run)
        "fwd": (fwd_flops, x_b + w_b + y_b, ("conv2d_forward",)),
        "dgrad": (fwd_flops, y_b + w_b + x_b, ("conv2d_dgrad",)),
        "wgrad": (fwd_flops, x_b + y_b + w_b, ("conv2d_wgrad",)),
        "fwdbwd": (fwd_flops * (2 if data_layer else 3), (x_b + w_b + y_b) * (2 if data_layer else 3),
                   ("conv2d_forward", "conv2d_wgrad") if data_layer else
                   ("conv2d_forward", "conv2d_dgrad", "conv2d_wgrad")),
    }
    for pass_ in CONV_PASSES:
        if pass_ == "dgrad" and data_layer:
            continue
        flops, nbytes, ops = work[pass_]
        yield Case(suite, g.name, pass_, lambda p=pass_: _build_conv(g, N, dtype, dtype_name, device, layout, p),
                   flops=flops, bytes=nbytes, info=dict(info), kernel_ops=ops)


def _build_conv(g: ConvSpec, N: int, dtype, dtype_name: str, device: str, layout: str, pass_: str) -> Callables:
    fmt = memory_format(layout)
    tol = precision.TOLERANCE[dtype_name]
    x = torch.randn(N, g.C, g.H, g.W, dtype=dtype, device=device).contiguous(memory_format=fmt)
    w = (torch.randn(g.K, g.Cg, g.R, g.S, dtype=dtype, device=device) / math.sqrt(g.Cg * g.R * g.S)).contiguous(
        memory_format=fmt)
    go = torch.randn(N, g.K, g.P, g.Q, dtype=dtype, device=device).contiguous(memory_format=fmt)
    ours_conv = lambda a, b: cnnops.conv2d(a, b, None, g.stride, g.padding, 1, g.groups)  # noqa: E731
    base_conv = lambda a, b: F.conv2d(a, b, None, g.stride, g.padding, 1, g.groups)  # noqa: E731

    if pass_ == "fwd":
        ours, base = (lambda: ours_conv(x, w)), (lambda: base_conv(x, w))
        what = "forward"
    elif pass_ == "fwdbwd":
        xg = x.requires_grad_(g.C > 3)
        wg = w.requires_grad_()
        inputs = [t for t in (xg, wg) if t.requires_grad]
        ours = lambda: _run_fwdbwd(lambda: ours_conv(xg, wg), inputs, go)  # noqa: E731
        base = lambda: _run_fwdbwd(lambda: base_conv(xg, wg), inputs, go)  # noqa: E731
        what = "gradient"
    else:  # dgrad / wgrad: one forward graph per side, its backward timed again and again
        wrt = x.requires_grad_() if pass_ == "dgrad" else w.requires_grad_()
        y_ours, y_base = ours_conv(x, w), base_conv(x, w)
        ours = lambda: torch.autograd.grad(y_ours, wrt, go, retain_graph=True)[0]  # noqa: E731
        base = lambda: torch.autograd.grad(y_base, wrt, go, retain_graph=True)[0]  # noqa: E731
        what = "input gradient" if pass_ == "dgrad" else "weight gradient"
    bench = with_cudnn_benchmark(base) if device == "cuda" else None  # CPU: no cuDNN to tune
    return Callables(ours, base, agreement_check(ours, base, tol, what), base_benchmark=bench)


def pool_cases(suite: str, spec, batch: int, dtype_name: str, device: str, layout: str) -> Iterator[Case]:
    name, kind, C, H, W, k, s, p = spec
    dtype = precision.DTYPES[dtype_name]
    esize = torch.empty((), dtype=dtype).element_size()
    P, Q = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    x_b, y_b = batch * C * H * W * esize, batch * C * P * Q * esize
    # Bytes that must move: input read + output written (+ int64 indices for max pooling; both
    # cnnops and torch compute them in training mode).
    if kind == "max":
        fwd_bytes = x_b + y_b + y_b // esize * 8
        bwd_bytes = y_b + y_b // esize * 8 + x_b  # grad_output and indices read, grad_input written
    else:
        fwd_bytes, bwd_bytes = x_b + y_b, y_b + x_b
    info = {"N": batch, "C": C, "H": H, "W": W, "kernel": k, "stride": s, "padding": p, "kind": kind,
            "dtype": dtype_name, "layout": layout}
    ops = (f"{kind}_pool2d_forward",)
    passes = (("fwd", fwd_bytes, ops), ("fwdbwd", fwd_bytes + bwd_bytes, ops + (f"{kind}_pool2d_backward",)))
    for pass_, nbytes, kops in passes:
        yield Case(suite, name, pass_, lambda q=pass_: _build_pool(spec, batch, dtype, device, layout, q),
                   bytes=nbytes, info=dict(info), kernel_ops=kops)


def _build_pool(spec, batch: int, dtype, device: str, layout: str, pass_: str) -> Callables:
    name, kind, C, H, W, k, s, p = spec
    x = torch.randn(batch, C, H, W, dtype=dtype, device=device).contiguous(memory_format=memory_format(layout))
    ours_fn, base_fn = (cnnops.max_pool2d, F.max_pool2d) if kind == "max" else (cnnops.avg_pool2d, F.avg_pool2d)
    ours_pool = lambda t: ours_fn(t, k, s, p)  # noqa: E731
    base_pool = lambda t: base_fn(t, k, s, p)  # noqa: E731
    # Max pooling picks elements, so its forward must agree exactly; averages (and the gradient
    # sums where windows overlap) may round differently.
    tol = {torch.float64: 1e-12, torch.float32: 1e-5}.get(dtype, 1e-2)
    if pass_ == "fwd":
        ours, base = (lambda: ours_pool(x)), (lambda: base_pool(x))
        return Callables(ours, base, agreement_check(ours, base, 0.0 if kind == "max" else tol, "forward"))
    xg = x.requires_grad_()
    go = torch.randn_like(base_pool(x.detach()))
    ours = lambda: _run_fwdbwd(lambda: ours_pool(xg), [xg], go)  # noqa: E731
    base = lambda: _run_fwdbwd(lambda: base_pool(xg), [xg], go)  # noqa: E731
    return Callables(ours, base, agreement_check(ours, base, tol, "gradient"))


def cases_for(suite: str, specs: List, batches: List[int], dtype_names: List[str], device: str,
              layouts: List[str], make) -> Iterator[Case]:
    """Every case of one suite over the runner's batch sizes, dtypes and layouts. Entries with
    their own batch size (DeepBench) appear once, not once per --batch value."""
    for i, batch in enumerate(batches):
        for dtype_name in dtype_names:
            for layout in layouts:
                for spec in specs:
                    if i > 0 and make is conv_cases and ConvSpec.of(spec).batch:
                        continue
                    yield from make(suite, spec, batch, dtype_name, device, layout)

