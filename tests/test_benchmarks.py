"""The benchmark suite (benchmarks/): its data, passes, presets, reports and compare command, on
tiny cases on the CPU (no timing of note; the machine's ceilings are stubbed where a run would
measure them)."""
import importlib
import json
import os
import struct

import pytest
import torch

from benchmarks import __main__ as bench_main
from benchmarks import cases, chart, compare, models, precision, presets, report, runner, suites, timing
from benchmarks.suites import ConvSpec

STORED = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "results", "cpu-20261125-amd-epyc-2core.json")
CEILINGS = {"matmul_float32_gflops": 100.0, "matmul_tf32_gflops": 100.0, "matmul_float64_gflops": 50.0,
            "copy_gbs": 30.0}
TINY = ("tiny 3x3/2 4->5", 4, 9, 7, 5, 3, 3, 2, 1, 2)  # odd sizes, stride 2, its own batch of 2


# --- the suites' data ---------------------------------------------------------------------------

@pytest.mark.parametrize("suite", list(suites.CONV_SUITES))
def test_conv_suites_have_valid_unique_shapes(suite):
    specs = [ConvSpec.of(s) for s in suites.CONV_SUITES[suite]]
    assert specs, suite
    names = [s.name for s in specs]
    assert len(names) == len(set(names)), f"{suite}: duplicate names"
    shapes = [tuple(s)[1:9] + (s.groups,) for s in specs]
    assert len(shapes) == len(set(shapes)), f"{suite}: duplicate shapes"
    for s in specs:
        assert all(isinstance(v, int) and v > 0 for v in (s.C, s.H, s.W, s.K, s.R, s.S, s.stride, s.groups)), s
        assert s.C % s.groups == 0 and s.K % s.groups == 0, s
        assert s.groups == 1 or suite in suites.GROUPED_SUITES, s
        assert 0 <= s.padding < max(s.R, s.S) and s.P >= 1 and s.Q >= 1, s
        assert s.batch is None or (suite == "deepbench" and 1 <= s.batch <= 8), s


def test_pooling_suite_has_valid_unique_layers():
    names = [p[0] for p in suites.POOLING]
    assert len(names) == len(set(names))
    for name, kind, C, H, W, k, s, p in suites.POOLING:
        assert kind in ("max", "avg") and min(C, H, W, k, s) >= 1 and 0 <= p <= k // 2, name
        assert (H + 2 * p - k) // s + 1 >= 1, name


def test_suites_match_the_networks():
    # GoogLeNet: the model's Table 1, every branch of 3a..5b present, true 5x5s, maps 28/14/7.
    googlenet = importlib.import_module("cnnops.models.googlenet")
    assert [(m, t) for m, _, t in suites.INCEPTION_TABLE] == list(googlenet.INCEPTION_TABLE.items())
    g = [ConvSpec.of(s) for s in suites.GOOGLENET_CONVS]
    assert {s.R for s in g} == {1, 3, 5} and {s.H for s in g} == {28, 14, 7}
    assert ("5b 5x5 48->128", 48, 7, 7, 128, 5, 5, 1, 2) in suites.GOOGLENET_CONVS
    assert "4b/4c/4d proj 512->64" in [s.name for s in g]  # deduplicated, named by every user
    # AlexNet (torchvision): conv1 gives 55x55, the 3x3/2 pools 27 and 13.
    assert ConvSpec.of(suites.ALEXNET_CONVS[0]).P == 55
    alex_pools = {p[3]: p for p in suites.POOLING if p[0].startswith("alexnet")}
    assert sorted(alex_pools) == [13, 27, 55] and alex_pools[55][2] == 64 and alex_pools[27][2] == 192
    # LeNet-5: C1 gives 28x28 (pooled to C3's 14x14), C3 10x10.
    c1, c3 = (ConvSpec.of(s) for s in suites.LENET5_CONVS)
    assert (c1.P, c3.H, c3.P) == (28, 14, 10)
    # ResNet-50 v1: the strided 1x1s, shapes that v1.5 (resnet50) does not have.
    v15 = {tuple(s)[1:] for s in suites.RESNET50_CONVS}
    assert all(s[7] == 2 and s[5] == 1 and tuple(s)[1:] not in v15 for s in suites.RESNET50_V1_CONVS)
    # VGG-16 pools: 2x2/2 at every map size the convs run at.
    vgg_maps = {s[2] for s in suites.VGG16_CONVS}
    assert {p[3] for p in suites.POOLING if p[0].startswith("vgg")} == vgg_maps


