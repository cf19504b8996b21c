"""Runs the benchmark suites: cnnops against torch's own kernels on the same device, in one
process, every case checked for correctness before it is timed.

    python -m benchmarks                      # default CPU suites (ResNet-50, VGG-16, pooling), batch 8
    python -m benchmarks --suites pooling --passes fwd --repeats 10
    python -m benchmarks --device cuda --dtype bfloat16 --layout nhwc --batch 32   # against cuDNN
"""
import argparse
import datetime
import os
import sys

import torch

import cnnops

from . import cases as _cases
from . import report, suites, timing


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="cnnops-bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--suites", default=",".join(suites.DEFAULT_CPU_SUITES),
                   help="comma-separated: " + ", ".join(list(suites.CONV_SUITES) + list(suites.POOL_SUITES)))
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16", "float64"])
    p.add_argument("--layout", default="nchw", choices=["nchw", "nhwc"])
    p.add_argument("--passes", default="fwd,fwdbwd")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--filter", default="", help="only cases whose name contains this text")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"), help="results folder")
    return p.parse_args(argv)


def _conv_tf32_enabled() -> bool:
    """Whether torch's cuDNN (and so cnnops) runs float32 convolutions as TF32 now."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return conv.fp32_precision == "tf32"
    return torch.backends.cudnn.allow_tf32


def main(argv=None) -> int:
    args = parse_args(argv)
    dtype = getattr(torch, args.dtype)
    if args.device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    passes = set(args.passes.split(","))
    tol = {torch.float32: 1e-4, torch.float64: 1e-10}.get(dtype, 3e-2)
    if args.device == "cuda" and dtype == torch.float32 and _conv_tf32_enabled():
        tol = 5e-3  # both sides run float32 as TF32 (torch's default): 10-bit mantissas

    print("measuring the machine's ceilings ...", flush=True)
    if args.device == "cuda":
        # The compute ceiling in the benchmarked dtype (float32 as TF32 when torch allows it).
        ceilings = {"matmul_gflops": timing.measure_cuda_matmul_tflops(dtype) * 1e3,
                    "copy_gbs": timing.measure_cuda_copy_gbs()}
        if not torch._C._dispatch_has_kernel_for_dispatch_key("cnnops::conv2d_backward", "CUDA") and "fwdbwd" in passes:
            print("note: no CUDA backward kernels in this version; timing the forward pass only", flush=True)
            passes.discard("fwdbwd")
    else:
        ceilings = {"matmul_gflops": timing.measure_cpu_matmul_gflops(), "copy_gbs": timing.measure_cpu_copy_gbs()}
    machine = report.machine_info(args.device, ceilings)
    where = machine.get("gpu") or f"{machine['processor']}, {machine['torch_threads']} threads"
    print(f"{where}; ceilings: {args.dtype} matmul {ceilings['matmul_gflops']:.1f} GFLOP/s, "
          f"copy {ceilings['copy_gbs']:.1f} GB/s", flush=True)

    todo = []
    for suite in args.suites.split(","):
        if suite in suites.CONV_SUITES:
            for spec in suites.CONV_SUITES[suite]:
                todo += list(_cases.conv_cases(suite, spec, args.batch, dtype, args.device, args.layout, tol))
        elif suite in suites.POOL_SUITES:
            for spec in suites.POOL_SUITES[suite]:
                todo += list(_cases.pool_cases(suite, spec, args.batch, dtype, args.device, args.layout))
        else:
            sys.exit(f"unknown suite {suite!r}")
    todo = [c for c in todo if c.pass_ in passes and args.filter in c.name]

    rows = []
    for i, case in enumerate(todo, 1):
        row = {"suite": case.suite, "name": case.name, "pass": case.pass_, **case.info}
        err = case.check()
        if args.device == "cuda":
            row["kernel"] = cnnops.last_cuda_kernel("conv2d_forward") if case.flops else ""
        if err is not None:
            row["error"] = err
        else:
            t = timing.time_alternating({"ours": case.ours, "base": case.base}, args.device, args.repeats,
                                        min_seconds=0.2)
            ours, base = t["ours"]["median_s"], t["base"]["median_s"]
            row.update(ours_ms=ours * 1e3, base_ms=base * 1e3, ratio=ours / base, speedup=base / ours,
                       ours_spread_ms=[t["ours"]["min_s"] * 1e3, t["ours"]["max_s"] * 1e3],
                       base_spread_ms=[t["base"]["min_s"] * 1e3, t["base"]["max_s"] * 1e3], repeats=t["ours"]["repeats"])
            if case.flops:
                row.update(gflops=case.flops / ours / 1e9, base_gflops=case.flops / base / 1e9,
                           ceiling_fraction=case.flops / ours / 1e9 / ceilings["matmul_gflops"])
            else:
                row.update(gbs=case.bytes / ours / 1e9, base_gbs=case.bytes / base / 1e9,
                           ceiling_fraction=case.bytes / ours / 1e9 / ceilings["copy_gbs"])
        rows.append(row)
        print(f"[{i:3d}/{len(todo)}] " + report.format_row(row), flush=True)

    summary = report.summarize(rows)
    print("\ngeomean time ratio cnnops/torch (lower is better):")
    for k, v in summary.items():
        print(f"  {k:<36} {v:.3f}")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    paths = report.write_results(args.out, f"{args.device}-{stamp}", machine, rows, summary)
    print("results: " + ", ".join(paths))
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
