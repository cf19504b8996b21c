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
        assert '_read_version("TORCH_REQUIREMENT")' in f.read()
    version = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(low) <= version < as_tuple(high), torch.__version__


def test_the_build_records_its_torch_and_requires_that_minor_release():
    import torch

    from cnnops import _build_record

    assert cnnops.build_info()["built_with_torch"] == torch.__version__
    assert _build_record.requirement("2.14.1+cu130") == "torch>=2.14,<2.15"
    assert _build_record.requirement("2.11.0") == "torch>=2.11,<2.12"
    assert _build_record.mismatch("2.14.1", "2.14.0+cpu") is None  # patch releases share the ABI
    assert _build_record.mismatch(None, "2.14.1") is None  # nothing recorded: nothing to say


def test_importing_under_another_torch_names_both_releases(tmp_path):
    """A package whose record names another minor release stops at import with a message naming
    both, before the loader meets the first missing symbol. The copy holds the Python files only:
    had the check not run first, the import would fail on the missing extension instead."""
    import os
    import shutil
    import subprocess
    import sys

    import torch

    from cnnops import _build_record

    package = os.path.dirname(cnnops.__file__)
    shutil.copytree(package, tmp_path / "cnnops", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    _build_record.write(str(tmp_path / "cnnops"), "2.9.0")
    r = subprocess.run([sys.executable, "-c", "import cnnops"], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(tmp_path)), timeout=120)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: cnnops: this build of cnnops was compiled against torch 2.9.0, but torch %s"
                           % torch.__version__), last
    assert "torch>=2.9,<2.10" in last
