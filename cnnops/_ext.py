"""Loads the compiled extension (cnnops._C), which registers the ops under torch.ops.cnnops,
and answers which backends this build has."""
import functools

import torch

import os

from . import _build_record

# Before the loader sees _C: built against another torch release it would fail on a missing
# symbol, named, with no word of either release.
BUILT_WITH_TORCH = _build_record.read(os.path.dirname(__file__))
_mismatch = _build_record.mismatch(BUILT_WITH_TORCH, torch.__version__)
if _mismatch is not None:
    raise ImportError(_mismatch)

try:
    from . import _C  # noqa: F401  (importing it runs the TORCH_LIBRARY registrations)
except ImportError as e:  # pragma: no cover - depends on the build
    raise ImportError(
        "cnnops: the compiled extension cnnops._C could not be loaded (%s; recorded build torch: %s, "
        "running torch: %s). Build it with `make build` (or `python setup.py build_ext --inplace`) "
        "in the source tree, or install with `pip install --no-build-isolation -e .`."
        % (e, BUILT_WITH_TORCH or "none", torch.__version__)
    ) from e


def build_info():
    """How the extension was built: {'cuda': bool, 'cuda_archs': str, 'cpu_microkernel_f32': ...}."""
    info = dict(_C.build_info())
    info["torch"] = torch.__version__
    info["built_with_torch"] = BUILT_WITH_TORCH
    return info


@functools.lru_cache(maxsize=None)
def _has_kernel(op: str, key: str) -> bool:
    return torch._C._dispatch_has_kernel_for_dispatch_key("cnnops::" + op, key)


def last_cuda_kernel(op: str = "conv2d_forward") -> str:
    """The CUDA kernel configuration that the last call of `op` ran in this process (e.g.
    'fprop_simt_64x64x16<f32>'), '' if none ran or the build has no CUDA."""
    return _C.last_cuda_kernel(op) if hasattr(_C, "last_cuda_kernel") else ""


def require_backend(op: str, public_name: str, t: torch.Tensor) -> None:
    """Raise a clear error when `t` lives on a device this build has no kernel for."""
    if t.device.type == "cpu" or t.device.type == "meta":
        return
    key = {"cuda": "CUDA"}.get(t.device.type)
    if key is not None and _has_kernel(op, key):
        return
    if t.device.type == "cuda" and not _C.build_info()["cuda"]:
        raise RuntimeError(
            "cnnops.%s: got a CUDA tensor, but this cnnops build has no CUDA support (it was "
            "built without nvcc or with a CPU-only torch); rebuild with CNNOPS_CUDA=1" % public_name
        )
    raise NotImplementedError(
        "cnnops.%s: no %s kernel in this version of cnnops (tensors on %s); CPU kernels are "
        "available" % (public_name, t.device.type.upper(), t.device)
    )
