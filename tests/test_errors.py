"""The error catalogue: for each bad input, cnnops must raise the exception TYPE torch.nn.functional
raises (captured from torch itself, not hard-coded), with a message naming the problem. Direct
torch.ops.cnnops calls with bad arguments must raise RuntimeError, never crash.
"""
import re

import pytest
import torch
import torch.nn.functional as F

import cnnops

D = torch.float64
ops = torch.ops.cnnops


def t(*shape, dtype=D):
    return torch.randn(*shape, dtype=torch.float64).to(dtype)


def _call(fn, args, kwargs):
    try:
        fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - any exception is what we compare
        return e
    return None


def _case(id, op, make, *patterns):
    """make() -> (args, kwargs); patterns: regexes (case-insensitive) that must all occur in
    cnnops' message (the words naming the problem)."""
    return pytest.param(op, make, patterns, id="%s-%s" % (op, id))



X = (2, 4, 7, 7)  # conv input
Wt = (6, 4, 3, 3)  # conv weight

CONV = [
    _case("input_2d", "conv2d", lambda: ((t(4, 7), t(*Wt)), {}), r"3D|4D"),
    _case("input_5d", "conv2d", lambda: ((t(1, 4, 7, 7, 1), t(*Wt)), {}), r"3D|4D"),
    _case("weight_3d", "conv2d", lambda: ((t(*X), t(6, 4, 3)), {}), r"weight"),
    _case("weight_5d", "conv2d", lambda: ((t(*X), t(6, 4, 3, 3, 1)), {}), r"weight"),
    _case("weight_2d", "conv2d", lambda: ((t(*X), t(6, 4)), {}), r"weight"),
    _case("channel_mismatch", "conv2d", lambda: ((t(*X), t(6, 3, 3, 3)), {}), r"channels"),
    _case("channel_mismatch_unbatched", "conv2d", lambda: ((t(3, 7, 7), t(*Wt)), {}), r"channels"),
    _case("channel_mismatch_groups", "conv2d", lambda: ((t(*X), t(*Wt)), dict(groups=2)), r"channels"),
    _case("groups_not_dividing_out_channels", "conv2d", lambda: ((t(*X), t(5, 2, 3, 3)), dict(groups=2)),
          r"groups", r"divisible"),
    _case("groups_0", "conv2d", lambda: ((t(*X), t(*Wt)), dict(groups=0)), r"groups"),
    _case("groups_negative", "conv2d", lambda: ((t(*X), t(*Wt)), dict(groups=-2)), r"groups"),
    _case("groups_float", "conv2d", lambda: ((t(*X), t(*Wt)), dict(groups=1.0)), r"groups"),
    _case("weight_no_out_channels", "conv2d", lambda: ((t(*X), t(0, 4, 3, 3)), {}), r"weight"),
    _case("stride_0", "conv2d", lambda: ((t(*X), t(*Wt)), dict(stride=0)), r"stride"),
    _case("stride_negative", "conv2d", lambda: ((t(*X), t(*Wt)), dict(stride=-1)), r"stride"),
    _case("stride_pair_0", "conv2d", lambda: ((t(*X), t(*Wt)), dict(stride=(1, 0))), r"stride"),
    _case("stride_len3", "conv2d", lambda: ((t(*X), t(*Wt)), dict(stride=(1, 1, 1))), r"stride"),
    _case("stride_float", "conv2d", lambda: ((t(*X), t(*Wt)), dict(stride=1.5)), r"stride"),
    _case("padding_negative", "conv2d", lambda: ((t(*X), t(*Wt)), dict(padding=-1)), r"padding"),
    _case("padding_pair_negative", "conv2d", lambda: ((t(*X), t(*Wt)), dict(padding=(0, -1))), r"padding"),
    _case("padding_len3", "conv2d", lambda: ((t(*X), t(*Wt)), dict(padding=(1, 1, 1))), r"padding"),
    _case("padding_same_strided", "conv2d", lambda: ((t(*X), t(*Wt)), dict(padding="same", stride=2)),
          r"same", r"stride"),
    _case("padding_same_strided_pair", "conv2d", lambda: ((t(*X), t(*Wt)), dict(padding="same", stride=(1, 2))),
          r"same", r"stride"),
    _case("padding_bad_string", "conv2d", lambda: ((t(*X), t(*Wt)), dict(padding="full")), r"padding"),
    _case("dilation_0", "conv2d", lambda: ((t(*X), t(*Wt)), dict(dilation=0)), r"dilation"),
    _case("dilation_negative", "conv2d", lambda: ((t(*X), t(*Wt)), dict(dilation=-1)), r"dilation"),
    _case("dilation_len3", "conv2d", lambda: ((t(*X), t(*Wt)), dict(dilation=(1, 1, 1))), r"dilation"),
    _case("kernel_larger_than_input", "conv2d", lambda: ((t(*X), t(6, 4, 9, 9)), {}), r"kernel"),
    _case("kernel_larger_than_padded_input", "conv2d", lambda: ((t(*X), t(6, 4, 10, 3)), dict(padding=1)),
          r"kernel"),
    _case("dilated_kernel_larger_than_input", "conv2d", lambda: ((t(*X), t(*Wt)), dict(dilation=4)), r"kernel"),
    _case("kernel_larger_unbatched", "conv2d", lambda: ((t(4, 2, 9), t(*Wt)), {}), r"kernel"),
    _case("kernel_zero_height", "conv2d", lambda: ((t(*X), t(6, 4, 0, 3)), {}), r"kernel"),
    _case("dtype_input_weight", "conv2d", lambda: ((t(*X), t(*Wt, dtype=torch.float32)), {}),
          r"type", r"weight|float|double"),
    _case("dtype_input_weight_half", "conv2d", lambda: ((t(*X, dtype=torch.float32), t(*Wt, dtype=torch.float16)), {}),
          r"type"),
    _case("dtype_input_bias", "conv2d", lambda: ((t(*X), t(*Wt), t(6, dtype=torch.float32)), {}), r"bias", r"type"),
    _case("bias_wrong_length", "conv2d", lambda: ((t(*X), t(*Wt), t(5)), {}), r"bias"),
    _case("bias_2d", "conv2d", lambda: ((t(*X), t(*Wt), t(6, 1)), {}), r"bias"),
    _case("input_not_tensor", "conv2d", lambda: (([1.0], t(*Wt)), {}), r"input|tensor"),
    _case("weight_not_tensor", "conv2d", lambda: ((t(*X), [1.0]), {}), r"weight|tensor"),
]

