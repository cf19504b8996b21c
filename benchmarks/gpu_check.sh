#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU (the lent H100/H200: torch preinstalled, no
# internet), in one go and in under 8 minutes: build for the local arch, run the GPU tests (and
# the CPU suite) against torch/cuDNN, run compute-sanitizer on a small subset (recorded as skipped
# where the runtime does not support it), and time what has CUDA kernels. Each phase's result is
# written to the results JSON as soon as the phase ends, so a cut-off run still leaves evidence.
#
#   bash benchmarks/gpu_check.sh            # results: $OUT (if set) and benchmarks/results/
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS_DIR=${OUT:-benchmarks/results}
mkdir -p "$RESULTS_DIR" benchmarks/results
JSON="$RESULTS_DIR/gpu-check-$STAMP.json"
LOG="$RESULTS_DIR/gpu-check-$STAMP.log"
: > "$LOG"

record() {  # record PHASE STATUS SECONDS [DETAIL]
  "$PY" - "$JSON" "$1" "$2" "$3" "${4:-}" <<'PYEOF'
import json, os, sys
path, phase, status, seconds, detail = sys.argv[1:6]
data = json.load(open(path)) if os.path.exists(path) else {"phases": {}}
data["phases"][phase] = {"status": status, "seconds": float(seconds), "detail": detail[-4000:]}
json.dump(data, open(path, "w"), indent=1)
PYEOF
  echo "=== $1: $2 (${3}s)"
}

phase() {  # phase NAME COMMAND...: runs it, logs output, records pass/fail
  local name=$1; shift
  local t0=$SECONDS out rc
  out=$("$@" 2>&1); rc=$?
  printf '\n### %s\n%s\n' "$name" "$out" >> "$LOG"
  record "$name" "$([ $rc -eq 0 ] && echo pass || echo "fail rc=$rc")" $((SECONDS - t0)) "$(echo "$out" | tail -25)"
  return $rc
}

# 1. The machine.
"$PY" - "$JSON" <<'PYEOF'
import json, subprocess, sys, torch
info = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
try:
    info["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                         "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
except OSError as e:
    info["nvidia_smi"] = str(e)
json.dump({"machine": info, "phases": {}}, open(sys.argv[1], "w"), indent=1)
print(info)
PYEOF

# 2. Build for the local arch with the machine's own torch (nothing downloaded).
phase build env CNNOPS_CUDA=1 MAX_JOBS=16 "$PY" setup.py --quiet build_ext --inplace || { echo "build failed: see $LOG"; exit 1; }

# 3. Tests: the GPU-marked ones, then the rest of the suite.
phase gpu-tests "$PY" -m pytest -q -m gpu tests -p no:cacheprovider
phase cpu-tests "$PY" -m pytest -q -m "not gpu" tests -p no:cacheprovider -x

# 4. compute-sanitizer on the device shape self-test and a few small convolutions through every
#    forward kernel (CUDA cores, tensor cores f16/bf16/tf32, fused epilogue); skipped where the
#    machine's runtime does not support it (e.g. gVisor).
SANITIZED=$(cat <<'PYEOF'
import torch, cnnops
r = cnnops._C.cuda_shape_selftest(); assert r["mismatches"] == 0, r
for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
    for cl in (False, True):
        x = torch.randn(2, 16, 9, 11, device="cuda", dtype=dtype)
        x = x.contiguous(memory_format=torch.channels_last) if cl else x
        w, r = torch.randn(24, 16, 3, 3, device="cuda", dtype=dtype), torch.randn(2, 24, 5, 6, device="cuda", dtype=dtype)
        cnnops.conv2d_bias_act(x, w, None, 2, 1, activation="relu", residual=r)
        cnnops.conv2d(x, w[:, :4], None, 1, 1, groups=4)
# Every pooling path, forward and backward: NCHW row vectors (whole and partial last vectors, a
# ceil-mode window past the row), NHWC channel vectors, the scalar kernels (15 channels), global
# averaging, max pooling without indices.
for dtype in (torch.float32, torch.float16):
    for cl in (False, True):
        for c, w, k, s, p, ceil in ((16, 32, 3, 2, 1, False), (16, 24, 2, 2, 0, False), (16, 40, 3, 2, 0, True),
                                    (16, 24, 3, 1, 1, False), (15, 13, 3, 2, 1, True)):
            x = torch.randn(2, c, 7, w, device="cuda", dtype=dtype)
            x = (x.contiguous(memory_format=torch.channels_last) if cl else x).requires_grad_()
            for y in (cnnops.max_pool2d(x, k, s, p, ceil_mode=ceil), cnnops.avg_pool2d(x, k, s, p, ceil_mode=ceil),
                      cnnops.adaptive_avg_pool2d(x, 1), cnnops.adaptive_avg_pool2d(x, (3, 5))):
                y.backward(torch.randn_like(y))
            with torch.no_grad():
                cnnops.max_pool2d(x, k, s, p, ceil_mode=ceil)
torch.cuda.synchronize(); print("ok", cnnops.last_cuda_kernel())
PYEOF
)
if command -v compute-sanitizer >/dev/null 2>&1; then
  for tool in memcheck racecheck; do
    t0=$SECONDS
    out=$(compute-sanitizer --tool $tool --error-exitcode 3 "$PY" -c "$SANITIZED" 2>&1); rc=$?
    printf '\n### sanitizer-%s\n%s\n' "$tool" "$out" >> "$LOG"
    if echo "$out" | grep -q "Device not supported"; then status="skipped: device not supported"
    elif [ $rc -eq 0 ]; then status=pass; else status="fail rc=$rc"; fi
    record "sanitizer-$tool" "$status" $((SECONDS - t0)) "$(echo "$out" | tail -10)"
  done
else
  record sanitizer skipped 0 "compute-sanitizer not on PATH"
fi

# 5. Timing against cuDNN in the same process: the quick GPU selection (--preset gpu-quick: a
#    few layers of every suite and whole-model ResNet-50, batch 32, NHWC, bfloat16 and float32 as
#    TF32 on both sides, forward and forward+backward, torch with cudnn.benchmark off and on,
#    stopped by a 150 s time budget). It writes its JSON/markdown/PNG to the results folder.
if "$PY" -c "import torch, cnnops, sys; sys.exit(0 if torch._C._dispatch_has_kernel_for_dispatch_key('cnnops::conv2d_forward', 'CUDA') else 1)"; then
  phase benchmark-gpu-quick "$PY" -m benchmarks --preset gpu-quick --out "$RESULTS_DIR"
  # Pooling in both layouts (the quick preset times NHWC only): GB/s against the copy ceiling.
  phase benchmark-gpu-pooling "$PY" -m benchmarks --device cuda --suites pooling --layout nchw,nhwc \
    --dtype bfloat16,float32 --batch 32 --passes fwd,fwdbwd --repeats 20 --time-budget 60 --out "$RESULTS_DIR"
else
  record benchmark skipped 0 "no CUDA kernels registered"
fi

cp "$JSON" benchmarks/results/ 2>/dev/null || true
echo "results: $JSON (log: $LOG)"
