"""The course examples in examples/: the numbers they are about, and each one running end to
end with small settings (the full runs are kept in examples/results/)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cnnops

ROOT = Path(__file__).resolve().parents[1]
sklearn = pytest.importorskip("sklearn", reason="the examples' data sets ship with scikit-learn")


def _run(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------------------------------- edges

def test_vertical_edge_six_by_six():
    from examples import edge_detection as ed

    img, out = ed.six_by_six()
    assert torch.equal(img[:, :3], torch.full((6, 3), 10.0)) and torch.equal(img[:, 3:], torch.zeros(6, 3))
    assert torch.equal(ed.VERTICAL, torch.tensor([[1.0, 0, -1]] * 3))
    assert out.shape == (4, 4)
    assert torch.equal(out, torch.tensor([[0.0, 30, 30, 0]] * 4))
    # the horizontal filter is the transpose, and finds the same edge in the transposed image
    assert torch.equal(ed.HORIZONTAL, ed.VERTICAL.t())
    assert torch.equal(ed.convolve(img.t().contiguous(), ed.HORIZONTAL), out.t())
    # a dark-to-bright edge has the opposite sign; no edge, no response
    assert torch.equal(ed.convolve(img.flip(1), ed.VERTICAL), -out)
    assert torch.equal(ed.convolve(img, ed.HORIZONTAL), torch.zeros(4, 4))
    # cross-correlation, as torch's
    assert torch.equal(out, F.conv2d(img[None, None], ed.VERTICAL[None, None])[0, 0])


def test_sobel_and_scharr_on_a_photograph(tmp_path):
    from examples import edge_detection as ed

    assert torch.equal(ed.SOBEL, torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]))
    assert torch.equal(ed.SCHARR, torch.tensor([[3.0, 0, -3], [10, 0, -10], [3, 0, -3]]))
    grey = ed.photo_grey()
    assert grey.shape == (427, 640) and 0 <= grey.min() < grey.max() <= 1
    maps = ed.edge_maps(grey)
    for name, k in (("Sobel", ed.SOBEL), ("Scharr", ed.SCHARR)):
        ref = F.conv2d(grey[None, None], k[None, None], padding=1)[0, 0]
        torch.testing.assert_close(maps[name]["vertical"], ref, rtol=1e-5, atol=1e-5)
        assert maps[name]["magnitude"].shape == grey.shape
    path = ed.save_figure(tmp_path / "edges.png")
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (4 * 320, 2 * (213 + 18))


def test_a_conv_layer_learns_the_vertical_edge_filter():
    from examples import edge_detection as ed

    kernel, loss = ed.learn_vertical_filter(steps=200)
    assert (kernel - ed.VERTICAL).abs().max() < 1e-2
    assert loss < 1e-4


def test_edge_detection_main(tmp_path, capsys):
    from examples import edge_detection as ed

    r = ed.main(["--steps", "200", "--output", str(tmp_path / "e.png")])
    assert r["max_error"] < 1e-2 and r["figure"].exists()
    assert "30." in capsys.readouterr().out


# --------------------------------------------------------------------------------------- shapes

def test_output_size_formula():
    from examples import shapes

    assert shapes.out_size(6, 3) == 4
    assert shapes.out_size(7, 3, 0, 2) == 3
    assert (shapes.out_size(39, 3, 0, 1), shapes.out_size(37, 5, 0, 2), shapes.out_size(17, 5, 0, 2)) == (37, 17, 7)
    assert [shapes.same_padding(f) for f in (1, 3, 5, 7)] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        shapes.same_padding(4)
    assert shapes.check() > 1000
    assert shapes.check(ns=range(30, 70, 7), fs=(9, 11), ps=(0, 3, 5), ss=(1, 4)) > 0


def test_shapes_runs_as_a_module():
    r = _run("-m", "examples.shapes")
    assert r.returncode == 0, r.stderr
    assert "the formula matches cnnops" in r.stdout and "floor((n+2p-f)/s)+1" in r.stdout


# ----------------------------------------------------------------------------------------- cost

def test_bottleneck_cost_runs_as_a_script():
    r = _run(str(ROOT / "examples" / "bottleneck_cost.py"))
    assert r.returncode == 0, r.stderr
    assert "120,422,400" in r.stdout and "12,443,648" in r.stdout


# ---------------------------------------------------------------------------------------- digits

def test_digits_on_a_32x32_canvas():
    from examples import _common as C

    x, y = C.load_digits_32()
    assert x.shape == (1797, 1, 32, 32) and y.shape == (1797,)
    assert x.min() == 0 and x.max() <= 1
    assert (x[:, :, :2] == 0).all() and (x[:, :, :, -2:] == 0).all()  # the 2-pixel border
    tr, te = C.split(y)
    assert len(tr) == 1437 and len(te) == 360 and not set(tr.tolist()) & set(te.tolist())
    assert torch.bincount(y[te]).min() >= 35  # stratified: 35-37 of each digit
    tr2, _ = C.split(y)
    assert torch.equal(tr, tr2)  # fixed
    sub = C.stratified_subset(y[tr], 3)
    assert torch.equal(torch.bincount(y[tr][sub]), torch.full((10,), 3))
    aug = C.augment_batch(x[:8], C.augmentation())
    assert aug.shape == (8, 1, 32, 32) and not torch.equal(aug, x[:8])


def _check_machine(m):
    assert m["torch"] == torch.__version__ and m["threads"] >= 1
    assert m["platform"] and "processor" in m and m["cnnops"] == cnnops.__version__


def test_lenet5_digits_small_run(tmp_path):
    from examples import lenet5_digits

    out = tmp_path / "sub" / "lenet.json"
    lenet5_digits.main(["--epochs", "1", "--train-subset", "200", "--no-progress", "--output", str(out)])
    r = json.loads(out.read_text())
    assert r["epochs"] == 1 and r["train_size"] == 200 and r["test_size"] == 360
    assert 0.0 <= r["test_accuracy"] <= 1.0 and r["seconds"] > 0
    assert len(r["history"]) == 1 and r["history"][0]["test_accuracy"] == r["test_accuracy"]
    _check_machine(r["machine"])


def test_lenet5_digits_kept_result():
    """The committed full run reached the target."""
    path = ROOT / "examples" / "results" / "lenet5_digits.json"
    if not path.exists():
        pytest.skip("no kept result")
    r = json.loads(path.read_text())
    assert r["test_accuracy"] >= 0.97 and r["train_size"] == 1437 and r["test_size"] == 360
    assert r["history"][-1]["test_accuracy"] == r["test_accuracy"] and len(r["history"]) == r["epochs"]


def test_transfer_learning_small_run(tmp_path):
    from examples import transfer_learning as tl

    out, cache = tmp_path / "tl.json", tmp_path / "cache"
    args = ["--pretrain-epochs", "1", "--little", "2", "--more", "3", "--lots", "6", "--epochs-little", "3",
            "--epochs-more", "1", "--epochs-lots", "1", "--views", "2", "--repeats", "1", "--no-progress",
            "--cache-dir", str(cache), "--output", str(out)]
    tl.main(args)
    r = json.loads(out.read_text())
    assert set(r["regimes"]) == {"little_data", "more_data", "lots_of_data"}
    assert r["pretrain"]["epochs"] == 1 and r["test_size_5_9"] == 180
    sizes = {k: g["train_size"] for k, g in r["regimes"].items()}
    assert sizes == {"little_data": 10, "more_data": 15, "lots_of_data": 30}
    for g in r["regimes"].values():
        for side in ("transfer", "scratch"):
            assert 0.0 <= g[side]["test_accuracy"] <= 1.0
    little, more, lots = (r["regimes"][k]["transfer"]["trainable_parameters"]
                          for k in ("little_data", "more_data", "lots_of_data"))
    assert little == 1024 * 5 + 5 < more < lots == r["regimes"]["lots_of_data"]["scratch"]["trainable_parameters"]
    assert r["regimes"]["little_data"]["transfer"]["cache_hit"] == [False]
    files = list(cache.glob("features-*.pt"))
    assert len(files) == 1
    data = torch.load(files[0])
    assert data["train"].shape == (2, 10, 1024) and data["test"].shape == (180, 1024)
    _check_machine(r["machine"])


def test_feature_cache_is_reused(tmp_path):
    from examples import transfer_learning as tl

    torch.manual_seed(0)
    backbone = tl.Backbone()
    x = torch.rand(4, 1, 32, 32)
    a, p1, hit1 = tl.cached_features(backbone, x, x[:2], 3, tmp_path, 0)
    b, p2, hit2 = tl.cached_features(backbone, x, x[:2], 3, tmp_path, 0)
    assert (hit1, hit2) == (False, True) and p1 == p2
    assert torch.equal(a["train"], b["train"]) and torch.equal(a["train"][0], tl.features(backbone, x))
    with torch.no_grad():
        backbone.block1.conv.weight.add_(1)  # other weights: another cache entry
    _, p3, hit3 = tl.cached_features(backbone, x, x[:2], 3, tmp_path, 0)
    assert not hit3 and p3 != p1
