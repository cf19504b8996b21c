"""A performance MODEL of the CUDA convolution forward on an H100 / H200, built without a GPU.
Every number it prints is derived, not measured, and is labelled so; measured GPU times come
only from the GPU check and are never mixed into these columns.

What goes in, per layer (batch 32 by default, bfloat16 channels-last):
- the kernel configuration the host code picks for the real shape on a 132-SM GPU
  (cnnops._sim.conv2d_forward_plan: tile, 1x1 variant) and its grid;
- counters from the simulator running the real launch on a sample of its blocks, spread over the
  grid (cnnops._sim.set_profiling): mma.sync instructions, shared-memory wavefronts of every
  ldmatrix / cp.async / ld.shared against their conflict-free ideal, and global 32-byte sectors of
  every cp.async load and epilogue store against the minimum (csrc/sim/memory_cost.h has the
  rules) -- scaled from the sampled blocks to the whole grid;
- the main loop's instructions per HMMA read from the built SASS (benchmarks/sass.py), when the
  build has a CUDA part and cuobjdump is installed.
With --wgmma, the Hopper kernel (conv2d_fprop_wgmma_kernel.cuh) instead: its wgmma count from the
simulator in HMMA.16816 equivalents (one m64nNk16 = N/2 of them), and its operand reads, which the
memory counters do not see, added analytically: A (64 rows x 32 bytes) and B (N rows x 32 bytes)
per wgmma from 128-byte-swizzled rows, conflict-free, so (2048 + 32 N) / 128 wavefronts -- the
assumption that wgmma reads shared memory at the same 128 bytes per cycle per SM as ldmatrix;
no issue term (a handful of instructions per wgmma).

Each is turned into a time on the machine's ceilings (shared/notes/performance-facts.md):
  tensor  HMMA / (1 HMMA.16816 per cycle per SM: one per 4 cycles on each of 4 sub-partitions)
  issue   HMMA x main-loop instructions per HMMA / (4 instructions per cycle per SM)
  smem    wavefronts / (1 wavefront = 128 bytes per cycle per SM)
  dram    the compulsory bytes (input, filters, output once) / HBM bandwidth
SM-side times are spread over the SMs and stretched by the last wave's idle SMs (blocks resident
per SM from the tile's __launch_bounds__). The largest term is the layer's bound; the time is that
term alone (perfect overlap), so the model is optimistic by construction.

    python -m benchmarks.model                        # ResNet-50, VGG-16, GoogLeNet, AlexNet, H200
    python -m benchmarks.model --suites resnet50 --machine H100 --sample-blocks 4 --out table.md
"""
import argparse
import json
import math
import re
import sys
import time
from typing import Dict, List, NamedTuple, Optional

import torch

from .suites import CONV_SUITES, ConvSpec


class Machine(NamedTuple):
    name: str
    sms: int
    clock_hz: float     # the clock at which 4096 FLOP/cycle/SM gives the datasheet's dense peak
    hbm_bytes_s: float  # measured copy bandwidth where known, else the datasheet's
    source: str


_PEAK = 989e12  # H100 SXM / H200 dense bf16 tensor FLOP/s (datasheet)
MACHINES = {
    "H200": Machine("H200", 132, _PEAK / (132 * 4096), 4.3e12,
                    "132 SMs; dense bf16 989 TFLOP/s (datasheet; a bf16 matmul measured ~790); "
                    "HBM copy measured ~4.3 TB/s"),
    "H100": Machine("H100", 132, _PEAK / (132 * 4096), 3.35e12,
                    "132 SMs; dense bf16 989 TFLOP/s, HBM3 3.35 TB/s (datasheet)"),
}
MMA_FLOP = 16 * 8 * 16 * 2  # one mma.sync.m16n8k16
ISSUE_PER_SM = 4       # instructions per cycle per SM (one per sub-partition)
DEFAULT_SUITES = ["resnet50", "vgg16", "googlenet", "alexnet"]
_PLAN = re.compile(r"fprop_(tc|wgmma)(1x1)?_(\d+)x(\d+)x(\d+)_s(\d+)<(\w+)>")
# Blocks per SM by tile (M, N): conv2d_fprop_tc_tiles.h's kMinBlocksPerSm (__launch_bounds__);
# the Hopper kernel's tiles run one block per SM.
_RESIDENT = {(256, 128): 1, (128, 128): 2, (128, 64): 3, (64, 64): 4}
_RESIDENT_WGMMA = 1


