"""Data-parallel training on cnnops, run the way users run it: `torchrun` with two processes
(gloo over loopback on the CPU; NCCL on two GPUs), examples/ddp_train.py as the script, under
DistributedDataParallel, torch.compile(DDP) and FSDP2.

After every step the parameters must equal those of one process training on the whole batches.
They are not bit-identical, and cannot be: one process sums each weight gradient over the whole
batch in one fixed-order reduction, while two ranks each sum their half and the all-reduce adds
the halves (and averages the two means instead of taking one). cnnops' backward is deterministic
and the losses are float64, so the two orders differ by a few units in the last place per
gradient element; over these few SGD steps that stays below 1e-14 relative to each tensor's
largest element (measured: about 3e-15). The bound, 1e-12, leaves room for that and for nothing
else: one wrong gradient element moves its parameter by about lr * |grad|, 1e-4 or more. The
ranks themselves must agree bit for bit (DDP and FSDP keep one copy of the parameters).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cnnops

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from examples import ddp_train  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without torch.distributed")

STEPS, BATCH, IMAGE = 3, 4, 32
REL_BOUND = 1e-12


def torchrun(tmp_path, *args, timeout=300):
    """The README's command: torchrun --standalone --nproc_per_node=2 examples/ddp_train.py ..."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "examples" / "ddp_train.py"), "--steps", str(STEPS), "--batch", str(BATCH),
           "--image", str(IMAGE), "--save", str(tmp_path), *args]
    # Loopback only, one thread per rank (torchrun's default too), the source tree importable.
    env = dict(os.environ, PYTHONPATH=str(ROOT), GLOO_SOCKET_IFNAME="lo", MASTER_ADDR="127.0.0.1", OMP_NUM_THREADS="1")
    try:
        r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("torchrun did not finish in %d s:\n%s" % (timeout, (e.stderr or b"")[-4000:]))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-6000:]
    return [torch.load(tmp_path / ("rank%d.pt" % rank)) for rank in range(2)]


def assert_matches_one_process(ranks, device="cpu"):
    rank0, rank1 = ranks
    reference = ddp_train.train_one_process(STEPS, BATCH, IMAGE, torch.float64, device)
    assert len(rank0) == len(reference) == STEPS
    for step, (got, other, want) in enumerate(zip(rank0, rank1, reference)):
        assert got.keys() == want.keys()
        for name in want:
            assert torch.equal(got[name], other[name]), "step %d: the ranks' %s differ" % (step, name)
            scale = want[name].abs().max().item()
            err = (got[name] - want[name]).abs().max().item()
            assert err <= REL_BOUND * scale, "step %d, %s: |diff| %.3g > %.0e x %.3g" % (step, name, err, REL_BOUND, scale)
        # the parameters moved: the comparison is not between two untrained copies
        assert any(not torch.equal(want[n], ddp_train.make_model().state_dict()[n]) for n in want)


def test_ddp_gloo_equals_one_process_on_the_whole_batch(tmp_path):
    assert_matches_one_process(torchrun(tmp_path))


def test_compiled_ddp_gloo_equals_one_process(tmp_path):
    assert_matches_one_process(torchrun(tmp_path, "--mode", "compile"))


def test_fsdp2_gloo_equals_one_process(tmp_path):
    assert_matches_one_process(torchrun(tmp_path, "--mode", "fsdp"))


def test_the_model_trains_on_cnnops_kernels():
    """What the processes run is cnnops': every convolution and pooling layer converted."""
    model = ddp_train.make_model()
    kinds = {type(m) for m in model.modules()}
    assert cnnops.nn.Conv2d in kinds and cnnops.nn.MaxPool2d in kinds and cnnops.nn.AdaptiveAvgPool2d in kinds
    assert torch.nn.Conv2d not in {type(m) for m in model.modules() if type(m).__module__.startswith("torch.")}


@pytest.mark.gpu
def test_ddp_nccl_on_two_gpus(tmp_path):
    n = torch.cuda.device_count()
    if n < 2:
        pytest.skip("NCCL data parallel needs 2 GPUs; this machine has %d" % n)
    assert_matches_one_process(torchrun(tmp_path, "--device", "cuda"), device="cuda")


def test_the_readme_shows_the_commands_run_here():
    """The README's torchrun lines are the ones torchrun() runs (torchrun is
    `python -m torch.distributed.run`), one per variant tested above."""
    readme = (ROOT / "README.md").read_text()
    for variant in ("", " --mode compile", " --mode fsdp", " --device cuda"):
        line = "torchrun --standalone --nproc_per_node=2 examples/ddp_train.py" + variant
        assert any(l.strip().startswith(line) and (variant or "--" not in l.split("#")[0].split("ddp_train.py")[1])
                   for l in readme.splitlines()), line