P = (2, 3, 9, 9)  # pooling input
WIN2 = ([2, 2], [2, 2], [0, 0], [1, 1], False)  # the max_pool2d window that takes P to 4 x 4


def _pool_cases(op):
    cases = [
        ("padding_over_half_kernel", lambda: ((t(*P), 2), dict(padding=2)), r"pad"),
        ("padding_over_half_kernel_pair", lambda: ((t(*P), (3, 2)), dict(padding=(1, 2))), r"pad"),
        ("padding_negative", lambda: ((t(*P), 2), dict(padding=-1)), r"pad"),
        ("padding_len3", lambda: ((t(*P), 2), dict(padding=(0, 0, 0))), r"padding"),
        ("padding_float", lambda: ((t(*P), 2), dict(padding=0.5)), r"padding"),
        ("kernel_0", lambda: ((t(*P), 0), {}), r"kernel|stride"),
        ("kernel_0_stride_1", lambda: ((t(*P), 0), dict(stride=1)), r"kernel"),
        ("kernel_pair_0", lambda: ((t(*P), (0, 2)), dict(stride=1)), r"kernel"),
        ("kernel_negative", lambda: ((t(*P), -2), dict(stride=1)), r"kernel"),
        ("kernel_len3", lambda: ((t(*P), (2, 2, 2)), {}), r"kernel"),
        ("kernel_empty_tuple", lambda: ((t(*P), ()), {}), r"kernel"),
        ("kernel_float", lambda: ((t(*P), 2.0), {}), r"kernel"),
        ("stride_0", lambda: ((t(*P), 2), dict(stride=0)), r"stride"),
        ("stride_pair_0", lambda: ((t(*P), 2), dict(stride=(1, 0))), r"stride"),
        ("stride_negative", lambda: ((t(*P), 2), dict(stride=-1)), r"stride"),
        ("stride_len3", lambda: ((t(*P), 2), dict(stride=(1, 1, 1))), r"stride"),
        ("stride_float", lambda: ((t(*P), 2), dict(stride=1.5)), r"stride"),
        ("output_too_small", lambda: ((t(*P), 10), {}), r"too small|output size"),
        ("output_too_small_nonsquare", lambda: ((t(2, 3, 9, 3), (2, 4)), dict(stride=1)), r"too small|output size"),
        ("input_1d", lambda: ((t(9), 2), {}), r"3D|4D|dimension"),
        ("input_2d", lambda: ((t(9, 9), 2), {}), r"3D|4D|dimension"),
        ("input_5d", lambda: ((t(1, 2, 3, 9, 9), 2), {}), r"3D|4D"),
        ("input_no_channels", lambda: ((t(2, 0, 9, 9), 2), {}), r"3D|4D|empty"),
        ("input_no_rows", lambda: ((t(2, 3, 0, 9), 2), {}), r"3D|4D|empty"),
        ("input_not_tensor", lambda: (([1.0], 2), {}), r"input|tensor"),
    ]
    if op == "max_pool2d":
        cases += [
            ("dilation_0", lambda: ((t(*P), 2), dict(dilation=0)), r"dilation"),
            ("dilation_negative", lambda: ((t(*P), 2), dict(dilation=-1)), r"dilation"),
            ("dilation_len3", lambda: ((t(*P), 2), dict(dilation=(1, 1, 1))), r"dilation"),
            # pad <= effective_kernel // 2 but pad > kernel // 2: torch's pool2d_shape_check rejects it
            ("dilated_padding_over_half_kernel", lambda: ((t(*P), 3), dict(stride=1, padding=2, dilation=2)), r"pad"),
            ("dilated_padding_over_half_kernel_2", lambda: ((t(*P), 2), dict(stride=1, padding=2, dilation=3)), r"pad"),
            ("padding_over_half_kernel_indices", lambda: ((t(*P), 2), dict(padding=2, return_indices=True)), r"pad"),
            ("input_2d_indices", lambda: ((t(9, 9), 2), dict(return_indices=True)), r"3D|4D|dimension"),
            ("input_2d_requires_grad", lambda: ((t(9, 9).requires_grad_(), 2), {}), r"3D|4D|dimension"),
        ]
    else:
        cases += [
            ("divisor_override_0", lambda: ((t(*P), 2), dict(divisor_override=0)), r"divisor"),
            ("divisor_override_float", lambda: ((t(*P), 2), dict(divisor_override=2.5)), r"divisor"),
            ("kernel_none", lambda: ((t(*P), None), {}), r"kernel"),
        ]
    return [_case(name, op, make, pat) for name, make, pat in cases]


