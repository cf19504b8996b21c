"""The conv2d op's checks against torch in float64, on any backend (tests/backends.py): the
forward's output, and the gradients a backward is asked for, each with its dtype, shape, error
bound and layout."""
import torch
import torch.nn.functional as F

from helpers import assert_close_scaled, assert_layout_like, conv_abs_scale, rand

ALL_DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]


def conv_case_id(c):
    """A test id for an (N, C, H, W, K, R, S, stride, padding, dilation, groups) case."""
    return "N{}C{}H{}W{}K{}R{}S{}s{}p{}d{}g{}".format(*c).replace(" ", "")


def check_forward(backend, case, dtype, layout="contiguous", wlayout="contiguous", bias=True):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    conv_args = (stride, padding, dilation, groups)
    x = rand(N, C, H, W, dtype=dtype, layout=layout)
    w = rand(K, C // groups, R, S, dtype=dtype, layout=wlayout)
    b = rand(K, dtype=dtype) if bias else None
    y = backend.conv2d(x, w, b, *conv_args)
    assert y.dtype == dtype
    b64 = None if b is None else b.double()
    ref = F.conv2d(x.double(), w.double(), b64, *conv_args)
    scale = F.conv2d(x.double().abs(), w.double().abs(), None if b is None else b64.abs(), *conv_args)
    assert_close_scaled(y, ref, scale, dtype, f"{backend} conv2d forward")
    assert_layout_like(y, F.conv2d(x, w, b, *conv_args), "output")
    return y


def check_backward(backend, case, dtype, layout="contiguous", wlayout="contiguous", golayout="contiguous",
                   mask=(True, True, True)):
    N, C, H, W, K, R, S, stride, padding, dilation, groups = case
    conv_args = (stride, padding, dilation, groups)
    x = rand(N, C, H, W, dtype=dtype, layout=layout)
    w = rand(K, C // groups, R, S, dtype=dtype, layout=wlayout)
    x64, w64 = x.double().requires_grad_(), w.double().requires_grad_()
    b64 = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    ref = F.conv2d(x64, w64, b64, *conv_args)
    go = rand(*ref.shape, dtype=dtype, layout=golayout)
    refs = torch.autograd.grad(ref, [x64, w64, b64], go.double())
    _, scales = conv_abs_scale(x64, w64, b64, *conv_args, go.double())
    got = backend.conv2d_backward(go, x, w, *conv_args, mask=mask)
    # The gradients' layouts are torch's (the layout of its float64 gradients of the same views).
    for name, want_it, g, r, s, t in zip(("grad_input", "grad_weight", "grad_bias"), mask, got, refs, scales,
                                         (x, w, torch.empty(K, dtype=dtype))):
        if not want_it:
            assert g.numel() == 0, name
            continue
        assert g.dtype == dtype and g.shape == t.shape, name
        assert_close_scaled(g, r, s, dtype, f"{backend} {name}")
        assert_layout_like(g, r, name)
    return got


def check_both_passes(backend, case, dtype, layout):
    """The forward, then every gradient; a "strided" input meets a channels-last grad_output,
    mixing the kernels' layouts."""
    check_forward(backend, case, dtype, layout=layout)
    check_backward(backend, case, dtype, layout=layout, golayout="channels_last" if layout == "strided" else layout)


def check_fused_epilogue(x, w, b, stride, groups, res_layout, what):
    """conv2d_bias_act(x, w, b, stride, padding 1, groups, relu, residual) against torch in
    float64: relu(conv + bias + residual), rounded once."""
    ref = F.conv2d(x.double(), w.double(), b.double(), stride, 1, 1, groups)
    res = rand(*ref.shape, dtype=x.dtype, layout=res_layout)
    y = torch.ops.cnnops.conv2d_bias_act(x, w, b, [stride] * 2, [1, 1, 1, 1], [1, 1], groups, 1, res)
    scale = F.conv2d(x.double().abs(), w.double().abs(), b.double().abs(), stride, 1, 1, groups)
    assert_close_scaled(y, (ref + res.double()).relu(), scale + res.double().abs(), x.dtype, what)
