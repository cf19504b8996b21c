"""GPU tests (marked `gpu`; skipped without a CUDA device). They check the CUDA part of the
build and the CUDA kernels against torch in float64, as the simulator tests (test_sim_*.py) do on
the CPU; the shared conv2d cases run on the GPU through test_conv2d_backends.py's cuda backend."""
import pytest
import torch

import torch.nn.functional as F

import cnnops
from cases import CASES, conv_id
from helpers import UNIT_TOL, assert_close_scaled, conv_tf32, rand

pytestmark = pytest.mark.gpu


def test_build_has_cuda():
    assert cnnops.build_info()["cuda"], "a GPU machine should build the CUDA part"


def test_device_shape_math_matches_host():
    result = cnnops._C.cuda_shape_selftest()
    assert result["queries"] > 1000 and result["mismatches"] == 0


@pytest.mark.parametrize("case", CASES, ids=conv_id)
def test_conv2d_forward_tf32_when_torch_allows_it(case, monkeypatch):
    monkeypatch.setitem(UNIT_TOL, torch.float32, 2e-3)
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    x, w = rand(N, C, H, W, dtype=torch.float32), rand(K, C // groups, R, S, dtype=torch.float32)
    with conv_tf32(True):
        y = cnnops.conv2d(x.cuda(), w.cuda(), None, stride, padding, dilation, groups)
    ref = F.conv2d(x.double(), w.double(), None, stride, padding, dilation, groups)
    scale = F.conv2d(x.double().abs(), w.double().abs(), None, stride, padding, dilation, groups)
    assert_close_scaled(y, ref, scale, torch.float32, "CUDA conv2d forward, TF32")


def test_conv2d_backward_is_deterministic():
    x = torch.randn(8, 16, 56, 56, device="cuda", requires_grad=True)
    w = torch.randn(32, 16, 3, 3, device="cuda", requires_grad=True)
    go = torch.randn(8, 32, 56, 56, device="cuda")
    first = torch.autograd.grad(cnnops.conv2d(x, w, padding=1), [x, w], go)
    for _ in range(3):
        again = torch.autograd.grad(cnnops.conv2d(x, w, padding=1), [x, w], go)
        assert all(torch.equal(a, b) for a, b in zip(first, again))


# ----------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_pooling_matches_torch(layout, dtype):
    x = rand(4, 64, 33, 35, dtype=dtype, layout=layout).cuda().requires_grad_()
    for fn, args in ((F.max_pool2d, (3, 2, 1)), (F.avg_pool2d, (3, 2, 1, True, False)),
                     (F.adaptive_avg_pool2d, ((1, 1),)), (F.adaptive_avg_pool2d, ((5, 7),))):
        ours = getattr(cnnops, fn.__name__)(x, *args)
        ref = fn(x, *args)
        assert ours.stride() == ref.stride()
        torch.testing.assert_close(ours, ref, rtol=2e-2, atol=2e-2)
        g = torch.randn_like(ref)
        torch.testing.assert_close(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(ref, x, g)[0],
                                   rtol=2e-2, atol=2e-2)


def test_max_pool2d_indices_and_ties_match_torch():
    x = torch.randint(-2, 2, (2, 8, 17, 13), device="cuda").float()
    y, i = cnnops.max_pool2d(x, 3, 2, 1, return_indices=True)
    yt, it = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert torch.equal(y, yt) and torch.equal(i, it)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64], ids=str)
