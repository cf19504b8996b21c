"""Data-parallel training of a cnnops model: a `cnnops.convert`ed ResNet-18 under
DistributedDataParallel (optionally torch.compile'd) or FSDP2 (`fully_shard`), one process per
device, each training on its slice of every global batch.

    torchrun --standalone --nproc_per_node=2 examples/ddp_train.py                 # DDP, gloo, CPU
    torchrun --standalone --nproc_per_node=2 examples/ddp_train.py --mode compile  # torch.compile(DDP)
    torchrun --standalone --nproc_per_node=2 examples/ddp_train.py --mode fsdp     # FSDP2
    torchrun --standalone --nproc_per_node=2 examples/ddp_train.py --device cuda   # NCCL, 1 GPU per rank

(`python -m torch.distributed.run` is the same command as `torchrun`.) tests/test_distributed.py
runs these commands and checks that the parameters after every step equal those of one process
training on the whole batches (`train_one_process` below).

The normalisation is GroupNorm, not BatchNorm: BatchNorm normalises by the statistics of each
rank's own slice, so data-parallel training with it is not the same computation as one process on
the global batch (SyncBatchNorm, which is, exists for CUDA only). GroupNorm normalises each sample
alone, which keeps that equality exact up to the summation order of the gradients.
"""
import argparse
import os
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
import torchvision
from torch import nn

import cnnops

CLASSES = 10


def make_model(dtype=torch.float64, device="cpu", seed=0):
    """The model every rank (and the one-process reference) starts from: same seed, same weights."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(num_classes=CLASSES, norm_layer=lambda c: nn.GroupNorm(8, c))
    return cnnops.convert(model).to(device=device, dtype=dtype)


def global_batches(steps, batch, image=32, dtype=torch.float64, seed=1):
    """`steps` seeded global batches of `batch` images (CPU tensors; each rank takes its slice)."""
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, 3, image, image, generator=g, dtype=dtype), torch.randint(0, CLASSES, (batch,), generator=g))
        for _ in range(steps)
    ]


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def full_parameters(model):
    """name -> a CPU copy of each whole parameter (FSDP2's sharded DTensors gathered; every rank
    must call this, since gathering is a collective)."""
    out = {}
    for name, p in model.named_parameters():
        t = p.full_tensor() if hasattr(p, "full_tensor") else p
        out[name] = t.detach().to("cpu", copy=True)
    return out


def train_one_process(steps, batch, image=32, dtype=torch.float64, device="cpu"):
    """The reference: one process, the whole global batch per step. Returns the parameters after
    each step, as full_parameters gives them."""
    model = make_model(dtype, device)
    opt = make_optimizer(model.parameters())
    history = []
    for x, y in global_batches(steps, batch, image, dtype):
        opt.zero_grad()
        F.cross_entropy(model(x.to(device)), y.to(device)).backward()
        opt.step()
        history.append(full_parameters(model))
    return history


def wrap(model, mode, device):
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard

        # One unit per stage and one for the rest (stem and head): each is gathered just before
        # it runs and resharded after, as FSDP is used on larger models.
        for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
            fully_shard(stage)
        return fully_shard(model)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return torch.compile(ddp) if mode == "compile" else ddp


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=("ddp", "compile", "fsdp"), default="ddp")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cpu: gloo; cuda: nccl, one GPU per rank")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=8, help="global batch (split evenly over the ranks)")
    p.add_argument("--image", type=int, default=32, help="image side (pixels)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    p.add_argument("--save", help="folder: each rank writes rank<r>.pt, the parameters after every step")
    args = p.parse_args(argv)

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if args.batch % world:
        p.error("--batch %d is not divisible by the %d ranks" % (args.batch, world))
    if args.device == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    try:
        dtype = getattr(torch, args.dtype)
        model = make_model(dtype, device)
        trained = wrap(model, args.mode, device)
        opt = make_optimizer(trained.parameters())
        local = args.batch // world
        history, t0 = [], time.perf_counter()
        for step, (x, y) in enumerate(global_batches(args.steps, args.batch, args.image, dtype)):
            x, y = x[rank * local:(rank + 1) * local].to(device), y[rank * local:(rank + 1) * local].to(device)
            opt.zero_grad()
            loss = F.cross_entropy(trained(x), y)
            loss.backward()
            opt.step()
            history.append(full_parameters(model))
            if rank == 0:
                print("step %d  loss on rank 0's slice %.6f" % (step, loss.item()), flush=True)
        if rank == 0:
            print("%s on %d %s ranks: %d steps in %.1f s" % (args.mode, world, device.type, args.steps, time.perf_counter() - t0))
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            torch.save(history, os.path.join(args.save, "rank%d.pt" % rank))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
