"""A prebuilt extension for the GPU machine, so that its few minutes go to measuring, not compiling.

`make gpu-artifact` builds cnnops._C here, in the compat environment of the GPU machine's Python
and torch (tests/compat/run.sh), for its arch, strips it and packs it with a description into
build/gpu-artifact/; the device call carries that folder. The GPU check then installs it when
it fits -- same Python extension suffix, same torch release, same CUDA archs, same sources (a
digest of csrc/ and setup.py) -- and it loads; otherwise it builds as before.

    python -m benchmarks.gpu_artifact pack SO_FILE [--out build/gpu-artifact]
    python -m benchmarks.gpu_artifact install [--archs 9.0] [--check]   # --check: say, copy nothing
"""
import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIR = os.path.join(ROOT, "build", "gpu-artifact")
DESCRIPTION = "ARTIFACT.json"


def source_digest(root=ROOT):
    """sha256 over what the compiled module is built from: csrc/ (the simulator's own folders
    aside) and setup.py, path and content of each file."""
    h = hashlib.sha256()
    files = [os.path.join(root, "setup.py")] + sorted(
        p for p in glob.glob(os.path.join(root, "csrc", "**", "*"), recursive=True)
        if os.path.isfile(p) and not os.path.relpath(p, root).startswith(("csrc/sim/", "csrc/sim_module/")))
    for p in files:
        h.update(os.path.relpath(p, root).encode() + b"\0")
        with open(p, "rb") as f:
            h.update(f.read())
        h.update(b"\0")
    return h.hexdigest()


def _module_build_info(so_dir):
    """build_info() of the cnnops._C in so_dir, asked in a fresh interpreter with the package's
    Python files from this tree."""
    code = ("import sys, json, importlib.util, torch;"
            "spec = importlib.util.spec_from_file_location('cnnops._C', sys.argv[1]);"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
            "print(json.dumps(dict(m.build_info())))")
    so = glob.glob(os.path.join(so_dir, "_C*.so"))
    if len(so) != 1:
        raise RuntimeError(f"expected one _C*.so in {so_dir}, found {so}")
    out = subprocess.run([sys.executable, "-c", code, so[0]], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def pack(so_file, out_dir):
    import torch

    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "_C*.so")):
        os.remove(old)
    dest = os.path.join(out_dir, os.path.basename(so_file))
    shutil.copy2(so_file, dest)
    subprocess.run(["strip", "--strip-unneeded", dest], check=True)
    info = _module_build_info(out_dir)
    if not info.get("cuda"):
        raise SystemExit(f"{so_file} has no CUDA kernels: nothing for the GPU machine")
    description = {
        "file": os.path.basename(dest),
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
        "torch": torch.__version__,
        "cuda_archs": info.get("cuda_archs"),
        "source_digest": source_digest(),
        "bytes": os.path.getsize(dest),
    }
    with open(os.path.join(out_dir, DESCRIPTION), "w") as f:
        json.dump(description, f, indent=1)
    print(f"packed {dest} ({description['bytes'] / 2**20:.1f} MiB; torch {description['torch']}, "
          f"archs {description['cuda_archs']}, {description['ext_suffix']})")


def _build_record():
    """cnnops/_build_record.py loaded by path: importing cnnops would load the old extension."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_cnnops_build_record", os.path.join(ROOT, "cnnops", "_build_record.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def why_not(description, archs):
    """The first reason the packed module does not fit this environment and tree, or None."""
    import torch

    if description["ext_suffix"] != sysconfig.get_config_var("EXT_SUFFIX"):
        return f"built for {description['ext_suffix']}, this Python wants {sysconfig.get_config_var('EXT_SUFFIX')}"
    if description["torch"] != torch.__version__:
        return f"built against torch {description['torch']}, this is torch {torch.__version__}"
    # setup.py builds 9.0 as 9.0a (the Hopper feature set): a device's "9.0" takes either.
    if archs and description["cuda_archs"] not in (archs, archs.replace("9.0", "9.0a")):
        return f"built for CUDA archs {description['cuda_archs']}, this device wants {archs}"
    if description["source_digest"] != source_digest():
        return "built from other sources than this tree's csrc/ and setup.py"
    return None


def install(art_dir, archs, check_only):
    """Exit 0 when the artifact was installed (or, with check_only, would be), 1 with the
    reason otherwise."""
    path = os.path.join(art_dir, DESCRIPTION)
    if not os.path.exists(path):
        print(f"no prebuilt extension ({path} not found): building")
        return 1
    with open(path) as f:
        description = json.load(f)
    reason = why_not(description, archs)
    if reason is not None:
        print(f"prebuilt extension not used: {reason}; building")
        return 1
    if check_only:
        print(f"prebuilt extension fits (torch {description['torch']}, archs {description['cuda_archs']}): "
              "the GPU check would install it")
        return 0
    try:
        info = _module_build_info(art_dir)
    except (RuntimeError, subprocess.SubprocessError) as e:
        print(f"prebuilt extension does not load here ({e}); building")
        return 1
    package = os.path.join(ROOT, "cnnops")
    for old in glob.glob(os.path.join(package, "_C*.so")):
        os.remove(old)
    shutil.copy2(os.path.join(art_dir, description["file"]), package)
    _build_record().write(package, description["torch"])
    print(f"installed the prebuilt extension: {json.dumps(info)}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_artifact", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack")
    a.add_argument("so_file")
    a.add_argument("--out", default=DEFAULT_DIR)
    a = sub.add_parser("install")
    a.add_argument("--dir", default=DEFAULT_DIR)
    a.add_argument("--archs", default="", help="the CUDA archs the device needs (e.g. 9.0); empty: any")
    a.add_argument("--check", action="store_true", help="only say whether it fits")
    args = p.parse_args(argv)
    if args.cmd == "pack":
        pack(args.so_file, args.out)
        return 0
    return install(args.dir, args.archs, args.check)


if __name__ == "__main__":
    sys.exit(main())
