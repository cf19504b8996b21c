#!/usr/bin/env bash
# The GPU check: everything a lent GPU session must bring back, in one call of at most 8 minutes
# (GPU_CHECK_BUDGET seconds, default 480) on the H200 machine (16 cores, its own Python 3.12 and
# torch, no internet). Phases in order of value, each under its own timeout, each writing its
# outcome to the results JSON the moment it ends (a cut-off run still leaves evidence); a phase
# that would overrun the budget is skipped with the reason recorded.
#
#   1 build        the prebuilt extension (make gpu-artifact, carried as build/gpu-artifact) when
#                  it fits, else a build for the device's arch without the simulator module
#   2 smoke        import, build facts, one convolution against torch (a failure stops the check)
#   3 gpu-tests    the tests marked gpu: every CUDA kernel against torch in float64 and cuDNN,
#                  determinism, a non-default stream, graph capture, > 2^31 elements, a converted
#                  ResNet-50 training step
#   4 benchmark    --preset gpu-quick against cuDNN (benchmark off and on), TFLOP/s, GB/s and the
#                  fraction of the ceilings measured in the same run
#   5 ncu          a ResNet 3x3 and 1x1 forward and the stem max pool: bank conflicts, issue
#                  slots, tensor pipe, DRAM throughput (skipped where ncu cannot read counters)
#   6 memcheck, racecheck   compute-sanitizer on benchmarks/gpu_workloads.py sanitize: each
#                  kernel family once on small shapes
#   7 pooling      the pooling suite in both layouts, GB/s against the copy ceiling
#
#   bash benchmarks/gpu_check.sh             # results: $OUT (if set) and benchmarks/results/
#   bash benchmarks/gpu_check.sh --dry-run   # here, without a GPU: every phase's command runs
#                                            # its CPU form (the build incremental, the GPU tests
#                                            # collected, the benchmarks listed, the workloads on
#                                            # the CPU), the GPU tools answer "no GPU"
# Environment: PYTHON (default python3), GPU_CHECK_BUDGET, OUT.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: bash benchmarks/gpu_check.sh [--dry-run]" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-480}
START=$SECONDS
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS_DIR=${OUT:-benchmarks/results}
mkdir -p "$RESULTS_DIR"
KIND=$([ $DRY -eq 1 ] && echo gpu-check-dry-run || echo gpu-check)
JSON="$RESULTS_DIR/$KIND-$STAMP.json"
LOG="$RESULTS_DIR/$KIND-$STAMP.log"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: > "$LOG"
export PYTHONUNBUFFERED=1
results() { "$PY" -m benchmarks.gpu_check_results "$@"; }

# The plan, name:expected:cap in seconds. Expected times are a model until a GPU run has
# replaced them. The build's: ~10 s with the prebuilt extension; else the compile spread over the
# GPU machine's 16 jobs -- the longer of the longest object and the total over 16 -- plus 30 s of
# set-up and link, from this machine's ninja log of an idle build (28 objects, 425 s of compiling,
# the longest 53 s). A constant, since a log written under load would move it: `python -m
# benchmarks.gpu_check_results build-estimate` re-derives it (the dry run prints it). The tests'
# from their count; the benchmarks' from their own time budgets plus start-up and the ceilings;
# the tools' from the workloads' sizes.
BENCH_BUDGET=90
POOL_BUDGET=30
BUILD_FROM_SOURCE=83
if "$PY" -m benchmarks.gpu_artifact install --check >/dev/null 2>&1; then BUILD_EXPECTED=10
else BUILD_EXPECTED=$BUILD_FROM_SOURCE; fi
if [ $DRY -eq 1 ] && [ -f build/temp-cuda/.ninja_log ]; then
  "$PY" -m benchmarks.gpu_check_results build-estimate build/temp-cuda/.ninja_log --jobs 16
fi
PLAN="build:$BUILD_EXPECTED:240,smoke:15:60,gpu-tests:90:150,benchmark:$((BENCH_BUDGET + 40)):$((BENCH_BUDGET + 60))"
PLAN="$PLAN,ncu:40:75,memcheck:25:60,racecheck:40:90,pooling:$((POOL_BUDGET + 25)):$((POOL_BUDGET + 40))"
results init "$JSON" --dry-run $DRY --budget "$BUDGET" --plan "$PLAN" || { echo "gpu_check: cannot write $JSON"; exit 1; }
HAVE_GPU=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
if [ $DRY -eq 0 ] && [ "$HAVE_GPU" != 1 ]; then
  echo "gpu_check: no CUDA device here (use --dry-run for the rehearsal)"; exit 1
