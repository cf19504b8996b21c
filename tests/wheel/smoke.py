"""The installed wheel's smoke test, run by tests/wheel/run.sh in a fresh virtual environment
from outside the source tree (`python -I`: no script folder, no PYTHONPATH, no user site).

It fails where the package differs from the checkout: a module or data file left out of the
wheel, a path that only resolves in the source tree, a missing runtime dependency, an extension
that does not load. Each op runs forward and backward against torch in float64.
"""
import os
import subprocess
import sys
import sysconfig

import torch
import torch.nn.functional as F

import cnnops

site = os.path.realpath(sysconfig.get_paths()["purelib"])
where = os.path.realpath(os.path.dirname(cnnops.__file__))
assert where.startswith(site + os.sep), "cnnops imported from %s, not from the environment's %s" % (where, site)
assert not any(os.path.exists(os.path.join(p, "setup.py")) and os.path.isdir(os.path.join(p, "csrc"))
               for p in sys.path if p), "a cnnops source tree is on sys.path: %s" % sys.path

info = cnnops.build_info()
print("cnnops", cnnops.__version__, "from", where)
print("build_info", info)
assert info["built_with_torch"] == torch.__version__, info
assert info["cpu_microkernel_f32"] and info["cpu_microkernel_f64"], info

torch.manual_seed(0)


def check(name, ours, theirs, *inputs):
    """ours(*inputs) against theirs(*inputs): values and every input's gradient, float64."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    refs = [t.detach().clone().requires_grad_(True) for t in inputs]
    y, r = ours(*leaves), theirs(*refs)
    torch.testing.assert_close(y, r, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(r)
    torch.autograd.backward(y, g)
    torch.autograd.backward(r, g)
    for a, b in zip(leaves, refs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-12)
    print("ok", name)


d = torch.float64
x = torch.randn(2, 6, 9, 11, dtype=d)
w = torch.randn(4, 3, 3, 3, dtype=d)
b = torch.randn(4, dtype=d)
res = torch.randn(2, 4, 5, 6, dtype=d)
check("conv2d", lambda x, w, b: cnnops.conv2d(x, w, b, stride=2, padding=1, groups=2),
      lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), x, w, b)
w1 = torch.randn(4, 6, 3, 3, dtype=d)
check("conv2d_bias_act", lambda x, w, b, r: cnnops.conv2d_bias_act(x, w, b, stride=2, padding=1, activation="relu", residual=r),
      lambda x, w, b, r: F.relu(F.conv2d(x, w, b, stride=2, padding=1) + r), x, w1, b, res)
check("max_pool2d", lambda x: cnnops.max_pool2d(x, 3, 2, 1, ceil_mode=True), lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), x)
check("avg_pool2d", lambda x: cnnops.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
      lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), x)
check("adaptive_avg_pool2d", lambda x: cnnops.adaptive_avg_pool2d(x, (4, 5)), lambda x: F.adaptive_avg_pool2d(x, (4, 5)), x)

# the course networks ship with the package, and convert swaps a model's layers
model = cnnops.models.lenet5().double()
assert model(torch.randn(2, 1, 32, 32, dtype=d)).shape == (2, 10)
converted = cnnops.convert(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.MaxPool2d(2)))
assert isinstance(converted[0], cnnops.nn.Conv2d) and isinstance(converted[1], cnnops.nn.MaxPool2d)
print("ok models and convert")

# the simulator module, when the wheel has it, runs a CUDA kernel on the CPU
try:
    from cnnops import _sim
except ImportError:
    print("no simulator module in this wheel")
else:
    xs, ws = torch.randn(1, 8, 6, 6, dtype=d), torch.randn(8, 8, 3, 3, dtype=d)  # float64: no TF32
    torch.testing.assert_close(_sim.conv2d_forward(xs, ws, None, [1, 1], [1, 1, 1, 1], [1, 1], 1),
                               F.conv2d(xs, ws, padding=1), rtol=1e-12, atol=1e-12)
    print("ok simulator module")

# the benchmark suite's console script and its suites' data
bench = os.path.join(os.path.dirname(sys.executable), "cnnops-bench")
out = subprocess.run([bench, "--list"], capture_output=True, text=True, timeout=120)
assert out.returncode == 0 and "resnet50" in out.stdout.lower(), out.stdout[-2000:] + out.stderr[-2000:]
print("ok cnnops-bench --list")
print("wheel smoke test passed")
