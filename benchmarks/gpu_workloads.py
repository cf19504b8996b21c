"""The small programs that the GPU check (benchmarks/gpu_check.sh) runs under a tool: a smoke
test after the build, the launches compute-sanitizer checks, and the launches ncu profiles.
Each runs on CUDA where there is a device and on the CPU otherwise, so that the check's dry run
exercises the same calls here.

    python -m benchmarks.gpu_workloads smoke      # import, build facts, one convolution vs torch
    python -m benchmarks.gpu_workloads sanitize   # every kernel family once, small shapes
    python -m benchmarks.gpu_workloads profile    # three representative kernels, once each
"""
import argparse
import sys

import torch
import torch.nn.functional as F


def _device(requested):
    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def smoke(device):
    """The build loads, says what it holds, and one convolution agrees with torch in float64."""
    import cnnops

    info = cnnops.build_info()
    print("build_info:", {k: info[k] for k in sorted(info)})
    if device == "cuda" and not info["cuda"]:
        raise SystemExit("smoke: a CUDA device is here but this build has no CUDA kernels")
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(2, 16, 13, 11, generator=g), torch.randn(32, 16, 3, 3, generator=g)
    y = cnnops.conv2d(x.to(device), w.to(device), None, 2, 1)
    _sync(device)
    ref = F.conv2d(x.double(), w.double(), None, 2, 1)
    err = ((y.double().cpu() - ref).norm() / ref.norm()).item()
    kernel = cnnops.last_cuda_kernel("conv2d_forward") if device == "cuda" else "cpu"
    print(f"smoke: conv2d on {device} ({kernel}): relative error {err:.2e}")
    if not err < 1e-5:
        raise SystemExit(f"smoke: conv2d on {device} differs from torch (relative error {err:.2e})")


def sanitize(device):
    """Every kernel family once on small shapes, forward and backward: the tensor-core and
    CUDA-core forwards with the fused epilogue, grouped convolution, the direct kernels of narrow
    groups (depthwise 3x3 and a 31x31 past 48 KB of shared memory, forward and both gradients,
    strided phases with zero fills), the backward phases, and
    every pooling path (NCHW row vectors, whole and partial; NHWC channel vectors; the scalar
    kernels at 15 channels; global averaging; max pooling without indices)."""
    import cnnops

    if device == "cuda":
        r = cnnops._C.cuda_shape_selftest()
        assert r["mismatches"] == 0, r
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        if device == "cpu" and dtype == torch.float16:
            continue  # the CPU runs float16 as the CUDA build does; one reduced type is enough here
        for cl in (False, True):
            fmt = torch.channels_last if cl else torch.contiguous_format
            x = torch.randn(2, 16, 9, 11, device=device, dtype=dtype).contiguous(memory_format=fmt)
            w = torch.randn(24, 16, 3, 3, device=device, dtype=dtype)
            res = torch.randn(2, 24, 5, 6, device=device, dtype=dtype)
            cnnops.conv2d_bias_act(x, w, None, 2, 1, activation="relu", residual=res)
            cnnops.conv2d(x, w[:, :4], None, 1, 1, groups=4)
            for wd, stride, pad in ((torch.randn(32, 1, 3, 3), 2, 1), (torch.randn(16, 1, 31, 31), 1, 15),
                                    (torch.randn(16, 1, 2, 2), 3, 0)):
                xd = torch.randn(2, 16, 13, 17, device=device, dtype=dtype).contiguous(memory_format=fmt)
                xd.requires_grad_()
                wd = wd.to(device=device, dtype=dtype).requires_grad_()
                y = cnnops.conv2d(xd, wd, None, stride, pad, groups=16)
                y.backward(torch.randn_like(y))
            xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
            y = cnnops.conv2d(xg, wg, None, 2, 1)
            y.backward(torch.randn_like(y))
    for dtype in (torch.float32, torch.float16):
        for cl in (False, True):
            fmt = torch.channels_last if cl else torch.contiguous_format
            for c, width, k, s, p, ceil in ((16, 32, 3, 2, 1, False), (16, 24, 2, 2, 0, False),
                                            (16, 40, 3, 2, 0, True), (16, 24, 3, 1, 1, False),
                                            (15, 13, 3, 2, 1, True)):
                x = torch.randn(2, c, 7, width, device=device, dtype=dtype).contiguous(memory_format=fmt)
                x.requires_grad_()
                for y in (cnnops.max_pool2d(x, k, s, p, ceil_mode=ceil), cnnops.avg_pool2d(x, k, s, p, ceil_mode=ceil),
                          cnnops.adaptive_avg_pool2d(x, 1), cnnops.adaptive_avg_pool2d(x, (3, 5))):
                    y.backward(torch.randn_like(y))
                with torch.no_grad():
                    cnnops.max_pool2d(x, k, s, p, ceil_mode=ceil)
    _sync(device)
    print("sanitize workload: ok", cnnops.last_cuda_kernel() if device == "cuda" else "(cpu)")


# What ncu profiles, in launch order: (name, op whose kernel cnnops records, call). ResNet-50's
# layer-1 3x3 and 1x1 and its stem max pool, bfloat16 channels_last (the layout the tensor-core
# kernels read directly), batch 32 on a GPU (2 for the CPU dry run).
def _profile_cases(device):
    import cnnops

    n = 32 if device == "cuda" else 2

    def t(*shape):
        return torch.randn(*shape, device=device, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)

    x3, w3 = t(n, 64, 56, 56), t(64, 64, 3, 3)
    x1, w1 = t(n, 256, 56, 56), t(64, 256, 1, 1)
    xp = t(n, 64, 112, 112)
    return [
        ("conv3x3 64->64 56x56 bf16 nhwc", "conv2d_forward", lambda: cnnops.conv2d(x3, w3, None, 1, 1)),
        ("conv1x1 256->64 56x56 bf16 nhwc", "conv2d_forward", lambda: cnnops.conv2d(x1, w1)),
        ("maxpool 3x3/2 pad 1 112x112x64 bf16 nhwc", "max_pool2d_values", lambda: cnnops.max_pool2d(xp, 3, 2, 1)),
    ]


PROFILED_KERNELS = "regex:fprop_tc_kernel|fprop_wgmma_kernel|max_pool_forward"  # ncu --kernel-name: the three above


def profile(device):
    """The three representative kernels, once each, under no_grad (so that max pooling runs its
    no-index kernel, as inference does); their inputs are made first, so that ncu's
    --kernel-name filter meets exactly these launches."""
    import cnnops

    with torch.no_grad():
        cases = _profile_cases(device)
        _sync(device)
        for name, op, call in cases:
            call()
            _sync(device)
            print(f"profiled: {name}: {cnnops.last_cuda_kernel(op) if device == 'cuda' else 'cpu'}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_workloads", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("workload", choices=["smoke", "sanitize", "profile"])
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda where there is a device, else cpu")
    args = p.parse_args(argv)
    device = _device(args.device)
    {"smoke": smoke, "sanitize": sanitize, "profile": profile}[args.workload](device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
