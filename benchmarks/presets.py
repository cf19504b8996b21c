"""Named selections (--preset) and how they combine with the command line: an option given on
the command line wins, then the preset's value, then the cpu-default value; suites named with
--suites run all their layers unless --cases is given too.

    cpu-default  the seed networks' layers and pooling (suites.CPU_CASES), float32 and bfloat16,
                 NCHW and NHWC, batch 8, fwd and fwdbwd, on the CPU: what `python -m benchmarks`
                 runs (about 3 minutes on a 2-core machine)
    gpu-quick    a few cases of every suite (suites.QUICK_CASES, whole-model ResNet-50 included)
                 on CUDA, bfloat16 and TF32, NHWC, batch 32, fwd and fwdbwd, stopped by a time
                 budget of 150 s: the GPU check script's selection, under 3 minutes on an H100
    grouped      the grouped and depthwise networks' suites (suites.GROUPED_SUITES: MobileNetV2,
                 ConvNeXt-T, ResNeXt-50 32x4d, RepLKNet), every layer, float32 NCHW and NHWC,
                 batch 8, fwd and fwdbwd, on the CPU
    full         every suite (whole models too), every pass; on CUDA float32, tf32, bfloat16 and
                 float16 in both layouts at batch 32; on a CPU float32 and bfloat16 in both layouts
                 at batch 8
"""
import argparse
from typing import Dict

from . import suites

# The values as the command line would spell them; a {device: value} dict where they differ.
CPU_DEFAULT = {
    "suites": ",".join(suites.CPU_DEFAULT_SUITES),
    "device": "cpu",
    "batch": "8",
    "dtype": "float32,bfloat16",
    "layout": "nchw,nhwc",
    "passes": "fwd,fwdbwd",
    "repeats": 3,
    "time_budget": None,
    "cases": "cpu",
}

PRESETS: Dict[str, Dict[str, object]] = {
    "cpu-default": {},
    "gpu-quick": {
        "suites": ",".join(suites.ALL_SUITES),
        "device": "cuda",
        "batch": "32",
        "dtype": "bfloat16,tf32",
        "layout": "nhwc",
        "passes": "fwd,fwdbwd",
        "repeats": 20,
        "time_budget": 150.0,
        "cases": "quick",
    },
    "grouped": {
        "suites": ",".join(suites.GROUPED_SUITES),
        "cases": "all",
        "dtype": "float32",
    },
    "full": {
        "suites": ",".join(suites.ALL_SUITES),
        "cases": "all",
        "batch": {"cpu": "8", "cuda": "32"},
        "dtype": {"cpu": "float32,bfloat16", "cuda": "float32,tf32,bfloat16,float16"},
        "layout": "nchw,nhwc",
        "passes": "fwd,fwdbwd,dgrad,wgrad",
        "repeats": {"cpu": 3, "cuda": 20},
    },
}


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fills every option left unset (None) on the command line from the preset, then from
    CPU_DEFAULT, and splits the comma lists (suites, batch, dtype, layout, passes)."""
    preset = PRESETS[args.preset or "cpu-default"]
    out = argparse.Namespace(**vars(args))
    if getattr(out, "cases", None) is None and out.suites is not None:
        out.cases = "all"  # suites named on the command line are run whole unless --cases says otherwise
    out.preset = args.preset or "cpu-default"
    for key in ["device"] + [k for k in CPU_DEFAULT if k != "device"]:
        if getattr(out, key, None) is None:
            value = preset.get(key, CPU_DEFAULT[key])
            setattr(out, key, value[out.device] if isinstance(value, dict) else value)
    out.suites = [s for s in str(out.suites).split(",") if s]
    out.batch = [int(b) for b in str(out.batch).split(",")]
    out.dtype = str(out.dtype).split(",")
    out.layout = str(out.layout).split(",")
    out.passes = str(out.passes).split(",")
    out.repeats = int(out.repeats)
    out.time_budget = None if out.time_budget is None else float(out.time_budget)
    return out
