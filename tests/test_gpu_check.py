"""The GPU check's rehearsal (benchmarks/gpu_check.sh --dry-run): every phase's command runs here
in its CPU form, so that a typo, a missing file, a wrong flag or a test module that does not
collect under the GPU machine's packages is found in CI, not in the one GPU session. And the
pieces the script leans on: its budget, the results file, ncu's CSV, the build estimate and the
prebuilt extension's fit."""
import json
import os
import subprocess
import sys

import pytest

import cnnops
from benchmarks import gpu_artifact, gpu_check_results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_check.sh")
PHASES = ["build", "smoke", "gpu-tests", "benchmark", "ncu", "memcheck", "racecheck", "pooling"]
GPU_BUDGET_S = 480  # one device call of at most 8 minutes (issue: the check fits the lease)


def _dry_run(tmp_path, budget=None):
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable)
    env.pop("GPU_CHECK_BUDGET", None)
    if budget is not None:
        env["GPU_CHECK_BUDGET"] = str(budget)
    result = subprocess.run(["bash", SCRIPT, "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    found = [f for f in os.listdir(tmp_path) if f.startswith("gpu-check-dry-run-") and f.endswith(".json")]
    assert len(found) == 1, (found, result.stdout[-3000:], result.stderr[-3000:])
    with open(tmp_path / found[0]) as f:
        return result, json.load(f)


def test_dry_run_runs_every_phase_and_fits_the_budget(tmp_path):
    result, data = _dry_run(tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    assert data["kind"].startswith("dry run")
    assert [p["phase"] for p in data["plan"]] == PHASES
    assert data["expected_total_s"] <= GPU_BUDGET_S, data["plan"]
    assert data["budget_s"] == GPU_BUDGET_S
    gpu_tools = {"ncu", "memcheck", "racecheck"}
    for name in PHASES:
        status = data["phases"][name]["status"]
        want = "skipped: no GPU (dry run)" if name in gpu_tools else "pass"
        assert status == want, (name, data["phases"][name])
    phases = data["phases"]
    # The GPU tests are collected under this torch: the marker selects the CUDA tests, none errors.
    last = phases["gpu-tests"]["output_tail"].strip().splitlines()[-1]  # "189/4187 tests collected (...) in 5s"
    assert "tests collected" in last and "error" not in last, last
    assert int(last.split("/")[0]) >= 100, last
    # The benchmark command lines parse and select cases of every suite (nothing was timed).
    assert "preset gpu-quick:" in phases["benchmark"]["output_tail"]
    assert "cases on cuda" in phases["pooling"]["output_tail"]
    # The workloads ran on the CPU, the tools' command lines are shown.
    assert "sanitize workload: ok" in phases["memcheck"]["output_tail"]
    assert "compute-sanitizer --tool racecheck" in phases["racecheck"]["output_tail"]
    assert phases["ncu"]["output_tail"].count("profiled:") == 3
    assert "ncu --clock-control none" in phases["ncu"]["output_tail"]
    assert "GPU check summary" in result.stdout


def test_a_phase_that_would_overrun_the_budget_is_skipped_with_the_reason(tmp_path):
    result, data = _dry_run(tmp_path, budget=5)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in PHASES:
        status = data["phases"][name]["status"]
        assert status.startswith("skipped:") and "of the budget left" in status, (name, status)


def test_ncu_raw_page_is_read_per_kernel():
    csv = "\n".join([
        "==PROF== Connected to process 123",
        '"ID","Kernel Name","gpu__time_duration.sum","l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum",'
        '"dram__throughput.avg.pct_of_peak_sustained_elapsed"',
        '"","","nsecond","",""',
        '"0","fprop_tc_kernel","1,234","0","41.5"',
        '"1","max_pool_forward_nhwc_vec_kernel","567","12","88.25"',
    ])
    kernels = gpu_check_results.parse_ncu_csv(csv)
    assert [k["kernel"] for k in kernels] == ["fprop_tc_kernel", "max_pool_forward_nhwc_vec_kernel"]
    assert kernels[0]["time"] == 1234.0 and kernels[0]["time_unit"] == "nsecond"
    assert kernels[1]["shared_ld_bank_conflicts"] == 12.0 and kernels[1]["dram_throughput_pct"] == 88.25


def test_ncu_details_page_is_read_per_kernel():
    csv = "\n".join([
        '"ID","Kernel Name","Section Name","Metric Name","Metric Unit","Metric Value"',
        '"0","fprop_tc_kernel","GPU Speed Of Light Throughput","Duration","us","45.31"',
        '"0","fprop_tc_kernel","GPU Speed Of Light Throughput","DRAM Throughput","%","12.5"',
        '"1","max_pool_forward_kernel","GPU Speed Of Light Throughput","Duration","us","7.1"',
    ])
    kernels = gpu_check_results.parse_ncu_csv(csv)
    assert len(kernels) == 2
    assert kernels[0]["GPU Speed Of Light Throughput: DRAM Throughput"] == 12.5
    assert kernels[1]["GPU Speed Of Light Throughput: Duration [unit]"] == "us"
    assert gpu_check_results.parse_ncu_csv("==ERROR== Failed to find metric foo") == []


def test_build_estimate_spreads_the_log_over_the_jobs(tmp_path, capsys):
    log = tmp_path / ".ninja_log"
    log.write_text("# ninja log v5\n0\t40000\t0\ta.o\tx\n0\t10000\t0\tb.o\tx\n0\t20000\t0\tb.o\tx\n"
                   "5000\t15000\t0\tc.o\tx\n")
    # b.o's latest entry (20 s) counts; total 70 s over 2 jobs = 35 s, but a.o alone takes 40 s.
    assert gpu_check_results.build_estimate(str(log), 2) == 40.0
    assert gpu_check_results.build_estimate(str(log), 1) == 70.0
    assert "a model" in capsys.readouterr().out


def test_prebuilt_extension_fits_only_its_own_python_torch_archs_and_sources():
    import sysconfig

    import torch

    fitting = {"ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"), "torch": torch.__version__,
               "cuda_archs": "9.0", "source_digest": gpu_artifact.source_digest()}
    assert gpu_artifact.why_not(fitting, "9.0") is None
    assert "torch 2.10.0" in gpu_artifact.why_not(dict(fitting, torch="2.10.0"), "9.0")
    assert "Python" in gpu_artifact.why_not(dict(fitting, ext_suffix=".cpython-39-x86_64-linux-gnu.so"), "9.0")
    assert "archs" in gpu_artifact.why_not(fitting, "10.0")
    # setup.py builds 9.0 as 9.0a (Hopper's wgmma): such a build fits a 9.0 device.
    assert gpu_artifact.why_not(dict(fitting, cuda_archs="9.0a"), "9.0") is None
    assert "archs" in gpu_artifact.why_not(dict(fitting, cuda_archs="9.0a"), "8.0")
    assert "sources" in gpu_artifact.why_not(dict(fitting, source_digest="0" * 64), "9.0")


def test_source_digest_follows_the_sources(tmp_path):
    (tmp_path / "csrc" / "cpu").mkdir(parents=True)
    (tmp_path / "csrc" / "sim").mkdir()
    (tmp_path / "setup.py").write_text("x")
    (tmp_path / "csrc" / "cpu" / "a.cpp").write_text("int a;")
    first = gpu_artifact.source_digest(str(tmp_path))
    (tmp_path / "csrc" / "sim" / "s.cpp").write_text("simulator only")  # not in the GPU module
    assert gpu_artifact.source_digest(str(tmp_path)) == first
    (tmp_path / "csrc" / "cpu" / "a.cpp").write_text("int b;")
    assert gpu_artifact.source_digest(str(tmp_path)) != first


@pytest.mark.skipif(not cnnops.build_info()["cuda"], reason="this build has no CUDA part to pack")
def test_pack_and_check_this_build(tmp_path, capsys):
    so = [f for f in os.listdir(os.path.dirname(cnnops._C.__file__)) if f.startswith("_C")]
    gpu_artifact.pack(os.path.join(os.path.dirname(cnnops._C.__file__), so[0]), str(tmp_path))
    with open(tmp_path / gpu_artifact.DESCRIPTION) as f:
        description = json.load(f)
    assert description["bytes"] < 64 * 2**20  # a device call carries at most 64 MiB
    assert gpu_artifact.install(str(tmp_path), description["cuda_archs"], check_only=True) == 0
    assert gpu_artifact.install(str(tmp_path), "10.0", check_only=True) == 1
    assert "archs" in capsys.readouterr().out
