"""Counting the multiplications of a forward pass."""
from typing import Dict, Sequence, Tuple, Union

import torch
from torch import nn


def _conv_multiplies(module: nn.Conv2d, output: torch.Tensor) -> int:
    # Each of the N*K*P*Q outputs is a dot product of length (C/groups)*R*S.
    n, k, p, q = (1,) + tuple(output.shape) if output.dim() == 3 else tuple(output.shape)
    r, s = module.kernel_size
    return n * k * p * q * (module.in_channels // module.groups) * r * s


def count_multiplies(model: nn.Module, input_shape: Sequence[int], *, linear: bool = True,
                     per_layer: bool = False) -> Union[int, Tuple[int, Dict[str, int]]]:
    """Multiplications in one forward pass of `model` on an input of `input_shape` (N, C, H, W).

    Convolutions (every nn.Conv2d, so every cnnops.nn.Conv2d and Conv1x1) count
    N*K*P*Q*(C/groups)*R*S for an N x K x P x Q output; with linear=True, nn.Linear layers count
    (number of outputs) * in_features. Bias additions, batch norm, activations and pooling are
    not multiplications of a dot product and are not counted. The sizes come from forward hooks
    on a pass run in eval mode under FakeTensorMode: shapes propagate, nothing is computed, the
    model's parameters and buffers are not touched.

    With per_layer=True, returns (total, {module name: multiplications}).
    """
    counts: Dict[str, int] = {}
    names = {m: name for name, m in model.named_modules()}

    def hook(module, args, output):
        if isinstance(module, nn.Conv2d):
            c = _conv_multiplies(module, output)
        else:
            c = output.numel() * module.in_features
        counts[names[module]] = counts.get(names[module], 0) + int(c)

    kinds = (nn.Conv2d, nn.Linear) if linear else (nn.Conv2d,)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        device = param.device if param is not None else "cpu"
        try:
            from torch._subclasses.fake_tensor import FakeTensorMode
        except ImportError:  # pragma: no cover - a torch without fake tensors: run it for real
            with torch.no_grad():
                model(torch.zeros(tuple(input_shape), dtype=dtype, device=device))
        else:
            with FakeTensorMode(allow_non_fake_inputs=True), torch.no_grad():
                model(torch.empty(tuple(input_shape), dtype=dtype, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total = sum(counts.values())
    return (total, counts) if per_layer else total
