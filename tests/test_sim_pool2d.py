"""The CUDA pooling kernels (csrc/cuda/pool2d_forward.cu, pool2d_backward.cu, pool2d_global.cu, chosen
by pool2d.cu) on the `kernels` backends -- run on the CPU by the simulator, and on a GPU -- through
the same host code, against cnnops' CPU ops (which tests/test_pool2d.py holds to torch): max pooling values and int64 indices
exactly (ties, -inf, NaN), gradients gathered without atomics, average and adaptive average pooling
(incl. the global-pooling reduction kernels) within the scaled tolerances, every dtype and layout,
every schedule."""
import pytest
import torch

from cnnops import _args
from cases import ADAPTIVE_CASES, AVG_CONFIGS, DIVISORS, MAX_CONFIGS, case_id
from helpers import assert_close_scaled, assert_layout_like, rand

cpu = torch.ops.cnnops

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
LAYOUTS = ["contiguous", "channels_last", "strided"]


def _max_args(x, c):
    k, s, p, d = _args.pool2d("max_pool2d", x, c["k"], c["s"], c["p"], c["d"], c["ceil"])
    return [list(k), list(s), list(p), list(d), c["ceil"]]




def _same_values(a, b):
    return torch.equal(torch.isnan(a), torch.isnan(b)) and torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))


def check_max(kernels, x, c, grad_layout="contiguous"):
    args = _max_args(x, c)
    y, ind = kernels.max_pool2d_forward(x, *args)
    forward_kernel = kernels.last_kernel("max_pool2d_forward")
    y_cpu, ind_cpu = cpu.max_pool2d_forward(x, *args)
    assert torch.equal(ind, ind_cpu), "indices differ"
    assert _same_values(y, y_cpu)
    assert_layout_like(y, y_cpu, "max_pool2d output")
    # The values alone (no indices written): the same kernel with a null index pointer.
    values = kernels.max_pool2d_values(x, *args)
    assert kernels.last_kernel("max_pool2d_values") == forward_kernel
    assert _same_values(values, y) and _same_values(values, cpu.max_pool2d_values(x, *args))
    assert_layout_like(values, y_cpu, "max_pool2d_values output")
    assert_layout_like(ind, ind_cpu, "max_pool2d indices")
    g = rand(*y.shape, dtype=x.dtype, layout=grad_layout)
    gi = kernels.max_pool2d_backward(g, x, ind, *args)
    gi_cpu = cpu.max_pool2d_backward(g, x, ind_cpu, *args)
    assert gi.dtype == gi_cpu.dtype
    assert_layout_like(gi, gi_cpu, "max_pool2d grad_input")
    if x.dtype in (torch.float32, torch.float64):  # the same additions in the same order
        assert torch.equal(gi, gi_cpu), "max_pool2d grad_input differs from the CPU op's"
    else:  # the GPU sums in float and rounds once; the CPU rounds after every add
        exact = cpu.max_pool2d_backward(g.double(), x.double(), ind_cpu, *args)
        scale = cpu.max_pool2d_backward(g.double().abs(), x.double(), ind_cpu, *args)
        assert_close_scaled(gi, exact, scale, x.dtype, "max_pool2d grad_input")
    return y, ind, gi


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", MAX_CONFIGS, ids=case_id)
def test_max_pool2d(kernels, c, layout, dtype):
    x = rand(*c["shape"], dtype=dtype, layout=layout)
    check_max(kernels, x, c)
    # grad_input is allocated contiguous for a strided input, so only channels_last rules out rows
    rows = layout != "channels_last" and _takes_row_vectors(x.contiguous(), c, backward=True)
    assert kernels.last_kernel("max_pool2d_backward") == ("max_pool_backward_gather_nchw_wvec16" if rows
                                                      else "max_pool_backward_gather")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 5, 7)], ids=case_id)
def test_max_pool2d_ties_neg_inf_and_nan(kernels, c, layout):
    x = torch.randint(-2, 2, c["shape"]).double()  # many ties
    x.view(-1)[::7] = float("-inf")
    x.view(-1)[3::11] = float("nan")
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    check_max(kernels, x, c)


