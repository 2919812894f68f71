"""The language at rank 3 and 4 (issue 23): zeros/ones/reshape of any rank up to 4,
transpose with axes, reductions and softmax along one axis, amax/amin with or without an
axis.  Values and gradients are compared with NumPy (written out here) and with central
differences; the printed rules are evaluated against the engine; the exported NumPy script
agrees; explanations, check, jacobian, hessian and diff run on rank-3/4 programs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clitools import examples, strict_json, usage_error

RNG = np.random.default_rng(23)
X4 = np.round(RNG.normal(size=(2, 3, 2, 4)), 3)  # distinct values: no ties, no kinks
Y3 = np.round(RNG.normal(size=(2, 3, 4)), 3)


def _vars(tmp_path, **values) -> str:
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in values.items()}), encoding="utf-8")
    return str(path)


def _eval(cli, tmp_path, program: str, *extra: str, **values) -> dict:
    r = cli(["eval", program, "--vars", _vars(tmp_path, **values), "--json", *extra])
    assert r.exit_code == 0, (program, r.stderr)
    return strict_json(r.stdout)


def numeric_grad(f, x, h=1e-6):
    """Central differences of the scalar f at every element of x."""
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        out[i] = (up - down) / (2 * h)
    return out


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---- constructors and reshape -------------------------------------------------------------------

@pytest.mark.parametrize("program, shape", [
    ("zeros(2, 3, 4)", (2, 3, 4)), ("ones(2, 3, 2, 4)", (2, 3, 2, 4)), ("ones(1, 1, 1)", (1, 1, 1)),
])
def test_zeros_and_ones_of_rank_3_and_4(cli, tmp_path, program, shape):
    doc = _eval(cli, tmp_path, f"sum({program} * x)", x=np.ones(shape) * 2)
    assert doc["value"] == (0.0 if program.startswith("zeros") else 2.0 * np.prod(shape))
    np.testing.assert_array_equal(doc["gradient"]["x"], np.full(shape, 0.0 if program.startswith("zeros") else 1.0))


def test_ones_broadcasts_against_rank_4_as_numpy(cli, tmp_path):
    doc = _eval(cli, tmp_path, "sum((ones(3, 1, 4) + x)^2)", x=X4)
    want = (np.ones((3, 1, 4)) + X4) ** 2
    assert doc["value"] == pytest.approx(float(want.sum()), rel=1e-12)
    np.testing.assert_allclose(doc["gradient"]["x"], 2 * (1 + X4), rtol=1e-12)


@pytest.mark.parametrize("sizes", [(4, 2, 3), (2, -1, 3, 2), (24,), (6, 4), (1, 2, 3, 4)])
def test_reshape_to_any_rank_up_to_4(cli, tmp_path, sizes):
    shape = np.reshape(Y3, sizes).shape
    w = np.arange(Y3.size, dtype=float).reshape(shape)
    doc = _eval(cli, tmp_path, f"sum(reshape(y, {', '.join(map(str, sizes))}) * w)", y=Y3, w=w)
    assert doc["value"] == pytest.approx(float(np.sum(Y3.reshape(shape) * w)), rel=1e-12)
    np.testing.assert_array_equal(doc["gradient"]["y"], w.reshape(Y3.shape))
    np.testing.assert_array_equal(doc["gradient"]["w"], Y3.reshape(shape))


@pytest.mark.parametrize("program, words", [
    ("zeros(1, 2, 3, 4, 5)", "zeros(d0, d1, …) with 1 to 4 sizes"),
    ("reshape(y, 1, 2, 3, 4, 1)", "reshape(x, d0, d1, …) with 1 to 4 sizes"),
    ("reshape(y, 5, -1, 2)", "cannot reshape 24 elements"),
])
def test_too_many_sizes_or_a_bad_reshape_is_one_clear_error(cli, tmp_path, program, words):
    r = cli(["eval", program, "--vars", _vars(tmp_path, y=Y3)])
    assert r.exit_code == 2 and r.stdout == "", r.stderr
    assert "Traceback" not in r.stderr and words in r.stderr, r.stderr


# ---- transpose --------------------------------------------------------------------------------

@pytest.mark.parametrize("axes", [(1, 0, 2), (2, 0, 1), (-1, 0, 1), (0, 1, 2)])
def test_transpose_with_axes_is_numpy_transpose_and_its_gradient_the_inverse_order(cli, tmp_path, axes):
    w = RNG.normal(size=np.transpose(Y3, axes).shape)
    doc = _eval(cli, tmp_path, f"sum(transpose(y, {', '.join(map(str, axes))})^3 * w)", "--check", "fd",
                y=Y3, w=w)
    assert doc["value"] == pytest.approx(float(np.sum(np.transpose(Y3, axes) ** 3 * w)), rel=1e-12)
    back = np.argsort([a % 3 for a in axes])
    np.testing.assert_allclose(doc["gradient"]["y"], np.transpose(3 * np.transpose(Y3, axes) ** 2 * w, back),
                               rtol=1e-12)
    assert doc["ok"] is True


def test_transpose_of_rank_4_and_x_T_reverse_the_axes_as_numpy(cli, tmp_path):
    w = RNG.normal(size=X4.T.shape)
    for program in ("sum(transpose(x) * w)", "sum(x.T * w)", "sum(transpose(x, 3, 2, 1, 0) * w)"):
        doc = _eval(cli, tmp_path, program, x=X4, w=w)
        assert doc["value"] == pytest.approx(float(np.sum(X4.T * w)), rel=1e-12), program
        np.testing.assert_allclose(doc["gradient"]["x"], w.T, rtol=1e-15)


@pytest.mark.parametrize("axes, words", [
    ("1, 1, 2", "transpose axes 1, 1, 2 are not an order of the 3 axes of shape (2, 3, 4)"),
    ("0, 1", "not an order of the 3 axes"), ("0, 1, 3", "each of 0…2 once"),
])
def test_bad_transpose_axes_are_one_clear_line(cli, tmp_path, axes, words):
    r = cli(["eval", f"sum(transpose(y, {axes}))", "--vars", _vars(tmp_path, y=Y3)])
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.integers(1, 4), min_size=3, max_size=4), st.randoms(use_true_random=False), st.booleans())
def test_transpose_over_drawn_shapes_and_orders(shape, random, negative):
    from clitools import run_cli

    axes = list(range(len(shape)))
    random.shuffle(axes)
    written = [a - len(shape) if negative and a else a for a in axes]  # negative axes count from the end
    rng = np.random.default_rng(sum(shape) * 10 + axes[0])
    x = rng.normal(size=shape)
    w = rng.normal(size=np.transpose(x, axes).shape)
    r = run_cli(["eval", f"sum(transpose(x, {', '.join(map(str, written))}) * w^2)", "--vars", "-", "--json"],
                input=json.dumps({"x": x.tolist(), "w": w.tolist()}))
    assert r.exit_code == 0, r.stderr
    doc = strict_json(r.stdout)
    assert doc["value"] == pytest.approx(float(np.sum(np.transpose(x, axes) * w**2)), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(doc["gradient"]["x"], np.transpose(w**2, np.argsort(axes)), rtol=1e-14)
    np.testing.assert_allclose(doc["gradient"]["w"], 2 * w * np.transpose(x, axes), rtol=1e-14)


def test_elementwise_ops_broadcast_as_numpy_at_rank_3_and_4(cli, tmp_path):
    y = RNG.normal(size=(3, 1, 4))
    b = RNG.normal(size=(4,))
    doc = _eval(cli, tmp_path, "sum(sigmoid(x * y) + exp(-abs(x - b)) / (1 + y^2) + max(x, b) * relu(y))",
                "--check", "fd", x=X4, y=y, b=b)

    def f(x, y, b):
        return float(np.sum(1 / (1 + np.exp(-x * y)) + np.exp(-np.abs(x - b)) / (1 + y**2)
                            + np.maximum(x, b) * np.maximum(y, 0)))

    assert doc["value"] == pytest.approx(f(X4, y, b), rel=1e-12)
    assert doc["ok"] is True
    np.testing.assert_allclose(doc["gradient"]["y"], numeric_grad(lambda v: f(X4, v, b), y), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(doc["gradient"]["b"], numeric_grad(lambda v: f(X4, y, v), b), rtol=1e-6, atol=1e-8)
    assert np.shape(doc["gradient"]["x"]) == X4.shape


def test_matmul_stays_at_rank_2_with_its_clear_message(cli, tmp_path):
    r = cli(["eval", "sum(y @ w)", "--vars", _vars(tmp_path, y=Y3, w=np.ones((4, 2)))])
    assert r.exit_code == 2 and "@ takes vectors and matrices, at most 2 dimensions" in r.stderr


# ---- reductions and softmax along one axis, at rank 3 and 4 (Hypothesis) --------------------------

_REDUCE = {
    "sum": lambda x, a: np.sum(x, axis=a), "mean": lambda x, a: np.mean(x, axis=a),
    "var": lambda x, a: np.var(x, axis=a), "std": lambda x, a: np.std(x, axis=a),
    "amax": lambda x, a: np.max(x, axis=a), "amin": lambda x, a: np.min(x, axis=a),
    "logsumexp": lambda x, a: np.log(np.sum(np.exp(x), axis=a)),
    "softmax": _softmax, "log_softmax": lambda x, a: np.log(_softmax(x, a)),
}


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.integers(2, 4), min_size=3, max_size=4), st.sampled_from(sorted(_REDUCE)), st.data())
def test_axis_ops_at_rank_3_and_4_agree_with_numpy_and_finite_differences(shape, op, data):
    from clitools import run_cli

    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(len(shape) * 100 + axis + 7)
    # distinct values spaced apart: no ties for amax/amin, no zero std
    x = (rng.permutation(int(np.prod(shape))) * 0.37 + rng.normal(size=int(np.prod(shape))) * 0.01).reshape(shape)
    x = x / np.max(np.abs(x))
    w = rng.normal(size=_REDUCE[op](x, axis).shape)

    def f(v):
        return float(np.sum(_REDUCE[op](v, axis) * w))

    values = json.dumps({"x": x.tolist(), "w": w.tolist()})
    r = run_cli(["eval", f"sum({op}(x, {axis}) * w)", "--vars", "-", "--json"], input=values)
    assert r.exit_code == 0, r.stderr
    doc = strict_json(r.stdout)
    assert doc["value"] == pytest.approx(f(x), rel=1e-9, abs=1e-12)
    got = np.asarray(doc["gradient"]["x"])
    want = numeric_grad(f, x)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), (op, shape, axis, got.ravel()[:6], want.ravel()[:6])


# ---- amax / amin ---------------------------------------------------------------------------------

def test_amax_and_amin_of_all_elements_and_max_of_one_array_still_works(cli, tmp_path):
    for program, value in (("amax(x)", X4.max()), ("max(x)", X4.max()), ("amin(x)", X4.min()),
                           ("min(x)", X4.min())):
        doc = _eval(cli, tmp_path, program, x=X4)
        assert doc["value"] == value, program
        want = (X4 == value).astype(float)
        np.testing.assert_array_equal(doc["gradient"]["x"], want)


def test_tied_extremes_along_an_axis_share_the_gradient_and_are_flagged(cli, tmp_path):
    y = np.array([[[1.0, 1.0, 0.0], [0.2, 0.7, 0.9]], [[1.1, -0.5, 0.3], [0.2, 0.4, -0.9]]])
    r = cli(["eval", "sum(amax(y, 2) * w)", "--vars", _vars(tmp_path, y=y, w=[[2.0, 3.0], [4.0, 5.0]]), "--json"])
    assert r.exit_code == 0, r.stderr
    np.testing.assert_array_equal(strict_json(r.stdout)["gradient"]["y"],
                                  [[[1.0, 1.0, 0.0], [0.0, 0.0, 3.0]], [[4.0, 0.0, 0.0], [0.0, 5.0, 0.0]]])
    assert "amax(y, 2) is not differentiable here" in r.stderr
    assert "tied maxima share the gradient evenly, as torch.amax" in r.stderr
    # along axis 1 no slice has a tie (the two 0.2 are in different slices): no kink
    r = cli(["eval", "sum(amax(y, 1))", "--vars", _vars(tmp_path, y=y), "--json"])
    assert r.exit_code == 0 and "not differentiable" not in r.stderr, r.stderr


def test_amax_axis_out_of_range_is_a_clear_error(cli, tmp_path):
    r = cli(["eval", "amax(y, 3)", "--vars", _vars(tmp_path, y=Y3)])
    assert r.exit_code == 2 and "axis 3 is out of range for shape (2, 3, 4)" in r.stderr


def test_gradcli_functions_lists_amax_amin_and_the_new_forms(cli):
    r = cli(["functions", "--json"])
    assert r.exit_code == 0, r.stderr
    usage = {row["name"]: row["usage"] for row in json.loads(r.stdout)["functions"]}
    assert usage["amax"] == "amax(x[, axis])" and usage["amin"] == "amin(x[, axis])"
    assert usage["transpose"] == "transpose(x[, a0, a1, ...])"
    assert usage["zeros"] == "zeros(d0[, d1, d2, d3])" and usage["reshape"] == "reshape(x, d0[, d1, d2, d3])"


# ---- the printed rules, evaluated ---------------------------------------------------------------

def test_printed_rules_of_transpose_and_amax_evaluate_to_the_engine_adjoints():
    from gradcli.backends.arrays import ARRAY
    from gradcli.core import rules
    from gradcli.core.ops import OPS

    names = {"g": "ḡ", "x0": "x", "out": "s"}

    def forward(name, v, param):
        f = getattr(ARRAY, name)
        return np.asarray(f(v, param) if param is not None else f(v))

    for name, x, param, text in (("transpose", X4, (2, 0, 3, 1), "transpose(ḡ, 1, 3, 0, 2)"),
                                 ("transpose", Y3, None, "ḡᵀ"),
                                 ("amax", X4, 1, "ḡ · [x = s] / Σ [x = s]"),
                                 ("amin", Y3, -1, "ḡ · [x = s] / Σ [x = s]")):
        out = forward(name, x, param)
        g = RNG.normal(size=out.shape)
        (rule,) = rules.rules_for(name, (x.shape,), param)
        assert rule.adjoint.text(names) == text
        got = rules.adjoint_value(rule, rules.environment(name, 0, [x], out, g, param))
        np.testing.assert_allclose(got, OPS[name].vjp[0](ARRAY, g, [x], out, param), rtol=1e-12)  # type: ignore[index]
        want = numeric_grad(lambda v, name=name, param=param, g=g: float(np.sum(forward(name, v, param) * g)), x)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


# ---- explanations and the other commands on rank-3/4 programs --------------------------------------

PROGRAM = "a = transpose(y, 2, 0, 1); b = amax(y, 2); c = softmax(x, 1); s = sum(a^2) + sum(b) + sum(c * x) + sum(y.T)"


@pytest.mark.parametrize("flag", ["--steps", "--edges", "--paths", "--latex"])
def test_explanations_of_a_rank_3_and_4_program(cli, tmp_path, flag):
    r = cli(["eval", PROGRAM, "--vars", _vars(tmp_path, x=X4, y=Y3), flag])
    assert r.exit_code == 0, r.stderr
    if flag == "--steps":
        flat = " ".join(r.stdout.split())  # the notes wrap at the console's width
        assert "ȳ += transpose(ā, 1, 2, 0)" in flat and "the inverse order (1, 2, 0) puts each axis back" in flat
        assert "ȳ += b̄ · [y = b] / Σ [y = b]" in r.stdout
    if flag == "--latex":
        assert r"\operatorname{transpose}(\bar{a}, 1, 2, 0)" in r.stdout


@pytest.mark.parametrize("fmt", ["text", "dot", "mermaid", "html"])
def test_the_graph_of_a_rank_3_and_4_program(cli, tmp_path, fmt):
    r = cli(["graph", PROGRAM, "--vars", _vars(tmp_path, x=X4, y=Y3), "--format", fmt, "-o", "-"])
    assert r.exit_code == 0, r.stderr
    assert "transpose" in r.stdout and "amax" in r.stdout


def test_jacobian_and_hessian_of_rank_3_programs_agree_with_numpy(cli, tmp_path):
    y = Y3[:, :2, :3]
    path = _vars(tmp_path, y=y)
    r = cli(["jacobian", "transpose(y, 1, 0, 2) * amax(y, 0)", "--vars", path, "--json"])
    assert r.exit_code == 0, r.stderr
    jac = np.asarray(strict_json(r.stdout)["jacobian"])

    def f(v):
        return np.transpose(v, (1, 0, 2)) * np.max(v, axis=0)

    want = np.stack([numeric_grad(lambda v, i=i: float(f(v).ravel()[i]), y).ravel() for i in range(y.size)])
    np.testing.assert_allclose(jac, want, atol=1e-6)
    r = cli(["hessian", "sum(transpose(y, 2, 1, 0)^3) + sum(amax(y, 2)^2)", "--vars", path, "--json"])
    assert r.exit_code == 0, r.stderr
    hess = np.asarray(strict_json(r.stdout)["hessian"])
    top = np.max(y, axis=2, keepdims=True)
    want = np.diag(6 * y.ravel() + 2 * (y == top).ravel())
    np.testing.assert_allclose(hess, want, atol=1e-9)


def test_check_grades_rank_3_answers_and_diagnoses_the_max_routing(cli, tmp_path):
    y = np.array([[[0.1, 0.5, -0.3], [0.2, 0.7, 0.9]], [[1.1, -0.5, 0.3], [0.25, 0.4, -0.9]]])
    w = np.array([[[1.0, 2, 3], [4, 5, 6]], [[7, 8, 9], [1, 2, 3]]])
    path = _vars(tmp_path, y=y, w=w)
    program = "a = amax(y, 2); s = sum(a * amax(w, 2))"
    right = [[[0, 3, 0], [0, 0, 6]], [[9, 0, 0], [0, 3, 0]]]
    r = cli(["check", program, "--vars", path, "--expect", f"y={right}"])
    assert r.exit_code == 0, r.stdout + r.stderr
    to_min = [[[0, 0, 3], [6, 0, 0]], [[0, 9, 0], [0, 0, 3]]]
    r = cli(["check", program, "--vars", path, "--expect", f"y={to_min}"])
    assert r.exit_code == 1 and "max routed to the wrong element: a = amax(y, 2)" in r.stdout, r.stdout
    spread = [[[3, 3, 3], [6, 6, 6]], [[9, 9, 9], [3, 3, 3]]]
    r = cli(["check", program, "--vars", path, "--expect", f"y={spread}"])
    assert r.exit_code == 1 and "max routed to every element" in r.stdout, r.stdout
    r = cli(["check", program, "--vars", path,
             "--expect-formula", "y=reshape(amax(w, 2), 2, 2, 1) * (y == reshape(a, 2, 2, 1))"])
    assert r.exit_code == 0, r.stdout + r.stderr
    r = cli(["check", program, "--vars", path,
             "--expect-formula", "y=reshape(amax(w, 2), 2, 2, 1) * (y == reshape(amin(y, 2), 2, 2, 1))"])
    assert r.exit_code == 1 and "max routed to the wrong element" in r.stdout, r.stdout
    r = cli(["check", "t = transpose(y, 1, 0, 2); s = sum(t * w)", "--vars", path,
             "--expect-formula", "w=transpose(y, 1, 0, 2)", "--expect-formula", "y=transpose(w, 1, 0, 2)"])
    assert r.exit_code == 0, r.stdout + r.stderr


# ---- export and diff ----------------------------------------------------------------------------

def test_the_exported_numpy_script_agrees_with_gradcli(cli, tmp_path):
    path = _vars(tmp_path, x=X4, y=Y3)
    truth = _eval(cli, tmp_path, PROGRAM, x=X4, y=Y3)
    script = tmp_path / "script.py"
    r = cli(["export", PROGRAM, "--vars", path, "-o", str(script)])
    assert r.exit_code == 0, r.stderr
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    got = json.loads(done.stdout)
    assert got["value"] == pytest.approx(truth["value"], rel=1e-12)
    for name in ("x", "y"):
        np.testing.assert_allclose(got["gradient"][name], truth["gradient"][name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("target, words", [
    ("torch", ["y.permute((2, 0, 1))", "torch.amax(y, dim=2)", "y.permute((2, 1, 0))"]),
    ("jax", ["jnp.transpose(y, (2, 0, 1))", "jnp.max(y, axis=2)", "jnp.transpose(y, (2, 1, 0))"]),
])
def test_export_to_the_frameworks_writes_the_axes(cli, tmp_path, target, words):
    r = cli(["export", PROGRAM, "--vars", _vars(tmp_path, x=X4, y=Y3), "--to", target])
    assert r.exit_code == 0, r.stderr
    for w in words:
        assert w in r.stdout, (w, r.stdout)


def test_diff_writes_transpose_with_axes_and_takes_rank_3_shapes(cli):
    r = cli(["diff", "sum(transpose(y, 2, 0, 1) * w)", "--shape", "y=2x3x4", "--shape", "w=4x2x3"])
    assert r.exit_code == 0, r.stderr
    assert "∂c/∂y = transpose(da, 1, 2, 0)" in r.stdout, r.stdout  # the inverse order of (2, 0, 1)
    r = cli(["diff", "sum(amax(y, 1))", "--shape", "y=2x2x2"])
    assert r.exit_code == 0, r.stderr
    usage_error(cli(["diff", "x", "--shape", "x=1x2x3x4x5"]), "up to 4 sizes")


def test_the_sympy_and_finite_difference_checks_pass_at_rank_3(cli, tmp_path):
    doc = _eval(cli, tmp_path, "sum(transpose(y, 2, 0, 1)^2 * 3) + sum(amax(y, 2)^2) + amin(y)", "--check", "all",
                y=Y3[:, :2, :3])
    assert doc["ok"] is True
    assert doc["checks"]["sympy"]["y"]["ok"] is True and doc["checks"]["fd"]["y"]["ok"] is True


def test_diff_writes_amax_along_an_axis_as_a_formula_that_grades_right(cli, tmp_path):
    r = cli(["diff", "a = amax(y, 2); c = sum(a * w)", "--shape", "y=2x2x3", "--shape", "w=2x2"])
    assert r.exit_code == 0, r.stderr
    line = next(t for t in r.stdout.splitlines() if t.startswith("∂c/∂y = "))
    formula = line.removeprefix("∂c/∂y = ")
    assert formula == "reshape(da, 2, 2, 1) * (y == reshape(a, 2, 2, 1)) / reshape(sum(y == reshape(a, 2, 2, 1), 2), 2, 2, 1)"
    tied = np.array([[[1.0, 1.0, 0.0], [0.2, 0.7, 0.9]], [[1.1, -0.5, 0.3], [0.2, 0.4, -0.9]]])  # a tie in slice [0, 0]
    r = cli(["check", "a = amax(y, 2); c = sum(a * w)", "--vars", _vars(tmp_path, y=tied, w=[[2.0, 3.0], [4.0, 5.0]]),
             "--expect-formula", "y=" + formula.replace("da", "w")])
    assert r.exit_code == 0, r.stdout + r.stderr
    r = cli(["diff", "amax(y) * 3", "--shape", "y=2x2x3"])
    assert r.exit_code == 0 and "∂b/∂y = 3 * (y == a) / sum(y == a)" in r.stdout, r.stdout


@pytest.mark.parametrize("program, binding, words", [
    ("transpose(x, 0)", "x=2", "a scalar has no axes to put in order"),
    ("amax(x, 0)", "x=2", "axis 0 is out of range for shape ()"),
    ("transpose(x, 0, 1, 2, 3, 4)", "x=[1]", "transpose() takes at most 4 axes, got 5"),
    ("amax(x, 0, 1)", "x=[1,2]", "amax() takes 1 argument (and optionally an axis), got 3"),
])
def test_axes_that_do_not_fit_are_clear_errors(cli, program, binding, words):
    r = cli(["eval", program, binding])
    assert r.exit_code == 2 and r.stdout == "" and words in r.stderr, r.stderr


@pytest.mark.parametrize("program", ["softmax(x)", "log_softmax(x)", "amax(x)", "amin(x)", "transpose(x)",
                                     "var(x)"])
@pytest.mark.parametrize("flag", ["--steps", "--edges"])
def test_the_axis_notes_leave_a_scalar_argument_explained(cli, program, flag):
    r = cli(["eval", program, "x=3", flag])
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    assert ("x̄ += " if flag == "--steps" else "| x → a |") in r.stdout, r.stdout