class LayerModel(NamedTuple):
    suite: str
    name: str
    kernel: str
    blocks: int
    waves: float
    gflop: float
    hmma: float
    smem_per_hmma: float     # shared-memory wavefronts per HMMA (1 keeps up with the tensor cores)
    issue_per_hmma: Optional[float]  # main-loop instructions per HMMA (SASS), None without it
    times_us: Dict[str, Optional[float]]  # tensor, issue, smem, dram
    bound: str
    model_us: float
    smem_conflict: float     # wavefronts / ideal, main loop (ldmatrix / ld.shared reads, cp.async writes)
    smem_read_conflict: float
    smem_write_conflict: float
    load_efficiency: float   # ideal / actual sectors of the loader's global loads
    store_efficiency: float  # ... of the epilogue's stores
    l2_to_sm_bytes: float    # sectors x 32 of all global traffic, whole grid
    compulsory_bytes: float
    sim_seconds: float


def _sass_per_hmma() -> Dict[str, float]:
    """{plan-style kernel name: main-loop instructions per HMMA} from the built SASS, or {}."""
    from . import sass
    if not sass.available():
        return {}
    out = {}
    for name, (loop, _) in sass.tensor_core_loops().items():
        m = re.search(r"fprop_tc_kernel<(?:cnnops::cuda::)?(\w+), (true|false), (?:cnnops::cuda::)?TcTile<(\d+), (\d+), "
                      r"\d+, \d+, (\d+), \d+, (\d+)>", name)
        if not m:
            continue
        dtype = {"half_t": "f16", "bf16_t": "bf16", "float": "tf32"}[m.group(1)]
        k = int(m.group(6)) // (4 if dtype == "tf32" else 2)  # a k-tile: one shared row of reduction
        plan = "fprop_tc%s_%sx%sx%d_s%s<%s>" % ("1x1" if m.group(2) == "true" else "", m.group(3), m.group(4), k,
                                               m.group(5), dtype)
        out[plan] = loop.per_hmma
    return out


def _sites_sum(sites, pred, field):
    return sum(s[field] for s in sites if pred(s))


def profiled_forward(sim, kernel: str, sample_blocks: int, x, w, conv):
    """Runs the simulated forward on `sample_blocks` blocks of its grid with the memory counters
    on: (counters, the memory sites of `kernel`, seconds)."""
    t0 = time.perf_counter()
    sim.reset_counters()
    sim.reset_memory_counters()
    sim.set_profiling(memory=True, sample_blocks=sample_blocks)
    try:
        sim.conv2d_forward(x, w, None, *conv)
    finally:
        sim.set_profiling()
    seconds = time.perf_counter() - t0
    return sim.counters(), [s for s in sim.memory_counters() if s["kernel"] == kernel], seconds


