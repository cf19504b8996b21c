"""The simulator's wgmma layouts against an independent oracle: CUTLASS's CuTe.

tests/oracle/gmma_cute_oracle.cpp compares, element by element, where the simulator's descriptor
decoding (csrc/sim/gmma_layout.cpp) says each operand element of a wgmma lives with where CuTe's
canonical K-major layouts put it (no swizzle, 32-, 64- and 128-byte swizzle; 16-bit and tf32;
tiles of 64 to 256 rows; every k-block), the descriptors cnnops builds
(csrc/common/gmma_descriptor.h) with CuTe's make_gmma_desc bit for bit, and the accumulator
fragment layout with CuTe's CLayout_64xN. CuTe comes from the nvidia-cutlass wheel (installed by
`make venv`, headers only, test-only); nvcc drives the host compiler, so the CUDA headers CuTe
includes are found where the build finds them.
"""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cute_include():
    import cutlass_library  # the nvidia-cutlass wheel: `make venv` installs it

    include = os.path.join(os.path.dirname(cutlass_library.__file__), "source", "include")
    assert os.path.exists(os.path.join(include, "cute", "atom", "mma_traits_sm90_gmma.hpp")), include
    return include


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("no nvcc: the oracle is compiled by nvcc's host compiler (CuTe includes the CUDA headers)")
    exe = str(tmp_path_factory.mktemp("gmma_oracle") / "gmma_cute_oracle")
    cmd = [nvcc, "-std=c++17", "-O1", "-w", "-I", _cute_include(), "-I", os.path.join(ROOT, "csrc"),
           os.path.join(ROOT, "tests", "oracle", "gmma_cute_oracle.cpp"),
           os.path.join(ROOT, "csrc", "sim", "gmma_layout.cpp"), "-o", exe]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return exe


def test_simulator_gmma_layouts_agree_with_cute(oracle):
    run = subprocess.run([oracle], capture_output=True, text=True)
    lines = [line for line in run.stdout.splitlines() if "cast_smem_ptr_to_uint" not in line]
    summary = lines[-1] if lines else ""
    assert run.returncode == 0 and summary.endswith(" 0 failures"), "\n".join(lines[-25:]) + run.stderr
    checks = int(summary.split(":")[1].split()[0])
    assert checks > 200_000  # every element of every case, not a handful
