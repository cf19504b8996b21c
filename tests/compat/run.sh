#!/usr/bin/env bash
# cnnops against another torch release of the supported range, in an environment of its own:
# a virtual environment with that torch (and the torchvision built for it), a copy of the source
# tree built there (objects kept between runs, so a second run rebuilds only what changed), and
# the test suite -- or, with --subset, the tests that catch API drift between torch releases.
#
#   bash tests/compat/run.sh 2.11.0                 # the whole suite   (make compat TORCH=2.11.0)
#   bash tests/compat/run.sh 2.11.0 --subset        # the drift subset  (what .ci/run runs)
#   bash tests/compat/run.sh 2.11.0 -- -k compile   # pytest arguments after --
#   bash tests/compat/run.sh 2.11.0 --build-only    # environment and build, no tests (make gpu-artifact)
#
# Everything lives under build/compat/torch-VERSION/: venv/, src/ (the copy: tracked and
# untracked-but-not-ignored files, mtimes kept), objects/ (src/build points there).
#
# Python 3.12 when this machine has it (COMPAT_PYTHON overrides): the GPU machines' version.
#
# Environment: COMPAT_PYTHON (the interpreter for the venv), TORCH_CUDA_ARCH_LIST (default 9.0),
# MAX_JOBS, CNNOPS_CUDA (default: built when nvcc matches the torch build, as setup.py decides).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD

usage() { sed -n '2,14p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
version=$1; shift
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "compat: '$version' is not a torch release (e.g. 2.11.0)" >&2; exit 2; }
subset=0 build_only=0
case "${1:-}" in
  --subset) subset=1; shift ;;
  --build-only) build_only=1; shift ;;
esac
[ "${1:-}" = "--" ] && shift

# The drift subset: op registration and the build facts; opcheck, autocast and torch.compile;
# the profiler's view of which kernels run; the layers, convert and converted torchvision models
# (outputs and gradients); the simulator module loading and running a forward kernel; and the GPU
# check's rehearsal (its pytest collection of the GPU tests runs under this torch, with the
# packages that the GPU machines' image lacks hidden).
SUBSET=(
  tests/test_build.py
  tests/test_opcheck.py
  tests/test_no_aten_compute.py
  tests/test_nn.py
  tests/test_sim_conv2d.py::test_matches_the_cpu_op_and_is_deterministic
  tests/test_gpu_check.py
)

find_python() {
  if [ -n "${COMPAT_PYTHON:-}" ]; then echo "$COMPAT_PYTHON"; return; fi
  # pyenv's shims answer for versions that are not active, so ask the interpreter itself.
  if python3.12 -c '' 2>/dev/null; then command -v python3.12; return; fi
  local root; root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for p in "$root"/versions/3.12*/bin/python3.12; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  echo "compat: no Python 3.12 here (the GPU machines' version); using python3" >&2
  command -v python3
}

root=build/compat/torch-$version
mkdir -p "$root/objects"
venv=$PWD/$root/venv
t0=$SECONDS

# 1. The environment (once): torch pinned, pip picks the torchvision built for it (each pins one
#    torch release); the dev requirements without torch and torchvision.
want="torch==$version
torchvision
$(grep -vE '^(torch|torchvision)\b' requirements-dev.txt)"
if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$want" ]; then
  py=$(find_python)
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  printf '%s\n' "$want" > "$root/requirements.txt"
  # pip's log kept beside the venv (its index warnings are noise), shown when it fails.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt" \
    > "$root/pip.log" 2>&1 || { tail -40 "$root/pip.log" >&2; exit 1; }
  printf '%s' "$want" > "$venv/.installed"
fi
"$venv/bin/python" -c "import sys, torch, torchvision; print('compat: Python %s, torch %s (CUDA %s), torchvision %s' % (sys.version.split()[0], torch.__version__, torch.version.cuda, torchvision.__version__))"
got=$("$venv/bin/python" -c "import torch; print(torch.__version__.split('+')[0])")
[ "$got" = "$version" ] || { echo "compat: asked for torch $version, the venv has $got" >&2; exit 1; }
echo "compat: environment ready ($((SECONDS - t0)) s)"

# 2. A fresh copy of the source tree (a stale file from an earlier copy would be built too), its
#    build/ folder on the persistent objects, so ninja recompiles only what changed.
t0=$SECONDS
rm -rf "$root/src.new"
mkdir -p "$root/src.new"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$root/src.new"
ln -s ../objects "$root/src.new/build"
rm -rf "$root/src"
mv "$root/src.new" "$root/src"

cd "$root/src"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
"$venv/bin/python" setup.py --quiet build_ext --inplace
echo "compat: built ($((SECONDS - t0)) s)"
[ $build_only -eq 1 ] && exit 0

# 3. The tests, in the copy, with this environment's interpreter.
t0=$SECONDS
if [ $subset -eq 1 ]; then set -- "${SUBSET[@]}" "$@"; elif [ $# -eq 0 ] || [[ $1 == -* ]]; then set -- tests "$@"; fi
rc=0
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" || rc=$?
echo "compat: torch $version tests exit $rc ($((SECONDS - t0)) s)"
exit $rc
