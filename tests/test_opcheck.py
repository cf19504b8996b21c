"""torch.library.opcheck on every cnnops op (schema, fake kernel strides, autograd registration,
AOT dispatch), plus autocast and torch.compile of the functional API."""
import pytest
import torch
import torch.nn.functional as F

import cnnops

ops = torch.ops.cnnops


def _x(*shape, cl=False, grad=True):
    t = torch.randn(*shape, dtype=torch.float64)
    if cl:
        t = t.contiguous(memory_format=torch.channels_last)
    return t.requires_grad_(grad)


def _samples():
    for cl in (False, True):
        x, w, b = _x(2, 4, 7, 6, cl=cl), _x(6, 2, 3, 2, cl=cl), _x(6)
        yield "conv2d_forward", (x, w, b, [2, 1], [1, 0, 1, 1], [1, 2], 2)
        yield "conv2d_forward", (x, w, None, [1, 1], [0, 0, 0, 0], [1, 1], 2)
        r = _x(2, 6, 4, 5, cl=not cl)
        yield "conv2d_bias_act", (x, w, b, [2, 1], [1, 0, 1, 1], [1, 2], 2, 1, r)
        yield "conv2d_bias_act", (x, w, None, [2, 1], [1, 0, 1, 1], [1, 2], 2, 0, None)
        go = _x(2, 6, 4, 5, cl=cl)
        yield "conv2d_backward", (go, x, w, [2, 1], [1, 0, 1, 1], [1, 2], 2, [True, True, True])
        yield "conv2d_backward", (go, x, w, [2, 1], [1, 0, 1, 1], [1, 2], 2, [False, True, False])
        x = _x(2, 3, 9, 8, cl=cl)
        yield "max_pool2d_forward", (x, [3, 2], [2, 1], [1, 1], [1, 2], True)
        yield "max_pool2d_values", (x.detach(), [3, 2], [2, 1], [1, 1], [1, 2], True)  # not differentiable
        y, ind = ops.max_pool2d_forward(x.detach(), [3, 2], [2, 1], [1, 1], [1, 2], True)
        yield "max_pool2d_backward", (_x(*y.shape, cl=cl), x, ind, [3, 2], [2, 1], [1, 1], [1, 2], True)
        yield "avg_pool2d_forward", (x, [3, 3], [2, 2], [1, 1], True, False, None)
        yield "avg_pool2d_forward", (x, [2, 3], [1, 2], [0, 1], False, True, -3)
        yield "avg_pool2d_backward", (_x(2, 3, 5, 5, cl=cl), x, [3, 3], [2, 2], [1, 1], True, False, None)
        yield "adaptive_avg_pool2d_forward", (x, [4, 3])
        yield "adaptive_avg_pool2d_backward", (_x(2, 3, 4, 3, cl=cl), x)


SAMPLES = list(_samples())


@pytest.mark.parametrize("i", range(len(SAMPLES)), ids=[f"{n}-{i}" for i, (n, _) in enumerate(SAMPLES)])
def test_opcheck(i):
    name, args = SAMPLES[i]
    torch.library.opcheck(getattr(ops, name), args)


def test_every_op_is_checked():
    assert {name for name, _ in SAMPLES} == set(cnnops.ops.ALL_OPS)


def test_autocast_cpu_bf16():
    x, w = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = cnnops.conv2d(x, w, padding=1)
        ref = F.conv2d(x, w, padding=1)
    assert y.dtype == ref.dtype == torch.bfloat16
    assert torch.allclose(y.float(), ref.float(), rtol=3e-2, atol=3e-2)


def test_autocast_cpu_user_dtype_wins_over_the_op_level_default():
    """The op-level autocast casts to CPU's default bfloat16; the functional API honours the
    dtype the user asked for (float16 here) and does not let the op cast its inputs again."""
    torch.manual_seed(0)
    x, w, b = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3), torch.randn(4)
    with torch.autocast("cpu", dtype=torch.float16):
        y = cnnops.conv2d(x, w, b, padding=1)
        fused = cnnops.conv2d_bias_act(x, w, b, padding=1, activation="relu", residual=torch.randn(2, 4, 8, 8))
    assert y.dtype == fused.dtype == torch.float16
    ref = F.conv2d(x.half().double(), w.half().double(), b.half().double(), padding=1)
    assert torch.allclose(y.double(), ref, rtol=1e-2, atol=1e-2)


def test_op_level_autocast():
    """torch.ops.cnnops.conv2d_forward / conv2d_bias_act called directly under autocast run in the
    device's default autocast dtype (register_autocast), like torch's own convolution."""
    torch.manual_seed(0)
    x, w = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    args = ([1, 1], [1, 1, 1, 1], [1, 1], 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = torch.ops.cnnops.conv2d_forward(x, w, None, *args)
        fused = torch.ops.cnnops.conv2d_bias_act(x, w, None, *args, 1, torch.randn(2, 4, 8, 8))
        ref = F.conv2d(x, w, padding=1)
    assert y.dtype == fused.dtype == ref.dtype == torch.bfloat16
    assert torch.allclose(y.float(), ref.float(), rtol=3e-2, atol=3e-2)
    y32 = torch.ops.cnnops.conv2d_forward(x, w, None, *args)  # autocast off again: float32
    assert y32.dtype == torch.float32


def _model():
    return torch.nn.Sequential(
        cnnops.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), cnnops.nn.MaxPool2d(2),
        cnnops.nn.Conv2d(8, 8, 3, padding="same", groups=2), cnnops.nn.AvgPool2d(3, 1, 1, count_include_pad=False),
        cnnops.nn.Conv1x1(8, 16, stride=2), cnnops.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 5),
    )


def test_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    model = _model()
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    eager = model(x)
    (g_eager,) = torch.autograd.grad(eager.sum(), x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    (g_comp,) = torch.autograd.grad(out.sum(), x)
    assert torch.allclose(out, eager, atol=1e-6) and torch.allclose(g_comp, g_eager, atol=1e-6)


def test_compile_inductor_fullgraph():
    torch._dynamo.reset()
    model = _model().eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(torch.compile(model, fullgraph=True)(x), model(x), atol=1e-5)


def test_compile_fullgraph_under_autocast_casts_as_eager():
    """The functional API's own autocast handling traced by torch.compile: the convolutions run
    in the user's autocast dtype in the compiled graph as in eager, on every supported torch."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(cnnops.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), cnnops.nn.Conv1x1(8, 4))
    x = torch.randn(2, 3, 10, 10)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    for dtype in (torch.bfloat16, torch.float16):
        with torch.autocast("cpu", dtype=dtype):
            eager, out = model(x), compiled(x)
        assert eager.dtype == out.dtype == dtype
        assert torch.equal(out, eager)
    assert compiled(x).dtype == torch.float32  # autocast off: a recompile, float32 again
