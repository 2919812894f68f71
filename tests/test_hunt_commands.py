"""Differential hunt on the commands besides eval and check: jacobian, hessian, diff, export,
graph, plot, descend and the deep-learning ops (conv, pooling, embeddings, rank 3/4).

Each command is tested against an independent reference built in the test from Python
(finite differences, an explicit NumPy loop) and against the other commands:

- `jacobian` rows against `eval --seed-output eᵢ` and finite differences, forward and
  reverse mode alike, over ops of every rank;
- `hessian` against central differences of eval's gradient, and its symmetry;
- `diff`'s formulas, read back by gradcli itself, against eval's gradient at random points;
- `export`'s NumPy script, run with ``python -I``, against eval's value and gradient;
- `descend`'s first step against θ − lr·∇ from eval;
- conv1d/conv2d/pooling/embeddings against an explicit loop written here;
- the JSON documents against their schemas, and the files the commands write.

Regressions found by this hunt are marked "regression:" with what was wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import gradcli


# ---- regressions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, program, point", [("jacobian", "sign(x)", {"x": 0.0}),
                                                  ("hessian", "abs(x)", {"x": 0.0}),
                                                  ("hessian", "max(x, y)", {"x": 1.0, "y": 1.0}),
                                                  ("hessian", "sum(maxpool2d(x, 2))", {"x": [[[1.0, 1.0], [1.0, 1.0]]]})])
def test_matrix_check_with_only_nan_errors_warns_nothing(kind, program, point):
    """regression: a Jacobian or Hessian check whose every error is nan (SymPy's derivative is
    undefined at a kink) made `max_error` call np.nanmax, which warns "All-NaN slice"; the
    API's to_json() then raised under -W error (the CLI hid it by silencing all warnings)."""
    matrix = getattr(gradcli, kind)(program, point).check("sympy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = json.loads(matrix.to_json())
    entry = doc["checks"]["sympy"]
    assert entry["status"] == "kink"
    assert entry["error"] == "nan"


def test_descend_plot_to_stdout_is_refused(cli):
    """regression: ``descend --plot -`` wrote the PNG's bytes to stdout and then the table
    after them, so neither could be read."""
    result = cli(["descend", "x^2", "x=1", "--updates", "2", "--plot", "-"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("gradcli: error: --plot -: ") and result.stderr.count("\n") == 1


def test_descend_plot_errors_name_the_plot_option(cli, tmp_path):
    """regression: a --plot file of another extension was told "-o FILE: give --format (png,
    svg)", but descend has no -o and its --format does not take png or svg."""
    result = cli(["descend", "x^2", "x=1", "--updates", "2", "--plot", str(tmp_path / "loss.pdf")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--plot " in result.stderr and "-o " not in result.stderr and "--format" not in result.stderr
    (tmp_path / "folder.png").mkdir()
    result = cli(["descend", "x^2", "x=1", "--updates", "2", "--plot", str(tmp_path / "folder.png")])
    assert result.exit_code == 2
    assert result.stderr == f"gradcli: error: --plot {tmp_path / 'folder.png'}: is a folder, not a file\n"


def test_descend_plot_onto_an_input_is_refused_before_the_run(cli, tmp_path):
    """regression: --plot naming an input file was refused only after the whole descent had run
    (the docs: "refused with exit 2 before any work is done"); a descent that diverges showed
    its steps and exit 3 instead."""
    start = tmp_path / "start.svg"
    start.write_text('{"x": 1}')
    result = cli(["descend", "exp(x)", "--vars", str(start), "--lr", "1e300", "--plot", str(start)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--plot" in result.stderr and "is the same file as --vars" in result.stderr
    assert start.read_text() == '{"x": 1}'


def test_plot_onto_an_input_is_refused_before_sampling(cli, tmp_path):
    """regression: ``plot -o`` naming an input was refused only after sampling (a program
    undefined everywhere gave its math error, exit 3, instead)."""
    values = tmp_path / "v.json"
    values.write_text('{"y": 1}')
    result = cli(["plot", "log(x) + y", "x=-2:-1", "--vars", str(values), "--format", "csv", "-o", str(values)])
    assert result.exit_code == 2
    assert "is the same file as --vars" in result.stderr
    assert values.read_text() == '{"y": 1}'


@pytest.mark.parametrize("program, piece", [
    ("round(x)", np.round),                                  # jumps at the halves
    ("ceil(x)", np.ceil),                                    # just after the whole numbers
    ("clip(x, 0.25, 0.75)", lambda x: (x < 0.25) * 1 + (x > 0.75) * 2),
    ("x > 0.3", lambda x: x > 0.3),
    ("2 * (x <= -0.45) + x", lambda x: x <= -0.45),
    ("floor(x) + relu(x - 0.3)", lambda x: np.floor(x) + 10 * (x > 0.3)),
])
def test_plot_gaps_where_the_branch_switches(program, piece):
    """regression: plot's gaps (`sample.curve(...).jumps`) came from the first argument's sign
    or floor for every op, so round(x) got them at whole numbers instead of halves, ceil one
    sample late, and clip(x, lo, hi) and comparisons at 0 instead of at lo, hi or 0.3."""
    from gradcli.run import sample

    c = sample.curve(program, sample.parse_range("x=-1.3:1.3:27"), {})
    state = piece(c.x)
    assert c.jumps.tolist() == (state[1:] != state[:-1]).tolist()


def _run_export(program: str, point: dict) -> dict:
    """`gradcli export`'s NumPy script for `program` at `point`, run with python -I: its JSON."""
    script = gradcli.export(program, point)
    ran = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


@pytest.mark.parametrize("program, point", [
    ("sum(2 @ v) + dot(3, v)[1] + sum(v @ s)", {"v": [3.0, 4.0], "s": 0.5}),
    ("sum(dot(A, v)) + sum(dot(v, A)) + dot(s, A)[0, 1]", {"A": [[1.0, 2.0], [3.0, 4.0]], "v": [1.0, -2.0], "s": 2.0}),
    ("x^0.5 + y", {"x": 0.0, "y": 1.0}),        # ∂x is inf
    ("x^y", {"x": 0.0, "y": 0.5}),
])
def test_export_script_runs_where_eval_does(program, point):
    """regression: the exported NumPy script crashed where eval gives an answer: a scalar
    operand of @ or dot was written as `2.0 @ v` (ValueError) and its adjoint as `2.0.T @ da`
    (AttributeError); a scalar input was a Python float, so a partial 0.0 ** -0.5 raised
    ZeroDivisionError where gradcli says inf."""
    r = gradcli.evaluate(program, point)
    doc = _run_export(program, point)
    assert doc["value"] == pytest.approx(r.value, rel=1e-12)
    for name, g in r.gradient.items():
        np.testing.assert_allclose(np.asarray(doc["gradient"][name], float), np.asarray(g, float), rtol=1e-12)


@pytest.mark.parametrize("to", ["torch", "jax"])
def test_export_frameworks_scale_by_a_scalar_operand(to):
    """regression: `2 @ v` and `dot(v, 3)` were written `(2.0 @ v)`, which PyTorch and JAX
    refuse (matmul needs at least one dimension); a scalar operand scales, as np.dot."""
    script = gradcli.export("sum(2 @ v) + dot(v, s)[0]", {"v": [3.0, 4.0], "s": 3.0}, to=to)
    compile(script, f"<{to}>", "exec")
    assert "    a = (2.0 * v)\n" in script
    assert "(v * s)" in script
    assert " @ " not in script.split("def forward", 1)[1]


@pytest.mark.parametrize("program", ["cbrt(x)", "cbrt(x)*y", "cbrt(x*y)", "x*cbrt(x)", "cbrt(x)/(1 + x^2)"])
@pytest.mark.parametrize("expand", [True, False])
def test_diff_formulas_of_cbrt_hold_at_negative_inputs(program, expand):
    """regression: diff wrote cbrt's derivative 1/(3|x|^(2/3)) as 1/(3*abs(x^(2/3))): read
    back by gradcli, x^(2/3) of a negative x is a math error (a negative base needs an
    integer exponent), though the derivative exists there.  The formula is evaluated by
    gradcli at points of either sign against eval's gradient."""
    d = gradcli.diff(program, expand=expand)
    where = json.loads(d.to_json()).get("where", [])
    for point in ({"x": -1.7, "y": -0.3}, {"x": -0.2, "y": 1.5}, {"x": 0.8, "y": 2.0}):
        point = {k: v for k, v in point.items() if k in program}
        r = gradcli.evaluate(program, point)
        for name, formula in d.gradient.items():
            text = "\n".join([*where, f"grad_ = {formula} + 0*({' + '.join(point)})"])
            got = gradcli.evaluate(text, point, output="grad_").value
            assert got == pytest.approx(r.gradient[name], rel=1e-9), (formula, point)


@pytest.mark.parametrize("program", ["where(elu(x) > 0.2, x, 1)", "where(elu(x) > 0.2, elu(x)^2, 1)",
                                     "where(leaky_relu(x) < -0.001, x^2, x)"])
@pytest.mark.parametrize("expand", [True, False])
def test_diff_writes_conditions_joined_by_and_or_ite(program, expand):
    """regression: a where() whose condition goes through a piecewise op (elu, leaky_relu)
    has a derivative whose condition SymPy writes with And/Or (expanded) or ITE (in steps);
    diff refused the first and crashed on the second with exit 4 (an internal error).  The
    formulas are now read back by gradcli and compared with eval's gradient."""
    d = gradcli.diff(program, expand=expand)
    where = json.loads(d.to_json()).get("where", [])
    for x in (-2.0, -0.5, -0.05, 0.1, 0.15, 0.3, 1.7):
        r = gradcli.evaluate(program, {"x": x})
        text = "\n".join([*where, f"grad_ = {d.gradient['x']} + 0*x"])
        assert gradcli.evaluate(text, {"x": x}, output="grad_").value == pytest.approx(r.gradient["x"]), x


def test_diff_refuses_an_unwritable_form_with_one_line(cli, monkeypatch):
    """regression: a formula the printer cannot write, met while writing the first formulas,
    escaped the derivation's worker as an internal error (exit 4); it is a usage error."""
    from gradcli.teach import derive

    def unwritable(*args, **kwargs):
        raise gradcli.UsageError("this derivative has a piecewise form gradcli cannot write in its own language")

    monkeypatch.setattr(derive, "formulas", unwritable)
    monkeypatch.setattr(derive, "step_formulas", unwritable)
    result = cli(["diff", "x^2", "--sympy-timeout", "30"])
    assert result.exit_code == 2
    assert result.stderr == "gradcli: error: this derivative has a piecewise form gradcli cannot write in its own language\n"


@pytest.mark.parametrize("argv, message", [
    (["plot", "sum(x)", "x=0:1"], "plot evaluates scalar programs a row at a time; sum is for vectors and matrices"),
    (["plot", "[x, x]", "x=0:1"], "plot evaluates scalar programs; this one has vectors or matrices"),
    (["plot", "x^2", "x=1", "y=0:1"], "range y: not an input of the program (inputs: x)"),
    (["plot", "x^2", "x=0:1", "y=0:1", "--format", "csv"], "range y: not an input of the program (inputs: x)"),
])
def test_plot_errors_name_plot_and_its_ranges(cli, argv, message):
    """regression: plot's errors named options it does not have: '--points evaluates scalar
    programs', '--wrt y: not an input' for a range over a name the program does not use."""
    result = cli(argv)
    assert result.exit_code == 2
    assert result.stderr == f"gradcli: error: {message}\n"


def test_descend_examples_column_error_names_examples(cli, tmp_path):
    """regression: an --examples column that is not an input was refused as '--points: column
    q is not an input' (descend has no --points)."""
    data = tmp_path / "data.csv"
    data.write_text("x,y,q\n1,2,3\n2,3,4\n")
    result = cli(["descend", "(w*x - y)^2", "w=0", "--examples", str(data)])
    assert result.exit_code == 2
    assert result.stderr == "gradcli: error: --examples: column q is not an input of the program (inputs: w, x, y)\n"


def _schema(name: str) -> dict:
    from importlib.resources import files

    return json.loads((files("gradcli") / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


def test_hessian_json_with_an_infinite_asymmetry_meets_its_schema(cli):
    """regression: `asymmetry` is "inf" where one of H[i,j], H[j,i] is finite and the other
    not (x^y at x = 0, y = 2: ∂²/∂x∂y is nan one way, 0 the other), written as the string
    the strict encoding uses; the schema allowed only a JSON number.  The same for
    jacobian's forward_reverse_difference."""
    jsonschema = pytest.importorskip("jsonschema")
    result = cli(["hessian", "x^y", "x=0", "y=2", "--json"])
    doc = json.loads(result.stdout)
    assert doc["asymmetry"] == "inf"
    jsonschema.validate(doc, _schema("hessian"))
    jacobian = _schema("jacobian")
    assert jacobian["properties"]["forward_reverse_difference"] == {
        **jacobian["properties"]["forward_reverse_difference"], "$ref": "#/$defs/number"}


# ---- conv, pooling, embeddings against explicit loops ------------------------------------------------

def _conv2d_loop(x, w, stride, pad, g):
    """CS231n's conv_forward_naive and its backward, written as loops: (out, dx, dw) for the
    upstream gradient g."""
    n_, c_, h_, w_ = x.shape
    f_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = 1 + (h_ + 2 * pad - kh) // stride, 1 + (w_ + 2 * pad - kw) // stride
    out = np.zeros((n_, f_, ho, wo))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(n_):
        for f in range(f_):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f])
                    dxp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += g[n, f, i, j] * w[f]
                    dw[f] += g[n, f, i, j] * window
    return out, dxp[:, :, pad:pad + h_, pad:pad + w_], dw


def _conv_cases(rank: int, count: int, seed: int):
    """Random conv shapes whose windows tile: kernel = input, stride > kernel, pad > kernel."""
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < count:
        k = [int(rng.integers(1, 4)) for _ in range(rank)]
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        outs = [int(rng.integers(1, 4)) for _ in range(rank)]
        sizes = [(o - 1) * stride + kk - 2 * pad for o, kk in zip(outs, k)]
        if min(sizes) < 1:
            continue
        n, c, f = (int(v) for v in rng.integers(1, 3, size=3))
        found.append((n, c, f, tuple(sizes), tuple(k), stride, pad, int(rng.integers(0, 2**31))))
    return found


@pytest.mark.parametrize("n, c, f, sizes, k, stride, pad, seed", _conv_cases(2, 12, 11))
def test_conv2d_against_an_explicit_loop(n, c, f, sizes, k, stride, pad, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(n, c, *sizes)), rng.normal(size=(f, c, *k))
    g = rng.normal(size=(n, f, *(1 + (s + 2 * pad - kk) // stride for s, kk in zip(sizes, k))))
    out, dx, dw = _conv2d_loop(x, w, stride, pad, g)
    r = gradcli.evaluate(f"sum(g * conv2d(x, w, {stride}, {pad}))", x=x, w=w, g=g)
    assert r.value == pytest.approx(float(np.sum(g * out)), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(r.gradient["x"], dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r.gradient["w"], dw, rtol=1e-10, atol=1e-12)
    one = gradcli.evaluate(f"sum(g * conv2d(x, w, {stride}, {pad}))", x=x[0], w=w, g=g[0])  # one image (C, H, W)
    np.testing.assert_allclose(one.gradient["x"], _conv2d_loop(x[:1], w, stride, pad, g[:1])[1][0], atol=1e-12)


@pytest.mark.parametrize("n, c, f, sizes, k, stride, pad, seed", _conv_cases(1, 8, 12))
def test_conv1d_against_an_explicit_loop(n, c, f, sizes, k, stride, pad, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(n, c, *sizes)), rng.normal(size=(f, c, *k))
    lo = 1 + (sizes[0] + 2 * pad - k[0]) // stride
    g = rng.normal(size=(n, f, lo))
    out, dx, dw = _conv1d_padded(x, w, stride, pad, g)
    r = gradcli.evaluate(f"sum(g * conv1d(x, w, {stride}, {pad}))", x=x, w=w, g=g)
    assert r.value == pytest.approx(float(np.sum(g * out.reshape(g.shape))), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(r.gradient["x"], dx.reshape(x.shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r.gradient["w"], dw.reshape(w.shape), rtol=1e-10, atol=1e-12)


def _conv1d_padded(x, w, stride, pad, g):
    """conv1d as the loop's conv2d over a height of 1, the padding along the length only."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    out, dxp, dw = _conv2d_loop(xp[:, :, None, :], w[:, :, None, :], stride, 0, g[:, :, None, :])
    return out, dxp[:, :, 0, pad:pad + x.shape[2]], dw


def _pool_loop(x, k, stride, g, kind):
    n_, c_, h_, w_ = x.shape
    ho, wo = 1 + (h_ - k) // stride, 1 + (w_ - k) // stride
    out, dx = np.zeros((n_, c_, ho, wo)), np.zeros_like(x)
    for n in range(n_):
        for c in range(c_):
            for i in range(ho):
                for j in range(wo):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    if kind == "max":
                        out[n, c, i, j] = window.max()
                        first = int(np.argmax(window))  # the first maximum, row-major (PyTorch)
                        dx[n, c, i * stride + first // k, j * stride + first % k] += g[n, c, i, j]
                    else:
                        out[n, c, i, j] = window.mean()
                        dx[n, c, i * stride:i * stride + k, j * stride:j * stride + k] += g[n, c, i, j] / k ** 2
    return out, dx


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", range(6))
def test_pooling_against_an_explicit_loop_with_ties(kind, seed):
    """Overlapping windows (stride < k), gaps (stride > k), a window the size of the input;
    integer values make ties in max pooling, whose gradient goes to the first maximum."""
    rng = np.random.default_rng(100 + seed)
    k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    ho, wo = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    x = rng.integers(0, 3, size=(2, 2, (ho - 1) * stride + k, (wo - 1) * stride + k)).astype(float)
    g = rng.normal(size=(2, 2, ho, wo))
    out, dx = _pool_loop(x, k, stride, g, kind)
    program = f"sum(g * {kind}pool2d(x, {k}, {stride}))"
    r = gradcli.evaluate(program, x=x, g=g)
    assert r.value == pytest.approx(float(np.sum(g * out)), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(r.gradient["x"], dx, rtol=1e-12, atol=1e-12)
    doc = _run_export(program, {"x": x, "g": g})
    np.testing.assert_allclose(doc["gradient"]["x"], dx, rtol=1e-12, atol=1e-12)


def test_embedding_gradient_is_a_scatter_add():
    rng = np.random.default_rng(7)
    E, idx = rng.normal(size=(5, 3)), np.array([[4, 0, 4], [2, 4, 0]])
    g = rng.normal(size=(2, 3, 3))
    expected = np.zeros_like(E)
    for i in range(2):
        for j in range(3):
            expected[idx[i, j]] += g[i, j]
    r = gradcli.evaluate("sum(g * E[idx])", E=E, idx=idx, g=g)
    np.testing.assert_allclose(r.gradient["E"], expected, rtol=1e-12)
    assert r.gradient.get("idx") is None  # data: no gradient
    np.testing.assert_allclose(_run_export("sum(g * E[idx])", {"E": E, "idx": idx, "g": g})["gradient"]["E"], expected)


@pytest.mark.parametrize("command", ["eval", "jacobian", "hessian", "export", "graph", "descend"])
@pytest.mark.parametrize("idx", ["[0,3]", "[0,-1]", "[0,1.5]"])
def test_embedding_index_out_of_range_is_one_line(cli, command, idx):
    result = cli([command, "sum(E[idx]^2)", "E=[[1,2],[3,4],[5,6]]", f"idx={idx}"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("gradcli: error: idx ") and result.stderr.count("\n") == 1


# ---- the commands against each other --------------------------------------------------------------

_R = np.random.default_rng(2026)
#: array programs of every rank, with a point: jacobian's rows against eval --seed-output
ARRAY_PROGRAMS = [
    ("conv2d(x, w, 2, 3)", {"x": _R.normal(size=(2, 1, 2, 2)), "w": _R.normal(size=(1, 1, 2, 2))}),
    ("maxpool2d(x, 2, 1)", {"x": _R.normal(size=(2, 3, 3))}),
    ("avgpool2d(x, 1, 3)", {"x": _R.normal(size=(1, 1, 4, 4))}),
    ("E[idx] * 2", {"E": _R.normal(size=(4, 3)), "idx": np.array([[0, 1], [3, 3]])}),
    ("softmax(x, 1)", {"x": _R.normal(size=(2, 3, 2))}),
    ("transpose(x, 2, 0, 1) * y", {"x": _R.normal(size=(2, 3, 2)), "y": _R.normal(size=(3,))}),
    ("cumsum(x, 1) + amax(x, 1)[0, 0]", {"x": _R.normal(size=(2, 3, 2))}),
    ("x + y", {"x": _R.normal(size=(1, 2, 1, 3)), "y": _R.normal(size=(2, 1, 1))}),
    ("batchnorm(x, g, b)", {"x": _R.normal(size=(4, 2)), "g": _R.normal(size=2), "b": _R.normal(size=2)}),
    ("svm_loss(S*S, y)", {"S": _R.normal(size=(3, 4)), "y": np.array([0, 3, 1])}),
    ("[x, 2*x, x]", {"x": np.float64(0.5)}),
]


def _gradient_row(r, names):
    return np.concatenate([np.ravel(np.asarray(r.gradient[n], dtype=float)) for n in names])


@pytest.mark.parametrize("program, point", ARRAY_PROGRAMS, ids=[p for p, _ in ARRAY_PROGRAMS])
def test_jacobian_rows_are_eval_vector_jacobian_products(program, point):
    """Row i of `jacobian` (reverse and forward mode) is eval's gradient with --seed-output eᵢ."""
    J = gradcli.jacobian(program, point)
    forward = gradcli.jacobian(program, point, mode="forward")
    np.testing.assert_allclose(forward.data, J.data, rtol=1e-12, atol=1e-14)
    names = list(dict.fromkeys(c.split("[")[0] for c in J.columns))
    value = np.asarray(gradcli.evaluate(program, point).value)
    assert J.data.shape[0] == max(value.size, 1)
    for i in range(value.size):
        seed = np.zeros(value.shape)
        seed[np.unravel_index(i, value.shape)] = 1.0
        r = gradcli.evaluate(program, point, seed_output=seed if value.shape else 1.0)
        np.testing.assert_allclose(_gradient_row(r, names), J.data[i], rtol=1e-12, atol=1e-14)


#: scalar losses for hessian, export and descend
LOSSES = [
    ("x^2*y + sin(x*y)", {"x": 0.7, "y": -1.3}),
    ("sum(conv2d(x, w, 1, 1)^2)", {"x": _R.normal(size=(1, 1, 2, 2)), "w": _R.normal(size=(1, 1, 2, 2))}),
    ("sum(avgpool2d(x, 2)^3)", {"x": _R.normal(size=(1, 2, 2))}),
    ("softmax_loss(S, y) + l2(S)", {"S": _R.normal(size=(2, 3)), "y": np.array([0, 2])}),
    ("sum(softmax(x, 1)^2 * c)", {"x": _R.normal(size=(2, 2, 2)), "c": _R.normal(size=(2, 2, 2))}),
    ("sum(E[idx]^3)", {"E": _R.normal(size=(3, 2)), "idx": np.array([0, 2, 0])}),
    ("logdet(A) + sum(solve(A, b)^2)", {"A": _R.normal(size=(2, 2)) + 3 * np.eye(2), "b": _R.normal(size=2)}),
    ("cbrt(x) * atan2(y, x) + hypot(x, y)", {"x": -0.8, "y": 0.4}),
]


@pytest.mark.parametrize("program, point", LOSSES, ids=[p for p, _ in LOSSES])
def test_hessian_is_the_derivative_of_evals_gradient(program, point):
    """`hessian` against central differences of eval's gradient, and symmetric to rounding."""
    H = gradcli.hessian(program, point)
    names = list(dict.fromkeys(c.split("[")[0] for c in H.columns))
    columns, h = [], 1e-5
    for name in names:
        base = np.asarray(point[name], dtype=float)
        for index in np.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[index] += h
            down[index] -= h
            g_up = _gradient_row(gradcli.evaluate(program, {**point, name: up}), names)
            g_down = _gradient_row(gradcli.evaluate(program, {**point, name: down}), names)
            columns.append((g_up - g_down) / (2 * h))
    np.testing.assert_allclose(H.data, np.array(columns).T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H.data, H.data.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("program, point", LOSSES, ids=[p for p, _ in LOSSES])
def test_export_numpy_script_agrees_with_eval(program, point):
    r = gradcli.evaluate(program, point)
    doc = _run_export(program, point)
    assert doc["value"] == pytest.approx(r.value, rel=1e-12, abs=1e-14)
    for name, g in r.gradient.items():
        if g is not None:
            np.testing.assert_allclose(np.asarray(doc["gradient"][name], float), np.asarray(g, float),
                                       rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("program, point", LOSSES[:5], ids=[p for p, _ in LOSSES[:5]])
def test_descend_first_step_is_theta_minus_lr_gradient(program, point):
    lr = 0.01
    run = json.loads(gradcli.descend(program, point, lr=lr, updates=1).to_json())
    r = gradcli.evaluate(program, point)
    first = run["records"][1]["params"]
    for name in run["wrt"]:
        np.testing.assert_allclose(np.asarray(first[name], float),
                                   np.asarray(point[name], float) - lr * np.asarray(r.gradient[name]),
                                   rtol=1e-12, atol=1e-15)


DIFF_PROGRAMS = ["x*exp(-x^2*y)", "c = x*y; d = c + sin(c); d*c", "max(x, y)*x + relu(x - y)",
                 "logaddexp(x, y) + atan2(y, x)", "where(x > y, x^2, y^3) + clip(x, -0.5, 0.5)*y"]


@pytest.mark.parametrize("program", DIFF_PROGRAMS)
def test_diff_formulas_read_back_agree_with_eval(program):
    """diff's formulas (in steps, and expanded), read back by gradcli itself at random points
    off the kinks, against eval's gradient."""
    rng = np.random.default_rng(len(program))
    for expand in (False, True):
        d = gradcli.diff(program, expand=expand)
        where = json.loads(d.to_json()).get("where", [])
        for _ in range(4):
            point = {"x": float(rng.uniform(-2, 2)), "y": float(rng.uniform(-2, 2))}
            r = gradcli.evaluate(program, point)
            for name, formula in d.gradient.items():
                text = "\n".join([*where, f"grad_ = {formula} + 0*(x + y)"])
                got = gradcli.evaluate(text, point, output="grad_").value
                assert got == pytest.approx(r.gradient[name], rel=1e-9, abs=1e-12), (formula, point)


@pytest.mark.parametrize("kind, argv", [
    ("jacobian", ["jacobian", "sqrt(x)", "x=0", "--mode", "both", "--check", "all", "--json"]),
    ("jacobian", ["jacobian", "maxpool2d(x, 2)", "x=ones(1,1,2,2)", "--check", "all", "--json"]),
    ("hessian", ["hessian", "softmax_loss(S, y)", "S=[[1,2],[3,4]]", "y=[1,0]", "--check", "all", "--json"]),
    ("diff", ["diff", "where(elu(x) > 0.2, x, 1)", "--json", "--latex", "--steps"]),
    ("diff", ["diff", "sum(softmax(x, 1) * x)", "--shape", "x=2x2x2", "--json"]),
    ("descend", ["descend", "log(x)", "x=1", "--lr", "10", "--json"]),
    ("descend", ["descend", "sum(E[idx]^2)", "E=[[1,2],[3,4]]", "idx=[0,0,1]", "--updates", "3", "--json"]),
])
def test_json_documents_meet_their_schemas(cli, kind, argv):
    jsonschema = pytest.importorskip("jsonschema")
    result = cli(argv)
    assert result.exit_code in (0, 3), result.stderr
    jsonschema.validate(json.loads(result.stdout), _schema(kind))


@pytest.mark.parametrize("argv", [["x=0:1:3", "x=2"], ["x=2", "x=0:1:3"]])
def test_plot_refuses_a_range_and_a_value_for_one_input(cli, argv):
    """regression: `plot "x^2" x=0:1 x=2` plotted the range and dropped x=2 silently, where
    eval refuses a name bound twice on the command line."""
    result = cli(["plot", "x^2", *argv, "--format", "csv"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "gradcli: error: x is bound twice on the command line (a range and a value)\n"


def test_plot_range_overrides_a_vars_value(cli, tmp_path):
    values = tmp_path / "v.json"
    values.write_text('{"x": 5, "y": 2}')
    result = cli(["plot", "x^2*y", "x=0:1:3", "--vars", str(values), "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["0.0,0.0,0.0", "0.5,0.5,2.0", "1.0,2.0,4.0"]


def test_jacobian_fd_check_of_an_empty_output(cli):
    """regression: `jacobian "x * zeros(0)" x=1 --check fd` was an internal error (exit 4): the
    finite differences took the largest spread of an empty array."""
    result = cli(["jacobian", "x * zeros(0)", "x=1", "--check", "all", "--mode", "both", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["jacobian"] == [] and doc["ok"] is True
    assert {kind: entry["status"] for kind, entry in doc["checks"].items()} == {"sympy": "ok", "fd": "ok"}


@pytest.mark.parametrize("program, point, seed", [
    ("x*[1, 2]", {"x": 1.0}, [3.0, 5.0]),                                      # was exit 4 (fd), skipped (sympy)
    ("sin(W@x)", {"W": [[1.0, 2.0], [3.0, 4.0]], "x": [0.5, -1.0]}, [0.5, -2.0]),
    ("x^2", {"x": 3.0}, 2.0),                                                 # fd checked 6 against 12: a false failure
    ("x*zeros(0)", {"x": 1.0}, "zeros(0)"),
])
def test_checks_of_a_vector_jacobian_product(program, point, seed):
    """regression: with --seed-output the gradient is of ⟨seed, output⟩, but the checks
    differentiated the output itself: finite differences crashed on a vector output (exit 4) or
    failed a scalar one scaled by its seed, and SymPy skipped with a SympifyError.  Both now
    check ⟨seed, output⟩, here against finite differences of it taken in the test."""
    r = gradcli.evaluate(program, point, seed_output=seed)
    report = r.check("fd", "sympy")
    for kind in ("fd", "sympy"):
        assert {name: e.status for name, e in report[kind].items()} == {name: "ok" for name in r.gradient}
    seed = np.zeros(0) if seed == "zeros(0)" else seed
    for name, g in r.gradient.items():  # the gradient itself, by central differences of ⟨seed, output⟩
        base = np.asarray(point[name], dtype=float)
        estimate = np.zeros(base.shape)
        for index in np.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[index] += 1e-6
            down[index] -= 1e-6
            f = [float(np.sum(np.multiply(seed, gradcli.evaluate(program, {**point, name: v}).value)))
                 for v in (up, down)]
            estimate[index] = (f[0] - f[1]) / 2e-6
        np.testing.assert_allclose(g, estimate, rtol=1e-6, atol=1e-8)


def test_checks_of_an_empty_input(cli):
    """regression: an input bound to an empty array (x=zeros(0)) made eval's checks an internal
    error (exit 4): finite differences took np.nanmax of no errors, SymPy indexed the first of
    no elements.  An empty input has nothing to disagree about."""
    jsonschema = pytest.importorskip("jsonschema")
    result = cli(["eval", "sum(x^2) + y", "x=zeros(0)", "y=1", "--check", "all", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, _schema("eval"))
    for kind in ("sympy", "fd"):
        assert doc["checks"][kind]["x"]["status"] == "ok" and doc["checks"][kind]["x"]["estimate"] == []
        assert doc["checks"][kind]["y"]["estimate"] == 1.0
    assert doc["ok"] is True


@pytest.mark.parametrize("argv, readers", [
    (["plot", "-f", "-", "--vars", "-", "x=0:1:3", "--format", "csv"], "-f and --vars"),
    (["plot", "-", "x=0:1:3", "--vars", "-", "--format", "csv"], "the program and --vars"),
    (["descend", "-f", "-", "--vars", "-", "--updates", "1"], "-f and --vars"),
    (["descend", "(w*x - y)^2", "--vars", "-", "--examples", "-", "--updates", "1"], "--vars and --examples"),
])
def test_plot_and_descend_refuse_two_readers_of_stdin(cli, argv, readers):
    """regression: plot and descend let two options read stdin: the first took it all and the
    second failed on nothing ('--vars -: not valid JSON', '--examples -: the first line must
    name the inputs'), where every other command names the two readers."""
    result = cli(argv, input='{"w": 1}\n')
    assert result.exit_code == 2
    assert result.stderr == f"gradcli: error: {readers} cannot both read stdin ('-'): put one of them in a file\n"


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_of_an_input_without_channels(kind):
    """regression: pooling an input with no elements (0 channels) was a math error quoting
    NumPy ('cannot reshape array of size 0 into shape (0,2,2)', exit 3), where conv2d of the
    same input works: the windows were gathered with reshape(-1, …)."""
    r = gradcli.evaluate(f"sum({kind}pool2d(x, 1)) + y", {"x": "zeros(1, 0, 2, 2)", "y": 1.0})
    assert r.value == 1.0
    assert np.shape(r.gradient["x"]) == (1, 0, 2, 2)
    assert np.shape(gradcli.evaluate(f"{kind}pool2d(x, 2)", {"x": "zeros(0, 2, 2)"}).value) == (0, 1, 1)
