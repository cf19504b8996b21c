#!/usr/bin/env python3
"""Mutation testing of the CUDA kernel sources (`make mutants`).

Applies one small mutation at a time to the code in csrc/cuda that the simulator compiles -- a
dropped barrier, an off-by-one bound, a changed index constant, a swapped operator, a wrong
accumulation -- rebuilds the simulator tests (plain flavour; a survivor again under ASan+UBSan),
runs them, and counts the mutant as caught when a test fails (or the run crashes or times out). Mutants that do
not compile, and mutations that cannot change behaviour (a larger array bound in a declaration,
the counters' bookkeeping), are left out of the rate. Prints each surviving mutant and the kill rate; exits 1
when the rate is under --min-rate (default 0.8).

It works on a private copy of csrc/ and tests/sim/ (in build/mutants/tree, rebuilt incrementally
there), so the working tree is never modified: editing, building or committing while it runs is
safe, and a killed run leaves nothing behind.

Only lines the simulator compiles are mutated: the nvcc-only branches of `#if defined(CNNOPS_SIM)`
(inline asm) cannot be checked on the CPU.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Every kernel source and device header of csrc/cuda.
SOURCES = sorted(os.path.relpath(p, ROOT) for ext in ("cu", "cuh")
                 for p in glob.glob(os.path.join(ROOT, "csrc", "cuda", "*." + ext)))
TREE = os.path.join(ROOT, "build", "mutants", "tree")  # the private copy that gets mutated
BUILD = "build/sim-mutants"  # relative to TREE

# (name, pattern, replacement). Every match of a pattern on a simulated line is one mutant.
OPERATORS = [
    ("drop barrier", re.compile(r"__syncthreads\(\);"), ";"),
    ("< to <=", re.compile(r"(?<![<<=])<(?![<=])(?=\s*[\w(])"), "<="),
    ("<= to <", re.compile(r"<=(?=\s*[\w(])"), "<"),
    ("> to >=", re.compile(r"(?<![->])>(?![>=])(?=\s*[\w(])"), ">="),
    ("+= to =", re.compile(r"\+=(?=\s)"), "="),
    ("+ to -", re.compile(r"(?<=\w) \+ (?=\w)"), " - "),
    ("* to +", re.compile(r"(?<=\w) \* (?=\w)"), " + "),
    ("constant +1", re.compile(r"(?<![\w.])(\d{1,2})(?![\w.x])"), None),  # N -> N + 1
    ("swap 2t/g", re.compile(r"\b2 \* t\b"), "2 * g"),
    ("index + 8 dropped", re.compile(r" \+ 8\b"), ""),
]


# Mutations that cannot change behaviour, left out of the rate: text inside string literals, a
# larger array bound in a declaration (or a parameter's, which decays to a pointer), and the
# counters' bookkeeping.
DECLARED_BOUND = re.compile(r"\b[A-Za-z_]\w*\s+\**[A-Za-z_]\w*(\[\w+\])*\[$")


STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


def equivalent(code, match, name):
    if any(lit.start() <= match.start() < lit.end() for lit in STRING_LITERAL.finditer(code)):
        return True  # inside a message or a kernel name: text, not code
    if name == "constant +1" and DECLARED_BOUND.search(code[: match.start()]) and code[match.end():].startswith("]"):
        return True
    return "::count(" in code


def simulated_lines(lines):
    """Indices of lines compiled under CNNOPS_SIM: skips the #else branch of
    `#if defined(CNNOPS_SIM)` and the #if branch of `#if !defined(CNNOPS_SIM)`."""
    keep, stack = [], []  # stack of [kind: "sim" | "not-sim" | None, in_else]
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("#if"):
            kind = None if "CNNOPS_SIM" not in s else ("not-sim" if "!" in s else "sim")
            stack.append([kind, False])
            continue
        if s.startswith("#else") and stack:
            stack[-1][1] = True
            continue
        if s.startswith("#endif") and stack:
            stack.pop()
            continue
        if s.startswith("#") or s.startswith("//") or not s:
            continue
        if any((kind == "sim" and in_else) or (kind == "not-sim" and not in_else) for kind, in_else in stack):
            continue
        if "static_assert" in s or "asm" in s:
            continue
        keep.append(i)
    return keep


