"""The benchmarked dtypes and the float32 precision flags behind them.

"float32" means IEEE float32 on both sides, "tf32" float32 tensors with TF32 allowed on both
sides (torch's cuDNN reads the flag, and cnnops' CUDA kernels read the same flag). The flags are
set through torch.backends.cudnn.conv.fp32_precision / torch.backends.cuda.matmul.fp32_precision
where torch has them (2.9+), else through the legacy allow_tf32 flags: torch raises when a
program mixes the two APIs, so this module only ever touches one of them. On a CPU both names
run the same IEEE kernels.
"""
import contextlib
from typing import Dict

import torch

DTYPES = {
    "float32": torch.float32,
    "tf32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "float64": torch.float64,
}

# Largest relative error (max |ours - torch| / max |torch|) a case may show against torch.
TOLERANCE = {"float32": 1e-4, "tf32": 5e-3, "bfloat16": 3e-2, "float16": 3e-2, "float64": 1e-10}


def _new_api() -> bool:
    conv = getattr(torch.backends.cudnn, "conv", None)
    return conv is not None and hasattr(conv, "fp32_precision")


def flag_state() -> Dict[str, object]:
    """The flags as they are now, for the results' machine info."""
    if _new_api():
        return {"api": "fp32_precision", "cudnn.conv": torch.backends.cudnn.conv.fp32_precision,
                "cuda.matmul": torch.backends.cuda.matmul.fp32_precision}
    return {"api": "allow_tf32", "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32}


def conv_tf32_enabled() -> bool:
    """Whether float32 convolutions may run as TF32 now (torch's cuDNN and cnnops' CUDA kernels)."""
    if _new_api():
        return torch.backends.cudnn.conv.fp32_precision == "tf32"
    return bool(torch.backends.cudnn.allow_tf32)


@contextlib.contextmanager
def fp32_mode(dtype_name: str):
    """TF32 allowed (dtype_name 'tf32') or IEEE ('float32') for float32 convolutions and the
    ceiling's matmul while inside; other dtypes leave the flags alone."""
    if dtype_name not in ("float32", "tf32"):
        yield
        return
    tf32 = dtype_name == "tf32"
    if _new_api():
        conv, mm = torch.backends.cudnn.conv, torch.backends.cuda.matmul
        old = conv.fp32_precision, mm.fp32_precision
        conv.fp32_precision = mm.fp32_precision = "tf32" if tf32 else "ieee"
        try:
            yield
        finally:
            conv.fp32_precision, mm.fp32_precision = old
    else:  # pragma: no cover - torch < 2.9
        old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@contextlib.contextmanager
def cudnn_benchmark(enabled: bool):
    """torch.backends.cudnn.benchmark set while inside (cuDNN autotunes each new shape once)."""
    old = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = old
