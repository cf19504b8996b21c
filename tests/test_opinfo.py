"""cnnops against PyTorch's own OpInfo samples (torch.testing._internal.common_methods_invocations)
for nn.functional.conv2d / max_pool2d / avg_pool2d / adaptive_avg_pool2d: every sample input
(float64, requires_grad) is run through torch and cnnops with the same args/kwargs; outputs (and
max_pool2d's indices) and the gradients w.r.t. every differentiable tensor (input, weight, bias)
must agree. Every ErrorInput must make cnnops raise the exception type torch raises.
"""
import functools
import re
import warnings

import pytest
import torch
import torch.nn.functional as F

import cnnops
from helpers import assert_close_scaled, assert_layout_like

common_methods_invocations = pytest.importorskip("torch.testing._internal.common_methods_invocations")
op_db = common_methods_invocations.op_db

OPS = {
    "conv2d": "nn.functional.conv2d",
    "max_pool2d": "nn.functional.max_pool2d",
    "avg_pool2d": "nn.functional.avg_pool2d",
    "adaptive_avg_pool2d": "nn.functional.adaptive_avg_pool2d",
}

# Sample features cnnops does not support, with the reason, as (predicate, reason). Empty: every
# sample of torch 2.14's OpInfos for these four ops is supported. A sample matching one is
# skipped with its reason, never silently.
UNSUPPORTED = []


@functools.lru_cache(maxsize=None)
def _opinfo(name):
    found = [o for o in op_db if o.name == OPS[name] and o.variant_test_name == ""]
    assert len(found) == 1, "expected one OpInfo named %r, found %d" % (OPS[name], len(found))
    return found[0]


@functools.lru_cache(maxsize=None)
def _samples(name):
    """The samples, generated once per process under a fixed seed (independent of test order)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return tuple(_opinfo(name).sample_inputs("cpu", torch.float64, requires_grad=True))


@functools.lru_cache(maxsize=None)
def _error_inputs(name):
    opinfo = _opinfo(name)
    if opinfo.error_inputs_func is None:
        return ()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return tuple(opinfo.error_inputs("cpu"))


def _describe(s):
    def d(v):
        return "T%s%s" % (list(v.shape), "" if v.is_contiguous() else "(strides %s)" % (v.stride(),)) if isinstance(
            v, torch.Tensor) else repr(v)
    return "input=%s args=[%s] kwargs={%s}" % (d(s.input), ", ".join(d(a) for a in s.args),
                                               ", ".join("%s=%s" % (k, d(v)) for k, v in s.kwargs.items()))


def _fresh(v, transform=None):
    """A new leaf with the same values/strides (so cached samples never accumulate grads)."""
    if not isinstance(v, torch.Tensor):
        return v
    data = v.detach()
    if transform is not None:
        data = transform(data)
    return data.clone().requires_grad_(v.requires_grad)


def _leaves(inp, args, kwargs):
    return [t for t in [inp, *args, *kwargs.values()] if isinstance(t, torch.Tensor) and t.requires_grad]


def _values(y):
    return y[0] if isinstance(y, tuple) else y


SAMPLE_IDS = [(name, i) for name in OPS for i in range(len(_samples(name)))]


@pytest.mark.parametrize("name,idx", SAMPLE_IDS, ids=["%s-%d" % p for p in SAMPLE_IDS])
def test_opinfo_sample(name, idx):
    s = _samples(name)[idx]
    for pred, reason in UNSUPPORTED:
        if pred(name, s):
            pytest.skip("cnnops does not support: %s (%s)" % (reason, _describe(s)))
    what = "%s %s" % (name, _describe(s))
    tfn, cfn = getattr(F, name), getattr(cnnops, name)

    def run(fn, transform=None):
        inp = _fresh(s.input, transform)
        args = [_fresh(a, transform) for a in s.args]
        kwargs = {k: _fresh(v, transform) for k, v in s.kwargs.items()}
        return fn(inp, *args, **kwargs), _leaves(inp, args, kwargs)

    (yt, lt), (yc, lc) = run(tfn), run(cfn)
    assert isinstance(yc, tuple) == isinstance(yt, tuple), what
    if isinstance(yt, tuple):  # max_pool2d(return_indices=True)
        assert len(yc) == len(yt) == 2
        assert yc[1].dtype == torch.int64 and torch.equal(yc[1], yt[1]), "%s: indices differ" % what
        assert_layout_like(yc[1], yt[1], what)
    vt, vc = _values(yt), _values(yc)
    assert vc.dtype == vt.dtype, what
    assert_layout_like(vc, vt, what)
    exact = name == "max_pool2d"
    if exact:
        assert torch.equal(vc, vt), "%s: output differs" % what
    else:
        scale, _ = run(tfn, torch.abs)
        assert_close_scaled(vc, vt, _values(scale), torch.float64, "%s: output" % what)

    assert len(lc) == len(lt) >= 1
    g = torch.randn(vt.shape, dtype=vt.dtype)
    gt = torch.autograd.grad(vt, lt, g)
    gc = torch.autograd.grad(vc, lc, g)
    if not exact:
        ys, ls = run(tfn, torch.abs)
        gs = torch.autograd.grad(_values(ys), ls, g.abs())
    for i, (a, b) in enumerate(zip(gc, gt)):
        label = "%s: grad of differentiable tensor #%d %s" % (what, i, list(b.shape))
        assert a.shape == b.shape, label
        if exact:
            assert torch.equal(a, b), label
        else:
            assert_close_scaled(a, b, gs[i], torch.float64, label)


def test_opinfo_samples_cover_the_features():
    """The OpInfo samples exercise what they should (guards against a silently empty sample set)."""
    counts = {name: len(_samples(name)) for name in OPS}
    assert all(n > 0 for n in counts.values()), counts
    assert any(s.kwargs.get("return_indices") for s in _samples("max_pool2d"))
    assert any(s.input.dim() == 3 for s in _samples("conv2d"))
    assert any(isinstance(s.kwargs.get("padding"), str) for s in _samples("conv2d"))


ERROR_IDS = [(name, i) for name in OPS for i in range(len(_error_inputs(name)))]


@pytest.mark.parametrize("name,idx", ERROR_IDS, ids=["%s-err%d" % p for p in ERROR_IDS])
def test_opinfo_error_input(name, idx, record_property):
    e = _error_inputs(name)[idx]
    s = e.sample_input
    what = "%s %s" % (name, _describe(s))
    try:
        getattr(F, name)(s.input, *s.args, **s.kwargs)
    except Exception as exc:  # noqa: BLE001
        expected = exc
    else:
        pytest.fail("torch accepted the error input %s" % what)
    assert isinstance(expected, e.error_type), "torch raised %r, OpInfo says %s" % (expected, e.error_type)
    try:
        getattr(cnnops, name)(s.input, *s.args, **s.kwargs)
    except Exception as exc:  # noqa: BLE001
        got = exc
    else:
        pytest.fail("cnnops accepted an input torch rejects with %s(%s): %s" % (
            type(expected).__name__, expected, what))
    assert type(got) is type(expected), "%s: cnnops raised %s(%s), torch raises %s(%s)" % (
        what, type(got).__name__, got, type(expected).__name__, expected)
    matches = re.search(e.error_regex, str(got)) is not None
    record_property("error_regex_matches", matches)
    if not matches:
        warnings.warn("%s: cnnops' message %r does not match torch's regex %r (type matches)"
                      % (what, str(got), e.error_regex))
