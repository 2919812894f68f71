"""conv2d, conv1d, maxpool2d and avgpool2d in programs (issue 23): values and gradients through
the CLI against the naive CS231n loops of tests/test_tensor_kernels.py and finite differences,
the printed rules evaluated against the row's kernels, the explanations' words, the errors,
export, diff and the check's diagnoses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clitools import examples, strict_json
from gradcli.backends.arrays import ARRAY
from gradcli.core import rules
from gradcli.core.ops import OPS
from test_tensor_kernels import (avg_pool_backward_naive, conv1d_naive, conv_backward_naive, conv_forward_naive,
                                 max_pool_backward_naive, numeric_grad, pool_forward_naive)

#: the ops this file covers (tests/test_tensors.py leaves them to it)
WINDOW_OPS = ("conv2d", "conv1d", "maxpool2d", "avgpool2d")
RNG = np.random.default_rng(20261205)
X = np.round(RNG.normal(size=(2, 3, 7, 7)), 3)
W = np.round(RNG.normal(size=(4, 3, 3, 3)), 3)


def _vars(tmp_path, **values) -> str:
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in values.items()}), encoding="utf-8")
    return str(path)


def _eval(cli, tmp_path, program, *extra, **values):
    r = cli(["eval", program, "--vars", _vars(tmp_path, **values), "--json", *extra])
    assert r.exit_code == 0, r.stderr
    return strict_json(r.stdout)


# ---- values and gradients through the CLI ------------------------------------------------------
@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 1)])
def test_conv2d_value_and_gradients_match_the_naive_loops(cli, tmp_path, stride, pad):
    out = conv_forward_naive(X, W, stride, pad)
    g = np.round(np.random.default_rng(stride * 10 + pad).normal(size=out.shape), 3)
    doc = _eval(cli, tmp_path, f"sum(G * conv2d(x, w, {stride}, {pad}))", "--wrt", "x,w", x=X, w=W, G=g)
    assert doc["value"] == pytest.approx(float(np.sum(g * out)), rel=1e-12)
    dx, dw = conv_backward_naive(g, X, W, stride, pad)
    np.testing.assert_allclose(doc["gradient"]["x"], dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(doc["gradient"]["w"], dw, rtol=1e-10, atol=1e-12)


def test_conv2d_defaults_are_stride_1_pad_0_and_one_image_works(cli, tmp_path):
    a = _eval(cli, tmp_path, "sum(conv2d(x, w)^2)", x=X, w=W)
    b = _eval(cli, tmp_path, "sum(conv2d(x, w, 1, 0)^2)", x=X, w=W)
    assert a["value"] == b["value"] == pytest.approx(float(np.sum(conv_forward_naive(X, W) ** 2)), rel=1e-12)
    one = _eval(cli, tmp_path, "sum(conv2d(x, w, 1, 1)^2)", x=X[0], w=W)
    batch = _eval(cli, tmp_path, "sum(conv2d(x, w, 1, 1)^2)", x=X[:1], w=W)
    assert one["value"] == pytest.approx(batch["value"], rel=1e-14)
    np.testing.assert_allclose(one["gradient"]["x"], np.asarray(batch["gradient"]["x"])[0], rtol=1e-12)


def test_conv1d_value_and_gradients(cli, tmp_path):
    x = np.round(RNG.normal(size=(2, 3, 9)), 3)
    w = np.round(RNG.normal(size=(2, 3, 3)), 3)
    doc = _eval(cli, tmp_path, "sum(conv1d(x, w, 2, 1)^2)", "--check", "fd", x=x, w=w)
    out = conv1d_naive(x, w, 2, 1)
    assert doc["value"] == pytest.approx(float(np.sum(out ** 2)), rel=1e-12)
    assert doc["ok"] is True
    want = numeric_grad(lambda v: conv1d_naive(v, w, 2, 1), x, 2 * out)
    np.testing.assert_allclose(doc["gradient"]["x"], want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("k, stride", [(2, 2), (3, 1), (2, 1)])
def test_pooling_values_and_gradients_match_the_naive_loops(cli, tmp_path, k, stride):
    x = np.random.default_rng(k + stride).normal(size=(2, 3, 6 if k == 2 else 5, 6 if k == 2 else 5))
    spelled = f"{k}, {stride}" if stride != k else f"{k}"
    mx = pool_forward_naive(x, k, stride, np.max)
    av = pool_forward_naive(x, k, stride, np.mean)
    g = np.random.default_rng(7).normal(size=mx.shape)
    doc = _eval(cli, tmp_path, f"sum(G * maxpool2d(x, {spelled}))", "--wrt", "x", x=x, G=g)
    assert doc["value"] == pytest.approx(float(np.sum(g * mx)), rel=1e-12)
    np.testing.assert_allclose(doc["gradient"]["x"], max_pool_backward_naive(g, x, k, stride), rtol=1e-12)
    doc = _eval(cli, tmp_path, f"sum(G * avgpool2d(x, {spelled}))", "--wrt", "x", x=x, G=g)
    assert doc["value"] == pytest.approx(float(np.sum(g * av)), rel=1e-12)
    np.testing.assert_allclose(doc["gradient"]["x"], avg_pool_backward_naive(g, x, k, stride), rtol=1e-12)


def test_a_small_convnet_passes_the_finite_difference_check(cli, tmp_path):
    x = np.round(RNG.normal(size=(2, 1, 6, 6)), 3)
    w = np.round(RNG.normal(size=(2, 1, 3, 3)), 3)
    program = "h = relu(conv2d(x, w, 1, 1)); p = maxpool2d(h, 2); q = avgpool2d(h, 3); L = sum(p^2) + sum(q^2)"
    doc = _eval(cli, tmp_path, program, "--check", "fd", x=x, w=w)
    assert doc["ok"] is True


def test_forward_mode_agrees_with_reverse_mode(cli, tmp_path):
    x = np.round(RNG.normal(size=(1, 2, 4, 4)), 3)
    w = np.round(RNG.normal(size=(2, 2, 3, 3)), 3)
    program = "h = conv2d(x, w, 1, 1); L = sum(maxpool2d(h, 2)^2) + sum(avgpool2d(h, 2) * h[0, 0, 0, 0])"
    reverse = _eval(cli, tmp_path, program, x=x, w=w)
    for name in ("x", "w"):
        fwd = _eval(cli, tmp_path, program, "--mode", "forward", "--seed", name, x=x, w=w)
        np.testing.assert_allclose(fwd["gradient"][name], reverse["gradient"][name], rtol=1e-10)


# ---- the kink of max pooling ---------------------------------------------------------------------
def test_a_tie_in_a_window_is_flagged_and_goes_to_the_first_maximum(cli, tmp_path):
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    r = cli(["eval", "sum(maxpool2d(x, 2))", "--vars", _vars(tmp_path, x=x), "--json"])
    assert r.exit_code == 0
    assert strict_json(r.stdout)["gradient"]["x"] == [[[[0.0, 1.0], [0.0, 0.0]]]]
    assert "not differentiable here (1 window of x has a tied maximum, the first x[0, 0, 0:2, 0:2] (2 times 3))" \
        in r.stderr
    assert "first maximum (row-major), as PyTorch's max_pool2d" in r.stderr
    r = cli(["eval", "sum(maxpool2d(x, 2))", "--vars", _vars(tmp_path, x=x + np.array([[0.0, 0.5], [0.0, 0.0]])), "--json"])
    assert "not differentiable" not in r.stderr


# ---- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("program, words", [
    ("sum(conv2d(x, w, 3))", ["node", "conv2d(x, w, 3, 0)", "stride 3 does not divide", "(2, 3, 7, 7)"]),
    ("sum(conv2d(x, v))", ["node", "has 3 channels but the kernel w", "expects 2"]),
    ("sum(maxpool2d(x, 4))", ["node", "maxpool2d(x, 4, 4)", "does not divide", "(2, 3, 7, 7)"]),
    ("sum(conv2d(x, w, 1, 1, 1))", ["conv2d() is written conv2d(x, w[, stride[, pad]]), got 5 arguments"]),
    ("sum(maxpool2d(x))", ["maxpool2d() is written maxpool2d(x, k[, stride]), got 1 argument"]),
    ("sum(conv2d(x, w, s))", ["conv2d()'s stride must be an integer literal"]),
    ("sum(conv2d(x, w, 1.5))", ["conv2d()'s stride must be an integer literal"]),
    ("sum(maxpool2d(x, 0))", ["maxpool2d()'s k must be at least 1, got 0"]),
    ("sum(conv2d(x, w, 1, -1))", ["conv2d()'s pad must be at least 0, got -1"]),
])
def test_errors_are_one_clear_line(cli, tmp_path, program, words):
    r = cli(["eval", program, "--vars", _vars(tmp_path, x=X, w=W, v=np.ones((2, 2, 3, 3)), s=1.0)])
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.strip().splitlines()  # one line (a parse error adds the program and a caret under it)
    assert len(lines) in (1, 3) and lines[0].startswith(("gradcli: parse error", "gradcli: shape error: ")), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_the_element_limit_is_fifty_million_with_a_clear_error(cli):
    from gradcli.backends.tensor_kernels import MAX_KERNEL_ELEMENTS
    from gradcli.core.shapes import MAX_ELEMENTS

    assert MAX_ELEMENTS == MAX_KERNEL_ELEMENTS == 50_000_000
    r = cli(["eval", "sum(ones(8000, 8000))"])
    assert r.exit_code == 2
    assert "would have 64,000,000 elements (8000x8000); gradcli's arrays have at most 50,000,000" in r.stderr


def test_cs231n_first_layer_is_within_the_limit():
    """N = 50 images of 3×32×32 through 32 filters 7×7, pad 3: 1.6·10⁶ elements (over the old 10⁶)."""
    shape = OPS["conv2d"].shape([(50, 3, 32, 32), (32, 3, 7, 7)], (1, 3))
    assert shape == (50, 32, 32, 32) and np.prod(shape) == 1_638_400


# ---- the printed rules are the kernels -----------------------------------------------------------
@st.composite
def conv_cases(draw):
    rank = draw(st.sampled_from([1, 2]))
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    out = draw(st.integers(1, 3))
    size = (out - 1) * stride + k - 2 * pad
    if size < 1:
        size, pad = (out - 1) * stride + k, 0
    batched = draw(st.booleans())
    xs = ((n,) if batched else ()) + (c,) + (size,) * rank
    ws = (f, c) + (k,) * rank
    return ("conv2d" if rank == 2 else "conv1d"), [xs, ws], (stride, pad), draw(st.integers(0, 2 ** 31))


@st.composite
def pool_cases(draw):
    k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ho, wo = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = ((draw(st.integers(1, 2)),) if draw(st.booleans()) else ()) + (
        draw(st.integers(1, 2)), (ho - 1) * stride + k, (wo - 1) * stride + k)
    return draw(st.sampled_from(["maxpool2d", "avgpool2d"])), [shape], (k, stride), draw(st.integers(0, 2 ** 31))


def _rule_vs_kernel(name, shapes, param, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=s) for s in shapes]
    out = np.asarray(getattr(ARRAY, name)(*xs, param))
    assert out.shape == OPS[name].shape(shapes, param)
    g = rng.normal(size=out.shape)
    op = OPS[name]
    for k, rule in enumerate(rules.rules_for(name, shapes, param)):
        env = rules.environment(name, k, xs, out, g, param)
        np.testing.assert_allclose(rules.adjoint_value(rule, env), op.vjp[k](ARRAY, g, xs, out, param),
                                   rtol=1e-10, atol=1e-12, err_msg=f"{name} {shapes} {param} argument {k}")
    ts = [rng.normal(size=s) for s in shapes]
    terms = rules.tangent_terms(name, shapes, param, (True,) * len(shapes))
    got = rules.tangent_value(rules.total_of(terms), rules.tangent_environment(name, xs, out, ts, param))
    np.testing.assert_allclose(got, op.jvp(ARRAY, ts, xs, out, param), rtol=1e-10, atol=1e-12)
    # and the dot-product test: ⟨ḡ, J ṫ⟩ = Σ_k ⟨J_kᵀ ḡ, ṫ_k⟩ (forward and reverse agree)
    reverse = sum(np.sum(op.vjp[k](ARRAY, g, xs, out, param) * t) for k, t in enumerate(ts))
    assert np.sum(g * got) == pytest.approx(reverse, rel=1e-9, abs=1e-12)


@settings(max_examples=examples(60))
@given(conv_cases())
def test_conv_kernels_equal_their_printed_rules(case):
    _rule_vs_kernel(*case)


@settings(max_examples=examples(60))
@given(pool_cases())
def test_pooling_kernels_equal_their_printed_rules(case):
    _rule_vs_kernel(*case)


def test_the_rules_print_the_lecture_words():
    names = {"g": "ȳ", "x0": "x", "x1": "w", "out": "y", "n": "n", "k": "k", "axes": ""}
    conv = rules.rules_for("conv2d", [(2, 3, 5, 5), (4, 3, 3, 3)], (2, 1))
    assert conv[0].adjoint.text(names) == "full_corr(ȳ, flip(w), stride 2, pad 1)"
    assert conv[0].note.startswith("the full cross-correlation of the adjoint with the flipped kernel "
                                   "(a full convolution with the kernel)")
    assert conv[1].adjoint.text(names) == "corr(x, ȳ, stride 2, pad 1)"
    assert conv[1].note.endswith("with the adjoint, summed over the batch")
    assert conv[0].adjoint.text(names, latex=True) == \
        r"\operatorname{full\_corr}(ȳ, \operatorname{flip}(w), \text{stride 2, pad 1})"
    (mx,) = rules.rules_for("maxpool2d", [(1, 1, 4, 4)], (2, 2))
    assert mx.adjoint.text(names) == "to_max(ȳ, x, 2×2)"
    assert mx.note.startswith("each window's gradient goes to its maximum")
    (av,) = rules.rules_for("avgpool2d", [(1, 1, 4, 4)], (2, 2))
    assert av.adjoint.text(names) == "spread(ȳ, 2×2)"
    assert "spreads each window's gradient evenly, 1/4 to each element" in av.note


def test_steps_print_the_rules_with_shapes_and_numbers(cli, tmp_path):
    x = np.round(RNG.normal(size=(1, 1, 4, 4)), 2)
    w = np.round(RNG.normal(size=(2, 1, 3, 3)), 2)
    r = cli(["eval", "h = conv2d(x, w, 1, 1); p = maxpool2d(h, 2); L = sum(p^2)", "--vars",
             _vars(tmp_path, x=x, w=w), "--steps"], columns=160)
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "x̄ += full_corr(h̄, flip(w), pad 1)  (1×2×4×4, 2×1×3×3 → 1×1×4×4)" in out
    assert "w̄ += corr(x, h̄, pad 1)  (1×1×4×4, 1×2×4×4 → 2×1×3×3)" in out
    assert "h̄ += to_max(p̄, h, 2×2)  (1×2×2×2, 1×2×4×4 → 1×2×4×4)   each window's gradient goes to its maximum" in out
    # the numbers printed under a rule are the rule's evaluation: x̄ as the naive loops give it
    h = conv_forward_naive(x, w, 1, 1)
    hbar = max_pool_backward_naive(2 * pool_forward_naive(h, 2, 2, np.max), h, 2, 2)
    dx, dw = conv_backward_naive(hbar, x, w, 1, 1)
    r = cli(["eval", "h = conv2d(x, w, 1, 1); p = maxpool2d(h, 2); L = sum(p^2)", "--vars",
             _vars(tmp_path, x=x, w=w), "--json"])
    np.testing.assert_allclose(strict_json(r.stdout)["gradient"]["x"], dx, rtol=1e-12)
    np.testing.assert_allclose(strict_json(r.stdout)["gradient"]["w"], dw, rtol=1e-12)


@pytest.mark.parametrize("flag", ["--edges", "--paths", "--latex"])
def test_the_other_explanations_name_the_rules(cli, tmp_path, flag):
    x = np.round(RNG.normal(size=(1, 1, 4, 4)), 2)
    w = np.round(RNG.normal(size=(1, 1, 3, 3)), 2)
    r = cli(["eval", "h = conv2d(x, w, 1, 1); p = avgpool2d(h, 2); L = sum(p^2)", "--vars",
             _vars(tmp_path, x=x, w=w), flag], columns=160)
    assert r.exit_code == 0, r.stderr
    want = {"--edges": "∂h/∂x: the full cross-correlation of the adjoint with the flipped kernel",
            "--paths": "∂L/∂x = ∂L/∂a · ∂a/∂p · ∂p/∂h · ∂h/∂x",
            "--latex": r"\bar{x} &\mathrel{+}= \operatorname{full\_corr}(\bar{h}, \operatorname{flip}(w), \text{pad 1})"}
    assert want[flag] in r.stdout


def test_functions_lists_the_new_ops(cli):
    r = cli(["functions", "--json"])
    assert r.exit_code == 0
    usage = {row["name"]: row["usage"] for row in json.loads(r.stdout)["functions"]}
    assert usage["conv2d"] == "conv2d(x, w[, stride[, pad]])"
    assert usage["conv1d"] == "conv1d(x, w[, stride[, pad]])"
    assert usage["maxpool2d"] == "maxpool2d(x, k[, stride])"
    assert usage["avgpool2d"] == "avgpool2d(x, k[, stride])"


# ---- diff and export -----------------------------------------------------------------------------
@pytest.mark.parametrize("program", ["sum(conv2d(x, w, 1, 1))", "sum(maxpool2d(x[0], 2))", "sum(avgpool2d(x[0], 2))",
                                     "sum(conv1d(v, k))"])
def test_diff_refuses_with_one_clear_line(cli, tmp_path, program):
    r = cli(["diff", program, "--vars", _vars(tmp_path, x=np.ones((1, 1, 4, 4)), w=np.ones((1, 1, 3, 3)),
                                                v=np.ones((1, 2, 5)), k=np.ones((1, 2, 3)))])
    assert r.exit_code == 2
    assert r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("gradcli: error: gradcli diff has no point-free formula for ")
    assert "gradcli eval --steps prints the rule" in line


def test_the_numpy_export_agrees_with_gradcli_and_reads_like_cs231n(cli, tmp_path):
    import subprocess
    import sys

    x = np.round(RNG.normal(size=(2, 2, 6, 6)), 3)
    w = np.round(RNG.normal(size=(3, 2, 3, 3)), 3)
    program = "h = relu(conv2d(x, w, 1, 1)); p = maxpool2d(h, 2); q = avgpool2d(h, 3); L = sum(p^2) + sum(q^3)"
    args = [program, "--vars", _vars(tmp_path, x=x, w=w)]
    r = cli(["export", *args, "--to", "numpy"])
    assert r.exit_code == 0, r.stderr
    script = r.stdout
    for line in ("dx = conv2d_grad_x(da, x, w, 1, 1)", "dw = conv2d_grad_w(da, x, w, 1, 1)",
                 "np.lib.stride_tricks.as_strided", "def maxpool2d_grad(g, x, k, stride):"):
        assert line in script, line
    (tmp_path / "s.py").write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, str(tmp_path / "s.py")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    truth = _eval(cli, tmp_path, *args[:1], x=x, w=w)
    assert got["value"] == pytest.approx(truth["value"], rel=1e-12)
    for name in ("x", "w"):
        np.testing.assert_allclose(got["gradient"][name], truth["gradient"][name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("target, lines", [
    ("torch", ["torch.nn.functional.conv2d(x, w, stride=2, padding=1)", "torch.nn.functional.max_pool2d(h, 2, 2)",
               "torch.nn.functional.avg_pool2d(h, 2, 1)", "torch.nn.functional.conv1d(v, k, stride=1, padding=0)"]),
    ("jax", ["jax.lax.conv_general_dilated(x, w, (2, 2), [(1, 1), (1, 1)]",
             "jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), 'VALID')",
             "(jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 1, 2, 2), (1, 1, 1, 1), 'VALID') / 4)",
             "jax.lax.conv_general_dilated(v[None], k, (1,), [(0, 0)]"]),
])
def test_the_framework_exports_call_the_library_functions(cli, tmp_path, target, lines):
    import importlib.util
    import subprocess
    import sys

    values = dict(x=np.round(RNG.normal(size=(1, 2, 7, 7)), 3), w=np.round(RNG.normal(size=(2, 2, 3, 3)), 3),
                  v=np.round(RNG.normal(size=(2, 6)), 3), k=np.round(RNG.normal(size=(1, 2, 3)), 3))
    program = ("h = conv2d(x, w, 2, 1); L = sum(maxpool2d(h, 2)) + sum(avgpool2d(h, 2, 1)^2)"
               " + sum(conv1d(v, k)^2)")
    r = cli(["export", program, "--vars", _vars(tmp_path, **values), "--to", target])
    assert r.exit_code == 0, r.stderr
    for line in lines:
        assert line in r.stdout, line
    compile(r.stdout, f"conv_{target}.py", "exec")
    if importlib.util.find_spec(target) is None:
        pytest.skip(f"{target} is not installed: the script was compiled, not run")
    (tmp_path / "s.py").write_text(r.stdout, encoding="utf-8")
    done = subprocess.run([sys.executable, str(tmp_path / "s.py")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    truth = _eval(cli, tmp_path, program, **values)
    for name in values:
        np.testing.assert_allclose(got["gradient"][name], truth["gradient"][name], rtol=1e-9, atol=1e-12)


# ---- gradcli check: answers of any rank, and the classic mistakes diagnosed -----------------------
def _verdict(tmp_path, program, name, answer, **values):
    from gradcli.run.bindings import Binding
    from gradcli.run.evaluate import evaluate
    from gradcli.teach.homework import Answer, Request, judge

    bindings = {k: Binding(k, np.asarray(v, dtype=float), "", "test") for k, v in values.items()}
    ev = evaluate(program, bindings)
    (v,) = judge(ev, Request(expect={name: Answer(np.asarray(answer, dtype=float))}))
    return v


CONVNET = "h = conv2d(x, w, 1, 1); a = relu(h); p = maxpool2d(a, 2); L = sum(u * p)"
CX = np.round(RNG.normal(size=(2, 2, 4, 4)), 3)
CW = np.round(RNG.normal(size=(3, 2, 3, 3)), 3)
CU = np.round(RNG.normal(size=(2, 3, 2, 2)), 3)


def _convnet_truth():
    h = conv_forward_naive(CX, CW, 1, 1)
    a = np.maximum(h, 0)
    abar = max_pool_backward_naive(CU, a, 2, 2)
    hbar = abar * (h > 0)
    return h, a, hbar, conv_backward_naive(hbar, CX, CW, 1, 1)


def test_right_answers_of_rank_4_are_accepted():
    _, _, _, (dx, dw) = _convnet_truth()
    assert _verdict(None, CONVNET, "x", dx, x=CX, w=CW, u=CU).ok is True
    assert _verdict(None, CONVNET, "w", dw, x=CX, w=CW, u=CU).ok is True


def test_the_kernel_not_flipped_is_diagnosed():
    _, _, hbar, _ = _convnet_truth()
    wrong, _ = conv_backward_naive(hbar, CX, CW[:, :, ::-1, ::-1], 1, 1)  # x̄ correlated with w as it is
    v = _verdict(None, CONVNET, "x", wrong, x=CX, w=CW, u=CU)
    assert v.ok is False and v.diagnosis is not None
    assert v.diagnosis.kind == "conv-flip"
    assert v.diagnosis.message.startswith("the kernel is not flipped in x's adjoint: for h = conv2d(x, w, 1, 1)")


def _pool_wrong(route):
    """x̄ with max pooling's backward replaced by `route(window) -> the window's gradient weights`."""
    h, a, _, _ = _convnet_truth()
    abar = np.zeros_like(a)
    for n, c, i, j in np.ndindex(CU.shape):
        window = a[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        abar[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2] += CU[n, c, i, j] * route(window)
    return conv_backward_naive(abar * (h > 0), CX, CW, 1, 1)[0]


@pytest.mark.parametrize("route, words", [
    (lambda win: (np.arange(4) == np.argmin(win)).reshape(2, 2), "max routed to the wrong element"),
    (lambda win: np.eye(1, 4).reshape(2, 2), "not its top-left one"),
    (lambda win: np.ones((2, 2)), "max spread over the whole window"),
    (lambda win: np.full((2, 2), 0.25), "max spread evenly over the window"),
])
def test_max_pooling_routing_mistakes_are_diagnosed(route, words):
    v = _verdict(None, CONVNET, "x", _pool_wrong(route), x=CX, w=CW, u=CU)
    assert v.ok is False and v.diagnosis is not None
    assert v.diagnosis.kind == "max-routing"
    assert words in v.diagnosis.message
    assert "p = maxpool2d(a, 2, 2)" in v.diagnosis.message


def test_check_through_the_cli_judges_a_rank_4_answer(cli, tmp_path):
    _, _, hbar, (dx, _) = _convnet_truth()
    wrong, _ = conv_backward_naive(hbar, CX, CW[:, :, ::-1, ::-1], 1, 1)
    vars_ = _vars(tmp_path, x=CX, w=CW, u=CU)
    r = cli(["check", CONVNET, "--vars", vars_, "--expect", f"x={json.dumps(dx.tolist())}"])
    assert r.exit_code == 0, r.stdout + r.stderr
    r = cli(["check", CONVNET, "--vars", vars_, "--expect", f"x={json.dumps(wrong.tolist())}"])
    assert r.exit_code == 1, r.stdout + r.stderr
    assert "the kernel is not flipped" in r.stdout


def test_the_sympy_check_differentiates_the_ops_symbolically_on_small_programs(cli):
    r = cli(["eval", "sum(maxpool2d(conv2d(x, w), 2)) + sum(avgpool2d(x, 2, 1)^2) + sum(conv1d(v, k, 1, 1)^2)",
             "x=[[[0.1,0.5,-0.3],[0.7,0.2,0.4],[-0.6,0.9,0.3]]]", "w=[[[[0.5,-1],[2,0.3]]]]", "v=[[1,2,-1,0.5]]",
             "k=[[[0.3,-0.2]]]", "--check", "sympy", "--json"])
    assert r.exit_code == 0, r.stderr
    doc = strict_json(r.stdout)
    assert doc["ok"] is True
    assert {entry["status"] for entry in doc["checks"]["sympy"].values()} == {"ok"}


def test_the_sympy_check_skips_a_convnet_at_once_with_a_note(cli):
    from pathlib import Path

    samples = Path(__file__).resolve().parent.parent / "samples"
    r = cli(["eval", "-f", str(samples / "convnet.grad"), "--vars", str(samples / "convnet.json"), "--check", "all",
             "--json"])
    assert r.exit_code == 0, r.stderr
    doc = strict_json(r.stdout)
    assert doc["ok"] is True
    assert doc["check_notes"]["sympy"].startswith("skipped: the convolutions and pooling expand to 1,440 symbolic terms")
    assert {e["status"] for e in doc["checks"]["fd"].values()} == {"ok"}


def test_hessians_forward_over_reverse_agree_with_finite_differences(cli):
    r = cli(["hessian", "h = conv2d(x, w, 1, 0); L = sum(maxpool2d(h, 3)^2) + sum(avgpool2d(h, 3)^2)"
             " + sum(conv1d(v, k, 2, 1)^2)",
             "x=[[[0.1,0.5,-0.3,0.2],[0.7,0.2,0.4,-0.1],[-0.6,0.9,0.3,0.8],[0.15,-0.25,0.35,0.45]]]",
             "w=[[[[0.5,-1],[2,0.3]]],[[[0.1,0.2],[-0.3,0.4]]]]", "v=[[1,2,-1,0.5,0.3]]", "k=[[[0.3,-0.2,0.7]]]",
             "--check", "fd", "--json"])
    assert r.exit_code == 0, r.stderr
    doc = strict_json(r.stdout)
    assert doc["ok"] is True and doc["asymmetry"] < 1e-12


@pytest.mark.parametrize("formula, right", [("conv2d(u, w[:, :, ::-1, ::-1], 1, 1)", True),
                                            ("conv2d(u, w, 1, 1)", False)])
def test_formulas_with_conv2d_and_a_flipped_kernel_are_judged(cli, formula, right):
    r = cli(["check", "L = sum(u * conv2d(x, w, 1, 1))", "x=[[[[0.1,0.5,-0.3],[0.7,0.2,0.4],[-0.6,0.9,0.3]]]]",
             "w=[[[[0.5,-1,0.2],[2,0.3,-0.4],[0.1,0.6,-0.7]]]]", "u=[[[[1,2,3],[4,5,6],[7,8,9]]]]",
             "--expect-formula", f"x={formula}"])
    assert r.exit_code == (0 if right else 1), r.stdout + r.stderr
    if not right:
        assert "the kernel is not flipped in x's adjoint" in r.stdout
