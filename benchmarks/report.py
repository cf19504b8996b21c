"""Reporting: the console table, geometric means, and the JSON and markdown result files."""
import json
import math
import os
import platform
from typing import Dict, List

import torch

import cnnops


def geomean(values: List[float]) -> float:
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
    }
    if device == "cuda":
        info.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
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
    if r.get("error"):
        return f"{r['suite']:<9} {r['name']:<28} {r['pass']:<7} MISMATCH: {r['error']}"
    rate = f"{r['gflops']:8.1f} GFLOP/s" if "gflops" in r else f"{r['gbs']:8.2f} GB/s   "
    return (f"{r['suite']:<9} {r['name']:<28} {r['pass']:<7} cnnops {r['ours_ms']:9.3f} ms  torch {r['base_ms']:9.3f} ms"
            f"  ratio {r['ratio']:5.2f}  {rate}  ({100 * r['ceiling_fraction']:4.1f}% of ceiling)")


def summarize(rows: List[Dict[str, object]]) -> Dict[str, float]:
    """Geometric mean of time ratios (cnnops / torch; < 1 is faster) per suite and pass."""
    groups: Dict[str, List[float]] = {}
    for r in rows:
        if "ratio" in r:
            groups.setdefault(f"{r['suite']} {r['pass']}", []).append(r["ratio"])
            if r["suite"] != "pooling" and not r["name"].startswith(("stem", "conv1_1")):
                groups.setdefault(f"conv (3x3+1x1 targets) {r['pass']}", []).append(r["ratio"])
    return {k: geomean(v) for k, v in groups.items()}


def write_results(out_dir: str, stem: str, machine: Dict[str, object], rows, summary) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, stem + ".json")
    with open(json_path, "w") as f:
        json.dump({"machine": machine, "summary_time_ratio_geomean": summary, "cases": rows}, f, indent=1)
    md_path = os.path.join(out_dir, stem + ".md")
    with open(md_path, "w") as f:
        f.write(f"# cnnops benchmark ({machine['device']}, {machine['processor']}, "
                f"{machine['torch_threads']} threads, torch {machine['torch']})\n\n")
        f.write("Time ratio = cnnops time / torch time (lower is better; < 1 means cnnops is faster). "
                "Both timed alternately in one process, median of the repeats.\n\n")
        f.write("Ceilings measured in the same run: " + ", ".join(f"{k} {v:.1f}" for k, v in machine["ceilings"].items())
                + "\n\n| group | geomean time ratio |\n|---|---|\n")
        for k, v in summary.items():
            f.write(f"| {k} | {v:.3f} |\n")
        f.write("\n| suite | case | pass | cnnops ms | torch ms | ratio | rate | % ceiling |\n|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            if r.get("error"):
                f.write(f"| {r['suite']} | {r['name']} | {r['pass']} | mismatch: {r['error']} | | | | |\n")
                continue
            rate = f"{r['gflops']:.1f} GFLOP/s" if "gflops" in r else f"{r['gbs']:.2f} GB/s"
            f.write(f"| {r['suite']} | {r['name']} | {r['pass']} | {r['ours_ms']:.3f} | {r['base_ms']:.3f} | "
                    f"{r['ratio']:.3f} | {rate} | {100 * r['ceiling_fraction']:.1f}% |\n")
    return [json_path, md_path]
