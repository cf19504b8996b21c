"""A performance MODEL of the CUDA direct kernels (depthwise and narrow groups,
csrc/cuda/conv2d_direct.cu) on an H100 / H200, built without a GPU -- the companion of
benchmarks/model.py for the layers that take no tensor cores. Derived, not measured; labelled so.

Per grouped layer of a suite (batch 32 by default):
- the kernel the host code picks (cnnops._sim.conv2d_forward_plan) and its grid;
- the simulator's counters on sampled blocks of the real launch, scaled to the grid: ld.shared /
  st.shared instructions and wavefronts against their conflict-free ideal, global sectors of the
  staging loads and epilogue stores against the minimum;
- the multiply-adds the blocks execute (lanes past the last channel and positions past the output
  included: the tile's waste is part of the cost);
- registers per thread from the built SASS where cuobjdump can read it, else 128 (assumed).

Terms, each spread over the SMs and stretched by the last wave:
  fma    executed multiply-adds / (128 FP32 FMA lanes per cycle per SM)
  issue  (FFMA + shared + global instructions) / (4 per cycle per SM) -- a floor: the address
         arithmetic is not counted
  smem   wavefronts / (1 per cycle per SM)
  dram   compulsory bytes (input, filters, output once) / HBM bandwidth
The bound is the largest; the time is that term alone (perfect overlap): optimistic by construction.

    python -m benchmarks.model_direct                                  # the grouped suites, H200
    python -m benchmarks.model_direct --dtype float32 --layout nchw --out table.md
"""
import argparse
import math
import re
import sys
from typing import Dict, List, NamedTuple, Optional

import torch

from .model import MACHINES, Machine, _sites_sum, profiled_forward
from .suites import CONV_SUITES, GROUPED_SUITES, ConvSpec

FMA_LANES_PER_SM = 128  # FP32 FMA per cycle per SM (4 sub-partitions x 32 lanes)
ISSUE_PER_SM = 4
THREADS = 256
ASSUMED_REGISTERS = 128
_KERNEL = re.compile(r"direct_(nhwc|nchw)_(\d+)x(\d+)x(\d+)(?:_s(\d+)(?:_stride(\d+))?|(_sliding))?<(\w+)>")


class DirectLayerModel(NamedTuple):
    suite: str
    name: str
    kernel: str
    blocks: int
    waves: float
    resident: int            # blocks per SM (threads, registers, shared memory)
    gflop: float             # useful: 2 x N x K x P x Q x C/g x R x S
    executed_fma: float      # what the blocks' lanes multiply-add, waste included
    shared_loads: float      # ld.shared instructions (warp-wide), whole grid
    times_us: Dict[str, float]
    bound: str
    model_us: float
    smem_conflict: float     # wavefronts / ideal, all shared accesses
    load_efficiency: float   # ideal / actual sectors of the staging loads
    store_efficiency: float
    l2_to_sm_bytes: float
    compulsory_bytes: float
    sim_seconds: float


def _registers() -> Dict[str, int]:
    """{"direct_kernel<float, true, 3>"-style name: registers} from the built SASS, or {}."""
    from . import sass
    if not sass.available():
        return {}
    out = {}
    for name, usage in sass.resource_usage(sass.extension()).items():
        short = sass.demangled_kernel(name)
        if short.startswith("direct_kernel<"):
            out[short.replace("cnnops::cuda::", "").replace(" ", "")] = usage.get("REG", ASSUMED_REGISTERS)
    return out


def _sass_name(layout: str, taps: Optional[str], stride: Optional[str], dtype: str) -> str:
    t = {"f32": "float", "f64": "double", "f16": "half_t", "bf16": "bf16_t"}[dtype]
    return "direct_kernel<%s,%s,%s,%s>" % (t, "true" if layout == "nhwc" else "false", taps or "0", stride or "1")