ADAPTIVE = [
    _case("input_1d", "adaptive_avg_pool2d", lambda: ((t(9), 2), {}), r"3D|4D"),
    _case("input_2d", "adaptive_avg_pool2d", lambda: ((t(9, 9), 2), {}), r"3D|4D"),
    _case("input_5d", "adaptive_avg_pool2d", lambda: ((t(1, 2, 3, 9, 9), 2), {}), r"3D|4D"),
    # a tuple output_size on a 2-D / 1-D input: torch's Python wrapper raises ValueError
    _case("input_2d_tuple_size", "adaptive_avg_pool2d", lambda: ((t(9, 9), (2, 2)), {}), r"3D|4D|dimension"),
    _case("input_1d_tuple_size", "adaptive_avg_pool2d", lambda: ((t(9), (2, None)), {}), r"3D|4D|dimension"),
    _case("output_size_negative", "adaptive_avg_pool2d", lambda: ((t(*P), -1), {}), r"output_size"),
    _case("output_size_pair_negative", "adaptive_avg_pool2d", lambda: ((t(*P), (3, -2)), {}), r"output_size"),
    _case("output_size_len3", "adaptive_avg_pool2d", lambda: ((t(*P), (1, 2, 3)), {}), r"output_size"),
    _case("output_size_len1", "adaptive_avg_pool2d", lambda: ((t(*P), (2,)), {}), r"output_size"),
    _case("output_size_float", "adaptive_avg_pool2d", lambda: ((t(*P), 2.5), {}), r"output_size|float"),
    _case("output_size_tuple_of_float", "adaptive_avg_pool2d", lambda: ((t(*P), (2.0, 2)), {}), r"output_size"),
    _case("output_size_str", "adaptive_avg_pool2d", lambda: ((t(*P), "2"), {}), r"output_size"),
    _case("output_size_bool", "adaptive_avg_pool2d", lambda: ((t(*P), True), {}), r"output_size"),
    _case("zero_height", "adaptive_avg_pool2d", lambda: ((t(2, 3, 0, 9), 2), {}), r"non-zero|empty"),
    _case("zero_width", "adaptive_avg_pool2d", lambda: ((t(2, 3, 9, 0), 2), {}), r"non-zero|empty"),
    _case("zero_height_unbatched", "adaptive_avg_pool2d", lambda: ((t(3, 0, 9), 2), {}), r"non-zero|empty"),
    _case("zero_batch_and_height", "adaptive_avg_pool2d", lambda: ((t(0, 3, 0, 9), 2), {}), r"non-zero|empty"),
    _case("int64_input", "adaptive_avg_pool2d", lambda: ((torch.randint(0, 5, P), 2), {}), r"long|int64"),
    # (not a tensor: torch raises AttributeError from its Python wrapper, cnnops a TypeError -- not compared)
]

