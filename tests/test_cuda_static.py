"""Static checks of the compiled CUDA kernels, without a GPU: cuobjdump (from the
nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm wheels) reads the built extension. Every cnnops
kernel uses no local memory (no spills, no stack frame), and the tensor-core kernels really
contain HMMA instructions (the simulator proves their fragments right; this proves the GPU build
runs them on tensor cores). Skipped where the extension has no CUDA part or the tools are absent."""
import re
import subprocess

import pytest

import cnnops
from benchmarks import sass

CUOBJDUMP, NVDISASM = sass.tool("cuobjdump"), sass.tool("nvdisasm")
pytestmark = [
    pytest.mark.skipif(not cnnops.build_info()["cuda"], reason="the extension was built without CUDA"),
    pytest.mark.skipif(CUOBJDUMP is None or NVDISASM is None, reason="cuobjdump / nvdisasm not installed"),
]
_extension = sass.extension


def test_no_kernel_uses_local_memory():
    out = subprocess.run([CUOBJDUMP, "-res-usage", _extension()], capture_output=True, text=True, check=True).stdout
    usage = re.findall(r"Function (\S*cnnops\S*):\s*\n\s*(REG:\d+ STACK:\d+ SHARED:\d+ LOCAL:\d+)", out)
    assert usage, "no cnnops kernels found by cuobjdump -res-usage"
    bad = [(re.sub(r"^.*?(\w+_kernel)", r"\1", name), res) for name, res in usage
           if "STACK:0 " not in res or "LOCAL:0" not in res]
    assert not bad, "kernels with a stack frame or local memory (spills): %s" % bad


def test_tensor_core_kernels_contain_hmma():
    kernels = {name: sum(i.opcode.startswith("HMMA") for i in instrs)
               for name, instrs in sass.functions(sass.disassemble(_extension())).items()}
    tc = {n: c for n, c in kernels.items() if "fprop_tc_kernel" in n}
    simt = {n: c for n, c in kernels.items() if "fprop_simt_kernel" in n}
    assert len(tc) == 18, "expected f16, bf16 and tf32 tensor-core kernels, general and 1x1, three tiles: %s" % list(tc)
    assert all(c > 0 for c in tc.values()), "tensor-core kernels without HMMA: %s" % tc
    assert simt and all(c == 0 for c in simt.values()), "CUDA-core kernels should not use tensor cores"


# The main loops' static budgets (issue #15), per tensor-core kernel: (element type, 1x1 GEMM
# variant, tile M, tile N) -> (instructions per HMMA, registers), ceilings at this tree's counts
# (nvcc 13.0, sm_90) plus about 3% / 6 registers (255 at most), so a change that makes a main
# loop issue more, or spill closer, fails CI. The goal for the 16-bit loops is about 5 (4 non-MMA
# instructions per HMMA, CUTLASS's Ampere kernels), met by every tile; lower a ceiling whenever a
# kernel improves. (Registers are the whole kernel's.)
MAIN_LOOP_BUDGETS = {  # (type, 1x1, tile M, tile N): (instructions per HMMA, registers)
    ("bf16_t", False, 128, 128): (3.09, 248), ("bf16_t", False, 128, 64): (4.83, 174),
    ("bf16_t", False, 64, 64): (5.28, 134), ("bf16_t", True, 128, 128): (2.31, 242),
    ("bf16_t", True, 128, 64): (3.26, 163), ("bf16_t", True, 64, 64): (3.71, 130),
    ("half_t", False, 128, 128): (3.09, 248), ("half_t", False, 128, 64): (4.83, 174),
    ("half_t", False, 64, 64): (5.28, 134), ("half_t", True, 128, 128): (2.31, 242),
    ("half_t", True, 128, 64): (3.26, 163), ("half_t", True, 64, 64): (3.71, 130),
    ("float", False, 128, 128): (6.01, 246), ("float", False, 128, 64): (9.24, 166),
    ("float", False, 64, 64): (11.82, 132), ("float", True, 128, 128): (5.22, 228),
    ("float", True, 128, 64): (7.67, 152), ("float", True, 64, 64): (9.66, 126),
}


def test_main_loop_instruction_and_register_budgets():
    loops = sass.tensor_core_loops(_extension())
    seen = {}
    for name, (loop, usage) in loops.items():
        m = re.search(r"fprop_tc_kernel<(?:cnnops::cuda::)?(\w+), (true|false), (?:cnnops::cuda::)?TcTile<(\d+), (\d+),",
                      name)
        assert m, name
        seen[(m.group(1), m.group(2) == "true", int(m.group(3)), int(m.group(4)))] = (loop, usage)
    assert set(seen) == set(MAIN_LOOP_BUDGETS), "kernels without a budget, or budgets without a kernel: %s" % (
        set(seen) ^ set(MAIN_LOOP_BUDGETS))
    over = []
    for key, (per_hmma, regs) in MAIN_LOOP_BUDGETS.items():
        loop, usage = seen[key]
        # one k-tile's mma (ptxas may unroll the loop: a whole number of k-tiles per iteration)
        assert loop.hmma % (key[2] * key[3] // 256) == 0, "main loop of %s: %d HMMA" % (key, loop.hmma)
        if loop.per_hmma > per_hmma or usage["REG"] > regs:
            over.append("%s: %.2f instructions per HMMA (budget %.2f), %d registers (budget %d)"
                        % (key, loop.per_hmma, per_hmma, usage["REG"], regs))
    assert not over, "main loops over budget:\n" + "\n".join(over)
    # The goal for the 16-bit loops, apart from the per-kernel ceilings: about 4 non-MMA
    # instructions per HMMA (the worst today, the 64x64 3x3 loop, issues 4.12).
    heavy = {key: seen[key][0].non_mma_per_hmma for key in seen if key[0] != "float"}
    assert max(heavy.values()) <= 4.2, heavy
