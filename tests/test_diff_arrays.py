"""gradcli diff on array programs: matrix formulas that parse back and agree with reverse mode.

The forward steps (``where``) and the adjoint lines printed by ``gradcli diff`` form a
gradcli program; every adjoint of it, and every ``dNAME += term`` of --steps, is
evaluated by gradcli at random points of the program's shapes and compared with the
engine's reverse mode (hypothesis draws the points).  Goldens for the layer, MLP and
softmax-CE samples are in tests/golden/diff/ (GRADCLI_UPDATE_GOLDEN=1 rewrites them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcli
from clitools import assert_golden, examples, run_cli, usage_error

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
GOLDEN = ROOT / "tests" / "golden" / "diff"

#: the array samples; the first three are the issue's must-haves
ARRAY_SAMPLES = ["layer", "mlp", "softmax_ce", "logreg_vec", "relu_layer", "rnn", "rnn_softmax"]

#: programs with an op that has no matrix rule here (elementwise fallback), with their shapes
FALLBACK = {
    "sum(cumsum(x) * w)": {"x": (3,), "w": (3,)},
    "prod(x) + sum(x[0:2] * y)": {"x": (3,), "y": (2,)},
    "dot(diag(W), y) + sum(hstack(y, y)^2)": {"W": (2, 2), "y": (2,)},
}
#: more matrix rules: norm, logsumexp, mean, outer, matrix·matrix, vector·matrix, stack, X[i, j];
#: piecewise partials written with where(c, a, b); det, logdet, inv, solve, trace, reshape, axis sums
MORE = {
    "sum(x / norm(x)) + logsumexp(x) + mean(x^2)": {"x": (3,)},
    "sum(outer(x, y) * (A @ B)) + dot(x @ A @ B, y)": {"x": (3,), "y": (2,), "A": (3, 4), "B": (4, 2)},
    "s = sum(log_softmax(x)[1] * [x[0], c, A[1, 2]]); s + c*transpose(A)[0, 1]": {
        "x": (3,), "c": (), "A": (2, 3)},
    "sum(where(x > 0, x^2, y)) + sum(elu(x) * relu(y))": {"x": (3,), "y": (3,)},
    "S = A @ transpose(A) + eye(2); det(A) + trace(A) + logdet(S) + sum(inv(S) @ x) + sum(solve(S, B)^2)": {
        "A": (2, 2), "x": (2,), "B": (2, 3)},
    "sum(sum(B, 0) * y) + sum(mean(B, 1)^2) + sum(reshape(B, 3, 2) @ x) + dot(flatten(B), flatten(B))": {
        "B": (2, 3), "y": (3,), "x": (2,)},
}


def diff_doc(*args: str) -> dict:
    result = run_cli(["diff", *args, "--json", "--steps", "--latex"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def sample_doc(name: str) -> dict:
    return diff_doc("-f", str(SAMPLES / f"{name}.grad"))


def _shapes_args(shapes: dict) -> list[str]:
    return [f"{n}={json.dumps(np.zeros(s).tolist()) if s else 0}" for n, s in shapes.items()]


def _random_point(shapes: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {n: rng.uniform(-1.5, 1.5, size=s).tolist() if s else float(rng.uniform(-1.5, 1.5))
            for n, s in shapes.items()}


def _close(got, want) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    want_b = np.broadcast_to(want, np.broadcast_shapes(got.shape, want.shape))
    assert got.shape == want.shape or got.shape == () and not got.any(), (got.shape, want.shape)
    np.testing.assert_allclose(np.broadcast_to(got, want_b.shape), want_b, rtol=1e-9, atol=1e-12)


def check_round_trip(doc: dict, source: str, point: dict) -> int:
    """Every adjoint line and every --steps term, evaluated by gradcli, is reverse mode's value."""
    where, adjoints = doc["where"], doc["adjoints"]
    program = "\n".join(where + adjoints)
    truth = gradcli.evaluate(source, point)
    forward = gradcli.evaluate("\n".join(where), point)  # the printed forward steps: same graph
    assert forward.value == pytest.approx(truth.value, rel=1e-12, abs=1e-12)
    by_adjoint = {adj: step for step, adj in doc["adjoint_names"].items()}
    checked = 0
    for line in adjoints:
        adj, formula = line.split(" = ", 1)
        got = gradcli.evaluate(program, point, output=adj).value
        step = by_adjoint[adj]
        want = truth.gradient[step] if step in doc["gradient"] else forward.adjoint(step)
        _close(got, want)
        checked += 1
    for name, formula in doc["gradient"].items():  # the gradient lines are the adjoint lines' formulas
        assert f"{doc['adjoint_names'][name]} = {formula}" in adjoints
        _close(gradcli.evaluate(f"{program}\n__g = {formula}", point, output="__g").value, truth.gradient[name])
    sums: dict[str, object] = {}
    for line in doc["steps"]:
        m = re.search(r"(\w+) \+= .* = (.+)$", line)
        assert m or " += " not in line, line
        if not m:
            continue
        value = gradcli.evaluate(f"{program}\n__t = {m[2]}", point, output="__t").value
        sums[m[1]] = np.asarray(value, dtype=float) + sums.get(m[1], 0.0)
        checked += 1
    for adj, total in sums.items():  # the terms a node receives add up to its adjoint
        _close(total, gradcli.evaluate(program, point, output=adj).value)
    return checked


