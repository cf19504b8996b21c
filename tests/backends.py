"""The backends one kernel test body runs on: cnnops' CPU kernels, its CUDA kernels run on the CPU
by the simulator (cnnops._sim: the same host code and kernels as on a GPU), and its CUDA kernels on
a GPU. A test takes the `backend` fixture (conftest.py) and calls the ops through it with CPU
tensors; the backend moves them (strides kept) and brings the results back to the CPU."""
import pytest
import torch

from cnnops import _args


def _on(t, device):
    """t on `device` with the same sizes, strides and storage offset (Tensor.to makes a
    non-dense view contiguous; the kernels must see the view)."""
    if t is None or t.device == torch.device(device):
        return t
    n = t.untyped_storage().nbytes() // t.element_size()
    flat = torch.empty(0, dtype=t.dtype).set_(t.untyped_storage(), 0, (n,), (1,))
    return flat.to(device).as_strided(t.shape, t.stride(), t.storage_offset())


def _cpu(t):
    return t.cpu() if isinstance(t, torch.Tensor) else type(t)(_cpu(u) for u in t)


class Backend:
    """The cnnops ops (torch.ops.cnnops schemas, arguments as torch.nn.functional's) on one backend."""

    def __init__(self, name, device, ops, last_kernel, sim=None):
        self.name, self.device, self._ops, self._last_kernel = name, device, ops, last_kernel
        self.sim = sim  # the simulator module (its counters, schedules) on the 'sim' backend

    def __repr__(self):
        return self.name

    @property
    def wgmma(self):
        """Whether its float16 / bfloat16 forwards take the Hopper (wgmma) kernel: on a GPU where the
        build and device allow it; never in the simulator by default (its own tests switch it on)."""
        if self.name != "cuda":
            return False
        import cnnops

        return bool(getattr(cnnops._C, "cuda_wgmma_available", lambda: False)())

    @property
    def runs_cuda_kernels(self):
        return self.name in ("sim", "cuda")

    def _call(self, op, *args):
        args = [_on(a, self.device) if isinstance(a, torch.Tensor) else a for a in args]
        out = getattr(self._ops, op)(*args)
        if self.device == "cuda":
            torch.cuda.synchronize()
        return _cpu(out)

    def conv2d(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        stride, padding, dilation, groups = _args.conv2d(x, w, b, stride, padding, dilation, groups)
        return self._call("conv2d_forward", x, w, b, list(stride), list(padding), list(dilation), groups)

    def conv2d_backward(self, grad_output, x, w, stride=1, padding=0, dilation=1, groups=1, mask=(True,) * 3):
        stride, padding, dilation, groups = _args.conv2d(x, w, None, stride, padding, dilation, groups)
        return self._call("conv2d_backward", grad_output, x, w, list(stride), list(padding), list(dilation), groups,
                          list(mask))

    def __getattr__(self, op):
        """The pooling ops by their torch.ops.cnnops names, e.g. backend.max_pool2d_forward(x, k, s, p, d, ceil)."""
        if op.startswith(("max_pool2d_", "avg_pool2d_", "adaptive_avg_pool2d_")):
            return lambda *args: self._call(op, *args)
        raise AttributeError(op)

    def last_kernel(self, op):
        """The kernel configuration the backend's last call of `op` ran (CUDA kernels only)."""
        return self._last_kernel(op)


def _sim_module():
    try:
        import cnnops._sim as sim
    except ImportError:
        return None
    return sim


def make_backend(name):
    """The backend `name` ('cpu', 'sim', 'cuda'), or a pytest skip where this build or machine lacks it."""
    import cnnops

    if name == "cpu":
        return Backend("cpu", "cpu", torch.ops.cnnops, lambda op: "")
    if name == "sim":
        sim = _sim_module()
        if sim is None:
            pytest.skip("cnnops was built without the simulator module (CNNOPS_SIM=0)")
        return Backend("sim", "cpu", sim, sim.last_kernel, sim=sim)
    if name == "cuda":
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device")
        return Backend("cuda", "cuda", torch.ops.cnnops, cnnops.last_cuda_kernel)
    raise ValueError(name)


# The fixtures' parameters (conftest.py): the GPU one carries the gpu marker (the GPU check runs -m gpu).
CUDA_BACKEND_PARAMS = [pytest.param("sim"), pytest.param("cuda", marks=pytest.mark.gpu)]
BACKEND_PARAMS = [pytest.param("cpu")] + CUDA_BACKEND_PARAMS