def _torchvision_layers(model):
    """The (C, H, W, K, R, S, stride, padding, groups) of every Conv2d a 224x224 forward of a
    torchvision model runs, and the (C, H, W, K) of every Linear applied per pixel (ConvNeXt's
    pointwise layers), recorded by hooks."""
    convs, linears = set(), set()

    def hook(m, args, out):
        x = args[0]
        if isinstance(m, torch.nn.Conv2d):
            assert m.stride[0] == m.stride[1] and m.padding[0] == m.padding[1] and m.dilation == (1, 1)
            convs.add((x.shape[1], x.shape[2], x.shape[3], m.out_channels, *m.kernel_size, m.stride[0],
                       m.padding[0], m.groups))
        elif x.dim() == 4:  # NHWC activations through a Linear
            linears.add((x.shape[3], x.shape[1], x.shape[2], m.out_features))

    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, 224, 224))
    return convs, linears


def test_grouped_suites_match_torchvision():
    """The grouped suites hold each network's distinct layer shapes, read off torchvision's models
    (RepLKNet is not in torchvision; its kernels and widths are checked against the paper's)."""
    models = pytest.importorskip("torchvision.models")
    shape = lambda s: (s.C, s.H, s.W, s.K, s.R, s.S, s.stride, s.padding, s.groups)  # noqa: E731
    convs, _ = _torchvision_layers(models.mobilenet_v2())
    assert {shape(ConvSpec.of(s)) for s in suites.MOBILENETV2_CONVS} == convs

    convs, linears = _torchvision_layers(models.convnext_tiny())
    specs = [ConvSpec.of(s) for s in suites.CONVNEXT_T_CONVS]
    assert {shape(s) for s in specs if s.R > 1} == convs
    assert {(s.C, s.H, s.W, s.K) for s in specs if s.R == 1} == linears

    convs, _ = _torchvision_layers(models.resnext50_32x4d())
    assert {shape(ConvSpec.of(s)) for s in suites.RESNEXT50_CONVS} == {c for c in convs if c[-1] > 1}

    replk = [ConvSpec.of(s) for s in suites.REPLKNET_CONVS]
    assert [(s.R, s.C, s.H) for s in replk if s.R > 5] == [(31, 128, 56), (29, 256, 28), (27, 512, 14), (13, 1024, 7)]
    assert all(s.groups == s.C == s.K and s.padding == s.R // 2 for s in replk)


def test_quick_selection_names_exist_and_cover_every_suite():
    assert set(suites.QUICK_CASES) == set(suites.ALL_SUITES)
    for suite, names in suites.QUICK_CASES.items():
        known = suites.MODELS if suite == suites.MODEL_SUITE else [
            s[0] for s in (suites.CONV_SUITES.get(suite) or suites.POOL_SUITES[suite])]
        assert names and set(names) <= set(known), suite


# --- the passes --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_every_conv_pass_agrees_with_torch_on_a_tiny_case(dtype_name):
    built = {c.pass_: c for c in cases.conv_cases("t", TINY, 8, dtype_name, "cpu", "nchw")}
    assert set(built) == set(cases.CONV_PASSES)
    assert all(c.info["N"] == 2 for c in built.values())  # the entry's batch, not the runner's
    fwd_flops = built["fwd"].flops
    assert built["dgrad"].flops == built["wgrad"].flops == fwd_flops and built["fwdbwd"].flops == 3 * fwd_flops
    for pass_, case in built.items():
        fns = case.build()
        assert fns.check() is None, pass_
        assert fns.base_benchmark is None  # no cuDNN on a CPU
        first, again = fns.ours(), fns.ours()  # dgrad/wgrad: the retained graph runs again
        for a, b in zip(*(r if isinstance(r, list) else [r] for r in (first, again))):
            torch.testing.assert_close(a, b)


def test_dgrad_and_wgrad_are_the_input_and_weight_gradients():
    by_pass = {c.pass_: c for c in cases.conv_cases("t", TINY, 8, "float64", "cpu", "nhwc")}
    gi, gw = by_pass["dgrad"].build().ours(), by_pass["wgrad"].build().ours()
    assert gi.shape == (2, 4, 9, 7) and gw.shape == (5, 4, 3, 3)
    assert gi.is_contiguous(memory_format=torch.channels_last)


def test_data_layers_have_no_dgrad_and_pooling_has_fwd_and_fwdbwd():
    stem = [c.pass_ for c in cases.conv_cases("resnet50", suites.RESNET50_CONVS[0], 1, "float32", "cpu", "nchw")]
    assert stem == ["fwd", "fwdbwd", "wgrad"]
    pool = list(cases.pool_cases("pooling", suites.POOLING[-1], 2, "float32", "cpu", "nhwc"))
    assert [c.pass_ for c in pool] == ["fwd", "fwdbwd"]
    assert all(c.build().check() is None for c in pool)


def test_run_case_reports_rates_and_roofline_numbers():
    (case,) = [c for c in cases.conv_cases("t", TINY, 8, "float32", "cpu", "nchw") if c.pass_ == "wgrad"]
    row = runner.run_case(case, "cpu", 1, CEILINGS, min_seconds=0.0)
    assert row["speedup"] > 0 and row["ours_ms"] > 0 and "base_benchmark_ms" not in row
    assert row["intensity"] == pytest.approx(case.flops / case.bytes)
    assert row["ceiling_fraction"] == pytest.approx(row["gflops"] / 100.0)


def test_a_mismatch_is_reported_not_timed():
    (case,) = [c for c in cases.conv_cases("t", TINY, 8, "float32", "cpu", "nchw") if c.pass_ == "fwd"]
    good = case.build

    def broken():
        fns = good()
        ours = fns.ours
        fns.ours = lambda: ours() * 1.01
        fns.check = cases.agreement_check(fns.ours, fns.base, 1e-4, "forward")
        return fns

    case.build = broken
    row = runner.run_case(case, "cpu", 1, CEILINGS, min_seconds=0.0)
    assert "error" in row and "ours_ms" not in row


def test_fp32_mode_sets_and_restores_one_api():
    before = precision.flag_state()
    with precision.fp32_mode("tf32"):
        state = precision.flag_state()
        assert state["api"] == before["api"]
        assert ("tf32" in state.values()) or state.get("cudnn.allow_tf32") is True
    with precision.fp32_mode("float32"):
        state = precision.flag_state()
        assert "tf32" not in state.values() and state.get("cudnn.allow_tf32") is not True
    assert precision.flag_state() == before
    assert precision.TOLERANCE["tf32"] == 5e-3 and precision.DTYPES["tf32"] is torch.float32


def test_resnet50_forward_case_agrees_with_torchvision():
    pytest.importorskip("torchvision")
    (fwd,) = [c for c in models.model_cases("resnet50", 1, "float32", "cpu", "nchw", image_size=64) if c.pass_ == "fwd"]
    fns = fwd.build()
    assert fns.check() is None
    assert fns.flops > 0


# --- presets and the command line --------------------------------------------------------------

def test_presets_parse():
    assert set(presets.PRESETS) == {"cpu-default", "gpu-quick", "grouped", "full"}
    default = bench_main.parse_args([])
    assert default.preset == "cpu-default" and default.device == "cpu" and default.batch == [8]
    assert default.suites == suites.CPU_DEFAULT_SUITES and "models" not in default.suites
    assert default.dtype == ["float32", "bfloat16"] and default.layout == ["nchw", "nhwc"]
    assert default.passes == ["fwd", "fwdbwd"] and default.time_budget is None and default.cases == "cpu"
    assert bench_main.parse_args(["--suites", "resnet50"]).cases == "all"
    assert bench_main.parse_args(["--suites", "resnet50", "--cases", "cpu"]).cases == "cpu"

    quick = bench_main.parse_args(["--preset", "gpu-quick"])
    assert (quick.device, quick.batch, quick.layout, quick.dtype) == ("cuda", [32], ["nhwc"], ["bfloat16", "tf32"])
    assert quick.passes == ["fwd", "fwdbwd"] and quick.time_budget and quick.suites == suites.ALL_SUITES

    grouped = bench_main.parse_args(["--preset", "grouped"])
    assert grouped.suites == suites.GROUPED_SUITES and grouped.cases == "all" and grouped.device == "cpu"
    assert (grouped.dtype, grouped.layout, grouped.passes) == (["float32"], ["nchw", "nhwc"], ["fwd", "fwdbwd"])
    assert set(suites.ALL_SUITES) == set(suites.LAYER_SUITES) | {suites.MODEL_SUITE}
    assert suites.ALL_SUITES[-len(suites.GROUPED_SUITES):] == suites.GROUPED_SUITES  # last under a budget

    full_cuda = bench_main.parse_args(["--preset", "full", "--device", "cuda"])
    assert set(full_cuda.passes) == set(cases.CONV_PASSES) and "tf32" in full_cuda.dtype
    assert bench_main.parse_args(["--preset", "full"]).dtype == ["float32", "bfloat16"]  # per device

    mine = bench_main.parse_args(["--preset", "gpu-quick", "--device", "cpu", "--batch", "1,2", "--time-budget", "9"])
    assert (mine.device, mine.batch, mine.time_budget, mine.layout) == ("cpu", [1, 2], 9.0, ["nhwc"])
    for bad in (["--suites", "nope"], ["--dtype", "int8"], ["--passes", "bwd"], ["--preset", "slow"]):
        with pytest.raises(SystemExit):
            bench_main.parse_args(bad)


def test_default_cpu_selection_names_real_layers_in_every_combination():
    todo = bench_main.select_cases(bench_main.parse_args([]))
    for suite, names in suites.CPU_CASES.items():
        assert {c.name for c in todo if c.suite == suite} == set(names), suite
    assert {(c.info["dtype"], c.info["layout"]) for c in todo} == {
        (d, l) for d in ("float32", "bfloat16") for l in ("nchw", "nhwc")}
    assert len(todo) == 8 * sum(len(v) for v in suites.CPU_CASES.values())


def test_quick_selection_represents_every_suite_in_few_cases():
    args = bench_main.parse_args(["--preset", "gpu-quick", "--device", "cpu"])
    todo = bench_main.select_cases(args)
    assert {c.suite for c in todo} == set(suites.ALL_SUITES)
    assert {c.info["dtype"] for c in todo} == {"bfloat16", "tf32"}
    assert {c.pass_ for c in todo} <= {"fwd", "fwdbwd", "train"}
    assert len(todo) < 120
    full = bench_main.select_cases(bench_main.parse_args(["--preset", "full"]))
    assert {"dgrad", "wgrad", "train"} <= {c.pass_ for c in full}


# --- reports: table, JSON, markdown, PNG, compare ----------------------------------------------

def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_run_writes_json_markdown_and_png_and_respects_the_time_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "measure_ceilings", lambda device, dtypes: dict(CEILINGS))
    out = str(tmp_path)
    rc = bench_main.main(["--suites", "lenet5,pooling", "--filter", "c3", "--passes", "fwd,dgrad,wgrad",
                          "--dtype", "float32", "--layout", "nchw", "--repeats", "1", "--out", out])
    assert rc == 0
    (stem,) = {os.path.splitext(p)[0] for p in os.listdir(out)}
    data = json.load(open(os.path.join(out, stem + ".json")))
    assert [r["pass"] for r in data["cases"]] == ["fwd", "dgrad", "wgrad"]
    assert data["summary"][0]["suite"] == "lenet5" and data["summary"][0]["geomean_speedup"] > 0
    assert data["machine"]["fp32_precision_flags"]["api"] in ("fp32_precision", "allow_tf32")
    assert _png_size(os.path.join(out, stem + ".png"))[0] == chart.WIDTH
    assert "| lenet5 | float32 | nchw | dgrad |" in open(os.path.join(out, stem + ".md")).read()

    budget = tmp_path / "budget"
    assert bench_main.main(["--suites", "lenet5", "--passes", "fwd", "--dtype", "float32", "--layout", "nchw",
                            "--time-budget", "0", "--no-chart", "--out", str(budget)]) == 0
    (path,) = budget.glob("*.json")
    skipped = json.load(open(path))["cases"]
    assert len(skipped) == 2 and all("time budget" in r["skipped"] for r in skipped)


