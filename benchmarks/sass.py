"""The built CUDA kernels read statically, without a GPU: `cuobjdump -sass` of the extension
(cuobjdump and nvdisasm come from the nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm wheels of
requirements-dev.txt). For each kernel it finds the main loop -- the loop, closed by a backward
branch, that holds the most HMMA instructions -- and counts what the loop issues per HMMA: the
number that bounds a mma.sync kernel on issue (one HMMA.16816 per 4 cycles per SM sub-partition
is the tensor cores' rate, one instruction per cycle is the scheduler's). `cuobjdump -res-usage`
gives registers, stack and local memory per kernel.

    python -m benchmarks.sass            # the table for the built extension
"""
import glob
import os
import re
import shutil
import subprocess
import sys
from typing import Dict, List, NamedTuple, Optional, Tuple


def tool(name: str) -> Optional[str]:
    """cuobjdump / nvdisasm from the nvidia wheels on sys.path, else from PATH."""
    for base in sys.path:
        path = os.path.join(base, "nvidia", "cu13", "bin", name)
        if os.path.exists(path):
            return path
    return shutil.which(name)


def extension() -> Optional[str]:
    import cnnops
    return (glob.glob(os.path.join(os.path.dirname(cnnops.__file__), "_C*.so")) or [None])[0]


def available() -> bool:
    import cnnops
    return bool(cnnops.build_info()["cuda"]) and tool("cuobjdump") is not None and tool("nvdisasm") is not None


def disassemble(path: str) -> str:
    nvdisasm = tool("nvdisasm")
    env = dict(os.environ, PATH=os.path.dirname(nvdisasm) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([tool("cuobjdump"), "-sass", path], capture_output=True, text=True, check=True,
                          env=env).stdout


def resource_usage(path: str) -> Dict[str, Dict[str, int]]:
    """{mangled kernel name: {"REG": .., "STACK": .., "SHARED": .., "LOCAL": ..}}."""
    out = subprocess.run([tool("cuobjdump"), "-res-usage", path], capture_output=True, text=True, check=True).stdout
    usage = {}
    for name, fields in re.findall(r"Function (\S+):\s*\n\s*((?:\w+:\d+\s*)+)", out):
        usage[name] = {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", fields)}
    return usage


class Instruction(NamedTuple):
    address: int
    opcode: str  # e.g. "HMMA.16816.F32.BF16", "IMAD.WIDE", "@P0 BRA" stripped to "BRA"
    text: str


_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")


def functions(sass: str) -> Dict[str, List[Instruction]]:
    """Every function of the dump (one entry per name; a name compiled for two archs keeps the
    later one) with its instructions in address order."""
    out = {}
    for block in re.split(r"\n\s*Function : ", sass)[1:]:
        name = block.split("\n", 1)[0].strip()
        instrs = []
        for m in _LINE.finditer(block):
            text = m.group(2)
            words = text.split()
            if words and words[0].startswith("@"):
                words = words[1:]
            if words:
                instrs.append(Instruction(int(m.group(1), 16), words[0], text))
        out[name] = instrs
    return out


def _branch_target(instr: Instruction) -> Optional[int]:
    if not instr.opcode.startswith("BRA"):
        return None
    m = re.search(r"0x([0-9a-f]+)", instr.text.split("BRA", 1)[1])
    return int(m.group(1), 16) if m else None


class LoopStats(NamedTuple):
    instructions: int   # issued per iteration (NOPs excluded)
    hmma: int
    imad_wide: int      # 64-bit address arithmetic
    shared_loads: int   # LDS + LDSM
    async_copies: int   # LDGSTS (cp.async)
    first: int          # address range of the loop
    last: int

    @property
    def per_hmma(self) -> float:
        return self.instructions / self.hmma

    @property
    def non_mma_per_hmma(self) -> float:
        return (self.instructions - self.hmma) / self.hmma


def main_loop(instrs: List[Instruction]) -> Optional[LoopStats]:
    """The backward-branch loop with the most HMMA (the smallest such range on a tie); None if no
    loop holds an HMMA."""
    best = None
    for i, ins in enumerate(instrs):
        target = _branch_target(ins)
        if target is None or target > ins.address:
            continue
        body = [x for x in instrs if target <= x.address <= ins.address and not x.opcode.startswith("NOP")]
        hmma = sum(x.opcode.startswith("HMMA") for x in body)
        if hmma == 0:
            continue
        key = (hmma, -(ins.address - target))
        if best is None or key > best[0]:
            best = (key, LoopStats(len(body), hmma, sum(x.opcode.startswith("IMAD.WIDE") for x in body),
                                   sum(x.opcode.startswith(("LDS", "LDSM")) for x in body),
                                   sum(x.opcode.startswith("LDGSTS") for x in body), target, ins.address))
    return best[1] if best else None


def demangled_kernel(name: str) -> str:
    """A short readable name: the kernel template and its arguments, as c++filt gives them."""
    try:
        out = subprocess.run(["c++filt", name], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return name
    out = re.sub(r"^.*?cnnops::cuda::(\(anonymous namespace\)::)?", "", out)
    return re.sub(r"\(.*$", "", out).replace("cnnops::cuda::", "")


def tensor_core_loops(path: Optional[str] = None) -> Dict[str, Tuple[LoopStats, Dict[str, int]]]:
    """{readable kernel name: (main loop, resource usage)} for every tensor-core forward kernel."""
    path = path or extension()
    usage = resource_usage(path)
    out = {}
    for name, instrs in functions(disassemble(path)).items():
        if "fprop_tc_kernel" not in name:
            continue
        loop = main_loop(instrs)
        if loop is not None:
            out[demangled_kernel(name)] = (loop, usage.get(name, {}))
    return out


def main(argv=None) -> int:
    if not available():
        print("no CUDA part in the build, or cuobjdump / nvdisasm missing: nothing to read")
        return 1
    rows = tensor_core_loops()
    print("%-61s %6s %5s %9s %9s %5s %6s %5s %4s" % ("kernel: main loop", "instr", "HMMA", "instr/MMA",
                                                     "IMAD.WIDE", "LDS*", "LDGSTS", "regs", "lmem"))
    for name in sorted(rows):
        loop, res = rows[name]
        print("%-61s %6d %5d %9.2f %9d %5d %6d %5s %4s" % (name, loop.instructions, loop.hmma, loop.per_hmma,
                                                           loop.imad_wide, loop.shared_loads, loop.async_copies,
                                                           res.get("REG", "?"), res.get("LOCAL", "?")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
