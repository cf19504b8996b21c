"""GPU tests (marked `gpu`; skipped without a CUDA device). The CUDA kernels of the later issues
add their cases here; today they check the CUDA part of the build itself."""
import pytest
import torch

import cnnops

pytestmark = pytest.mark.gpu


def test_build_has_cuda():
    assert cnnops.build_info()["cuda"], "a GPU machine should build the CUDA part"


def test_device_shape_math_matches_host():
    result = cnnops._C.cuda_shape_selftest()
    assert result["queries"] > 1000 and result["mismatches"] == 0


def test_cuda_tensor_gets_a_clear_error_until_kernels_exist():
    x = torch.randn(1, 3, 8, 8, device="cuda")
    w = torch.randn(4, 3, 3, 3, device="cuda")
    if torch._C._dispatch_has_kernel_for_dispatch_key("cnnops::conv2d_forward", "CUDA"):
        pytest.skip("CUDA conv kernels are registered")
    with pytest.raises(NotImplementedError, match="CUDA"):
        cnnops.conv2d(x, w)
