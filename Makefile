# cnnops: `make test` and `make bench` do all the set-up on a fresh machine.
#
#   make test                  create .venv (once), install requirements-dev.txt, build, run tests
#   make bench                 same set-up, then the benchmark suite
#   make build                 incremental in-place build (ninja; nothing to do -> seconds)
#   make test VENV=0 PYTHON=python3   use an existing environment (e.g. the GPU machines)
#   make dev-build             fast inner loop: CPU kernels only, no CUDA compile
#   make sim-test              the CUDA simulator's own C++ tests (plain, ASan+UBSan, TSan)
#   make mutants               mutation testing of the CUDA kernels through the simulator
#   make asan-test             the CPU kernel tests on a build with AddressSanitizer + UBSan
#   make compat TORCH=2.11.0   the suite against another torch of the supported range, in its own
#                              venv and source copy (build/compat/torch-2.11.0); SUBSET=1: the
#                              drift subset CI runs on the oldest supported torch
#   make wheel                 dist/cnnops-*.whl for this Python and torch (requires that torch's minor
#                              release); the build's objects are reused, so after `make build` it links
#   make wheel-test            the wheel installed into a fresh venv, smoke-tested outside the tree
#   make gpu-artifact          cnnops._C prebuilt for the GPU machines (Python 3.12, torch 2.11.0,
#                              sm_90), stripped, in build/gpu-artifact: carry it to skip the build
#   make gpu-check-dry-run     the GPU check's rehearsal here (every phase's CPU form)
#
# Knobs: CNNOPS_CUDA=0/1, TORCH_CUDA_ARCH_LIST (default: the GPU's arch, else "8.0;9.0+PTX";
# CI uses 9.0), MAX_JOBS, TESTS (what pytest runs, default tests), PYTEST_ARGS.

PYTHON ?= python3
VENV ?= 1
PYTEST_ARGS ?=
TESTS ?= tests

ifeq ($(VENV),1)
PY := .venv/bin/python
SETUP := .venv/.installed
else
PY := $(PYTHON)
SETUP :=
endif

CUTLASS_WHEEL ?= nvidia-cutlass==4.2.0.0

# The oldest supported torch (setup.py's install_requires) and the GPU machines' torch.
TORCH ?= 2.11.0
GPU_TORCH ?= 2.11.0
GPU_ARCH ?= 9.0

.PHONY: test bench build dev-build clean venv mutants sim-test asan-test compat wheel wheel-test gpu-artifact gpu-check-dry-run

.venv/.installed: requirements-dev.txt
	@test -x .venv/bin/python || $(PYTHON) -m venv .venv
	.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# CUTLASS's CuTe headers: the test-only oracle of tests/test_sim_gmma_oracle.py. Headers only,
	@# so without the wheel's Python dependencies (cuda-python, scipy, ...).
	.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps $(CUTLASS_WHEEL)
	@# The source tree on the venv's path (a .pth file), so examples and tools import cnnops from
	@# anywhere without a reinstall after each build.
	.venv/bin/python -c "import site, os; open(os.path.join(site.getsitepackages()[0], 'cnnops-dev.pth'), 'w').write(os.getcwd() + chr(10))"
	@touch $@

venv: $(SETUP)

build: $(SETUP)
	$(PY) setup.py --quiet build_ext --inplace

dev-build: $(SETUP)
	CNNOPS_CUDA=0 $(PY) setup.py --quiet build_ext --inplace

test: build
	$(PY) -m pytest -q $(TESTS) $(PYTEST_ARGS)

bench: build
	$(PY) -m benchmarks $(BENCH_ARGS)

sim-test:
	bash tests/sim/run.sh

asan-test: $(SETUP)
	PY=$(PY) bash tests/cpu_asan/run.sh

compat:
	bash tests/compat/run.sh $(TORCH) $(if $(filter 1,$(SUBSET)),--subset)

wheel: build
	@# build/lib.* is where setuptools stages the package: a file removed from the tree must not linger there
	rm -rf dist build/lib.* build/bdist.*
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-build-isolation --no-deps --wheel-dir dist .

wheel-test: wheel
	PY=$(PY) bash tests/wheel/run.sh dist/cnnops-*.whl

gpu-artifact:
	CNNOPS_SIM=0 TORCH_CUDA_ARCH_LIST=$(GPU_ARCH) bash tests/compat/run.sh $(GPU_TORCH) --build-only
	build/compat/torch-$(GPU_TORCH)/venv/bin/python -m benchmarks.gpu_artifact pack \
	  build/compat/torch-$(GPU_TORCH)/src/cnnops/_C*.so --out build/gpu-artifact

gpu-check-dry-run: build
	PYTHON=$(PY) bash benchmarks/gpu_check.sh --dry-run

# Mutation testing of the CUDA kernel sources through the simulator: prints the kill rate.
mutants:
	$(PYTHON) tests/sim/mutants.py

clean:
	rm -rf build dist cnnops/*.so cnnops/_build_torch.py
