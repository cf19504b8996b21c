"""Which torch release cnnops._C was compiled against, recorded beside it when it is built.

torch's C++ ABI changes between minor releases (2.11 -> 2.14), not between patch releases, so an
extension compiled against one minor release does not load in another: the dynamic loader stops at
the first missing symbol with an error that names neither release. setup.py (and the GPU
artifact's installer) write the build's torch version into cnnops/_build_torch.py; the package
compares it with the running torch before it loads _C, and says what to do.

This file imports nothing from cnnops or torch: setup.py loads it by path, before any of it exists.
"""
import os
import re

FILE = "_build_torch.py"


def abi_release(version):
    """'2.14.1+cu130' -> (2, 14): the part of a torch version that the C++ ABI follows."""
    m = re.match(r"(\d+)\.(\d+)", version)
    if m is None:
        raise ValueError("not a torch version: %r" % version)
    return int(m.group(1)), int(m.group(2))


def requirement(version):
    """The install requirement of a binary built against torch `version`: that minor release."""
    major, minor = abi_release(version)
    return "torch>=%d.%d,<%d.%d" % (major, minor, major, minor + 1)


def write(package_dir, version):
    """Records `version` in package_dir/_build_torch.py (left untouched when it already says so,
    so that an unchanged rebuild changes no file)."""
    path = os.path.join(package_dir, FILE)
    text = ("# Generated when cnnops._C is built (cnnops/_build_record.py): the torch release it\n"
            "# was compiled against.\nTORCH_VERSION = %r\n" % version)
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return path
    with open(path, "w") as f:
        f.write(text)
    return path


def read(package_dir):
    """The recorded torch version, or None where nothing was recorded (a build older than this)."""
    try:
        with open(os.path.join(package_dir, FILE)) as f:
            m = re.search(r"TORCH_VERSION = '([^']+)'", f.read())
    except OSError:
        return None
    return m.group(1) if m else None


def mismatch(built, running):
    """A message for an extension built against torch `built` imported under torch `running`,
    or None when their minor releases agree (or nothing was recorded)."""
    if built is None or abi_release(built) == abi_release(running):
        return None
    major, minor = abi_release(built)
    return (
        "cnnops: this build of cnnops was compiled against torch %s, but torch %s is installed. "
        "Its compiled extension only loads with the torch release it was built for (%d.%d.x): "
        "install torch %d.%d (e.g. `pip install 'torch>=%d.%d,<%d.%d'`), or rebuild cnnops against "
        "this torch (`make build` in a checkout, or `pip install --no-build-isolation .`)."
        % (built, running, major, minor, major, minor, major, minor, major, minor + 1)
    )