def model_layer(sim, suite: str, spec: ConvSpec, batch: int, dtype: torch.dtype, machine: Machine,
                sample_blocks: int, per_hmma: Dict[str, float]) -> Optional[LayerModel]:
    if spec.groups > 1:
        return None  # grouped and depthwise layers take no tensor-core plan the model reads yet
    N = spec.batch or batch
    x = torch.randn(N, spec.C, spec.H, spec.W, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = (torch.randn(spec.K, spec.C, spec.R, spec.S, dtype=dtype) / math.sqrt(spec.C * spec.R * spec.S)).contiguous(
        memory_format=torch.channels_last)
    conv = ([spec.stride] * 2, [spec.padding] * 4, [1, 1], 1)
    plan = sim.conv2d_forward_plan(x, w, None, *conv)
    m = _PLAN.match(plan)
    if not m:
        return None  # a CUDA-core kernel (few channels, float64, ...): not modelled
    wgmma = m.group(1) == "wgmma"
    TM, TN, stages = int(m.group(3)), int(m.group(4)), int(m.group(6))
    NPQ = N * spec.P * spec.Q
    blocks = -(-NPQ // TM) * -(-spec.K // TN)

    counters, sites, sim_seconds = profiled_forward(sim, plan, sample_blocks, x, w, conv)
    ran = counters["blocks"]
    scale = blocks / ran

    # HMMA.16816 equivalents: one wgmma m64nNk16 does the work of N / 2 of them.
    hmma = (counters["wgmma"] * TN / 2 if wgmma else counters["mma_sync"]) * scale
    shared = lambda s: s["space"] == "shared"
    reads = lambda s: shared(s) and s["kind"] == "load"
    writes = lambda s: shared(s) and s["kind"] == "store"
    loads = lambda s: s["space"] == "global" and s["kind"] == "load" and s["instruction"].startswith("cp.async")
    stores = lambda s: s["space"] == "global" and s["kind"] == "store"
    wavefronts = _sites_sum(sites, shared, "wavefronts") * scale
    if wgmma:  # the operand reads the counters do not see (module docstring)
        wavefronts += counters["wgmma"] * scale * (2048 + 32 * TN) / 128
    ratio = lambda pred, a, b: (_sites_sum(sites, pred, a) / max(1, _sites_sum(sites, pred, b)))

    sm_cycles_per_s = machine.clock_hz * machine.sms
    resident = _RESIDENT_WGMMA if wgmma else _RESIDENT[(TM, TN)]
    waves = blocks / (machine.sms * resident)
    stretch = math.ceil(waves) / waves  # the last wave leaves SMs idle
    elem = torch.finfo(dtype).bits // 8
    compulsory = elem * (N * spec.C * spec.H * spec.W + spec.K * spec.C * spec.R * spec.S + N * spec.K * spec.P * spec.Q)
    times = {
        "tensor": hmma / sm_cycles_per_s * stretch * 1e6,
        "issue": (hmma * per_hmma[plan] / ISSUE_PER_SM / sm_cycles_per_s * stretch * 1e6) if plan in per_hmma
        else None,
        "smem": wavefronts / sm_cycles_per_s * stretch * 1e6,
        "dram": compulsory / machine.hbm_bytes_s * 1e6,
    }
    bound = max((k for k in times if times[k] is not None), key=lambda k: times[k])
    return LayerModel(
        suite, spec.name, plan, blocks, waves, 2.0 * NPQ * spec.K * spec.C * spec.R * spec.S / 1e9, hmma,
        wavefronts / hmma, per_hmma.get(plan), times,
        bound, times[bound], ratio(shared, "wavefronts", "ideal_wavefronts"),
        ratio(reads, "wavefronts", "ideal_wavefronts"), ratio(writes, "wavefronts", "ideal_wavefronts"),
        ratio(loads, "ideal_sectors", "sectors"), ratio(stores, "ideal_sectors", "sectors"),
        _sites_sum(sites, lambda s: s["space"] == "global", "sectors") * 32 * scale, compulsory, sim_seconds)


def model_suites(suites: List[str], batch: int = 32, dtype: torch.dtype = torch.bfloat16, machine: str = "H200",
                 sample_blocks: int = 2, layers: Optional[List[str]] = None, progress=None,
                 wgmma: bool = False) -> List[LayerModel]:
    import cnnops._sim as sim
    per_hmma = _sass_per_hmma()
    out = []
    sim.set_wgmma(wgmma)
    try:
        for suite in suites:
            for raw in CONV_SUITES[suite]:
                spec = ConvSpec.of(raw)
                if layers and spec.name not in layers:
                    continue
                row = model_layer(sim, suite, spec, batch, dtype, MACHINES[machine], sample_blocks, per_hmma)
                if row is not None:
                    out.append(row)
                    if progress:
                        progress(row)
    finally:
        sim.set_wgmma(False)
    return out


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None else "%.1f" % v


def model_tflops(r: LayerModel) -> float:
    return r.gflop / r.model_us * 1e3


def table(rows: List[LayerModel], machine: Machine, dtype: torch.dtype, batch: int, sample_blocks: int,
          baseline: Optional[Dict] = None) -> str:
    """The markdown table; `baseline` ({"label": .., "rows": {(suite, layer): row dict}}, from an
    earlier --json) adds its bound and model TFLOP/s beside each layer's."""
    peak_tflops = machine.clock_hz * machine.sms * MMA_FLOP / 1e12
    lines = [
        "MODEL (not a measurement): cnnops CUDA forward, %s channels-last, batch %d, on the %s ceilings (%s)."
        % (str(dtype).replace("torch.", ""), batch, machine.name, machine.source),
        "Counters from the simulator on %d sampled blocks per launch, scaled to the grid; `issue` needs the built "
        "SASS (n/a without it). Times in microseconds; the bound is the largest term; TFLOP/s is useful FLOP over "
        "that time (mma.sync peak %.0f)." % (sample_blocks, peak_tflops),
        "",
    ]
    head = ["suite", "layer", "kernel", "blocks (waves)", "GFLOP", "tensor us", "issue us", "smem us", "dram us",
            "instr / HMMA", "wavefronts / HMMA", "smem conflicts read / write", "load sector eff", "store sector eff",
            "L2->SM / compulsory bytes", "bound", "model TFLOP/s"]
    if baseline:
        head += ["%s: bound" % baseline["label"], "%s: model TFLOP/s" % baseline["label"]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        t = r.times_us
        cells = [r.suite, r.name, r.kernel, "%d (%.2f)" % (r.blocks, r.waves), "%.2f" % r.gflop, _fmt(t["tensor"]),
                 _fmt(t["issue"]), _fmt(t["smem"]), _fmt(t["dram"]),
                 "n/a" if r.issue_per_hmma is None else "%.2f" % r.issue_per_hmma, "%.2f" % r.smem_per_hmma,
                 "%.2f / %.2f" % (r.smem_read_conflict, r.smem_write_conflict), "%.0f%%" % (100 * r.load_efficiency),
                 "%.0f%%" % (100 * r.store_efficiency), "%.1f" % (r.l2_to_sm_bytes / r.compulsory_bytes), r.bound,
                 "%.0f" % model_tflops(r)]
        if baseline:
            b = baseline["rows"].get("%s/%s" % (r.suite, r.name))
            cells += [b["bound"], "%.0f" % b["model_tflops"]] if b else ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_json(rows: List[LayerModel], label: str) -> Dict:
    return {"label": label, "note": "MODEL, not a measurement (benchmarks/model.py)",
            "rows": {"%s/%s" % (r.suite, r.name): dict(r._asdict(), model_tflops=model_tflops(r)) for r in rows}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.model", description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", nargs="+", default=DEFAULT_SUITES, choices=sorted(CONV_SUITES))
    ap.add_argument("--layers", nargs="+", help="only these layer names")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtype", choices=["bfloat16", "float16"], default="bfloat16")
    ap.add_argument("--machine", choices=sorted(MACHINES), default="H200")
    ap.add_argument("--sample-blocks", type=int, default=2)
    ap.add_argument("--wgmma", action="store_true", help="model the Hopper (wgmma) kernel where it applies")
    ap.add_argument("--out", help="also write the table (markdown) here")
    ap.add_argument("--json", help="also write the rows (JSON) here, for a later --baseline")
    ap.add_argument("--label", default="this build", help="the name --json records for these kernels")
    ap.add_argument("--baseline", help="a JSON written by --json: its bound and TFLOP/s beside each layer's")
    args = ap.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    rows = model_suites(args.suites, args.batch, dtype, args.machine, args.sample_blocks, args.layers,
                        progress=lambda r: print("  %s / %s: %s-bound (%.1fs simulated)" % (r.suite, r.name, r.bound,
                                                                                          r.sim_seconds),
                                                 file=sys.stderr), wgmma=args.wgmma)
    baseline = None
    if args.baseline:
        with open(args.baseline) as f:
            baseline = json.load(f)
    text = table(rows, MACHINES[args.machine], dtype, args.batch, args.sample_blocks, baseline)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(rows, args.label), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
