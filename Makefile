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

.PHONY: test bench build dev-build clean venv mutants sim-test asan-test

.venv/.installed: requirements-dev.txt
	@test -x .venv/bin/python || $(PYTHON) -m venv .venv
	.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
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

# Mutation testing of the CUDA kernel sources through the simulator: prints the kill rate.
mutants:
	$(PYTHON) tests/sim/mutants.py

clean:
	rm -rf build cnnops/*.so
