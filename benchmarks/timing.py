"""Timing: both sides of a comparison are timed alternately in one process (this machine's
throughput swings up to 2x between runs, so interleaving is what makes a ratio fair), after a
warm-up, reporting the median and the spread of the repeats."""
import statistics
import time
from typing import Callable, Dict, Iterable, List

import torch

from . import precision


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


_L2_FLUSH = {}


def _flush_l2() -> None:
    """Overwrite a buffer larger than any GPU's L2 (H100/H200: 50 MB), so that no case is timed
    on inputs that the previous repeat left in cache."""
    buf = _L2_FLUSH.get("buf")
    if buf is None:
        buf = _L2_FLUSH["buf"] = torch.empty(256 * 1024 * 1024 // 4, device="cuda")
    buf.zero_()


def time_once(fn: Callable[[], object], device: str) -> float:
    if device == "cuda":  # CUDA events around the call alone; the L2 flush is outside them
        _flush_l2()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_alternating(fns: Dict[str, Callable[[], object]], device: str, repeats: int, warmup: int = 1,
                     min_seconds: float = 0.0) -> Dict[str, Dict[str, float]]:
    """Median and spread (min, max) seconds of each function, run in turn repeat after repeat.
    Repeats continue past `repeats` until min_seconds of wall time passed (for tiny cases)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    i = 0
    while i < repeats or (time.perf_counter() - start < min_seconds and i < 50 * repeats):
        for name, fn in fns.items():
            samples[name].append(time_once(fn, device))
        i += 1
    return {name: {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s), "repeats": len(s)}
            for name, s in samples.items()}


def _best_gflops(fn: Callable[[], object], flops: float, runs: int = 5) -> float:
    fn()
    return flops / min(time_once(fn, "cpu") for _ in range(runs)) / 1e9


def measure_cpu_matmul_gflops(n: int = 3072, dtype: torch.dtype = torch.float32) -> float:
    """The machine's compute ceiling in `dtype` as torch's own kernels reach it: the best of a
    large matmul (MKL/BLAS), a large 1x1 convolution and a 3x3 one (oneDNN), best of 5 runs each.
    All three count: MKL takes its AVX2 path on AMD CPUs while oneDNN uses AVX-512 there, and
    oneDNN's direct 3x3 kernels run faster than its 1x1 ones (2026-12-01, AMD EPYC, 2 threads:
    matmul ~210 GFLOP/s, 1x1 ~300, 3x3 ~470)."""
    conv = torch.nn.functional.conv2d
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    rates = [_best_gflops(lambda: torch.mm(a, b), 2 * n**3)]
    # A 1x1 convolution: K = C = n/3 over 4 images of about n/4 positions each.
    c1, side = n // 3, max(8, int(round((n / 4) ** 0.5)))
    x1, w1 = torch.randn(4, c1, side, side, dtype=dtype), torch.randn(c1, c1, 1, 1, dtype=dtype)
    rates.append(_best_gflops(lambda: conv(x1, w1), 2 * 4 * side * side * c1 * c1))
    # A VGG-like 3x3 convolution: K = C = n/6 on two 28x28 maps.
    c3 = n // 6
    x3, w3 = torch.randn(2, c3, 28, 28, dtype=dtype), torch.randn(c3, c3, 3, 3, dtype=dtype)
    rates.append(_best_gflops(lambda: conv(x3, w3, padding=1), 2 * 2 * 28 * 28 * c3 * c3 * 9))
    return max(rates)


def measure_cpu_copy_gbs(mb: int = 256) -> float:
    """Memory bandwidth ceiling: a large tensor copy, bytes read + written."""
    src = torch.randn(mb * 1024 * 1024 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(time_once(lambda: dst.copy_(src), "cpu") for _ in range(5))
    return 2 * src.numel() * 4 / best / 1e9


def measure_cuda_matmul_tflops(dtype: torch.dtype, n: int = 8192) -> float:
    """The GPU's compute ceiling in `dtype` as torch's own large matmul reaches it (float32 runs
    as TF32 when torch's matmul precision allows it), on random data (zeros run faster)."""
    a, b = torch.randn(n, n, device="cuda", dtype=dtype), torch.randn(n, n, device="cuda", dtype=dtype)
    torch.mm(a, b)
    best = min(time_once(lambda: torch.mm(a, b), "cuda") for _ in range(10))
    return 2 * n**3 / best / 1e12


def measure_cuda_copy_gbs(mb: int = 1024) -> float:
    """The GPU's memory-bandwidth ceiling: a large device copy, bytes read + written."""
    src = torch.randn(mb * 1024 * 1024 // 4, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(time_once(lambda: dst.copy_(src), "cuda") for _ in range(10))
    return 2 * src.numel() * 4 / best / 1e9


def ceiling_key(dtype_name: str) -> str:
    return f"matmul_{dtype_name}_gflops"


def measure_ceilings(device: str, dtype_names: Iterable[str]) -> Dict[str, float]:
    """The compute ceiling of each benchmarked dtype (a large matmul under that dtype's TF32
    setting) and the memory-bandwidth ceiling, measured now on `device`."""
    ceilings: Dict[str, float] = {}
    for name in dict.fromkeys(dtype_names):
        dtype = precision.DTYPES[name]
        with precision.fp32_mode(name):
            if device == "cuda":
                ceilings[ceiling_key(name)] = measure_cuda_matmul_tflops(dtype) * 1e3
            elif name == "tf32" and ceiling_key("float32") in ceilings:
                ceilings[ceiling_key(name)] = ceilings[ceiling_key("float32")]  # no TF32 on a CPU
            else:
                # Half types and float64 are slow on CPUs: a smaller matmul keeps this short.
                ceilings[ceiling_key(name)] = measure_cpu_matmul_gflops(3072 if dtype == torch.float32 else 1024, dtype)
    ceilings["copy_gbs"] = measure_cuda_copy_gbs() if device == "cuda" else measure_cpu_copy_gbs()
    return ceilings


def compute_ceiling(ceilings: Dict[str, float], dtype_name: str) -> float:
    """A dtype's matmul ceiling, also from older result files: 'matmul_gflops' (the one dtype of
    that run) or 'matmul_fp32_gflops' (float32 on a CPU)."""
    for key in (ceiling_key(dtype_name), "matmul_gflops", "matmul_fp32_gflops"):
        if key in ceilings:
            return ceilings[key]
    return float("nan")
