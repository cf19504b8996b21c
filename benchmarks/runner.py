"""Runs one case into one result row: build it, check it against torch, time both sides (and
torch with cudnn.benchmark on CUDA convolutions), and derive the rates."""
from typing import Dict, Optional

import cnnops

from . import precision, timing
from .cases import Case

# Each case is repeated until this much wall time passed (at least --repeats times), so tiny
# cases get a stable median without large ones taking long. A CPU's wall clock needs more
# samples than CUDA events, where --repeats (20 in the GPU presets) already is enough.
MIN_SECONDS = {"cpu": 0.1, "cuda": 0.05}


def skipped_row(case: Case, why: str) -> Dict[str, object]:
    return {"suite": case.suite, "name": case.name, "pass": case.pass_, **case.info, "skipped": why}


def run_case(case: Case, device: str, repeats: int, ceilings: Dict[str, float],
             min_seconds: Optional[float] = None) -> Dict[str, object]:
    row: Dict[str, object] = {"suite": case.suite, "name": case.name, "pass": case.pass_, **case.info}
    dtype_name = str(case.info.get("dtype", "float32"))
    try:
        with precision.fp32_mode(dtype_name):
            if dtype_name in ("float32", "tf32"):  # the flag state the case actually ran under
                row["conv_tf32"] = precision.conv_tf32_enabled()
            fns = case.build()
            err = fns.check()
            if device == "cuda" and case.kernel_ops:
                row["kernel"] = ", ".join(k for k in (cnnops.last_cuda_kernel(op) for op in case.kernel_ops) if k)
            if err is not None:
                row["error"] = err
                return row
            to_time = {"ours": fns.ours, "base": fns.base}
            if fns.base_benchmark is not None:
                to_time["base_benchmark"] = fns.base_benchmark
            # The check has run both sides once: on a CPU that is the warm-up. On CUDA two more
            # rounds: the first call of a shape with cudnn.benchmark=True autotunes (the check
            # does not run that side), and lazily loaded kernels are loaded by then.
            t = timing.time_alternating(to_time, device, repeats, warmup=2 if device == "cuda" else 0,
                                        min_seconds=MIN_SECONDS[device] if min_seconds is None else min_seconds)
    except (NotImplementedError, ImportError) as e:  # no kernel (or no torchvision) for it here
        return skipped_row(case, f"not supported: {str(e).splitlines()[0][:200]}")
    except Exception as e:  # noqa: BLE001 - one broken case is reported; the run goes on
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        return row

    ours, base = t["ours"]["median_s"], t["base"]["median_s"]
    row.update(ours_ms=ours * 1e3, base_ms=base * 1e3, ratio=ours / base, speedup=base / ours,
               ours_spread_ms=[t["ours"]["min_s"] * 1e3, t["ours"]["max_s"] * 1e3],
               base_spread_ms=[t["base"]["min_s"] * 1e3, t["base"]["max_s"] * 1e3], repeats=t["ours"]["repeats"])
    if "base_benchmark" in t:
        bench = t["base_benchmark"]["median_s"]
        row.update(base_benchmark_ms=bench * 1e3, speedup_vs_benchmark=bench / ours,
                   base_benchmark_spread_ms=[t["base_benchmark"]["min_s"] * 1e3, t["base_benchmark"]["max_s"] * 1e3])
    flops = fns.flops if fns.flops is not None else case.flops
    if flops:
        row.update(flops=flops, gflops=flops / ours / 1e9, base_gflops=flops / base / 1e9,
                   ceiling_fraction=flops / ours / 1e9 / timing.compute_ceiling(ceilings, dtype_name))
        if case.bytes:  # for the roofline: FLOPs per byte that must move at least
            row.update(bytes=case.bytes, intensity=flops / case.bytes)
    elif case.bytes:
        row.update(bytes=case.bytes, gbs=case.bytes / ours / 1e9, base_gbs=case.bytes / base / 1e9,
                   ceiling_fraction=case.bytes / ours / 1e9 / ceilings["copy_gbs"])
    return row