def test_chart_draws_bars_and_roofline(tmp_path):
    from PIL import Image

    rows = [{"suite": "s", "name": f"c{i}", "pass": p, "dtype": "float32", "layout": "nchw", "speedup": sp,
             "gflops": g, "base_gflops": g * sp, "intensity": ai}
            for i, (p, sp, g, ai) in enumerate([("fwd", 1.5, 50.0, 40.0), ("dgrad", 0.6, 5.0, 3.0),
                                                 ("wgrad", 1.0, 80.0, 200.0)])]
    rows.append({"suite": "s", "name": "broken", "pass": "fwd", "error": "mismatch"})
    path = chart.write_chart(str(tmp_path / "c.png"), rows, CEILINGS, title="t")
    assert _png_size(path) == chart.chart_size(3)
    img = Image.open(path)
    img.verify()
    # Old result files (no intensities, the old ceiling key) still draw.
    _, old_rows = compare.load(STORED)
    assert _png_size(chart.write_chart(str(tmp_path / "old.png"), old_rows, {"matmul_fp32_gflops": 189.5}))


def test_summary_groups_by_suite_dtype_layout_pass():
    rows = [{"suite": "a", "dtype": "float32", "layout": "nchw", "pass": "fwd", "speedup": s} for s in (2.0, 0.5, 8.0)]
    tf32 = {"suite": "a", "dtype": "tf32", "layout": "nchw", "pass": "fwd"}
    rows += [dict(tf32, speedup=3.0, speedup_vs_benchmark=1.5), dict(tf32, skipped="budget")]
    summary = report.summarize(rows)
    assert [(s["dtype"], s["cases"]) for s in summary] == [("float32", 3), ("tf32", 1)]
    assert summary[0]["geomean_speedup"] == pytest.approx(2.0) and summary[1]["skipped"] == 1
    assert summary[1]["geomean_speedup_vs_benchmark"] == pytest.approx(1.5)
    assert len(report.summary_lines(summary)) == 3


