"""Builds cnnops and its extension module cnnops._C.

The CUDA sources are compiled whenever nvcc and a CUDA build of torch are present -- with or
without a GPU on the machine. Environment:
  CNNOPS_CUDA=0/1          force the CUDA part off / on (on fails loudly when it cannot build)
  TORCH_CUDA_ARCH_LIST     archs to build (default: the visible GPU's, else "8.0;9.0+PTX")
  MAX_JOBS                 parallel compile jobs (ninja)
  CUDA_HOME                the CUDA toolkit; found from nvcc on PATH when unset (a wrapper
                           script that execs the real nvcc is followed to its toolkit)

  CNNOPS_SANITIZE=1        the CPU kernels alone, built with AddressSanitizer + UBSan (-O1 -g) in
                           build/temp-asan; for tests/cpu_asan/run.sh, which runs the CPU tests on
                           them (no CUDA part, no simulator module)
A second module, cnnops._sim, is always built (g++ only): the CUDA sources of csrc/cuda compiled
as C++ against the CPU simulator (csrc/sim), so tests run the CUDA kernels on machines without a
GPU. CNNOPS_SIM=0 leaves it out.

Incremental builds: `python setup.py build_ext --inplace` keeps its objects under
build/temp-<config>/ and ninja recompiles only what changed; with nothing changed it does
nothing. Users may also `pip install --no-build-isolation -e .`.
"""
import glob
import os
import re
import shutil
import sys

from setuptools import find_packages, setup

ROOT = os.path.dirname(os.path.abspath(__file__))


def _read_version(name="__version__"):
    with open(os.path.join(ROOT, "cnnops", "_version.py")) as f:
        return re.search(name + r' = "([^"]+)"', f.read()).group(1)


