"""Static checks of the compiled CUDA kernels, without a GPU: cuobjdump (from the
nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm wheels) reads the built extension. Every cnnops
kernel uses no local memory (no spills, no stack frame), and the tensor-core kernels really
contain HMMA instructions (the simulator proves their fragments right; this proves the GPU build
runs them on tensor cores). Skipped where the extension has no CUDA part or the tools are absent."""
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

import cnnops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool(name):
    for base in sys.path:
        path = os.path.join(base, "nvidia", "cu13", "bin", name)
        if os.path.exists(path):
            return path
    return shutil.which(name)


CUOBJDUMP, NVDISASM = _tool("cuobjdump"), _tool("nvdisasm")
pytestmark = [
    pytest.mark.skipif(not cnnops.build_info()["cuda"], reason="the extension was built without CUDA"),
    pytest.mark.skipif(CUOBJDUMP is None or NVDISASM is None, reason="cuobjdump / nvdisasm not installed"),
]


def _extension():
    return (glob.glob(os.path.join(os.path.dirname(cnnops.__file__), "_C*.so")) or [None])[0]




def test_no_kernel_uses_local_memory():
    out = subprocess.run([CUOBJDUMP, "-res-usage", _extension()], capture_output=True, text=True, check=True).stdout
    usage = re.findall(r"Function (\S*cnnops\S*):\s*\n\s*(REG:\d+ STACK:\d+ SHARED:\d+ LOCAL:\d+)", out)
    assert usage, "no cnnops kernels found by cuobjdump -res-usage"
    bad = [(re.sub(r"^.*?(\w+_kernel)", r"\1", name), res) for name, res in usage
           if "STACK:0 " not in res or "LOCAL:0" not in res]
    assert not bad, "kernels with a stack frame or local memory (spills): %s" % bad


def test_tensor_core_kernels_contain_hmma():
    env = dict(os.environ, PATH=os.path.dirname(NVDISASM) + os.pathsep + os.environ.get("PATH", ""))
    sass = subprocess.run([CUOBJDUMP, "-sass", _extension()], capture_output=True, text=True, check=True, env=env).stdout
    kernels = {}
    for block in re.split(r"\n\s*Function : ", sass)[1:]:
        name = block.split("\n", 1)[0].strip()
        kernels[name] = kernels.get(name, 0) + block.count("HMMA")
    tc = {n: c for n, c in kernels.items() if "fprop_tc_kernel" in n}
    simt = {n: c for n, c in kernels.items() if "fprop_simt_kernel" in n}
    assert len(tc) == 12, "expected f16, bf16 and tf32 tensor-core kernels, general and 1x1, two tiles: %s" % list(tc)
    assert all(c > 0 for c in tc.values()), "tensor-core kernels without HMMA: %s" % tc
    assert simt and all(c == 0 for c in simt.values()), "CUDA-core kernels should not use tensor cores"