fi

left() { echo $((BUDGET - (SECONDS - START))); }

# phase NAME CAP MIN COMMAND...: COMMAND under a timeout of min(CAP, what is left), its output
# in the log and the JSON; skipped when less than MIN seconds are left. Status: pass, fail rc=N,
# timeout after Ns, or what the command printed on a line "PHASE-STATUS: ..." (a tool that
# cannot run here: "skipped: ...").
phase() {
  local name=$1 cap=$2 min=$3; shift 3
  local remaining t t0 rc status out="$TMP/$name.out"
  remaining=$(left)
  if [ "$remaining" -lt "$min" ]; then
    status="skipped: ${remaining} s of the budget left, the phase needs ${min} s"
    results record "$JSON" "$name" "$status" 0 ""
    echo "=== $name: $status"; return 0
  fi
  t=$(( cap < remaining ? cap : remaining ))
  echo "=== $name (timeout ${t} s)"
  t0=$SECONDS
  # through bash -c, so that COMMAND may be one of this script's functions (exported below)
  timeout -k 10 "$t" bash -c '"$@"' phase "$@" > "$out" 2>&1; rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="timeout after ${t} s"
  elif grep -q '^PHASE-STATUS: ' "$out"; then status=$(sed -n 's/^PHASE-STATUS: //p' "$out" | tail -1)
  elif [ $rc -eq 0 ]; then status=pass
  else status="fail rc=$rc"; fi
  printf '\n### %s (%s, %d s)\n' "$name" "$status" $((SECONDS - t0)) >> "$LOG"
  cat "$out" >> "$LOG"
  results record "$JSON" "$name" "$status" $((SECONDS - t0)) "$out"
  tail -5 "$out" | sed 's/^/    /'
  echo "=== $name: $status ($((SECONDS - t0)) s)"
  [ "$status" = pass ] || [[ $status == skipped* ]]
}

# --- 1. build
# The dry run keeps the archs of the tree's own build (a rehearsal must not recompile the CUDA
# part for other archs: minutes here); the live run builds for the device.
if [ $DRY -eq 1 ]; then
  ARCH=$("$PY" -c "import cnnops; print(cnnops.build_info().get('cuda_archs') or '')" 2>/dev/null)
  ARCH=${ARCH:-${TORCH_CUDA_ARCH_LIST:-9.0}}
else ARCH=$("$PY" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())"); fi
build() {
  if [ $DRY -eq 0 ] && "$PY" -m benchmarks.gpu_artifact install --archs "$ARCH"; then return 0; fi
  [ $DRY -eq 1 ] && "$PY" -m benchmarks.gpu_artifact install --archs "$ARCH" --check
  # Dry run: the same command, incremental on the tree's own build (no CUDA forced where this
  # machine has no nvcc). Live: CUDA forced, so a missing toolkit fails here, saying why.
  local force=(); [ $DRY -eq 0 ] && force=(CNNOPS_CUDA=1)
  env "${force[@]}" CNNOPS_SIM=0 TORCH_CUDA_ARCH_LIST="$ARCH" MAX_JOBS="$(nproc)" \
    "$PY" setup.py --quiet build_ext --inplace
}
export DRY PY ARCH JSON TMP
export -f results build
phase build 240 60 build || { results summary "$JSON"; echo "build failed: see $LOG"; exit 1; }

# --- 2. smoke
phase smoke 60 10 "$PY" -m benchmarks.gpu_workloads smoke || { results summary "$JSON"; exit 1; }

# --- 3. the GPU tests (dry run: collected, so an import error or a missing package shows here)
# The dry run collects them as the GPU machines' image would: the packages of the dev
# requirements that the image lacks (its package list, 2026-11: expecttest) fail to import.
GPU_IMAGE_LACKS=(expecttest)
if [ $DRY -eq 1 ]; then
  mkdir -p "$TMP/gpu-image"
  for m in "${GPU_IMAGE_LACKS[@]}"; do
    printf 'raise ModuleNotFoundError("No module named %s (not on the GPU image; hidden by the dry run)", name="%s")\n' \
      "'$m'" "$m" > "$TMP/gpu-image/$m.py"
  done
  PYTHONPATH="$TMP/gpu-image${PYTHONPATH:+:$PYTHONPATH}" \
    phase gpu-tests 150 30 "$PY" -m pytest -q -m gpu tests -p no:cacheprovider --collect-only
