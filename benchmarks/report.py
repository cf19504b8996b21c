"""Reporting: the progress bar and per-case lines, the geomean speedup table, and the JSON and
markdown result files (the PNG chart is chart.py's)."""
import json
import math
import os
import platform
import sys
from typing import Dict, Iterable, List

import torch

import cnnops

from . import precision

GROUP_KEYS = ("suite", "dtype", "layout", "pass")


def geomean(values: Iterable[float]) -> float:
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def machine_info(device: str, ceilings: Dict[str, float]) -> Dict[str, object]:
    info = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cnnops": cnnops.__version__,
        "cnnops_build": cnnops.build_info(),
        "device": device,
        "ceilings": ceilings,
        # The TF32 flags outside the cases; each case sets them for its dtype (precision.py):
        # float32 -> ieee, tf32 -> tf32, on both sides.
        "fp32_precision_flags": precision.flag_state(),
        "fp32_precision_per_dtype": {"float32": "ieee", "tf32": "tf32"},
    }
    if device == "cuda":
        info.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    cudnn_benchmark_baseline="base_ms: cudnn.benchmark=False; base_benchmark_ms: True")
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def format_row(r: Dict[str, object]) -> str:
    head = f"{r['suite']:<11} {r['name']:<27} {r['pass']:<6} {r.get('dtype', ''):<8} {r.get('layout', ''):<4}"
    if r.get("skipped"):
        return f"{head} skipped: {r['skipped']}"
    if r.get("error"):
        return f"{head} MISMATCH/ERROR: {r['error']}"
    rate = f"{r['gflops']:8.1f} GFLOP/s" if "gflops" in r else f"{r['gbs']:8.2f} GB/s   "
    bench = f" (cudnn.benchmark {r['speedup_vs_benchmark']:5.2f}x)" if "speedup_vs_benchmark" in r else ""
    return (f"{head} cnnops {r['ours_ms']:9.3f} ms  torch {r['base_ms']:9.3f} ms  speedup {r['speedup']:5.2f}x{bench}"
            f"  {rate} ({100 * r['ceiling_fraction']:4.1f}% of ceiling)")


def summarize(rows: List[Dict[str, object]]) -> List[Dict[str, object]]:
    """Geometric-mean speedup (torch time / cnnops time; > 1: cnnops faster) per suite, dtype,
    layout and pass, with the counts of cases that failed or were skipped."""
    groups: Dict[tuple, List[Dict[str, object]]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k, "") for k in GROUP_KEYS), []).append(r)
    summary = []
    for key, members in groups.items():
        timed = [r for r in members if "speedup" in r]
        entry = dict(zip(GROUP_KEYS, key), cases=len(timed),
                     errors=sum(1 for r in members if r.get("error")),
                     skipped=sum(1 for r in members if r.get("skipped")),
                     geomean_speedup=geomean(r["speedup"] for r in timed))
        if timed:
            entry.update(min_speedup=min(r["speedup"] for r in timed), max_speedup=max(r["speedup"] for r in timed))
        if any("speedup_vs_benchmark" in r for r in timed):
            entry["geomean_speedup_vs_benchmark"] = geomean(r["speedup_vs_benchmark"] for r in timed
                                                            if "speedup_vs_benchmark" in r)
        summary.append(entry)
    return summary


def summary_lines(summary: List[Dict[str, object]]) -> List[str]:
    """The end-of-run table as text lines."""
    bench = any("geomean_speedup_vs_benchmark" in s for s in summary)
    head = f"{'suite':<12} {'dtype':<9} {'layout':<6} {'pass':<7} {'cases':>5} {'geomean':>8} {'min':>6} {'max':>6}"
    lines = [head + (f" {'vs cudnn.benchmark':>18}" if bench else "") + "  (speedup = torch time / cnnops time)"]
    for s in summary:
        line = (f"{s['suite']:<12} {s['dtype']:<9} {s['layout']:<6} {s['pass']:<7} {s['cases']:>5} "
                f"{s['geomean_speedup']:>7.2f}x {s.get('min_speedup', float('nan')):>5.2f}x "
                f"{s.get('max_speedup', float('nan')):>5.2f}x")
        if bench:
            line += f" {s.get('geomean_speedup_vs_benchmark', float('nan')):>17.2f}x"
        if s["errors"] or s["skipped"]:
            line += f"  ({s['errors']} failed, {s['skipped']} skipped)"
        lines.append(line)
    return lines


