"""The GPU check's results file (benchmarks/gpu_check.sh): the machine, the plan, each phase's
outcome the moment it ends, ncu's counters per kernel, and the closing table.

    python -m benchmarks.gpu_check_results init JSON --dry-run 0|1 --budget S --plan PLAN
    python -m benchmarks.gpu_check_results record JSON PHASE STATUS SECONDS OUTPUT_FILE
    python -m benchmarks.gpu_check_results ncu JSON CSV_FILE
    python -m benchmarks.gpu_check_results build-estimate [NINJA_LOG] [--jobs 16]
    python -m benchmarks.gpu_check_results summary JSON

PLAN is 'name:expected:cap,...' in seconds. Every write rewrites the whole file (a cut-off run
leaves a complete JSON of what had ended).
"""
import argparse
import csv
import io
import json
import os
import platform
import subprocess
import sys


def _load(path):
    with open(path) as f:
        return json.load(f)


def _save(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def _run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unavailable: {e}"


def machine_info():
    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_count": os.cpu_count(),
        "git_commit": _run(["git", "rev-parse", "HEAD"]),
        "device": None,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(device=props.name, capability="%d.%d" % (props.major, props.minor),
                    sm_count=props.multi_processor_count, memory_gib=round(props.total_memory / 2**30, 1),
                    nvidia_smi=_run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                     "--format=csv,noheader"]))
    return info


def parse_plan(text):
    plan = []
    for item in filter(None, text.split(",")):
        name, expected, cap = item.split(":")
        plan.append({"phase": name, "expected_s": float(expected), "cap_s": float(cap)})
    return plan


def init(path, dry_run, budget, plan_text):
    plan = parse_plan(plan_text)
    data = {"kind": "dry run (no GPU used)" if dry_run else "GPU run", "machine": machine_info(), "budget_s": budget,
            "plan": plan, "expected_total_s": sum(p["expected_s"] for p in plan), "phases": {}}
    _save(path, data)
    print(f"machine: {json.dumps(data['machine'])}")
    print(f"budget {budget:g} s; plan (expected / cap, seconds):")
    for p in plan:
        print(f"  {p['phase']:<20} {p['expected_s']:6.0f} / {p['cap_s']:4.0f}")
    print(f"  {'expected total':<20} {data['expected_total_s']:6.0f}")


def record(path, phase, status, seconds, output_file):
    data = _load(path)
    tail = ""
    if output_file and os.path.exists(output_file):
        with open(output_file, errors="replace") as f:
            tail = f.read()[-4000:]
    data["phases"][phase] = {"status": status, "seconds": float(seconds), "output_tail": tail}
    _save(path, data)


# ncu's names for what the issue asks of each profiled kernel, and the short names kept.
NCU_METRICS = {
    "gpu__time_duration.sum": "time",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum": "shared_ld_bank_conflicts",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum": "shared_st_bank_conflicts",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum": "shared_ld_wavefronts",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_st.sum": "shared_st_wavefronts",
    "sm__inst_issued.avg.pct_of_peak_sustained_active": "issue_slots_busy_pct",
    "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active": "tensor_pipe_active_pct",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": "dram_throughput_pct",
    "dram__bytes_read.sum": "dram_bytes_read",
    "dram__bytes_write.sum": "dram_bytes_write",
    "launch__registers_per_thread": "registers",
}