def copy_tree():
    """Mirror csrc/ and tests/sim/ into TREE with fresh mtimes: the first build of a run
    recompiles everything, so no object of an earlier (perhaps killed) run survives."""
    for part in ("csrc", os.path.join("tests", "sim")):
        src, dst = os.path.join(ROOT, part), os.path.join(TREE, part)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"), copy_function=shutil.copy)


def mutants(only="", lines_range=None):
    for path in (p for p in SOURCES if only in p):
        with open(os.path.join(TREE, path)) as f:
            lines = f.read().split("\n")
        for i in simulated_lines(lines):
            if lines_range and not lines_range[0] <= i + 1 <= lines_range[1]:
                continue
            code = lines[i].split("//")[0]
            for name, pattern, repl in OPERATORS:
                for m in pattern.finditer(code):
                    if equivalent(code, m, name):
                        continue
                    new = repl if repl is not None else str(int(m.group(1)) + 1)
                    mutated = lines[i][: m.start()] + new + lines[i][m.end():]
                    yield path, i, name, lines, mutated


def build_and_test(timeout, flavour="plain"):
    b = subprocess.run(["make", "--no-print-directory", "-f", "tests/sim/Makefile", "BUILD=" + BUILD, flavour],
                       cwd=TREE, capture_output=True, text=True)
    if b.returncode != 0:
        return "no-compile"
    try:
        r = subprocess.run([os.path.join(TREE, BUILD, flavour, "sim_tests")], cwd=TREE, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "caught (timeout)"
    if r.returncode == 0:
        return "survived"
    return "caught" if flavour == "plain" else "caught (%s)" % flavour


def run_mutant(timeout):
    """The plain build first; a survivor gets a second chance under ASan+UBSan, which catches the
    mutants whose only effect is an out-of-bounds access or undefined behaviour."""
    outcome = build_and_test(timeout)
    return build_and_test(timeout, "asan") if outcome == "survived" else outcome


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-rate", type=float, default=0.8)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--limit", type=int, default=0, help="stop after this many mutants (0: all)")
    ap.add_argument("--only", default="",
                    help="mutate only the sources whose path contains this text, e.g. pool2d (every pooling file) "
                         "or pool2d_backward (one)")
    ap.add_argument("--lines", default="", help="FIRST-LAST: mutate only these (1-based) lines, e.g. new code")
    args = ap.parse_args()
    lines_range = tuple(int(v) for v in args.lines.split("-")) if args.lines else None
    t0 = time.time()
    copy_tree()
    if build_and_test(args.timeout) != "survived" or build_and_test(args.timeout, "asan") != "survived":
        sys.exit("mutants: the unmutated sources must build and pass first")
    results = {}
    survivors = []
    for n, (path, i, name, lines, mutated) in enumerate(mutants(args.only, lines_range), 1):
        if args.limit and n > args.limit:
            break
        full = os.path.join(TREE, path)
        try:
            with open(full, "w") as f:
                f.write("\n".join(lines[:i] + [mutated] + lines[i + 1:]))
            outcome = run_mutant(args.timeout)
        finally:
            with open(full, "w") as f:  # a fresh mtime: the next build sees the original again
                f.write("\n".join(lines))
        results[outcome.split(" ")[0]] = results.get(outcome.split(" ")[0], 0) + 1
        line = f"{path}:{i + 1}: {name}: {lines[i].strip()}  ->  {mutated.strip()}"
        print(f"[{n:3d}] {outcome:<17} {line}", flush=True)
        if outcome == "survived":
            survivors.append(line)
    build_and_test(args.timeout)  # leave build/mutants matching the sources
    caught, survived = results.get("caught", 0), results.get("survived", 0)
    rate = caught / max(1, caught + survived)
    print(f"\nmutants: {caught + survived + results.get('no-compile', 0)} made, {results.get('no-compile', 0)} did not "
          f"compile; of the {caught + survived} that did, {caught} caught, {survived} survived: kill rate "
          f"{100 * rate:.1f}% ({time.time() - t0:.0f} s)")
    for s in survivors:
        print("  survived: " + s)
    sys.exit(0 if rate >= args.min_rate else 1)


if __name__ == "__main__":
    main()