else
  phase gpu-tests 150 30 "$PY" -m pytest -q -m gpu tests -p no:cacheprovider --durations=15
fi

# --- 4. the benchmark against cuDNN
LIST=(); [ $DRY -eq 1 ] && LIST=(--list)
phase benchmark $((BENCH_BUDGET + 60)) 60 "$PY" -m benchmarks --preset gpu-quick --time-budget "$BENCH_BUDGET" \
  --out "$RESULTS_DIR" "${LIST[@]}"

# --- 5. ncu on three representative kernels
NCU_METRICS=$("$PY" -c "from benchmarks.gpu_check_results import NCU_METRICS; print(','.join(NCU_METRICS))")
KERNELS=$("$PY" -c "from benchmarks.gpu_workloads import PROFILED_KERNELS; print(PROFILED_KERNELS)")
profile() {
  if [ $DRY -eq 1 ] || ! command -v ncu >/dev/null 2>&1; then
    "$PY" -m benchmarks.gpu_workloads profile --device "$([ $DRY -eq 1 ] && echo cpu || echo cuda)" || return
    echo "ncu --clock-control none --kernel-name $KERNELS --launch-count 3 --csv --page raw --metrics $NCU_METRICS"
    echo "PHASE-STATUS: skipped: $([ $DRY -eq 1 ] && echo 'no GPU (dry run)' || echo 'ncu not on PATH')"
    return 0
  fi
  local common=(--clock-control none --target-processes all --kernel-name "$KERNELS" --launch-count 3 --csv)
  ncu "${common[@]}" --page raw --metrics "$NCU_METRICS" "$PY" -m benchmarks.gpu_workloads profile > "$TMP/ncu.csv" 2>&1
  if grep -qiE "not supported|ERR_NVGPUCTRPERM|permission" "$TMP/ncu.csv"; then
    cat "$TMP/ncu.csv"; echo "PHASE-STATUS: skipped: ncu cannot read this machine's counters"; return 0
  fi
  if ! results ncu "$JSON" "$TMP/ncu.csv"; then
    # A metric this ncu does not know fails the whole list: the stock sections instead.
    cat "$TMP/ncu.csv"
    ncu "${common[@]}" --page details --section SpeedOfLight --section MemoryWorkloadAnalysis_Tables \
      --section ComputeWorkloadAnalysis "$PY" -m benchmarks.gpu_workloads profile > "$TMP/ncu.csv" 2>&1
    results ncu "$JSON" "$TMP/ncu.csv" || { cat "$TMP/ncu.csv"; return 1; }
  fi
}
export KERNELS NCU_METRICS
export -f profile
phase ncu 75 30 profile

# --- 6. compute-sanitizer
sanitize() {
  local tool=$1
  if [ $DRY -eq 1 ] || ! command -v compute-sanitizer >/dev/null 2>&1; then
    "$PY" -m benchmarks.gpu_workloads sanitize --device "$([ $DRY -eq 1 ] && echo cpu || echo cuda)" || return
    echo "compute-sanitizer --tool $tool --error-exitcode 3 $PY -m benchmarks.gpu_workloads sanitize"
    echo "PHASE-STATUS: skipped: $([ $DRY -eq 1 ] && echo 'no GPU (dry run)' || echo 'compute-sanitizer not on PATH')"
    return 0
  fi
  local rc=0
  compute-sanitizer --tool "$tool" --error-exitcode 3 "$PY" -m benchmarks.gpu_workloads sanitize > "$TMP/cs.out" 2>&1 || rc=$?
  cat "$TMP/cs.out"
  if grep -q "Device not supported" "$TMP/cs.out"; then echo "PHASE-STATUS: skipped: device not supported"; return 0; fi
  return $rc
}
export -f sanitize
phase memcheck 60 20 sanitize memcheck
phase racecheck 90 30 sanitize racecheck

# --- 7. pooling in both layouts (the quick preset times NHWC only)
phase pooling $((POOL_BUDGET + 40)) 40 "$PY" -m benchmarks --device cuda --suites pooling --layout nchw,nhwc \
  --dtype bfloat16,float32 --batch 32 --passes fwd,fwdbwd --repeats 20 --time-budget "$POOL_BUDGET" --no-chart \
  --out "$RESULTS_DIR" "${LIST[@]}"

results summary "$JSON"; rc=$?
echo "results: $JSON (log: $LOG); $((SECONDS - START)) s in all"
exit $rc