CASES = CONV + _pool_cases("max_pool2d") + _pool_cases("avg_pool2d") + ADAPTIVE


@pytest.mark.parametrize("op,make,patterns", CASES)
def test_error_matches_torch(op, make, patterns):
    args, kwargs = make()
    expected = _call(getattr(F, op), args, kwargs)
    assert expected is not None, "torch accepts this input: the case itself is wrong"
    got = _call(getattr(cnnops, op), args, kwargs)
    assert got is not None, "cnnops accepted an input torch rejects with %s: %s" % (type(expected).__name__, expected)
    assert type(got) is type(expected), "cnnops raised %s (%s); torch raises %s (%s)" % (
        type(got).__name__, got, type(expected).__name__, expected)
    for pat in patterns:
        assert re.search(pat, str(got), re.IGNORECASE), "cnnops' message %r does not name the problem (%r)" % (
            str(got), pat)


# ----------------------------------------------------------------------------- torch accepts: so must cnnops
ACCEPTED = [
    pytest.param("adaptive_avg_pool2d", lambda: ((t(2, 0, 7, 9), (3, 4)), {}), id="adaptive-no_channels"),
    pytest.param("adaptive_avg_pool2d", lambda: ((t(0, 7, 9), 2), {}), id="adaptive-no_channels_unbatched"),
    pytest.param("adaptive_avg_pool2d", lambda: ((t(0, 0, 7, 9), 2), {}), id="adaptive-no_batch_no_channels"),
    pytest.param("adaptive_avg_pool2d", lambda: ((t(0, 3, 7, 9), 2), {}), id="adaptive-no_batch"),
    pytest.param("max_pool2d", lambda: ((t(0, 3, 7, 9), 2), {}), id="max-no_batch"),
    pytest.param("avg_pool2d", lambda: ((t(0, 3, 7, 9), 2), {}), id="avg-no_batch"),
    pytest.param("conv2d", lambda: ((t(0, 4, 7, 7), t(*Wt)), {}), id="conv-no_batch"),
    pytest.param("avg_pool2d", lambda: ((t(2, 3, 9, 9), 2), dict(divisor_override=-3)), id="avg-negative_divisor"),
    pytest.param("max_pool2d", lambda: ((t(2, 3, 9, 9), 3), dict(stride=1, padding=1, dilation=2)),
                 id="max-dilated_padding_at_half_kernel"),
]


