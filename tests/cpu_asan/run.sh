#!/usr/bin/env bash
# The CPU kernels under AddressSanitizer + UBSan: builds cnnops/_C with CNNOPS_SANITIZE=1 into
# build/asan (objects in build/temp-asan, incremental), puts a copy of the Python package beside
# it and runs the CPU kernel tests against that copy, with the sanitizer runtime preloaded
# (python itself is not instrumented). Any out-of-bounds access, use after free or undefined
# behaviour in a CPU kernel aborts the run with a report.
#
# Why: a packer once zeroed past the end of a stack buffer for one padding/shape combination;
# the values stayed right and only one build's stack layout turned it into a crash.
#
#   bash tests/cpu_asan/run.sh [pytest args]     (PY=python to use another interpreter)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=build/asan

CNNOPS_SANITIZE=1 "$PY" setup.py --quiet build_ext --build-lib "$OUT" >/dev/null
# The pure-Python package next to the sanitized module (copied fresh: the sources may have moved).
find "$OUT/cnnops" -name '*.py' -delete 2>/dev/null || true
(cd cnnops && find . -name '*.py' -exec install -D -m 644 {} "../$OUT/cnnops/{}" \;)

# libstdc++ preloaded with the ASan runtime: loaded later (by torch), ASan's __cxa_throw
# interceptor finds no real __cxa_throw and aborts at the first C++ exception.
export LD_PRELOAD="$(${CXX:-c++} -print-file-name=libasan.so) $(${CXX:-c++} -print-file-name=libstdc++.so)"
# Leaks are torch's and Python's business; the interpreter is not instrumented.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:print_summary=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# -P: no current directory on sys.path, so that the copy is what imports as cnnops.
export PYTHONPATH="$PWD/$OUT${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -P -c "import cnnops, os; assert os.path.dirname(cnnops.__file__).endswith('$OUT/cnnops'), cnnops.__file__"
if [ $# -eq 0 ]; then
  set -- tests/test_conv2d.py tests/test_conv2d_depthwise.py tests/test_conv2d_grouped.py tests/test_pool2d.py tests/test_max_pool2d.py tests/test_avg_pool2d.py \
    tests/test_adaptive_avg_pool2d.py tests/test_conv2d_bias_act.py tests/test_errors.py \
    tests/test_opcheck.py tests/test_fuse.py -q -x \
    -p no:cacheprovider
fi
# --capture=sys: pytest captures Python's sys.stdout/stderr only, so a sanitizer report (written
# to file descriptor 2 just before it ends the process) reaches the terminal.
exec "$PY" -P -m pytest --capture=sys "$@"