class Progress:
    """A tqdm progress bar whose per-case lines go through tqdm.write (so the bar stays at the
    bottom); plain printing where tqdm is not installed (the GPU machines' own Python)."""

    def __init__(self, total: int):
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - depends on the environment
            tqdm = None
        # disable=None: no bar when the output is not a terminal (logs keep only the lines).
        self._bar = tqdm(total=total, unit="case", dynamic_ncols=True, disable=None) if tqdm else None
        self._write = tqdm.write if tqdm else (lambda s: print(s, flush=True))
        self._total, self._done = total, 0

    def row(self, line: str) -> None:
        self._done += 1
        self._write(f"[{self._done:3d}/{self._total}] {line}")
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        sys.stdout.flush()


def write_results(out_dir: str, stem: str, machine: Dict[str, object], rows, summary, settings=None) -> List[str]:
    """Writes STEM.json (everything) and STEM.md (the tables) to out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, stem + ".json")
    with open(json_path, "w") as f:
        json.dump({"machine": machine, "settings": settings or {}, "summary": summary, "cases": rows}, f, indent=1)
    md_path = os.path.join(out_dir, stem + ".md")
    with open(md_path, "w") as f:
        where = machine.get("gpu") or f"{machine['processor']}, {machine['torch_threads']} threads"
        f.write(f"# cnnops benchmark ({machine['device']}, {where}, torch {machine['torch']})\n\n")
        f.write("Speedup = torch time / cnnops time (> 1: cnnops is faster). Both timed alternately in one "
                "process, median of the repeats; each case checked against torch first.\n\n")
        f.write("Ceilings measured in the same run: "
                + ", ".join(f"{k} {v:.1f}" for k, v in machine["ceilings"].items()) + "\n\n")
        bench = any("geomean_speedup_vs_benchmark" in s for s in summary)
        f.write("| suite | dtype | layout | pass | cases | geomean speedup | min | max |"
                + (" vs cudnn.benchmark |" if bench else "") + "\n|---|---|---|---|---|---|---|---|"
                + ("---|" if bench else "") + "\n")
        for s in summary:
            f.write(f"| {s['suite']} | {s['dtype']} | {s['layout']} | {s['pass']} | {s['cases']} | "
                    f"{s['geomean_speedup']:.3f} | {s.get('min_speedup', float('nan')):.2f} | "
                    f"{s.get('max_speedup', float('nan')):.2f} |"
                    + (f" {s.get('geomean_speedup_vs_benchmark', float('nan')):.3f} |" if bench else "") + "\n")
        f.write("\n| suite | case | pass | dtype | layout | N | cnnops ms | torch ms | speedup | rate | % ceiling |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            head = (f"| {r['suite']} | {r['name']} | {r['pass']} | {r.get('dtype', '')} | {r.get('layout', '')} | "
                    f"{r.get('N', '')} |")
            if r.get("skipped") or r.get("error"):
                what = f"skipped: {r['skipped']}" if r.get("skipped") else f"mismatch/error: {r['error']}"
                f.write(f"{head} {what} | | | | |\n")
                continue
            rate = f"{r['gflops']:.1f} GFLOP/s" if "gflops" in r else f"{r['gbs']:.2f} GB/s"
            f.write(f"{head} {r['ours_ms']:.3f} | {r['base_ms']:.3f} | {r['speedup']:.3f} | {rate} | "
                    f"{100 * r['ceiling_fraction']:.1f}% |\n")
    return [json_path, md_path]
