"""Shared test set-up: deterministic seeds, poisoned kernel outputs, IEEE float32 convolutions,
the gpu marker, the `backend` and `kernels` fixtures, and the hypothesis profiles (derandomised in CI so a failure replays)."""
import os
import random
import zlib

import numpy as np
import pytest
import torch

import cnnops
from backends import BACKEND_PARAMS, CUDA_BACKEND_PARAMS, make_backend

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
except ImportError:  # pragma: no cover
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped without one)")
    config.addinivalue_line("markers", "slow: whole-model tests")
    # Every kernel output starts as NaN (int64: -1): an element a kernel forgets shows up.
    cnnops._C.set_poison_outputs(True)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    """The backend a shared kernel test body runs on (tests/backends.py): cpu, sim, cuda."""
    return make_backend(request.param)


@pytest.fixture(params=CUDA_BACKEND_PARAMS)
def kernels(request):
    """The CUDA kernels' backends alone (tests/backends.py): sim, cuda -- for tests whose
    reference is cnnops' CPU op."""
    return make_backend(request.param)


@pytest.fixture(autouse=True)
def _ieee_float32_convolutions():
    """float32 convolutions in IEEE precision unless a test asks for TF32 (helpers.conv_tf32):
    torch's default lets cuDNN -- and so cnnops' CUDA kernels -- use TF32, whose error is not
    float32's."""
    from helpers import conv_tf32

    with conv_tf32(False):
        yield


@pytest.fixture(autouse=True)
def _seed(request):
    """Seed every test from its own name: reproducible alone or in any order."""
    seed = zlib.crc32(request.node.nodeid.encode())
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    yield
