"""The build facts the extension reports, and the CPU-side error for CUDA tensors."""
import re

import cnnops


def test_version_and_build_info():
    assert re.match(r"^\d+\.\d+\.\d+", cnnops.__version__)
    info = cnnops.build_info()
    assert isinstance(info["cuda"], bool)
    assert info["cpu_microkernel_f32"] and info["cpu_microkernel_f64"]
    if info["cuda"]:
        assert info["cuda_archs"]


def test_cuda_functions_exist_exactly_when_built_with_cuda():
    assert hasattr(cnnops._C, "cuda_shape_selftest") == cnnops.build_info()["cuda"]


def test_the_supported_torch_range_is_stated_once_and_tested_at_its_bottom():
    """setup.py's requirement comes from cnnops/_version.py; the README states the same range;
    `make compat` (and so CI's compat phase) defaults to its lowest release; this torch is in it."""
    import os

    import torch

    from cnnops._version import TORCH_REQUIREMENT

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    low, high = re.fullmatch(r">=(\d+\.\d+),<(\d+\.\d+)", TORCH_REQUIREMENT).groups()
    with open(os.path.join(root, "README.md")) as f:
        assert f"torch >= {low}, < {high}" in f.read()
    with open(os.path.join(root, "Makefile")) as f:
        assert re.search(rf"^TORCH \?= {re.escape(low)}\.0$", f.read(), re.M)
    with open(os.path.join(root, "setup.py")) as f:
        assert '"torch" + _read_version("TORCH_REQUIREMENT")' in f.read()
    version = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(low) <= version < as_tuple(high), torch.__version__