@pytest.mark.parametrize("shape", [(1, 2, 1, 1), (2, 3, 1, 3), (2, 2, 3, 1)], ids=str)
def test_max_pool2d_empty_windows(kernels, shape):
    """Dilated windows that hold no input element: -inf, torch's index, and the gradient at that
    index when it is inside the plane (the extra pass of the gather backward)."""
    x = rand(*shape)
    check_max(kernels, x, dict(k=(1, 2), s=1, p=(0, 1), d=(1, 2), ceil=False))


def _avg_args(x, c, cip, div):
    k, s, p, _ = _args.pool2d("avg_pool2d", x, c["k"], c["s"], c["p"], 1, c["ceil"])
    return [list(k), list(s), list(p), c["ceil"], cip, div]


@pytest.mark.parametrize("div", DIVISORS, ids=lambda d: "div=%s" % d)
@pytest.mark.parametrize("cip", [True, False], ids=["cip", "nocip"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("c", AVG_CONFIGS, ids=case_id)
def test_avg_pool2d(kernels, c, layout, cip, div):
    x = rand(*c["shape"], layout=layout)
    args = _avg_args(x, c, cip, div)
    y = kernels.avg_pool2d_forward(x, *args)
    y_cpu = cpu.avg_pool2d_forward(x, *args)
    assert_layout_like(y, y_cpu, "avg_pool2d output")
    assert_close_scaled(y, y_cpu, cpu.avg_pool2d_forward(x.abs(), *args), torch.float64, "avg_pool2d forward")
    g = rand(*y.shape)
    gi = kernels.avg_pool2d_backward(g, x, *args)
    gi_cpu = cpu.avg_pool2d_backward(g, x, *args)
    assert_layout_like(gi, gi_cpu, "avg_pool2d grad_input")
    assert_close_scaled(gi, gi_cpu, cpu.avg_pool2d_backward(g.abs(), x, *args), torch.float64, "avg_pool2d backward")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("c", [AVG_CONFIGS[i] for i in (1, 5, 8)], ids=case_id)
def test_avg_pool2d_reduced_dtypes(kernels, c, dtype):
    x = rand(*c["shape"], dtype=dtype, layout="channels_last")
    args = _avg_args(x, c, False, None)
    y = kernels.avg_pool2d_forward(x, *args)
    x64 = x.double()
    assert_close_scaled(y, cpu.avg_pool2d_forward(x64, *args), cpu.avg_pool2d_forward(x64.abs(), *args), dtype, "fwd")
    g = rand(*y.shape, dtype=dtype)
    gi = kernels.avg_pool2d_backward(g, x, *args)
    want = cpu.avg_pool2d_backward(g.double(), x64, *args)
    assert_close_scaled(gi, want, cpu.avg_pool2d_backward(g.double().abs(), x64, *args), dtype, "bwd")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape,size", ADAPTIVE_CASES, ids=case_id)
def test_adaptive_avg_pool2d(kernels, shape, size, layout, dtype):
    x = rand(*shape, dtype=dtype, layout=layout)
    out = list(_args.adaptive_avg_pool2d(x, size))
    y = kernels.adaptive_avg_pool2d_forward(x, out)
    x64 = x.double()
    want = cpu.adaptive_avg_pool2d_forward(x64, out)
    assert_layout_like(y, cpu.adaptive_avg_pool2d_forward(x, out), "adaptive output")
    assert_close_scaled(y, want, cpu.adaptive_avg_pool2d_forward(x64.abs(), out), dtype, "adaptive forward")
    if out == [1, 1]:
        kernel = "global_avg_pool_channels" if layout == "channels_last" else "global_avg_pool_planes"
        assert kernels.last_kernel("adaptive_avg_pool2d_forward") == kernel
    g = rand(*y.shape, dtype=dtype)
    gi = kernels.adaptive_avg_pool2d_backward(g, x)
    assert_layout_like(gi, cpu.adaptive_avg_pool2d_backward(g, x), "adaptive grad_input")
    assert_close_scaled(gi, cpu.adaptive_avg_pool2d_backward(g.double(), x64),
                        cpu.adaptive_avg_pool2d_backward(g.double().abs(), x64), dtype, "adaptive backward")


def test_global_average_pool_of_a_resnet_sized_map(kernels):
    """2048 channels of 7x7, both layouts: the per-plane warp reduction and the per-channel kernel."""
    for layout in ("contiguous", "channels_last"):
        x = rand(2, 2048, 7, 7, dtype=torch.float32, layout=layout)
        y = kernels.adaptive_avg_pool2d_forward(x, [1, 1])
        torch.testing.assert_close(y, x.double().mean((2, 3), keepdim=True).float(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("schedule", [dict(reverse_block_order=True, reverse_thread_order=True),
                                      dict(warps_run_ahead=True)], ids=["reversed", "warps_run_ahead"])
def test_results_do_not_depend_on_the_schedule(schedule):
    sim = pytest.importorskip("cnnops._sim", reason="cnnops was built without the simulator module (CNNOPS_SIM=0)")
    x = rand(2, 5, 13, 11, layout="channels_last")
    max_args = [[3, 3], [2, 2], [1, 1], [1, 1], False]
    avg_args = [[3, 3], [2, 2], [1, 1], True, False, None]
    g = rand(2, 5, 7, 6)

    def run():
        y, ind = sim.max_pool2d_forward(x, *max_args)
        return [y, ind, sim.max_pool2d_backward(g, x, ind, *max_args), sim.avg_pool2d_forward(x, *avg_args),
                sim.avg_pool2d_backward(g, x, *avg_args), sim.adaptive_avg_pool2d_forward(x, [1, 1]),
                sim.adaptive_avg_pool2d_backward(g, x)]

    first = run()
    sim.set_options(**schedule)
    try:
        again = run()
    finally:
        sim.set_options()
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_bad_arguments_raise(kernels):
    x = rand(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        kernels.max_pool2d_forward(x, [2, 2], [2, 2], [2, 2], [1, 1], False)
    y, ind = kernels.max_pool2d_forward(x, [2, 2], [2, 2], [0, 0], [1, 1], False)
    with pytest.raises(RuntimeError, match="grad_output has shape"):
        kernels.max_pool2d_backward(rand(1, 2, 3, 3), x, torch.zeros(1, 2, 3, 3, dtype=torch.long), [2, 2], [2, 2], [0, 0],
                                [1, 1], False)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        kernels.avg_pool2d_forward(x, [2, 2], [2, 2], [0, 0], False, True, 0)


def _check_average_backward(kernels, x, g, args, name, kernel):
    """The CUDA average-pooling backward (`name`: "avg" or "adaptive_avg") against the CPU op's
    in float64; `kernel`: the kernel the log must name."""
    sim_op, cpu_op = getattr(kernels, name + "_pool2d_backward"), getattr(cpu, name + "_pool2d_backward")
    gi = sim_op(g, x, *args)
    assert kernels.last_kernel(name + "_pool2d_backward") == kernel
    assert_layout_like(gi, cpu_op(g, x, *args), name + " grad_input")
    g64, x64 = g.double(), x.double()
    assert_close_scaled(gi, cpu_op(g64, x64, *args), cpu_op(g64.abs(), x64, *args), x.dtype, name + " backward")
    if x.dtype in (torch.float32, torch.float64):  # one order of additions in both widths
        assert torch.equal(gi, getattr(kernels, name + "_pool2d_backward")(g.contiguous(), x.contiguous(), *args)
                           .contiguous(memory_format=torch.channels_last))
        assert kernels.last_kernel(name + "_pool2d_backward") == kernel.replace("_nhwc_vec16", "")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("c", [MAX_CONFIGS[i] for i in (1, 2, 5, 8)], ids=case_id)
def test_nhwc_channel_vector_kernels(kernels, c, dtype):
    """NHWC with 16 channels: the 16-byte vector kernels, forward and (with grad_output in NHWC too)
    the backward gathers, equal to the CPU op's results; max pooling's gradient, and the averages'
    in float32/64, equal to the scalar kernels' bit for bit."""
    shape = (c["shape"][0], 16) + c["shape"][2:]
    x = rand(*shape, dtype=dtype, layout="channels_last")
    y, ind, gi = check_max(kernels, x, c, grad_layout="channels_last")
    assert kernels.last_kernel("max_pool2d_forward") == "max_pool_forward_nhwc_vec16"
    assert kernels.last_kernel("max_pool2d_backward") == "max_pool_backward_gather_nhwc_vec16"
    g = rand(*y.shape, dtype=dtype, layout="channels_last")
    scalar = kernels.max_pool2d_backward(g.contiguous(), x, ind.contiguous(), *_max_args(x, c))
    assert kernels.last_kernel("max_pool2d_backward") == "max_pool_backward_gather"
    assert torch.equal(kernels.max_pool2d_backward(g, x, ind, *_max_args(x, c)), scalar)
    k, s, p, _ = _args.pool2d("avg_pool2d", x, c["k"], c["s"], c["p"], 1, c["ceil"])
    args = [list(k), list(s), list(p), c["ceil"], False, None]
    y = kernels.avg_pool2d_forward(x, *args)
    assert kernels.last_kernel("avg_pool2d_forward") == "avg_pool_forward_nhwc_vec16"
    x64 = x.double()
    assert_close_scaled(y, cpu.avg_pool2d_forward(x64, *args), cpu.avg_pool2d_forward(x64.abs(), *args), dtype, "avg")
    _check_average_backward(kernels, x, rand(*y.shape, dtype=dtype, layout="channels_last"), args, "avg",
                            "avg_pool_backward_gather_nhwc_vec16")
    y = kernels.adaptive_avg_pool2d_forward(x, [3, 2])
    assert kernels.last_kernel("adaptive_avg_pool2d_forward") == "adaptive_avg_pool_forward_nhwc_vec16"
    assert_close_scaled(y, cpu.adaptive_avg_pool2d_forward(x64, [3, 2]), cpu.adaptive_avg_pool2d_forward(x64.abs(), [3, 2]),
                        dtype, "adaptive")
    _check_average_backward(kernels, x, rand(*y.shape, dtype=dtype, layout="channels_last"), [], "adaptive_avg",
                            "adaptive_avg_pool_backward_gather_nhwc_vec16")


def test_nhwc_gather_vectors_need_aligned_nhwc_grad_output(kernels):
    """A grad_output in NCHW, an unaligned one (a view one element in), or a channel count that is
    not a whole number of vectors: the scalar gathers, with the same results."""
    args = [[3, 3], [2, 2], [1, 1], False, True, None]
    x = rand(2, 8, 9, 7, dtype=torch.float32, layout="channels_last")
    g = rand(2, 8, 5, 4, dtype=torch.float32, layout="channels_last")
    want = kernels.avg_pool2d_backward(g, x, *args)
    assert kernels.last_kernel("avg_pool2d_backward") == "avg_pool_backward_gather_nhwc_vec16"
    assert torch.equal(kernels.avg_pool2d_backward(g.contiguous(), x, *args), want)
    assert kernels.last_kernel("avg_pool2d_backward") == "avg_pool_backward_gather"
    big = rand(2 * 8 * 5 * 4 + 1, dtype=torch.float32)
    shifted = big[1:].view(2, 5, 4, 8).permute(0, 3, 1, 2)  # NHWC strides, 4 bytes off 16
    shifted.copy_(g)
    assert torch.equal(kernels.avg_pool2d_backward(shifted, x, *args), want)
    assert kernels.last_kernel("avg_pool2d_backward") == "avg_pool_backward_gather"
    x6, g6 = x[:, :6], g[:, :6]
    assert torch.equal(kernels.avg_pool2d_backward(g6, x6.contiguous(memory_format=torch.channels_last), *args),
                       want[:, :6])
    assert kernels.last_kernel("avg_pool2d_backward") == "avg_pool_backward_gather"


NCHW_ROW_VECTOR_CONFIGS = [
    dict(k=2, s=None, p=0, d=1, ceil=False, shape=(2, 3, 8, 32)),            # VGG's 2x2/2
    dict(k=(3, 2), s=(2, 2), p=(1, 0), d=1, ceil=True, shape=(2, 3, 9, 16)),  # padded rows, ceil mode
    dict(k=(2, 2), s=(1, 2), p=0, d=(2, 1), ceil=False, shape=(1, 5, 7, 32)),  # overlapping dilated rows
    dict(k=(2, 2), s=(1, 2), p=0, d=(2, 1), ceil=False, shape=(1, 5, 7, 33)),  # W odd: unaligned rows
    dict(k=(1, 2), s=(3, 2), p=0, d=1, ceil=True, shape=(2, 2, 10, 16)),
    dict(k=3, s=2, p=1, d=1, ceil=False, shape=(2, 3, 9, 32)),               # ResNet's stem 3x3/2 pad 1
    dict(k=3, s=2, p=1, d=1, ceil=False, shape=(1, 2, 7, 24)),               # Q = 12: float16's last vector partial
    dict(k=3, s=2, p=0, d=1, ceil=True, shape=(2, 3, 9, 32)),                # GoogLeNet's: last window clipped
    dict(k=3, s=2, p=0, d=1, ceil=False, shape=(1, 3, 7, 32)),               # Q = 15: a partial last vector
    dict(k=2, s=2, p=0, d=1, ceil=False, shape=(2, 6, 28, 28)),              # LeNet's 28 -> 14
    dict(k=3, s=1, p=1, d=1, ceil=False, shape=(1, 3, 5, 12)),               # float16: one partial vector per row
    dict(k=3, s=2, p=0, d=1, ceil=True, shape=(1, 3, 5, 20)),                # a partial last vector, window past W
    dict(k=2, s=(1, 2), p=(1, 0), d=(3, 1), ceil=False, shape=(1, 3, 2, 16)),  # rows' windows without elements
    dict(k=3, s=1, p=1, d=1, ceil=True, shape=(1, 4, 6, 16)),                # Inception's branch 3x3/1 pad 1
    dict(k=(2, 3), s=(1, 1), p=(0, 1), d=(2, 1), ceil=False, shape=(2, 2, 5, 8)),
    dict(k=3, s=2, p=1, d=(1, 2), ceil=False, shape=(1, 2, 7, 32)),          # dilated along W: scalar
]

# The window shapes along W the row-vector kernel is built for: (stride, kernel, pad).
ROW_VECTOR_WINDOWS = {(2, 2, 0), (2, 3, 1), (2, 3, 0), (1, 3, 1)}


def _takes_row_vectors(x, c, backward=False):
    """Whether the CUDA forward (or, with contiguous gradients, the backward) should take the NCHW
    row-vector kernel for contiguous x."""
    k, s, p, d = _args.pool2d("max_pool2d", x, c["k"], c["s"], c["p"], c["d"], c["ceil"])
    vec = 16 // x.element_size()
    q = cpu.max_pool2d_values(x, list(k), list(s), list(p), list(d), c["ceil"]).shape[-1]
    # the forward: a whole number of vectors per input row (the last output vector may be partial);
    # the backward: windows tiling the rows and whole output vectors
    fits = s[1] * q == x.shape[-1] and q % vec == 0 if backward else True
    return (s[1], k[1], p[1]) in ROW_VECTOR_WINDOWS and d[1] == 1 and fits and x.shape[-1] % vec == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("c", NCHW_ROW_VECTOR_CONFIGS, ids=case_id)
def test_nchw_row_vector_kernels(kernels, c, dtype):
    """NCHW with 16-byte aligned rows and one of the row-vector window shapes along W: the
    row-vector forward kernels (16-byte loads along each window row, one 16-byte store, or
    element stores where a row ends in a partial vector), equal to the CPU op's results; rows that
    break the alignment and other window shapes take the scalar kernel. The backward gathers
    take row vectors where the windows tile the rows in whole vectors."""
    x = rand(*c["shape"], dtype=dtype)
    vectors, gather_vectors = _takes_row_vectors(x, c), _takes_row_vectors(x, c, backward=True)
    check_max(kernels, x, c)
    assert kernels.last_kernel("max_pool2d_forward") == ("max_pool_forward_nchw_wvec16" if vectors else "max_pool_forward")
    assert kernels.last_kernel("max_pool2d_backward") == ("max_pool_backward_gather_nchw_wvec16" if gather_vectors
                                                      else "max_pool_backward_gather")
    if gather_vectors:  # grad_output as a strided view (row stride 2Q), indices contiguous: their own strides
        y, ind = kernels.max_pool2d_forward(x, *_max_args(x, c))
        g = rand(*y.shape, dtype=dtype)
        wide = torch.zeros(*y.shape[:-1], 2 * y.shape[-1], dtype=dtype)
        wide[..., :y.shape[-1]] = g
        want = kernels.max_pool2d_backward(g, x, ind, *_max_args(x, c))
        got = kernels.max_pool2d_backward(wide[..., :y.shape[-1]], x, ind, *_max_args(x, c))
        assert kernels.last_kernel("max_pool2d_backward") == "max_pool_backward_gather_nchw_wvec16"
        assert torch.equal(got, want)
    if not vectors:
        return
    assert kernels.last_kernel("max_pool2d_values") == "max_pool_forward_nchw_wvec16"
    k, s, p, _ = _args.pool2d("avg_pool2d", x, c["k"], c["s"], c["p"], 1, c["ceil"])
    for cip, div in [(True, None), (False, None), (True, -3)]:
        args = [list(k), list(s), list(p), c["ceil"], cip, div]
        y = kernels.avg_pool2d_forward(x, *args)
        assert kernels.last_kernel("avg_pool2d_forward") == "avg_pool_forward_nchw_wvec16"
        if dtype in (torch.float32, torch.float64):  # the same additions in the same order
            assert torch.equal(y, cpu.avg_pool2d_forward(x, *args))
        x64 = x.double()
        assert_close_scaled(y, cpu.avg_pool2d_forward(x64, *args), cpu.avg_pool2d_forward(x64.abs(), *args), dtype,
                            "avg")
        g = rand(*y.shape, dtype=dtype)
        gi = kernels.avg_pool2d_backward(g, x, *args)
        assert kernels.last_kernel("avg_pool2d_backward") == ("avg_pool_backward_gather_nchw_wvec16" if gather_vectors
                                                          else "avg_pool_backward_gather")
        g64 = g.double()
        assert_close_scaled(gi, cpu.avg_pool2d_backward(g64, x64, *args), cpu.avg_pool2d_backward(g64.abs(), x64, *args),
                            dtype, "avg backward")
        if gather_vectors and dtype in (torch.float32, torch.float64):  # the scalar gather's order
            scalar = kernels.avg_pool2d_backward(g.contiguous(memory_format=torch.channels_last), x, *args)
            assert kernels.last_kernel("avg_pool2d_backward") == "avg_pool_backward_gather"
            assert torch.equal(gi, scalar)


def test_nchw_row_vector_configs_reach_every_window_shape():
    """Each row-vector window shape is exercised in float32, forward and backward (a config list
    edit cannot silently drop one)."""
    reached, gathered = set(), set()
    for c in NCHW_ROW_VECTOR_CONFIGS:
        x = rand(*c["shape"], dtype=torch.float32)
        if _takes_row_vectors(x, c):
            k, s, p, _ = _args.pool2d("max_pool2d", x, c["k"], c["s"], c["p"], c["d"], c["ceil"])
            reached.add((s[1], k[1], p[1]))
            gathered.add((s[1], k[1], p[1])) if _takes_row_vectors(x, c, backward=True) else None
    assert reached == ROW_VECTOR_WINDOWS and gathered == ROW_VECTOR_WINDOWS


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("c", [dict(k=(3, 2), s=(2, 2), p=(1, 0), d=1, ceil=True), dict(k=3, s=2, p=1, d=1, ceil=False),
                               dict(k=3, s=2, p=0, d=1, ceil=True), dict(k=3, s=1, p=1, d=1, ceil=False)], ids=case_id)
def test_nchw_row_vector_max_ties_neg_inf_and_nan(kernels, c, dtype):
    """torch's index choice on ties (the first in row-major order) and its NaN rule (the last NaN
    wins) hold in the row-vector kernel too, for every window shape along W (an all -inf window
    at the left edge keeps its first in-row column as the index)."""
    torch.manual_seed(3)
    x = torch.randint(-2, 2, (2, 3, 9, 32)).to(dtype)
    x[0, 0, 0:3, :6] = float("-inf")
    x[0, 1, 2, 3] = float("nan")
    x[1, 2, 4, 8:12] = float("nan")
    x[1, 1, :, 29:] = float("-inf")
    check_max(kernels, x, c)
    assert kernels.last_kernel("max_pool2d_forward") == "max_pool_forward_nchw_wvec16"
