"""`python -m benchmarks compare A.json B.json`: two result files side by side.

Cases are joined on (suite, name, pass, dtype, layout, N); for each, both cnnops times and
speedups and the ratio B/A of the cnnops times (< 1: B is faster), then the geometric mean of
that ratio and the cases only one file has. Older files load too: their ceilings may be keyed
'matmul_fp32_gflops' or 'matmul_gflops', and their cases may lack a speedup field (it is
1 / ratio there).
"""
import argparse
import json
import sys
from typing import Dict, List, Tuple

from .report import geomean

JOIN_KEYS = ("suite", "name", "pass", "dtype", "layout", "N")


def load(path: str) -> Tuple[Dict[str, object], List[Dict[str, object]]]:
    """(machine info, case rows) of a result file, with the rows' speedups filled in."""
    with open(path) as f:
        data = json.load(f)
    rows = []
    for r in data.get("cases", []):
        r = dict(r)
        if "speedup" not in r and r.get("ratio"):
            r["speedup"] = 1.0 / r["ratio"]
        r.setdefault("dtype", "float32")
        r.setdefault("layout", "nchw")
        rows.append(r)
    return data.get("machine", {}), rows


def join(a_rows, b_rows):
    """(matched (key, a, b) in A's order, keys only in A, keys only in B)."""
    key = lambda r: tuple(r.get(k) for k in JOIN_KEYS)  # noqa: E731
    b_by_key = {key(r): r for r in b_rows}
    a_keys = {key(r) for r in a_rows}
    matched = [(key(r), r, b_by_key[key(r)]) for r in a_rows if key(r) in b_by_key]
    return matched, [k for k in (key(r) for r in a_rows) if k not in b_by_key], [k for k in b_by_key if k not in a_keys]


def describe(label: str, path: str, machine: Dict[str, object]) -> str:
    where = machine.get("gpu") or f"{machine.get('processor', '?')}, {machine.get('torch_threads', '?')} threads"
    ceilings = ", ".join(f"{k} {v:.1f}" for k, v in machine.get("ceilings", {}).items())
    return (f"{label}: {path}\n   {machine.get('device', '?')} ({where}), torch {machine.get('torch', '?')}; "
            f"ceilings: {ceilings}")


def _cell(r: Dict[str, object]) -> str:
    if "ours_ms" not in r:
        return f"{'skipped' if r.get('skipped') else 'failed':>19}"
    return f"{r['ours_ms']:10.3f} {r['speedup']:7.2f}x"


def compare_lines(a_path: str, b_path: str) -> List[str]:
    a_machine, a_rows = load(a_path)
    b_machine, b_rows = load(b_path)
    matched, only_a, only_b = join(a_rows, b_rows)
    lines = [describe("A", a_path, a_machine), describe("B", b_path, b_machine), "",
             f"{'suite':<11} {'case':<27} {'pass':<6} {'dtype':<8} {'layout':<6} {'N':>3}"
             f" {'A cnnops ms':>11} {'A spd':>7} {'B cnnops ms':>11} {'B spd':>7} {'B/A time':>8}"]
    ratios, speedups_a, speedups_b = [], [], []
    for (suite, name, pass_, dtype, layout, n), a, b in matched:
        line = f"{suite:<11} {name:<27} {pass_:<6} {dtype:<8} {layout:<6} {n!s:>3} {_cell(a)} {_cell(b)}"
        if "ours_ms" in a and "ours_ms" in b:
            ratios.append(b["ours_ms"] / a["ours_ms"])
            speedups_a.append(a["speedup"])
            speedups_b.append(b["speedup"])
            line += f" {ratios[-1]:8.3f}"
        lines.append(line)
    lines.append("")
    lines.append(f"{len(matched)} cases in both; geomean cnnops time B/A {geomean(ratios):.3f} over {len(ratios)} "
                 f"timed in both (< 1: B faster); {len(only_a)} only in A, {len(only_b)} only in B")
    lines.append(f"geomean speedup vs torch over those: A {geomean(speedups_a):.3f}x, B {geomean(speedups_b):.3f}x")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="cnnops-bench compare", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("a", help="result JSON (the reference)")
    p.add_argument("b", help="result JSON (compared to A)")
    args = p.parse_args(argv)
    print("\n".join(compare_lines(args.a, args.b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