@pytest.mark.parametrize("op,make", ACCEPTED)
def test_accepts_what_torch_accepts(op, make):
    """Edge inputs torch accepts: cnnops must not raise, and must give torch's shape."""
    args, kwargs = make()
    expected = getattr(F, op)(*args, **kwargs)
    got = getattr(cnnops, op)(*args, **kwargs)
    assert got.shape == expected.shape


# ----------------------------------------------------------------------------- unsupported dtypes
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8], ids=str)
def test_conv2d_integer_input_rejected_clearly(dtype):
    """torch runs integer conv2d on CPU; cnnops does not support integer dtypes and must say so."""
    x = torch.randint(0, 5, X).to(dtype)
    w = torch.randint(0, 5, Wt).to(dtype)
    with pytest.raises(RuntimeError) as e:
        cnnops.conv2d(x, w)
    assert re.search(str(dtype).replace("torch.", ""), str(e.value)), str(e.value)


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool_integer_input_rejected_clearly(op):
    x = torch.randint(0, 5, P)
    with pytest.raises(RuntimeError) as e:
        getattr(cnnops, op)(x, 2)
    assert "int64" in str(e.value), str(e.value)


# ----------------------------------------------------------------------------- direct op calls
def _conv_fwd(x=None, w=None, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    return lambda: ops.conv2d_forward(t(*X) if x is None else x, t(*Wt) if w is None else w, b, list(stride),
                                      list(padding), list(dilation), groups)


def _conv_bwd(go=None, x=None, w=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1,
              mask=(True, True, True)):
    return lambda: ops.conv2d_backward(t(2, 6, 5, 5) if go is None else go, t(*X) if x is None else x,
                                       t(*Wt) if w is None else w, list(stride), list(padding), list(dilation),
                                       groups, list(mask))


def _max_fwd(x=None, k=(2, 2), s=(2, 2), p=(0, 0), d=(1, 1), ceil=False):
    return lambda: ops.max_pool2d_forward(t(*P) if x is None else x, list(k), list(s), list(p), list(d), ceil)


def _avg_fwd(x=None, k=(2, 2), s=(2, 2), p=(0, 0), ceil=False, cip=True, div=None):
    return lambda: ops.avg_pool2d_forward(t(*P) if x is None else x, list(k), list(s), list(p), ceil, cip, div)


def _avg_bwd(go=None, x=None, k=(2, 2), s=(2, 2), p=(0, 0), ceil=False, cip=True, div=None):
    return lambda: ops.avg_pool2d_backward(t(2, 3, 4, 4) if go is None else go, t(*P) if x is None else x,
                                           list(k), list(s), list(p), ceil, cip, div)


DIRECT = {
    "conv2d_forward-padding_len2": _conv_fwd(padding=(1, 1)),
    "conv2d_forward-padding_len3": _conv_fwd(padding=(1, 1, 1)),
    "conv2d_forward-stride_len3": _conv_fwd(stride=(1, 1, 1)),
    "conv2d_forward-dilation_len1": _conv_fwd(dilation=(1,)),
    "conv2d_forward-input_3d": _conv_fwd(x=t(4, 7, 7)),
    "conv2d_forward-input_5d": _conv_fwd(x=t(1, 2, 4, 7, 7)),
    "conv2d_forward-weight_3d": _conv_fwd(w=t(6, 4, 3)),
    "conv2d_forward-groups_not_dividing": _conv_fwd(w=t(5, 2, 3, 3), groups=2),
    "conv2d_forward-groups_0": _conv_fwd(groups=0),
    "conv2d_forward-channel_mismatch": _conv_fwd(w=t(6, 3, 3, 3)),
    "conv2d_forward-stride_0": _conv_fwd(stride=(0, 1)),
    "conv2d_forward-padding_negative": _conv_fwd(padding=(-1, 0, 0, 0)),
    "conv2d_forward-dilation_0": _conv_fwd(dilation=(1, 0)),
    "conv2d_forward-kernel_too_big": _conv_fwd(w=t(6, 4, 9, 9)),
    "conv2d_forward-kernel_empty": _conv_fwd(w=t(6, 4, 0, 3)),
    "conv2d_forward-bias_shape": _conv_fwd(b=t(5)),
    "conv2d_forward-bias_dtype": _conv_fwd(b=t(6, dtype=torch.float32)),
    "conv2d_forward-dtype_mismatch": _conv_fwd(w=t(*Wt, dtype=torch.float32)),
    "conv2d_forward-int64": _conv_fwd(x=torch.ones(X, dtype=torch.long), w=torch.ones(Wt, dtype=torch.long)),
    "conv2d_backward-grad_output_shape": _conv_bwd(go=t(2, 6, 4, 4)),
    "conv2d_backward-grad_output_3d": _conv_bwd(go=t(6, 5, 5)),
    "conv2d_backward-input_3d": _conv_bwd(x=t(4, 7, 7)),
    "conv2d_backward-groups_not_dividing": _conv_bwd(go=t(2, 5, 5, 5), w=t(5, 2, 3, 3), groups=2),
    "conv2d_backward-padding_len2": _conv_bwd(padding=(0, 0)),
    "conv2d_backward-grad_output_dtype": _conv_bwd(go=t(2, 6, 5, 5, dtype=torch.float32)),
    "max_pool2d_forward-padding_len1": _max_fwd(p=(0,)),
    "max_pool2d_forward-padding_len3": _max_fwd(p=(0, 0, 0)),
    "max_pool2d_forward-kernel_len3": _max_fwd(k=(2, 2, 2)),
    "max_pool2d_forward-input_3d": _max_fwd(x=t(3, 9, 9)),
    "max_pool2d_forward-input_5d": _max_fwd(x=t(1, 2, 3, 9, 9)),
    "max_pool2d_forward-kernel_0": _max_fwd(k=(0, 2)),
    "max_pool2d_forward-stride_0": _max_fwd(s=(2, 0)),
    "max_pool2d_forward-dilation_0": _max_fwd(d=(0, 1)),
    "max_pool2d_forward-padding_negative": _max_fwd(p=(-1, 0)),
    "max_pool2d_forward-padding_over_half": _max_fwd(p=(2, 0)),
    "max_pool2d_forward-dilated_padding_over_half_kernel": _max_fwd(k=(3, 3), s=(1, 1), p=(2, 2), d=(2, 2)),
    "max_pool2d_forward-output_too_small": _max_fwd(k=(10, 10)),
    "max_pool2d_forward-int64": _max_fwd(x=torch.ones(P, dtype=torch.long)),
    "max_pool2d_backward-input_3d": lambda: ops.max_pool2d_backward(t(3, 4, 4), t(3, 9, 9),
                                                                    torch.zeros(3, 4, 4, dtype=torch.long), *WIN2),
    "max_pool2d_backward-indices_int32": lambda: ops.max_pool2d_backward(
        t(2, 3, 4, 4), t(*P), torch.zeros(2, 3, 4, 4, dtype=torch.int32), *WIN2),
    "max_pool2d_backward-indices_shape": lambda: ops.max_pool2d_backward(
        t(2, 3, 4, 4), t(*P), torch.zeros(2, 3, 4, 3, dtype=torch.long), *WIN2),
    "max_pool2d_backward-channel_mismatch": lambda: ops.max_pool2d_backward(
        t(2, 4, 4, 4), t(*P), torch.zeros(2, 4, 4, 4, dtype=torch.long), *WIN2),
    "max_pool2d_backward-dtype_mismatch": lambda: ops.max_pool2d_backward(
        t(2, 3, 4, 4, dtype=torch.float32), t(*P), torch.zeros(2, 3, 4, 4, dtype=torch.long), *WIN2),
    "max_pool2d_backward-window_mismatch": lambda: ops.max_pool2d_backward(
        t(2, 3, 4, 4), t(*P), torch.zeros(2, 3, 4, 4, dtype=torch.long), [3, 3], [1, 1], [0, 0], [1, 1], False),
    "avg_pool2d_forward-input_3d": _avg_fwd(x=t(3, 9, 9)),
    "avg_pool2d_forward-padding_len3": _avg_fwd(p=(0, 0, 0)),
    "avg_pool2d_forward-kernel_len1": _avg_fwd(k=(2,)),
    "avg_pool2d_forward-divisor_0": _avg_fwd(div=0),
    "avg_pool2d_forward-padding_over_half": _avg_fwd(p=(1, 2)),
    "avg_pool2d_forward-output_too_small": _avg_fwd(k=(10, 2)),
    "avg_pool2d_forward-stride_negative": _avg_fwd(s=(-1, 1)),
    "avg_pool2d_backward-grad_output_shape": _avg_bwd(go=t(2, 3, 3, 4)),
    "avg_pool2d_backward-grad_output_3d": _avg_bwd(go=t(3, 4, 4)),
    "avg_pool2d_backward-input_3d": _avg_bwd(x=t(3, 9, 9)),
    "avg_pool2d_backward-dtype_mismatch": _avg_bwd(go=t(2, 3, 4, 4, dtype=torch.float32)),
    "avg_pool2d_backward-divisor_0": _avg_bwd(div=0),
    "adaptive_avg_pool2d_forward-input_3d": lambda: ops.adaptive_avg_pool2d_forward(t(3, 9, 9), [2, 2]),
    "adaptive_avg_pool2d_forward-output_len3": lambda: ops.adaptive_avg_pool2d_forward(t(*P), [2, 2, 2]),
    "adaptive_avg_pool2d_forward-output_len1": lambda: ops.adaptive_avg_pool2d_forward(t(*P), [2]),
    "adaptive_avg_pool2d_forward-output_negative": lambda: ops.adaptive_avg_pool2d_forward(t(*P), [-1, 2]),
    "adaptive_avg_pool2d_forward-zero_height": lambda: ops.adaptive_avg_pool2d_forward(t(2, 3, 0, 9), [2, 2]),
    "adaptive_avg_pool2d_forward-zero_width_one_plane": lambda: ops.adaptive_avg_pool2d_forward(t(1, 1, 3, 0), [2, 2]),
    "adaptive_avg_pool2d_backward-input_3d": lambda: ops.adaptive_avg_pool2d_backward(t(3, 2, 2), t(3, 9, 9)),
    "adaptive_avg_pool2d_backward-channel_mismatch": lambda: ops.adaptive_avg_pool2d_backward(t(2, 4, 2, 2), t(*P)),
    "adaptive_avg_pool2d_backward-dtype_mismatch": lambda: ops.adaptive_avg_pool2d_backward(
        t(2, 3, 2, 2, dtype=torch.float32), t(*P)),
}


@pytest.mark.parametrize("name", list(DIRECT))
def test_direct_op_bad_arguments_raise(name):
    """torch.ops.cnnops.* called directly (no Python-side checks): a RuntimeError, never a crash
    or a silently computed result."""
    with pytest.raises(RuntimeError):
        DIRECT[name]()


def test_direct_max_pool2d_backward_zero_size_ok():
    """Not an error: an empty grad_output gives a zero gradient."""
    x = t(2, 3, 1, 1)
    gi = ops.max_pool2d_backward(t(0, 3, 1, 1)[:0], x[:0], torch.zeros(0, 3, 1, 1, dtype=torch.long), [1, 1], [1, 1],
                                 [0, 0], [1, 1], False)
    assert gi.shape == (0, 3, 1, 1)


# ----------------------------------------------------------------------------- CUDA
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_conv2d_mixed_devices_error_matches_torch():
    args = (t(*X), t(*Wt).cuda())
    expected = _call(F.conv2d, args, {})
    got = _call(cnnops.conv2d, args, {})
    assert expected is not None and got is not None and type(got) is type(expected)
    assert re.search(r"device|cuda", str(got), re.IGNORECASE)