def _sample_shapes(doc: dict) -> dict:
    return {n: tuple(s) for n, s in doc["shapes"].items()}


def _fast_first(names):
    return [pytest.param(n, marks=() if i < 3 else pytest.mark.slow) for i, n in enumerate(names)]


@pytest.mark.parametrize("name", _fast_first(ARRAY_SAMPLES))
def test_samples_parse_back_and_agree_with_reverse_mode_at_random_points(name):
    doc = sample_doc(name)
    source = (SAMPLES / f"{name}.grad").read_text(encoding="utf-8")
    shapes = _sample_shapes(doc)
    assert doc["notes"] == []  # every op of the samples has a matrix rule

    @settings(max_examples=examples(6), deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2**32 - 1))
    def at(seed):
        assert check_round_trip(doc, source, _random_point(shapes, seed)) >= len(doc["adjoints"])

    at()


@pytest.mark.parametrize("program", list(FALLBACK) + list(MORE))
def test_fallback_and_other_rules_parse_back_and_agree(program):
    shapes = {**FALLBACK, **MORE}[program]
    doc = diff_doc(program, *_shapes_args(shapes))
    if program in FALLBACK:
        assert doc["notes"] and all("element by element" in n for n in doc["notes"])
    else:
        assert doc["notes"] == []

    @settings(max_examples=examples(5), deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2**32 - 1))
    def at(seed):
        check_round_trip(doc, program, _random_point(shapes, seed))

    at()


def test_the_layer_reads_like_the_notes():
    doc = sample_doc("layer")
    adj = doc["adjoint_names"]
    lines = dict(line.split(" = ", 1) for line in doc["adjoints"])
    assert lines[adj["s"]] == "1" and lines[adj["h"]] == "u"
    dz = adj["z"]
    assert lines[dz] == "u * h * (1 - h)"
    assert doc["gradient"] == {"W": f"outer({dz}, x)", "x": f"transpose(W) @ {dz}", "b": dz, "u": "h"}
    assert doc["shapes"] == {"W": [3, 2], "x": [2], "b": [3], "u": [3]}
    assert "z = " in "\n".join(doc["where"]) and "h = sigmoid(z)" in doc["where"]
    assert doc["latex"]["W"] == r"\bar{z} x^\top"
    text = run_cli(["diff", "-f", str(SAMPLES / "layer.grad")]).stdout
    assert text.startswith("Shapes from the program's #: lines: W 3×2, x 2, b 3, u 3 (only the shapes are used")
    assert f"  {dz} = u * h * (1 - h)    # δ, the pre-activation's adjoint" in text


def test_softmax_ce_and_mlp_use_the_lecture_rules():
    soft = sample_doc("softmax_ce")
    dp = soft["adjoint_names"]["p"]
    assert soft["gradient"]["z"] == f"p * ({dp} - dot({dp}, p))"
    assert f"{dp} = " in "\n".join(soft["adjoints"]) and "eye(4)[2]" in "\n".join(soft["adjoints"])
    mlp = sample_doc("mlp")
    assert "outer(" in mlp["gradient"]["W"] and "2*W" in mlp["gradient"]["W"]
    assert mlp["gradient"]["x"].startswith("transpose(W) @ ")


def test_names_parse_back_and_adjoint_names_do_not_collide():
    doc = diff_doc("dz = sum(z*z); cell = dz + sum(W@z)", "z=[1,2]", "W=[[1,2],[3,4]]")
    names = set(doc["adjoint_names"]) | set(doc["adjoint_names"].values())
    assert len(names) == 2 * len(doc["adjoint_names"])
    assert doc["adjoint_names"]["z"] != "dz"
    check_round_trip(doc, "dz = sum(z*z); cell = dz + sum(W@z)", {"z": [0.3, -0.7], "W": [[1, 2], [3, 4]]})
    rnn = sample_doc("rnn")  # inlined calls' nodes (cell#1.a) get names gradcli reads back
    assert all(re.fullmatch(r"[A-Za-z_]\w* = .+", line) for line in rnn["where"] + rnn["adjoints"])