def _toolkit_from_nvcc(nvcc):
    """The toolkit folder of an nvcc binary, following a shell wrapper that execs another nvcc."""
    nvcc = os.path.realpath(nvcc)
    try:
        with open(nvcc, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head.startswith(b"#!"):
        m = re.search(rb"(/\S+)/bin/nvcc\b", head)
        if m:
            return m.group(1).decode()
        return None
    return os.path.dirname(os.path.dirname(nvcc))


def _find_cuda_home():
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc = shutil.which("nvcc")
    if nvcc:
        home = _toolkit_from_nvcc(nvcc)
        if home and os.path.exists(os.path.join(home, "bin", "nvcc")):
            return home
    if os.path.exists("/usr/local/cuda/bin/nvcc"):
        return "/usr/local/cuda"
    return None


# torch.utils.cpp_extension reads CUDA_HOME when it is imported: settle it first.
_cuda_home = _find_cuda_home()
if _cuda_home:
    os.environ["CUDA_HOME"] = _cuda_home

import torch  # noqa: E402
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def _nvcc_version(home):
    import subprocess

    out = subprocess.run([os.path.join(home, "bin", "nvcc"), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"release (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _want_cuda():
    forced = os.environ.get("CNNOPS_CUDA")
    reasons = []
    if torch.version.cuda is None:
        reasons.append("torch %s is a CPU-only build" % torch.__version__)
    if not _cuda_home:
        reasons.append("no nvcc found (set CUDA_HOME or put nvcc on PATH)")
    if not reasons:
        have = _nvcc_version(_cuda_home)
        want = tuple(int(x) for x in torch.version.cuda.split(".")[:2])
        if have is None:
            reasons.append("could not read the version of %s/bin/nvcc" % _cuda_home)
        elif have[0] != want[0]:
            reasons.append(
                "nvcc %d.%d at %s does not match torch's CUDA %s: install the matching toolkit or torch build"
                % (have[0], have[1], _cuda_home, torch.version.cuda)
            )
    if forced == "0":
        return False
    if reasons:
        if forced == "1":
            sys.exit("cnnops: CNNOPS_CUDA=1 but the CUDA part cannot be built: " + "; ".join(reasons))
        print("cnnops: building without CUDA: " + "; ".join(reasons), file=sys.stderr)
        return False
    return True


def _nvidia_wheel_includes():
    """Header folders of torch's nvidia-* wheels (cusparse.h, cublas_v2.h, cudnn.h live there)."""
    dirs = []
    for site in sys.path:
        base = os.path.join(site, "nvidia")
        if not os.path.isdir(base):
            continue
        for inc in sorted(glob.glob(os.path.join(base, "*", "include"))):
            if inc not in dirs:
                dirs.append(inc)
    # cu13/include (cusparse.h) must come first: the toolkit's own include dir lacks it.
    dirs.sort(key=lambda d: 0 if os.path.exists(os.path.join(d, "cusparse.h")) else 1)
    return dirs


def _arch_list():
    if os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return os.environ["TORCH_CUDA_ARCH_LIST"]
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        return "%d.%d" % (major, minor)
    return "8.0;9.0+PTX"


def _with_hopper_features(archs):
    """9.0 built as 9.0a: Hopper's architecture-specific target, whose wgmma and setmaxnreg the
    Hopper forward kernel needs (csrc/cuda/conv2d_fprop_wgmma*). sm_90a code runs on every compute
    capability 9.0 device (H100, H200) and nowhere else, as sm_90 code would; "+PTX" is kept."""
    tokens = archs.replace(" ", ";").split(";")
    return ";".join("9.0a" + t[3:] if t in ("9.0", "9.0+PTX") else t for t in tokens if t)


_SANITIZE = os.environ.get("CNNOPS_SANITIZE") == "1"
# The sanitizers' flags: every report fatal, frames kept for readable stacks.
_SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def _extension():
    with_cuda = _want_cuda() and not _SANITIZE
    csrc = os.path.join(ROOT, "csrc")
    rel = lambda paths: sorted(os.path.relpath(p, ROOT) for p in paths)  # noqa: E731
    cpu_sources = rel(
        glob.glob(os.path.join(csrc, "*.cpp"))
        + glob.glob(os.path.join(csrc, "common", "*.cpp"))
        + glob.glob(os.path.join(csrc, "ops", "*.cpp"))
        + glob.glob(os.path.join(csrc, "cpu", "**", "*.cpp"), recursive=True)
    )
    cuda_sources = rel(glob.glob(os.path.join(csrc, "cuda", "*.cu")) + glob.glob(os.path.join(csrc, "cuda", "*.cpp")))
    # Headers the extension's sources may include (the simulator's own, under csrc/sim, are not).
    headers = rel(
        p
        for ext in ("h", "cuh", "inc")
        for p in glob.glob(os.path.join(csrc, "**", "*." + ext), recursive=True)
        if not p.startswith(os.path.join(csrc, "sim") + os.sep)
    )
    cxx = ["-O3", "-fopenmp", "-Wall", "-Wno-unknown-pragmas", "-Wno-sign-compare"]
    kwargs = dict(
        name="cnnops._C",
        include_dirs=[csrc],
        extra_link_args=["-fopenmp"],
        depends=headers,
    )
    if _SANITIZE:
        cxx = ["-O1", "-g", "-fopenmp", "-Wall", "-Wno-unknown-pragmas", "-Wno-sign-compare"] + _SANITIZE_FLAGS
        kwargs["extra_link_args"] = kwargs["extra_link_args"] + _SANITIZE_FLAGS
    if not with_cuda:
        return CppExtension(sources=cpu_sources, extra_compile_args={"cxx": cxx}, **kwargs), False
    archs = _with_hopper_features(_arch_list())
    os.environ["TORCH_CUDA_ARCH_LIST"] = archs
    defines = ["-DCNNOPS_WITH_CUDA", '-DCNNOPS_CUDA_ARCHS="%s"' % archs]
    # ptxas warnings are errors: among them the ones that say wgmma was serialised or setmaxnreg
    # ignored (C7508, C7510...), which would leave the Hopper kernel correct but slow.
    nvcc = ["-O3", "--expt-relaxed-constexpr", "-lineinfo", "-Xptxas=--warning-as-error"] + defines
    ext = CUDAExtension(
        sources=cpu_sources + cuda_sources,
        extra_compile_args={"cxx": cxx + defines, "nvcc": nvcc},
        **kwargs,
    )
    ext.include_dirs += _nvidia_wheel_includes()
    return ext, True


def _write_if_changed(path, text):
    """Leaves an unchanged file alone, so that ninja sees nothing to rebuild."""
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _sim_extension():
    """cnnops._sim: every csrc/cuda/*.cu compiled by g++ against the simulator (through a
    generated one-line wrapper each, since setuptools hands .cu files to nvcc), the simulator
    runtime, the shared host code of the CUDA ops and the Python bindings."""
    if os.environ.get("CNNOPS_SIM") == "0" or _SANITIZE:
        return None
    csrc = os.path.join(ROOT, "csrc")
    wrappers = []
    for cu in sorted(glob.glob(os.path.join(csrc, "cuda", "*.cu"))):
        name = os.path.splitext(os.path.basename(cu))[0]
        wrapper = os.path.join(ROOT, "build", "sim-src", name + "_sim.cpp")
        _write_if_changed(wrapper, "// Generated by setup.py: %s compiled for the CPU simulator.\n"
                                   '#include "sim/cuda_sim.h"\n#include "cuda/%s.cu"\n' % (os.path.relpath(cu, ROOT), name))
        wrappers.append(os.path.relpath(wrapper, ROOT))
    sources = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(csrc, "sim", "*.cpp")))
    sources += wrappers + [
        "csrc/cuda/conv2d_bprop_plan.cpp",
        "csrc/cuda/conv2d_host.cpp",
        "csrc/cuda/host_common.cpp",
        "csrc/cuda/pool2d_host.cpp",
        "csrc/cuda/dgrad_phases.cpp",
        "csrc/cuda/wgrad_as_fprop.cpp",
        "csrc/common/poison.cpp",
        "csrc/sim_module/module.cpp",
    ]
    headers = sorted(os.path.relpath(p, ROOT) for ext in ("h", "cuh", "cu")
                     for p in glob.glob(os.path.join(csrc, "**", "*." + ext), recursive=True))
    return CppExtension(
        name="cnnops._sim",
        sources=sources,
        include_dirs=[csrc, os.path.join(csrc, "sim", "include")],
        define_macros=[("CNNOPS_SIM", None)],
        # torch has put the real libcudart in the global symbol scope: bind the module's CUDA
        # runtime calls to the simulator's definitions, not to whichever library came first.
        extra_link_args=["-Wl,-Bsymbolic"],
        extra_compile_args={"cxx": ["-O2", "-Wall", "-Wno-unknown-pragmas", "-Wno-sign-compare"]},
        depends=headers,
    )


def _dynamic_shared_link_flags(objects):
    """Under the simulator every `extern __shared__` array must alias its dynamic shared memory:
    csrc/sim/dynamic_shared_link_flags.sh reads the names from the objects (csrc/sim/README.md)."""
    import subprocess

    script = os.path.join(ROOT, "csrc", "sim", "dynamic_shared_link_flags.sh")
    return subprocess.run(["bash", script] + list(objects), check=True, capture_output=True, text=True).stdout.split()


class _Build(BuildExtension):
    """Keeps a separate, persistent object folder per configuration so that switching between
    the CPU-only and the CUDA build, or back, does not recompile everything; links the simulator
    module with its dynamic-shared-memory flags."""

    def finalize_options(self):
        super().finalize_options()
        tag = "asan" if _SANITIZE else "cuda" if _WITH_CUDA else "cpu"
        self.build_temp = os.path.join(ROOT, "build", "temp-" + tag)

    def build_extension(self, ext):
        if ext.name != "cnnops._sim":
            return super().build_extension(ext)
        link, build_temp = self.compiler.link_shared_object, self.build_temp
        # Its own object folder: it compiles some sources of _C again, with other flags.
        self.build_temp = os.path.join(ROOT, "build", "temp-sim")

        def link_with_shared_memory_aliases(objects, *args, **kwargs):
            kwargs["extra_postargs"] = list(kwargs.get("extra_postargs") or []) + _dynamic_shared_link_flags(objects)
            return link(objects, *args, **kwargs)

        self.compiler.link_shared_object = link_with_shared_memory_aliases
        try:
            return super().build_extension(ext)
        finally:
            self.compiler.link_shared_object, self.build_temp = link, build_temp


def _build_record():
    """cnnops/_build_record.py, loaded by path (importing the package needs the extension)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_cnnops_build_record", os.path.join(ROOT, "cnnops", "_build_record.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torch_requirement():
    """What the built package requires: the minor release of the torch it is compiled against
    (its C++ ABI; see cnnops/_build_record.py), which must lie in the supported range."""
    supported = _read_version("TORCH_REQUIREMENT")
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        if Version(torch.__version__.split("+")[0]) not in SpecifierSet(supported):
            print("cnnops: warning: building against torch %s, outside the supported range %s"
                  % (torch.__version__, supported), file=sys.stderr)
    except ImportError:  # pragma: no cover - packaging ships with setuptools and pip
        pass
    return _BUILD_RECORD.requirement(torch.__version__)


_BUILD_RECORD = _build_record()
_BUILD_RECORD.write(os.path.join(ROOT, "cnnops"), torch.__version__)
_EXT, _WITH_CUDA = _extension()
_SIM_EXT = _sim_extension()

setup(
    name="cnnops",
    version=_read_version(),
    description="Hand-written CPU and CUDA kernels for 2-D convolution and pooling as PyTorch custom ops",
    packages=find_packages(include=["cnnops", "cnnops.*", "benchmarks", "benchmarks.*"]),
    ext_modules=[_EXT] + ([_SIM_EXT] if _SIM_EXT is not None else []),
    cmdclass={"build_ext": _Build.with_options(use_ninja=True)},
    python_requires=">=3.10",
    # The binary's torch, not the supported range: a wheel runs only with the torch it was built for.
    install_requires=[_torch_requirement(), "numpy"],
    entry_points={"console_scripts": ["cnnops-bench=benchmarks.__main__:main"]},
)