def _number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def parse_ncu_csv(text):
    """One dict per profiled kernel from ncu's --csv output, either page: `raw` (a header row of
    metric names, a row of units, a row per kernel: the metrics above under their short names)
    or `details` (a row per kernel, section and metric: every metric under 'Section: Name')."""
    lines = [l for l in text.splitlines() if l.startswith('"')]  # ncu's own notes start with '=='
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if len(rows) < 2:
        return []
    header, body = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    kernels = {}
    if "Metric Name" in header:  # details page
        for cells in body:
            k = kernels.setdefault(cells.get("ID", ""), {"kernel": cells.get("Kernel Name", "")[:200]})
            name = f"{cells.get('Section Name', '')}: {cells['Metric Name']}"
            k[name] = _number(cells.get("Metric Value", ""))
            if cells.get("Metric Unit"):
                k[name + " [unit]"] = cells["Metric Unit"]
        return list(kernels.values())
    units = {}
    if body and not body[0].get("ID", "").strip().isdigit():  # the raw page's units row
        units, body = body[0], body[1:]
    for cells in body:
        k = {"kernel": cells.get("Kernel Name", "")[:200]}
        for metric, short in NCU_METRICS.items():
            if metric in cells:
                k[short] = _number(cells[metric])
                if units.get(metric):
                    k[short + "_unit"] = units[metric]
        kernels[cells.get("ID", str(len(kernels)))] = k
    return list(kernels.values())


def ncu(path, csv_file):
    with open(csv_file, errors="replace") as f:
        kernels = parse_ncu_csv(f.read())
    data = _load(path)
    data["ncu"] = {"kernels": kernels, "note": "measured by ncu --clock-control none, one launch each"}
    _save(path, data)
    for k in kernels:
        print("ncu:", json.dumps(k))
    if not kernels:
        print("ncu: no kernel rows in its output", file=sys.stderr)
        return 1
    return 0


def build_estimate(ninja_log, jobs):
    """Seconds the extension's compile would take with `jobs` parallel jobs, from this machine's
    ninja log (each object's compile time): the longer of the longest single object and the
    total divided over the jobs -- a model, assuming the other machine's cores are as fast."""
    durations = {}
    with open(ninja_log) as f:
        for line in f:
            if line.startswith("#"):
                continue
            start, end, _, output, _ = line.rstrip("\n").split("\t")
            durations[output] = (int(end) - int(start)) / 1000.0  # the latest entry per object wins
    if not durations:
        raise SystemExit(f"{ninja_log}: no entries")
    total, longest = sum(durations.values()), max(durations.values())
    estimate = max(longest, total / jobs)
    print(f"build estimate with {jobs} jobs: {estimate:.0f} s (a model: {len(durations)} objects, "
          f"{total:.0f} s of compiling here, longest {longest:.0f} s)")
    return estimate


def summary(path):
    data = _load(path)
    print(f"\nGPU check summary ({data['kind']}; budget {data['budget_s']:g} s):")
    total = 0.0
    for p in data["plan"]:
        got = data["phases"].get(p["phase"])
        if got is None:
            print(f"  {p['phase']:<20} not reached")
            continue
        total += got["seconds"]
        print(f"  {p['phase']:<20} {got['seconds']:5.0f} s  {got['status']}")
    print(f"  {'total':<20} {total:5.0f} s")
    failed = [n for n, got in data["phases"].items() if got["status"].startswith(("fail", "timeout"))]
    return 1 if failed else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check_results", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("init")
    a.add_argument("json")
    a.add_argument("--dry-run", type=int, default=0)
    a.add_argument("--budget", type=float, required=True)
    a.add_argument("--plan", required=True)
    a = sub.add_parser("record")
    for name in ("json", "phase", "status", "seconds", "output_file"):
        a.add_argument(name)
    a = sub.add_parser("ncu")
    a.add_argument("json")
    a.add_argument("csv_file")
    a = sub.add_parser("build-estimate")
    a.add_argument("ninja_log", nargs="?", default=os.path.join("build", "temp-cuda", ".ninja_log"))
    a.add_argument("--jobs", type=int, default=16)
    a = sub.add_parser("summary")
    a.add_argument("json")
    args = p.parse_args(argv)
    if args.cmd == "init":
        init(args.json, bool(args.dry_run), args.budget, args.plan)
    elif args.cmd == "record":
        record(args.json, args.phase, args.status, args.seconds, args.output_file)
    elif args.cmd == "ncu":
        return ncu(args.json, args.csv_file)
    elif args.cmd == "build-estimate":
        build_estimate(args.ninja_log, args.jobs)
    else:
        return summary(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
