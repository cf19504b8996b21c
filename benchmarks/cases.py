"""Builds runnable benchmark cases from the suite data: inputs, the cnnops and torch callables
for each pass, the work done (FLOPs or bytes), and a correctness check run before timing."""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F

import cnnops


@dataclass
class Case:
    suite: str
    name: str
    pass_: str                      # "fwd" or "fwdbwd"
    ours: Callable[[], object]
    base: Callable[[], object]
    check: Callable[[], Optional[str]]  # None when cnnops agrees with the baseline, else a message
    flops: float = 0.0              # conv cases
    bytes: float = 0.0              # pooling cases
    info: Dict[str, object] = field(default_factory=dict)


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)).item()


def _run_fwdbwd(fn, inputs, go):
    for t in inputs:
        t.grad = None
    fn().backward(go)
    return [t.grad for t in inputs]


def conv_cases(suite: str, spec, batch: int, dtype: torch.dtype, device: str, layout: str, tol: float):
    name, C, H, W, K, R, S, stride, padding = spec
    fmt = torch.channels_last if layout == "nhwc" else torch.contiguous_format
    x = torch.randn(batch, C, H, W, dtype=dtype, device=device).contiguous(memory_format=fmt)
    w = (torch.randn(K, C, R, S, dtype=dtype, device=device) / math.sqrt(C * R * S)).contiguous(memory_format=fmt)
    P = (H + 2 * padding - R) // stride + 1
    Q = (W + 2 * padding - S) // stride + 1
    fwd_flops = 2.0 * batch * K * P * Q * C * R * S
    info = {"N": batch, "C": C, "H": H, "W": W, "K": K, "R": R, "S": S, "stride": stride, "padding": padding,
            "dtype": str(dtype).replace("torch.", ""), "layout": layout}
    ours = lambda: cnnops.conv2d(x, w, None, stride, padding)  # noqa: E731
    base = lambda: F.conv2d(x, w, None, stride, padding)  # noqa: E731

    def check_fwd():
        err = _rel_err(ours(), base())
        return None if err <= tol else f"forward relative error {err:.2e} > {tol:.0e}"

    yield Case(suite, name, "fwd", ours, base, check_fwd, flops=fwd_flops, info=info)

    # The first layer of a network needs no input gradient (its input is the data).
    xg = x.detach().clone().requires_grad_(C > 3)
    wg = w.detach().clone().requires_grad_()
    inputs = [t for t in (xg, wg) if t.requires_grad]
    go = torch.randn(batch, K, P, Q, dtype=dtype, device=device).contiguous(memory_format=fmt)
    ours_fb = lambda: _run_fwdbwd(lambda: cnnops.conv2d(xg, wg, None, stride, padding), inputs, go)  # noqa: E731
    base_fb = lambda: _run_fwdbwd(lambda: F.conv2d(xg, wg, None, stride, padding), inputs, go)  # noqa: E731

    def check_fwdbwd():
        errs = [_rel_err(a, b) for a, b in zip(ours_fb(), base_fb())]
        return None if max(errs) <= tol else f"gradient relative errors {['%.1e' % e for e in errs]} > {tol:.0e}"

    yield Case(suite, name, "fwdbwd", ours_fb, base_fb, check_fwdbwd, flops=fwd_flops * (1 + len(inputs)),
               info=info)


def pool_cases(suite: str, spec, batch: int, dtype: torch.dtype, device: str, layout: str):
    name, kind, C, H, W, k, s, p = spec
    fmt = torch.channels_last if layout == "nhwc" else torch.contiguous_format
    x = torch.randn(batch, C, H, W, dtype=dtype, device=device).contiguous(memory_format=fmt)
    if kind == "max":
        ours = lambda: cnnops.max_pool2d(x, k, s, p)  # noqa: E731
        base = lambda: F.max_pool2d(x, k, s, p)  # noqa: E731
    else:
        ours = lambda: cnnops.avg_pool2d(x, k, s, p)  # noqa: E731
        base = lambda: F.avg_pool2d(x, k, s, p)  # noqa: E731
    y = base()
    esize = x.element_size()
    # Bytes that must move: input read + output written (+ int64 indices for max pooling; both
    # cnnops and torch compute them in training mode).
    fwd_bytes = x.numel() * esize + y.numel() * esize
    info = {"N": batch, "C": C, "H": H, "W": W, "kernel": k, "stride": s, "padding": p, "kind": kind,
            "dtype": str(dtype).replace("torch.", ""), "layout": layout}

    def check_fwd():
        err = _rel_err(ours(), base())
        return None if err == 0 or (kind == "avg" and err < 1e-5) else f"forward relative error {err:.2e}"

    yield Case(suite, name, "fwd", ours, base, check_fwd, bytes=fwd_bytes, info=info)

    xg = x.detach().clone().requires_grad_()
    go = torch.randn_like(y)
    if kind == "max":
        ours_fb = lambda: _run_fwdbwd(lambda: cnnops.max_pool2d(xg, k, s, p), [xg], go)  # noqa: E731
        base_fb = lambda: _run_fwdbwd(lambda: F.max_pool2d(xg, k, s, p), [xg], go)  # noqa: E731
        bwd_bytes = y.numel() * (esize + 8) * 2 + x.numel() * esize  # indices written and read, grad_input
    else:
        ours_fb = lambda: _run_fwdbwd(lambda: cnnops.avg_pool2d(xg, k, s, p), [xg], go)  # noqa: E731
        base_fb = lambda: _run_fwdbwd(lambda: F.avg_pool2d(xg, k, s, p), [xg], go)  # noqa: E731
        bwd_bytes = y.numel() * esize + x.numel() * esize

    def check_fwdbwd():
        err = _rel_err(ours_fb()[0], base_fb()[0])
        return None if err < 1e-5 else f"gradient relative error {err:.2e}"

    yield Case(suite, name, "fwdbwd", ours_fb, base_fb, check_fwdbwd, bytes=fwd_bytes + bwd_bytes, info=info)
