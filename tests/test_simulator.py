"""The CPU simulator for CUDA kernels (csrc/sim): builds and runs its standalone C++ tests
(tests/sim/run.sh) in the plain, ASan+UBSan and TSan flavours. Needs only g++ -- no GPU, no
CUDA toolkit, no torch -- so CI's pytest run covers the simulator on every machine."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_SH = os.path.join(ROOT, "tests", "sim", "run.sh")


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="no C++ compiler (g++)")
def test_simulator_cpp_tests_pass_in_every_flavour():
    result = subprocess.run(["bash", RUN_SH], cwd=ROOT, capture_output=True, text=True, timeout=900)
    report = result.stdout + result.stderr
    assert result.returncode == 0, "tests/sim/run.sh failed:\n" + report[-20000:]
    for flavour in ("plain", "asan", "tsan"):
        assert f"sim tests [{flavour}]:" in report, f"the {flavour} flavour did not run:\n" + report[-5000:]
    assert "sim tests: all passed" in report
