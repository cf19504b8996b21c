"""Runs the benchmark suites: cnnops against torch's own kernels on the same device, in one
process, every case checked for correctness before it is timed.

    python -m benchmarks                      # cpu-default: the seed networks' layers and pooling, float32 and
                                              # bfloat16, NCHW and NHWC, batch 8 (about 3 min, 2 cores)
    python -m benchmarks --suites pooling --passes fwd --repeats 10
    python -m benchmarks --suites resnet50 --passes dgrad,wgrad --filter 3x3
    python -m benchmarks --preset gpu-quick   # a few cases of every suite on CUDA, bf16 + tf32, NHWC
    python -m benchmarks --preset full --device cuda --time-budget 480
    python -m benchmarks --device cuda --dtype bfloat16,tf32 --layout nhwc --batch 1,32   # against cuDNN
    python -m benchmarks compare A.json B.json                                          # two runs side by side

Options left out come from the preset (--preset, default cpu-default); see benchmarks/presets.py.
dtypes: float32 (IEEE on both sides), tf32 (float32 tensors, TF32 allowed on both sides),
bfloat16, float16, float64. Passes: fwd, fwdbwd, dgrad (input gradient only), wgrad (weight
gradient only); the models suite's training step is selected by fwdbwd (or train).
"""
import argparse
import datetime
import os
import sys
import time

import torch

from . import cases as _cases
from . import chart, models, precision, presets, report, runner, suites, timing


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cnnops-bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--preset", choices=list(presets.PRESETS), help="a named selection (default cpu-default)")
    p.add_argument("--suites", help="comma-separated: " + ", ".join(suites.ALL_SUITES))
    p.add_argument("--device", choices=["cpu", "cuda"])
    p.add_argument("--batch", help="batch size(s), comma-separated (DeepBench entries keep their own)")
    p.add_argument("--dtype", help="comma-separated: " + ", ".join(precision.DTYPES))
    p.add_argument("--layout", help="comma-separated: nchw, nhwc")
    p.add_argument("--passes", help="comma-separated: fwd, fwdbwd, dgrad, wgrad (models: fwd, train)")
    p.add_argument("--repeats", type=int, help="timed repeats per case (at least; tiny cases run longer)")
    p.add_argument("--time-budget", type=float, dest="time_budget",
                   help="seconds: once the run has taken this long, the remaining cases are recorded as skipped")
    p.add_argument("--cases", choices=["all", "cpu", "quick"],
                   help="layers of each suite: all, cpu (suites.CPU_CASES: the default CPU run's) or quick "
                        "(suites.QUICK_CASES); default: the preset's, or all when --suites is given")
    p.add_argument("--filter", default="", help="only cases whose name contains this text")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"), help="results folder")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    p.add_argument("--list", action="store_true",
                   help="print the selected cases and exit: no device is touched (the GPU check's dry run)")
    args = presets.resolve(p.parse_args(argv))
    for what, values, allowed in (("suite", args.suites, suites.ALL_SUITES), ("dtype", args.dtype, precision.DTYPES),
                                  ("layout", args.layout, ("nchw", "nhwc")),
                                  ("pass", args.passes, _cases.CONV_PASSES + models.PASSES)):
        bad = [v for v in values if v not in allowed]
        if bad:
            p.error(f"unknown {what} {', '.join(bad)}; choose from {', '.join(allowed)}")
    return args


def select_cases(args: argparse.Namespace):
    """The cases of the selection, in suite order (nothing allocated yet)."""
    passes = set(args.passes) | ({"train"} if "fwdbwd" in args.passes else set())
    todo = []
    for suite in args.suites:
        if suite in suites.CONV_SUITES:
            found = _cases.cases_for(suite, suites.CONV_SUITES[suite], args.batch, args.dtype, args.device,
                                     args.layout, _cases.conv_cases)
        elif suite in suites.POOL_SUITES:
            found = _cases.cases_for(suite, suites.POOL_SUITES[suite], args.batch, args.dtype, args.device,
                                     args.layout, _cases.pool_cases)
        else:
            found = (c for batch in args.batch for dtype in args.dtype for layout in args.layout
                     for name in suites.MODELS for c in models.model_cases(name, batch, dtype, args.device, layout))
        for case in found:
            if case.pass_ not in passes or args.filter not in case.name:
                continue
            chosen = {"quick": suites.QUICK_CASES, "cpu": suites.CPU_CASES}.get(args.cases)
            if chosen is not None and case.name not in chosen.get(suite, ()):
                continue
            todo.append(case)
    return todo


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        from . import compare

        return compare.main(argv[1:])
    args = parse_args(argv)
    if args.list:
        todo = select_cases(args)
        for case in todo:
            extra = " ".join(f"{k}={case.info[k]}" for k in ("dtype", "layout", "batch") if k in case.info)
            print(f"{case.suite:<12} {case.pass_:<7} {case.name}  {extra}")
        print(f"preset {args.preset}: {len(todo)} cases on {args.device}"
              + (f", time budget {args.time_budget:g} s" if args.time_budget is not None else ""))
        return 0
    if args.device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    elif not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device here")
    else:
        torch.backends.cudnn.benchmark = False  # the `base` baseline; base_benchmark sets it per call
    todo = select_cases(args)
    if args.device == "cuda" and not torch._C._dispatch_has_kernel_for_dispatch_key("cnnops::conv2d_backward", "CUDA"):
        print("note: no CUDA backward kernels in this build; timing forward passes only", flush=True)
        todo = [c for c in todo if c.pass_ == "fwd"]

    print(f"preset {args.preset}: {len(todo)} cases; measuring the machine's ceilings ...", flush=True)
    ceilings = timing.measure_ceilings(args.device, args.dtype)
    machine = report.machine_info(args.device, ceilings)
    where = machine.get("gpu") or f"{machine['processor']}, {machine['torch_threads']} threads"
    print(f"{where}; ceilings: " + ", ".join(f"{k} {v:.1f}" for k, v in ceilings.items()), flush=True)

    rows = []
    progress = report.Progress(len(todo))
    start = time.perf_counter()
    for case in todo:
        case_start = time.perf_counter()
        if args.time_budget is not None and case_start - start > args.time_budget:
            row = runner.skipped_row(case, f"time budget of {args.time_budget:g} s used up")
        else:
            row = runner.run_case(case, args.device, args.repeats, ceilings)
            row["wall_s"] = time.perf_counter() - case_start  # build, check, warm-up and repeats
        rows.append(row)
        progress.row(report.format_row(row))
    progress.close()
    elapsed = time.perf_counter() - start

    summary = report.summarize(rows)
    print(f"\ngeomean speedup per suite, dtype, layout and pass ({elapsed:.0f} s of cases):")
    print("\n".join("  " + line for line in report.summary_lines(summary)))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = f"{args.device}-{stamp}"
    settings = {k: getattr(args, k) for k in ("preset", "suites", "batch", "dtype", "layout", "passes", "repeats",
                                              "time_budget", "filter", "cases")}
    settings["seconds"] = elapsed
    paths = report.write_results(args.out, stem, machine, rows, summary, settings)
    if not args.no_chart:
        png = chart.write_chart(os.path.join(args.out, stem + ".png"), rows, ceilings,
                                title=f"cnnops vs torch: {where}, preset {args.preset}, {stamp}")
        paths += [png] if png else []
    print("results: " + ", ".join(paths))
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
