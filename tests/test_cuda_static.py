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
    assert len(tc) == 24, "expected f16, bf16 and tf32 tensor-core kernels, general and 1x1, four tiles: %s" % list(tc)
    assert all(c > 0 for c in tc.values()), "tensor-core kernels without HMMA: %s" % tc
    assert simt and all(c == 0 for c in simt.values()), "CUDA-core kernels should not use tensor cores"


def test_hopper_kernels_run_on_warpgroup_mma():
    """The sm_90a build of the Hopper forward: every variant (f16, bf16; general, 1x1; two tiles)
    issues HGMMA (warpgroup MMA, not mma.sync's HMMA), waits on mbarriers (SYNCS), and reads its
    operands without ldmatrix."""
    functions = sass.functions(sass.disassemble(_extension()))
    hopper = {n: instrs for n, instrs in functions.items() if "fprop_wgmma_kernel" in n}
    assert len(hopper) == 8, "expected f16 and bf16, general and 1x1, two tiles: %s" % list(hopper)
    for name, instrs in hopper.items():
        ops = [i.opcode for i in instrs]
        assert any(o.startswith("HGMMA") for o in ops), "no HGMMA in %s" % name
        assert not any(o.startswith(("HMMA", "LDSM")) for o in ops), "mma.sync / ldmatrix in %s" % name
        assert any(o.startswith("SYNCS") for o in ops), "no mbarrier wait in %s" % name


# The main loops' static budgets (issue #15), per tensor-core kernel: (element type, 1x1 GEMM
# variant, tile M, tile N) -> (instructions per HMMA, registers), ceilings at this tree's counts
# (nvcc 13.0, sm_90) plus about 3% / 6 registers (255 at most), so a change that makes a main
# loop issue more, or spill closer, fails CI. The goal for the 16-bit loops is about 5 (4 non-MMA
# instructions per HMMA, CUTLASS's Ampere kernels), met by every tile; lower a ceiling whenever a
# kernel improves. (Registers are the whole kernel's.)
MAIN_LOOP_BUDGETS = {  # (type, 1x1, tile M, tile N): (instructions per HMMA, registers)
    ("bf16_t", False, 256, 128): (2.93, 250), ("bf16_t", True, 256, 128): (2.18, 236),
    ("bf16_t", False, 128, 128): (2.97, 248), ("bf16_t", True, 128, 128): (2.21, 242),
    ("bf16_t", False, 128, 64): (4.70, 174), ("bf16_t", True, 128, 64): (3.19, 163),
    ("bf16_t", False, 64, 64): (5.03, 134), ("bf16_t", True, 64, 64): (3.51, 130),
    ("half_t", False, 256, 128): (2.93, 250), ("half_t", True, 256, 128): (2.18, 236),
    ("half_t", False, 128, 128): (2.97, 248), ("half_t", True, 128, 128): (2.21, 242),
    ("half_t", False, 128, 64): (4.70, 174), ("half_t", True, 128, 64): (3.19, 163),
    ("half_t", False, 64, 64): (5.03, 134), ("half_t", True, 64, 64): (3.51, 130),
    ("float", False, 256, 128): (5.85, 240), ("float", True, 256, 128): (5.09, 228),
    ("float", False, 128, 128): (5.88, 246), ("float", True, 128, 128): (5.12, 228),
    ("float", False, 128, 64): (9.11, 166), ("float", True, 128, 64): (7.60, 152),
    ("float", False, 64, 64): (11.56, 132), ("float", True, 64, 64): (9.47, 124),
}


def test_main_loop_instruction_and_register_budgets():
    loops = sass.tensor_core_loops(_extension())
    seen = {}
    for name, (loop, usage) in loops.items():
        m = re.search(r"fprop_tc_kernel<(?:cnnops::cuda::)?(\w+), (true|false), (?:cnnops::cuda::)?"
                      r"TcTile<(\d+), (\d+), (\d+), (\d+),", name)
        assert m, name
        tile_m, tile_n, warps_m, warps_n = (int(m.group(i)) for i in range(3, 7))
        # a warp's mma per k-slice: its (tile_m / warps_m) / 16 x (tile_n / warps_n) / 8 fragments
        warp_mma = (tile_m // warps_m // 16) * (tile_n // warps_n // 8)
        seen[(m.group(1), m.group(2) == "true", tile_m, tile_n)] = (loop, usage, warp_mma)
    assert set(seen) == set(MAIN_LOOP_BUDGETS), "kernels without a budget, or budgets without a kernel: %s" % (
        set(seen) ^ set(MAIN_LOOP_BUDGETS))
    over = []
    for key, (per_hmma, regs) in MAIN_LOOP_BUDGETS.items():
        loop, usage, warp_mma = seen[key]
        # whole k-slices of the warp's mma (ptxas may unroll: a whole number of steps per iteration)
        assert loop.hmma % warp_mma == 0 and loop.hmma >= 2 * warp_mma, "main loop of %s: %d HMMA" % (key, loop.hmma)
        if loop.per_hmma > per_hmma or usage["REG"] > regs:
            over.append("%s: %.2f instructions per HMMA (budget %.2f), %d registers (budget %d)"
                        % (key, loop.per_hmma, per_hmma, usage["REG"], regs))
    assert not over, "main loops over budget:\n" + "\n".join(over)
    # The goal for the 16-bit loops, apart from the per-kernel ceilings: about 4 non-MMA
    # instructions per HMMA (the worst today, the 64x64 3x3 loop, issues 3.88).
    heavy = {key: loop.non_mma_per_hmma for key, (loop, _, _) in seen.items() if key[0] != "float"}
    assert max(heavy.values()) <= 4.2, heavy