def test_compare_reads_the_stored_old_format_result(tmp_path, capsys):
    machine, rows = compare.load(STORED)
    assert machine["ceilings"]["matmul_fp32_gflops"] > 0 and len(rows) == 74
    assert timing.compute_ceiling(machine["ceilings"], "float32") == machine["ceilings"]["matmul_fp32_gflops"]
    newer = [dict(r, ours_ms=r["ours_ms"] / 2) for r in rows[:10]] + [dict(rows[0], name="new case")]
    new_path = tmp_path / "new.json"
    new_path.write_text(json.dumps({"machine": {"device": "cpu", "ceilings": CEILINGS}, "cases": newer}))
    assert bench_main.main(["compare", STORED, str(new_path)]) == 0
    text = capsys.readouterr().out
    assert "10 cases in both" in text and "geomean cnnops time B/A 0.500" in text
    assert "64 only in A, 1 only in B" in text and "stem 7x7/2 3->64" in text


# ----------------------------------------------------------------------------- the GPU model
SASS_SNIPPET = """
        Function : _ZN6cnnops4cuda15fprop_tc_kernelEv
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/                   IMAD.WIDE R2, R3, 0x2, R4 ;
        /*0020*/                   LDSM.16.M88.4 R8, [R2] ;
        /*0030*/                   HMMA.16816.F32.BF16 R12, R8, R10, R12 ;
        /*0040*/                   NOP ;
        /*0050*/                   HMMA.16816.F32.BF16 R16, R8, R11, R16 ;
        /*0060*/               @P0 BRA 0x20 ;
        /*0070*/                   HMMA.16816.F32.BF16 R16, R8, R11, R16 ;
        /*0080*/                   EXIT ;
"""


