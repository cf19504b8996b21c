#!/usr/bin/env bash
# Builds and runs the CPU simulator's C++ tests (tests/sim/Makefile) in each flavour, one after
# the other, and prints a summary. Exit status: 0 if every flavour built and passed.
#
#   tests/sim/run.sh                 plain, asan and tsan
#   tests/sim/run.sh plain tsan      only those
#   FILTER=shuffle tests/sim/run.sh  only tests whose name contains "shuffle"
#
# Builds are incremental (objects in build/sim/<flavour>/). Knobs: CXX, JOBS (make -j, default 1).
set -uo pipefail
cd "$(dirname "$0")/../.."

CXX=${CXX:-g++}
JOBS=${JOBS:-1}
FILTER=${FILTER:-}
flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(plain asan tsan)

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "sim tests: no C++ compiler ($CXX)" >&2
  exit 2
fi

# Sanitizer reports must fail the run: UBSan aborts (the Makefile builds with
# -fno-sanitize-recover), ASan exits non-zero, TSan exits 66 when it reported anything.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
seconds() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }  # milliseconds -> "s.d"

summary=()
status=0
for flavour in "${flavours[@]}"; do
  echo "=== sim tests: $flavour"
  start=$(now_ms)
  if ! make --no-print-directory -j"$JOBS" -f tests/sim/Makefile CXX="$CXX" "$flavour"; then
    summary+=("$(printf '%-6s BUILD FAILED' "$flavour")")
    status=1
    continue
  fi
  built=$(now_ms)
  output=$("build/sim/$flavour/sim_tests" $FILTER 2>&1)
  result=$?
  done_at=$(now_ms)
  echo "$output"
  line=$(echo "$output" | grep "^sim tests \[" | tail -1)
  [ -n "$line" ] || line="crashed (exit $result)"
  summary+=("$(printf '%-6s build %5s s  run %5s s  %s' "$flavour" "$(seconds $((built - start)))" \
    "$(seconds $((done_at - built)))" "${line#sim tests }")")
  [ $result -eq 0 ] || status=1
done

echo "=== sim tests: summary"
printf '%s\n' "${summary[@]}"
[ $status -eq 0 ] && echo "sim tests: all passed" || echo "sim tests: FAILED"
exit $status