def model_direct_layer(sim, suite: str, spec: ConvSpec, batch: int, dtype: torch.dtype, channels_last: bool,
                       machine: Machine, sample_blocks: int, registers: Dict[str, int]) -> Optional[DirectLayerModel]:
    if spec.groups == 1:
        return None  # dense layers: benchmarks/model.py
    N = spec.batch or batch
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(N, spec.C, spec.H, spec.W, dtype=dtype).contiguous(memory_format=fmt)
    w = torch.randn(spec.K, spec.Cg, spec.R, spec.S, dtype=dtype) / math.sqrt(spec.Cg * spec.R * spec.S)
    conv = ([spec.stride] * 2, [spec.padding] * 4, [1, 1], spec.groups)
    plan = sim.conv2d_forward_plan(x, w, None, *conv)
    m = _KERNEL.match(plan)
    if not m:
        return None  # not a direct kernel (wide groups take the implicit GEMM)
    tile_k, tile_p, tile_q = int(m.group(2)), int(m.group(3)), int(m.group(4))
    blocks = N * -(-spec.P // tile_p) * -(-spec.Q // tile_q) * -(-spec.K // tile_k)

    counters, sites, sim_seconds = profiled_forward(sim, plan, sample_blocks, x, w, conv)
    ran = counters["blocks"]
    scale = blocks / ran

    shared = lambda s: s["space"] == "shared"
    loads = lambda s: s["space"] == "global" and s["kind"] == "load"
    stores = lambda s: s["space"] == "global" and s["kind"] == "store"
    every = lambda s: True
    wavefronts = _sites_sum(sites, shared, "wavefronts") * scale
    instructions = _sites_sum(sites, every, "instructions") * scale
    ratio = lambda pred, a, b: _sites_sum(sites, pred, a) / max(1, _sites_sum(sites, pred, b))

    executed_fma = float(blocks) * THREADS * tile_p * tile_q * tile_k / THREADS * spec.Cg * spec.R * spec.S
    taps = "-1" if m.group(7) else m.group(5)
    regs = registers.get(_sass_name(m.group(1), taps, m.group(6), m.group(8)), ASSUMED_REGISTERS)
    smem_block = sim.conv2d_direct_plan(x, w, *conv)["shared_bytes"]
    # Blocks per SM: 2048 threads, 64 K registers, 228 KB of shared memory (1 KB reserved per block).
    resident = max(1, min(2048 // THREADS, 65536 // (THREADS * regs), (228 * 1024) // (smem_block + 1024)))
    sm_cycles_per_s = machine.clock_hz * machine.sms
    waves = blocks / (machine.sms * resident)
    stretch = math.ceil(waves) / waves
    elem = torch.finfo(dtype).bits // 8
    compulsory = elem * (N * spec.C * spec.H * spec.W + spec.K * spec.Cg * spec.R * spec.S + N * spec.K * spec.P * spec.Q)
    times = {
        "fma": executed_fma / FMA_LANES_PER_SM / sm_cycles_per_s * stretch * 1e6,
        "issue": (executed_fma / 32 + instructions) / ISSUE_PER_SM / sm_cycles_per_s * stretch * 1e6,
        "smem": wavefronts / sm_cycles_per_s * stretch * 1e6,
        "dram": compulsory / machine.hbm_bytes_s * 1e6,
    }
    bound = max(times, key=lambda k: times[k])
    gflop = 2.0 * N * spec.K * spec.P * spec.Q * spec.Cg * spec.R * spec.S / 1e9
    shared_loads = _sites_sum(sites, lambda s: shared(s) and s["kind"] == "load", "instructions") * scale
    return DirectLayerModel(suite, spec.name, plan, blocks, waves, resident, gflop, executed_fma, shared_loads, times,
                            bound,
                            times[bound], ratio(shared, "wavefronts", "ideal_wavefronts"),
                            ratio(loads, "ideal_sectors", "sectors"), ratio(stores, "ideal_sectors", "sectors"),
                            _sites_sum(sites, lambda s: s["space"] == "global", "sectors") * 32 * scale, compulsory,
                            sim_seconds)


def model_direct_suites(suites: List[str], batch: int = 32, dtype: torch.dtype = torch.bfloat16,
                        channels_last: bool = True, machine: str = "H200", sample_blocks: int = 2,
                        layers: Optional[List[str]] = None, progress=None) -> List[DirectLayerModel]:
    import cnnops._sim as sim
    registers = _registers()
    rows = []
    for suite in suites:
        for raw in CONV_SUITES[suite]:
            spec = ConvSpec.of(raw)
            if layers and spec.name not in layers:
                continue
            row = model_direct_layer(sim, suite, spec, batch, dtype, channels_last, MACHINES[machine], sample_blocks,
                                     registers)
            if row is not None:
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def table(rows: List[DirectLayerModel], machine: Machine, dtype: torch.dtype, layout: str, batch: int,
          sample_blocks: int, registers_known: bool) -> str:
    fma_peak = machine.clock_hz * machine.sms * FMA_LANES_PER_SM * 2 / 1e12
    lines = [
        "MODEL (not a measurement): cnnops CUDA direct kernels (depthwise / narrow groups), forward, %s %s, "
        "batch %d, on the %s ceilings (%s)." % (str(dtype).replace("torch.", ""), layout, batch, machine.name,
                                                machine.source),
        "Counters from the simulator on %d sampled blocks per launch, scaled to the grid; registers per thread %s. "
        "Times in microseconds; the bound is the largest term; TFLOP/s is useful FLOP over that time (FP32 FMA "
        "peak %.0f TFLOP/s; executed/useful counts the tile's idle lanes)." % (
            sample_blocks, "from the built SASS" if registers_known else "assumed %d (no SASS here)" % ASSUMED_REGISTERS,
            fma_peak),
        "",
    ]
    head = ["suite", "layer", "kernel", "blocks (waves, per SM)", "GFLOP", "executed / useful FMA", "fma us",
            "issue us", "smem us", "dram us", "smem conflicts", "load sector eff", "store sector eff",
            "L2->SM / compulsory bytes", "bound", "model TFLOP/s", "model GB/s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        t = r.times_us
        cells = [r.suite, r.name, r.kernel, "%d (%.2f, %d)" % (r.blocks, r.waves, r.resident), "%.3f" % r.gflop,
                 "%.2f" % (r.executed_fma * 2 / 1e9 / r.gflop), "%.1f" % t["fma"], "%.1f" % t["issue"],
                 "%.1f" % t["smem"], "%.1f" % t["dram"], "%.2f" % r.smem_conflict,
                 "%.0f%%" % (100 * r.load_efficiency), "%.0f%%" % (100 * r.store_efficiency),
                 "%.1f" % (r.l2_to_sm_bytes / r.compulsory_bytes), r.bound, "%.1f" % (r.gflop / r.model_us * 1e3),
                 "%.0f" % (r.compulsory_bytes / r.model_us / 1e3)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.model_direct", description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", nargs="+", default=GROUPED_SUITES, choices=sorted(CONV_SUITES))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], default="bfloat16")
    ap.add_argument("--layout", choices=["nhwc", "nchw"], default="nhwc")
    ap.add_argument("--machine", choices=sorted(MACHINES), default="H200")
    ap.add_argument("--sample-blocks", type=int, default=2)
    ap.add_argument("--out", help="also write the table (markdown) here")
    args = ap.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    rows = model_direct_suites(args.suites, args.batch, dtype, args.layout == "nhwc", args.machine, args.sample_blocks,
                               progress=lambda r: print("  %s / %s: %s-bound (%.1fs simulated)" % (
                                   r.suite, r.name, r.bound, r.sim_seconds), file=sys.stderr))
    registers = _registers()
    text = table(rows, MACHINES[args.machine], dtype, args.layout, args.batch, args.sample_blocks, bool(registers))
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
