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
