#!/usr/bin/env bash
# The wheel as users get it: `make wheel` builds it (pip wheel --no-build-isolation, reusing the
# in-place build's objects, so only the link runs); this script checks its metadata, installs it
# into a fresh virtual environment with nothing but its runtime dependencies (pip resolves them
# from the wheel's metadata) and runs tests/wheel/smoke.py there from outside the source tree.
# Then, where the compat environment of another torch exists (CI builds torch 2.11.0's before
# this), it imports the same wheel under that torch and expects the clear error naming both
# releases, not the loader's missing symbol.
#
#   make wheel-test                    # make wheel, then: bash tests/wheel/run.sh dist/cnnops-*.whl
#
# Environment: PY (the interpreter that built it: default .venv/bin/python), OTHER_TORCH_PYTHON
# (default build/compat/torch-2.11.0/venv/bin/python).
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: bash tests/wheel/run.sh WHEEL (make wheel-test)" >&2; exit 2; }
wheel=$(realpath "$1")
cd "$(dirname "$0")/../.."
top=$PWD
py=${PY:-.venv/bin/python}
work=$top/build/wheel-test
rm -rf "$work"
mkdir -p "$work"
t0=$SECONDS
echo "wheel: $wheel ($(du -m "$wheel" | cut -f1) MiB)"

# 1. Its metadata must require the torch minor release it was compiled against, and it must hold
#    the generated record, the extension and the data-bearing modules.
"$py" - "$wheel" <<'PY'
import re, sys, zipfile, torch
z = zipfile.ZipFile(sys.argv[1])
meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
req = [l for l in meta.splitlines() if l.startswith("Requires-Dist: torch")]
major, minor = map(int, re.match(r"(\d+)\.(\d+)", torch.__version__).groups())
want = {f"torch<{major}.{minor + 1},>={major}.{minor}", f"torch>={major}.{minor},<{major}.{minor + 1}"}
assert len(req) == 1 and req[0].split(": ", 1)[1].replace(" ", "") in want, req
names = z.namelist()
for must in ("cnnops/_build_torch.py", "cnnops/models/resnet.py", "benchmarks/suites.py"):
    assert must in names, must + " missing from the wheel"
assert any(re.match(r"cnnops/_C\..*\.so$", n) for n in names), "no cnnops/_C*.so in the wheel"
print("metadata:", req[0])
PY

# 2. A fresh environment; pip installs the wheel and what its metadata asks for, nothing else.
#    (Its cache makes torch's download a copy.)
base=$("$py" -c 'import sys; print(sys._base_executable)')
"$base" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" \
  > "$work/pip.log" 2>&1 || { tail -40 "$work/pip.log" >&2; exit 1; }
echo "installed into a fresh venv ($((SECONDS - t0)) s): $("$work/venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -iE '^(torch|numpy|cnnops) ' | tr -s ' ' | paste -sd, -)"

# 3. The smoke test, from outside the tree, isolated from PYTHONPATH and the script's folder.
mkdir -p "$work/elsewhere"
cp tests/wheel/smoke.py "$work/elsewhere/"
(cd "$work/elsewhere" && env -u PYTHONPATH "$work/venv/bin/python" -I smoke.py)

# 4. The same wheel under another torch: the clear error, naming both releases.
other=${OTHER_TORCH_PYTHON:-$top/build/compat/torch-2.11.0/venv/bin/python}
if [ -x "$other" ]; then
  # Unpacked rather than pip-installed: the compat environment's Python (3.12, the GPU machines')
  # may differ from this build's, and pip would refuse the wheel's tag. The record is checked
  # before the extension is looked for, so the error is the same as under this Python.
  "$py" -m zipfile -e "$wheel" "$work/other"
  ours=$("$py" -c 'import torch; print(torch.__version__)')
  theirs=$("$other" -c 'import torch; print(torch.__version__)')
  if msg=$(cd "$work/elsewhere" && PYTHONPATH="$work/other" "$other" -c 'import cnnops' 2>&1); then
    echo "FAIL: the wheel built for torch $ours imported under torch $theirs" >&2; exit 1
  fi
  last=$(printf '%s\n' "$msg" | tail -1)
  case "$last" in
    "ImportError: cnnops: this build of cnnops was compiled against torch $ours, but torch $theirs is installed."*)
      echo "under torch $theirs: $last" ;;
    *) echo "FAIL: under torch $theirs the import failed without naming both releases:" >&2; printf '%s\n' "$msg" >&2; exit 1 ;;
  esac
else
  echo "no environment of another torch at $other: the mismatch check is skipped (make compat builds one)"
fi
echo "wheel test passed in $((SECONDS - t0)) s"