def test_vector_pooling_paths_match_torch(dtype):
    """The 16-byte paths on real hardware: NCHW row vectors (VGG's 2x2/2, 3x3/2 with and without
    padding, 3x3/1 pad 1) and NHWC channel vectors, forward and backward, and max pooling without
    indices (inference), each named by the kernel log."""
    x = rand(4, 16, 32, 64, dtype=dtype).cuda()
    with torch.no_grad():
        y = cnnops.max_pool2d(x, 2)
        assert cnnops.last_cuda_kernel("max_pool2d_values") == "max_pool_forward_nchw_wvec16"
        assert torch.equal(y, F.max_pool2d(x, 2))
        y, i = cnnops.max_pool2d(x, 2, return_indices=True)
        yt, it = F.max_pool2d(x, 2, return_indices=True)
        assert torch.equal(y, yt) and torch.equal(i, it)
        a = cnnops.avg_pool2d(x, 2)
        assert cnnops.last_cuda_kernel("avg_pool2d_forward") == "avg_pool_forward_nchw_wvec16"
        torch.testing.assert_close(a, F.avg_pool2d(x, 2), rtol=UNIT_TOL[dtype] * 4, atol=UNIT_TOL[dtype] * 4)
        # ResNet's stem, GoogLeNet's ceil-mode pool, Inception's branch pool: the other row-vector shapes
        for args, kw in [((3, 2, 1), {}), ((3, 2), dict(ceil_mode=True)), ((3, 1, 1), {})]:
            y, i = cnnops.max_pool2d(x, *args, return_indices=True, **kw)
            assert cnnops.last_cuda_kernel("max_pool2d_forward") == "max_pool_forward_nchw_wvec16"
            yt, it = F.max_pool2d(x, *args, return_indices=True, **kw)
            assert torch.equal(y, yt) and torch.equal(i, it), args
            a = cnnops.avg_pool2d(x, *args, **kw)
            assert cnnops.last_cuda_kernel("avg_pool2d_forward") == "avg_pool_forward_nchw_wvec16"
            torch.testing.assert_close(a, F.avg_pool2d(x, *args, **kw), rtol=UNIT_TOL[dtype] * 4,
                                       atol=UNIT_TOL[dtype] * 4)
        # Rows that end in a partial output vector (whole input vectors: 3 and 5 of them), the second
        # with a ceil-mode window past the row
        vec = 16 // x.element_size()
        for xs, args, kw in [(x[..., :3 * vec].contiguous(), (2,), {}),
                             (x[..., :5 * vec].contiguous(), (3, 2), dict(ceil_mode=True))]:
            y, i = cnnops.max_pool2d(xs, *args, return_indices=True, **kw)
            assert cnnops.last_cuda_kernel("max_pool2d_forward") == "max_pool_forward_nchw_wvec16"
            yt, it = F.max_pool2d(xs, *args, return_indices=True, **kw)
            assert torch.equal(y, yt) and torch.equal(i, it), (xs.shape, args)
            torch.testing.assert_close(cnnops.avg_pool2d(xs, *args, **kw), F.avg_pool2d(xs, *args, **kw),
                                       rtol=UNIT_TOL[dtype] * 4, atol=UNIT_TOL[dtype] * 4)
        xc = x.contiguous(memory_format=torch.channels_last)
        assert torch.equal(cnnops.max_pool2d(xc, 3, 2, 1), F.max_pool2d(xc, 3, 2, 1))
        assert cnnops.last_cuda_kernel("max_pool2d_values") == "max_pool_forward_nhwc_vec16"
    # The backward gathers with vectors: NCHW rows, and NHWC channels (grad_output channels-last too).
    for src, ours, theirs, kernel in [
            (x, cnnops.max_pool2d, F.max_pool2d, "max_pool_backward_gather_nchw_wvec16"),
            (x, cnnops.avg_pool2d, F.avg_pool2d, "avg_pool_backward_gather_nchw_wvec16"),
            (xc, cnnops.max_pool2d, F.max_pool2d, "max_pool_backward_gather_nhwc_vec16"),
            (xc, cnnops.avg_pool2d, F.avg_pool2d, "avg_pool_backward_gather_nhwc_vec16")]:
        xo, xt = src.clone().requires_grad_(), src.clone().requires_grad_()
        yo, yt = ours(xo, 3, 2, 1), theirs(xt, 3, 2, 1)
        g = torch.randn_like(yt)  # in the output's layout
        yo.backward(g)
        yt.backward(g)
        assert cnnops.last_cuda_kernel(kernel.split("_pool_")[0] + "_pool2d_backward") == kernel
        torch.testing.assert_close(xo.grad, xt.grad, rtol=UNIT_TOL[dtype] * 4, atol=UNIT_TOL[dtype] * 4)


# ----------------------------------------------------------------------------- streams, graphs, sizes
def test_runs_on_the_current_non_default_stream():
    x, w = torch.randn(4, 32, 28, 28, device="cuda", dtype=torch.bfloat16), torch.randn(64, 32, 3, 3, device="cuda",
                                                                                         dtype=torch.bfloat16)
    ref = F.conv2d(x, w, padding=1)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        y = cnnops.conv2d(x, w, padding=1)
        p = cnnops.max_pool2d(y, 2)
    torch.cuda.current_stream().wait_stream(side)
    torch.testing.assert_close(y, ref, rtol=2e-2, atol=2e-1)
    torch.testing.assert_close(p, F.max_pool2d(y, 2))


def test_cuda_graph_capture_and_replay():
    x = torch.randn(2, 16, 20, 20, device="cuda", dtype=torch.float16).contiguous(memory_format=torch.channels_last)
    w = torch.randn(32, 16, 3, 3, device="cuda", dtype=torch.float16)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture (allocations, kernel choice)
        cnnops.conv2d_bias_act(x, w, padding=1, activation="relu")
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = cnnops.conv2d_bias_act(x, w, padding=1, activation="relu")
    x.copy_(torch.randn_like(x))
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(y, F.relu(F.conv2d(x, w, padding=1)), rtol=2e-2, atol=5e-2)


def test_more_than_2_to_the_31_elements():
    """64-bit indexing: an output of 2^31 + 2^20 bf16 elements (4 GiB); a slice is checked."""
    if torch.cuda.get_device_properties(0).total_memory < 40 * 2**30:
        pytest.skip("needs a large GPU")
    n = (2**31 + 2**20) // (64 * 128 * 128) + 1
    x = torch.randn(n, 8, 128, 128, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
    w = torch.randn(64, 8, 1, 1, device="cuda", dtype=torch.bfloat16)
    y = cnnops.conv2d(x, w)
    assert y.numel() > 2**31
    torch.testing.assert_close(y[-2:], F.conv2d(x[-2:], w), rtol=2e-2, atol=5e-2)
    m = cnnops.max_pool2d(y, 2)
    torch.testing.assert_close(m[-1:], F.max_pool2d(y[-1:], 2))


def test_converted_resnet50_training_step_matches_stock():
    """One training step of torchvision's ResNet-50 on cnnops' CUDA kernels (forward, backward,
    pooling) against the stock model: every parameter gradient within float32 tolerance."""
    import copy

    import torchvision

    torch.manual_seed(0)
    stock = torchvision.models.resnet50(num_classes=10).cuda()
    ours = cnnops.convert(copy.deepcopy(stock))
    x = torch.randn(4, 3, 64, 64, device="cuda")
    target = torch.randint(0, 10, (4,), device="cuda")
    grads = []
    for model in (stock, ours):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), target).backward()
        grads.append({n: p.grad.double() for n, p in model.named_parameters()})
    for name, g in grads[0].items():
        # 50 layers of float32 backward in a different summation order: relative to the largest.
        torch.testing.assert_close(grads[1][name], g, rtol=5e-3, atol=1e-3 * g.abs().max().item(), msg=name)