def test_shapes_come_from_the_command_line_and_vars(tmp_path):
    vars_file = tmp_path / "v.json"
    vars_file.write_text('{"W": [[1, 2], [3, 4], [5, 6]], "x": [1, 2]}', encoding="utf-8")
    result = run_cli(["diff", "sum(sigmoid(W@x))", "--vars", str(vars_file)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Shapes from {vars_file}: W 3×2, x 2")
    result = run_cli(["diff", "sum(sigmoid(W@x))", "W=[[1,2]]", "x=[3,4]"])
    assert result.exit_code == 0 and result.stdout.startswith("Shapes from the command line: W 1×2, x 2")
    scalar = run_cli(["diff", "x*y", "x=1", "y=2"])  # all scalars: the scalar derivation, as without a point
    assert scalar.exit_code == 0 and scalar.stdout == run_cli(["diff", "x*y"]).stdout


def test_shapes_without_values():
    result = run_cli(["diff", "sum(sigmoid(W@x)) + c", "--shape", "W=3x2", "--shape", "x=2", "--json", "--steps"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["shapes"] == {"W": [3, 2], "x": [2], "c": []}
    assert doc["shapes_from"] == "--shape (c: no value, so a scalar)"
    assert doc["gradient"]["W"].startswith("outer(") and doc["gradient"]["c"] == "1"
    check_round_trip(doc, "sum(sigmoid(W@x)) + c", _random_point({"W": (3, 2), "x": (2,), "c": ()}, 5))
    usage_error(run_cli(["diff", "x", "--shape", "x=3y2"]), "--shape x=3y2", "NAME=ROWSxCOLS")
    usage_error(run_cli(["diff", "x", "--shape", "x=0"]), "sizes start at 1")


def test_errors_are_one_line():
    usage_error(run_cli(["diff", "W@x", "W=[[1,2]]", "x=[3,4]"]), "scalar output")
    usage_error(run_cli(["diff", "sum(W@x)", "W=[[1,2]]", "x=[3,4]", "--wrt", "q"]), "not an input")
    bad = run_cli(["diff", "sum(W@x)", "W=[[1,2]]", "x=[3,4,5]"])
    assert bad.exit_code == 3 or bad.exit_code == 2, bad.stderr
    assert bad.stdout == "" and "shape" in bad.stderr


@pytest.mark.parametrize("name", ["layer", "mlp", "softmax_ce"])
def test_matches_the_golden_file(name):
    result = run_cli(["diff", "-f", str(SAMPLES / f"{name}.grad"), "--steps", "--latex"])
    assert result.exit_code == 0, result.stderr
    assert_golden(GOLDEN / f"{name}.txt", result.stdout, exact=True)


def test_the_docs_example_is_the_real_output():
    text = (ROOT / "docs" / "howto" / "diff.md").read_text(encoding="utf-8")
    block = text.split("$ gradcli diff -f samples/layer.grad\n", 1)[1].split("```", 1)[0]
    result = run_cli(["diff", "-f", str(SAMPLES / "layer.grad")])
    assert result.stdout == block


def _random_program(rng) -> str:
    """A random scalar program over x, y (3-vectors), W (3×3) and c (a scalar): typed
    compositions of elementwise and structural ops, a few steps deep."""
    def vector(depth: int) -> str:
        if depth == 0:
            return rng.choice(["x", "y", "W[1]", "transpose(W)[0]"])
        a, b, m, s = vector(depth - 1), vector(depth - 1), matrix(depth - 1), scalar(depth - 1)
        return "(" + rng.choice([f"{m} @ {a}", f"{a} @ {m}", f"{a} * {b}", f"({a} + {b})", f"{s} * {a}",
                           f"sigmoid({a})", f"tanh({a})", f"softmax({a})", f"({a} - {s})", f"sin({a})",
                           f"relu({a})", f"log_softmax({a})", f"[{s}, ({a})[0], {s}^2]"]) + ")"

    def matrix(depth: int) -> str:
        if depth == 0:
            return rng.choice(["W", "transpose(W)"])
        a, b, m, s = vector(depth - 1), vector(depth - 1), matrix(depth - 1), scalar(depth - 1)
        return "(" + rng.choice([f"outer({a}, {b})", f"{m} @ W", f"transpose({m})", f"tanh({m})", f"{s} * {m}",
                           f"({m} + W)"]) + ")"

    def scalar(depth: int) -> str:
        if depth == 0:
            return rng.choice(["c", "x[2]", "W[0, 1]"])
        a, b, m, s = vector(depth - 1), vector(depth - 1), matrix(depth - 1), scalar(depth - 1)
        return "(" + rng.choice([f"dot({a}, {b})", f"sum({a})", f"mean({a})", f"logsumexp({a})", f"({a})[1]",
                           f"{s} * {s}", f"sum({m})", f"trace({m})", f"norm({a} + 3)", f"sum(sum({m}, 0) * {a})",
                           f"({m})[2, 0]"]) + ")"

    return scalar(rng.randint(1, 4))


@settings(max_examples=examples(60), deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_random_array_programs_parse_back_and_agree(seed):
    import random

    rng = random.Random(seed)
    program = _random_program(rng)
    shapes = {"x": (3,), "y": (3,), "W": (3, 3), "c": ()}
    result = run_cli(["diff", program, *_shapes_args(shapes), "--json", "--steps"])
    assert result.exit_code == 0, (program, result.stderr)
    doc = json.loads(result.stdout)
    if "shapes" not in doc:
        return  # every node a scalar: the scalar derivation (tests/test_diff.py)
    used = {n: s for n, s in shapes.items() if n in doc["shapes"]}
    check_round_trip(doc, program, _random_point(used, seed))