def test_sass_main_loop_is_the_backward_branch_loop_with_the_most_hmma():
    from benchmarks import sass
    fns = sass.functions(SASS_SNIPPET)
    loop = sass.main_loop(fns["_ZN6cnnops4cuda15fprop_tc_kernelEv"])
    # 0x20..0x60: LDSM, 2 HMMA, BRA (the NOP is not issued work; the HMMA after the loop is not in it)
    assert (loop.instructions, loop.hmma, loop.shared_loads, loop.imad_wide) == (4, 2, 1, 0)
    assert loop.per_hmma == 2.0 and loop.non_mma_per_hmma == 1.0


def test_model_counts_the_grid_and_labels_itself():
    """The model of one layer: HMMA scaled from a sampled block equal the grid's (blocks x
    k-tiles x mma per k-tile), the bound is the largest term, and the table says MODEL."""
    pytest.importorskip("cnnops._sim")
    from benchmarks import model
    rows = model.model_suites(["resnet50"], batch=2, sample_blocks=1, layers=["l4 1x1 2048->512"])
    assert len(rows) == 1
    r = rows[0]
    assert r.kernel == "fprop_tc1x1_64x64x64_s3<bf16>" and r.blocks == 2 * 8
    assert r.hmma == r.blocks * (2048 // 32) * (64 // 16) * (64 // 8) * 2
    terms = {k: v for k, v in r.times_us.items() if v is not None}
    assert r.bound == max(terms, key=terms.get) and r.model_us == terms[r.bound]
    assert r.smem_read_conflict == 1.0 and r.smem_write_conflict == 1.0 and r.load_efficiency == 1.0
    text = model.table(rows, model.MACHINES["H200"], torch.bfloat16, 2, 1)
    assert text.startswith("MODEL (not a measurement)") and "| resnet50 | l4 1x1 2048->512 |" in text


def test_model_of_the_hopper_kernel():
    """--wgmma: the same layer on the Hopper kernel (128 x 64 tile at batch 2): HMMA equivalents =
    blocks x k-tiles x 4 wgmma x 2 consumers x N / 2; shared-memory wavefronts include the
    operand reads (2048 + 32 N bytes per wgmma) the counters cannot see; one block per SM."""
    pytest.importorskip("cnnops._sim")
    from benchmarks import model
    rows = model.model_suites(["resnet50"], batch=2, sample_blocks=1, layers=["l4 1x1 2048->512"], wgmma=True)
    assert len(rows) == 1
    r = rows[0]
    assert r.kernel == "fprop_wgmma1x1_128x64x64_s6<bf16>" and r.blocks == 1 * 8
    wgmma = r.blocks * (2048 // 64) * 4 * 2
    assert r.hmma == wgmma * 64 // 2
    assert r.smem_per_hmma * r.hmma >= wgmma * (2048 + 32 * 64) / 128  # the operand reads, at least
    assert r.issue_per_hmma is None and r.waves == r.blocks / 132
    import cnnops._sim as sim
    assert sim.conv2d_forward_plan(torch.empty(1, 64, 8, 8, dtype=torch.bfloat16), torch.empty(64, 64, 1, 1, dtype=torch.bfloat16),
                                   None, [1, 1], [0] * 4, [1, 1], 1).startswith("fprop_tc")  # switched back off


def test_direct_model_counts_the_unrolled_loads_and_labels_itself():
    """The direct kernels' model on one depthwise 3x3 layer: the grid is N x ceil(P/8) x
    ceil(Q/16) x ceil(K/32) blocks; each warp's shared loads are the unrolled filter's -- 9 weights
    and 6 input rows of 6 values per channel, nothing per output row -- conflict-free; the bound is
    the largest term and the table says MODEL."""
    pytest.importorskip("cnnops._sim")
    from benchmarks import model_direct
    rows = model_direct.model_direct_suites(["mobilenetv2"], batch=2, sample_blocks=1, layers=["b3 dw 3x3 144"])
    assert len(rows) == 1
    r = rows[0]
    assert r.kernel == "direct_nhwc_32x8x16_s3<bf16>" and r.blocks == 2 * 7 * 4 * 5
    assert r.shared_loads == r.blocks * 8 * (9 + 6 * 6)
    assert r.smem_conflict == 1.0 and r.store_efficiency == 1.0
    assert r.bound == max(r.times_us, key=r.times_us.get) and r.model_us == r.times_us[r.bound]
    text = model_direct.table(rows, model_direct.MACHINES["H200"], torch.bfloat16, "nhwc", 2, 1, False)
    assert text.startswith("MODEL (not a measurement)") and "| mobilenetv2 | b3 dw 3x3 144 |" in text
