"""Issue 23: x[idx] with an integer array (an embedding lookup), pick(S, y), onehot(y, C),
and integer inputs as data.

Every gradient is compared with a NumPy reference written here in CS231n's style (naive
loops) and with gradcli's own finite differences (``--check fd``); integer inputs are never
perturbed, get no gradient, and a non-integer label is one clear error naming the input.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gradcli.core.ops import OPS
from gradcli.language.lower import lower
from gradcli.language.parser import parse


def _json(cli, *argv):
    result = cli(["eval", *argv, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _arg(name, value):
    return f"{name}={json.dumps(np.asarray(value).tolist())}"


# ---- CS231n-style references (loops, as the assignments write them) ---------------------------
def word_embedding_forward(x, W):
    out = np.zeros((len(x), W.shape[1]))
    for n, i in enumerate(x):
        out[n] = W[int(i)]
    return out


def word_embedding_backward(dout, x, shape):
    dW = np.zeros(shape)
    for n, i in enumerate(x):
        dW[int(i)] += dout[n]  # a repeated word adds its rows
    return dW


def pick_forward(S, y):
    return np.array([S[i, int(y[i])] for i in range(S.shape[0])])


def pick_backward(dout, S, y):
    dS = np.zeros(S.shape)
    for i in range(S.shape[0]):
        dS[i, int(y[i])] = dout[i]
    return dS


# ---- x[idx] ----------------------------------------------------------------------------------
def test_static_indices_stay_index_and_an_array_index_is_a_gather():
    ops = {n.op for n in lower(parse("a = x[1]; b = W[0, 1]; c = x[1:3]")).nodes}
    assert "index" in ops and "gather" not in ops
    assert {n.op for n in lower(parse("E = W[idx]")).nodes} >= {"gather"}
    assert {n.op for n in lower(parse("E = W[[0, 2, 0]]")).nodes} >= {"gather", "stack"}
    assert not OPS["gather"].user  # written x[idx], not called by name


def test_embedding_with_repeated_indices_matches_the_reference(cli):
    rng = np.random.default_rng(23)
    W, c = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    idx = np.array([1, 4, 1, 1])  # word 1 three times: its gradient rows add
    doc = _json(cli, "E = W[idx]; L = sum(tanh(E) * c)", _arg("W", W), _arg("idx", idx), _arg("c", c))
    E = word_embedding_forward(idx, W)
    assert doc["value"] == pytest.approx(np.sum(np.tanh(E) * c), rel=1e-12)
    dW = word_embedding_backward((1 - np.tanh(E) ** 2) * c, idx, W.shape)
    np.testing.assert_allclose(doc["gradient"]["W"], dW, rtol=1e-12, atol=1e-14)
    assert np.any(dW[1] != 0) and not np.any(dW[0])  # row 1 summed, row 0 unused
    assert doc["gradient"]["idx"] is None
    assert doc["data"] == {"idx": "integer indices of W[idx]"}


def test_a_list_literal_and_a_scalar_index(cli):
    W = np.arange(6.0).reshape(3, 2)
    doc = _json(cli, "L = sum(W[[2, 0, 2]] ^ 2)", _arg("W", W))
    np.testing.assert_allclose(doc["gradient"]["W"], [[0, 2], [0, 0], [16, 20]])  # row 2 twice: 2 · 2·[4, 5]
    doc = _json(cli, "L = sum(W[k] ^ 2)", _arg("W", W), "k=1")
    np.testing.assert_allclose(doc["gradient"]["W"], [[0, 0], [4, 6], [0, 0]])
    assert doc["gradient"]["k"] is None


def test_finite_differences_agree_and_never_perturb_the_indices(cli):
    """A perturbed index would fail the check (1 ± h is no index): it passes, idx is not perturbed."""
    result = cli(["eval", "E = W[idx]; L = sum(E * E * c)", "W=[[1,2],[3,4],[5,6]]", "idx=[0,2,0]",
                  "c=[[1,2],[3,4],[5,6]]", "--check", "fd", "--no-nodes"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "data (integer)" in result.stdout and "not perturbed" in result.stdout
    doc = json.loads(cli(["eval", "E = W[idx]; L = sum(E * E * c)", "W=[[1,2],[3,4],[5,6]]", "idx=[0,2,0]",
                          "c=[[1,2],[3,4],[5,6]]", "--check", "fd", "--json"]).stdout)
    assert set(doc["checks"]["fd"]) == {"W", "c"}


def test_non_integer_and_out_of_range_indices_are_clear_errors(cli):
    bad = cli(["eval", "L = sum(W[idx])", "W=[[1,2],[3,4]]", "idx=[0,1.5]"])
    assert bad.exit_code == 2
    assert bad.stderr.strip() == ("gradcli: error: idx holds 1.5, but idx is used as integer indices of W[idx]: "
                                  "it needs whole numbers")
    far = cli(["eval", "L = sum(W[idx])", "W=[[1,2],[3,4]]", "idx=[0,2]"])
    assert far.exit_code == 2 and "idx holds 2" in far.stderr and "0…1" in far.stderr
    wrt = cli(["eval", "L = sum(W[idx])", "W=[[1,2],[3,4]]", "idx=[0,1]", "--wrt", "idx"])
    assert wrt.exit_code == 2 and "idx is data" in wrt.stderr and "no gradient" in wrt.stderr


def test_steps_print_the_scatter_add(cli):
    result = cli(["eval", "E = W[idx]; L = sum(E * E)", "W=[[1,2],[3,4],[5,6]]", "idx=[0,2,0]", "--steps",
                  "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "E = W[idx]" in result.stdout
    assert "W̄ += scatter_add(Ē, idx)" in result.stdout
    assert "a repeated index sums" in result.stdout
    assert "[[4, 8]," in result.stdout  # row 0 twice: 2·[1, 2] + 2·[1, 2]


def test_the_printed_scatter_add_is_the_engine_adjoint():
    """The rule --steps prints, evaluated by itself, against the reference scatter-add."""
    from gradcli.core import rules

    rng = np.random.default_rng(5)
    W, idx = rng.normal(size=(4, 2)), np.array([3.0, 0.0, 3.0, 3.0, 1.0])
    out, g = W[idx.astype(int)], rng.normal(size=(5, 2))
    (rule_w, rule_idx) = rules.rules_for("gather", ((4, 2), (5,)), None)
    env = rules.environment("gather", 0, [W, idx], out, g, None)
    np.testing.assert_allclose(rules.adjoint_value(rule_w, env), word_embedding_backward(g, idx, W.shape))
    jac = rules.jacobian_value(rule_w, env)
    np.testing.assert_allclose(jac.T @ g.ravel(), word_embedding_backward(g, idx, W.shape).ravel())
    assert rule_w.adjoint.text({"g": "ḡ", "x1": "idx"}) == "scatter_add(ḡ, idx)"
    assert rule_idx.jacobian is None and "data" in rule_idx.structure


# ---- pick and onehot ----------------------------------------------------------------------------
def test_pick_matches_the_reference(cli):
    rng = np.random.default_rng(7)
    S, y, c = rng.normal(size=(4, 3)), np.array([2, 0, 2, 1]), rng.normal(size=4)
    doc = _json(cli, "L = sum(exp(pick(S, y)) * c)", _arg("S", S), _arg("y", y), _arg("c", c))
    p = pick_forward(S, y)
    assert doc["value"] == pytest.approx(np.sum(np.exp(p) * c), rel=1e-12)
    np.testing.assert_allclose(doc["gradient"]["S"], pick_backward(np.exp(p) * c, S, y), rtol=1e-12)
    assert doc["gradient"]["y"] is None and "pick(S, y)" in doc["data"]["y"]


def test_onehot_has_no_gradient_and_its_labels_are_data(cli):
    doc = _json(cli, "L = sum(onehot(y, 3) * S)", "S=[[1,2,3],[4,5,6]]", "y=[2,0]")
    assert doc["value"] == 3 + 4
    np.testing.assert_allclose(doc["gradient"]["S"], [[0, 0, 1], [1, 0, 0]])
    assert doc["gradient"]["y"] is None
    bad = cli(["eval", "L = sum(onehot(y, 3) * S)", "S=[[1,2,3],[4,5,6]]", "y=[2,3]"])
    assert bad.exit_code == 2 and "y holds 3" in bad.stderr and "0…2" in bad.stderr
    literal = cli(["eval", "L = sum(onehot(y, C))", "y=[0]", "C=2"])
    assert literal.exit_code == 2 and "integer literal" in literal.stderr


def test_pick_steps_print_a_one_hot_scatter(cli):
    result = cli(["eval", "p = pick(S, y); L = sum(p * p)", "S=[[1,2],[3,4]]", "y=[1,0]", "--steps", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "S̄ += onehot(y, 2) ∘ p̄" in result.stdout
    assert "a one-hot scatter" in result.stdout


def test_forward_mode_and_the_hessian_through_a_gather(cli):
    doc = _json(cli, "L = sum(W[idx] ^ 3)", "W=[[1,2],[3,4]]", "idx=[1,1,0]", "--mode", "forward")
    np.testing.assert_allclose(doc["gradient"]["W"], [[3, 12], [54, 96]])
    h = cli(["hessian", "L = sum(W[idx] ^ 3)", "W=[[1,2],[3,4]]", "idx=[1,1,0]", "--json"])
    assert h.exit_code == 0, h.stderr
    hess = np.array(json.loads(h.stdout)["hessian"])
    np.testing.assert_allclose(np.diag(hess), [6, 12, 36, 48])


# ---- export and diff ---------------------------------------------------------------------------
def test_export_numpy_agrees(cli, tmp_path):
    program = "E = W[idx]; L = sum(E * E * c) + sum(pick(W, y)) + sum(onehot(y, 2) * W)"
    args = ["W=[[1,2],[3,4],[5,6]]", "idx=[0,2,0]", "c=[[1,2],[3,4],[5,6]]", "y=[1,0,1]"]
    doc = _json(cli, program, *args)
    result = cli(["export", program, *args, "--to", "numpy"])
    assert result.exit_code == 0, result.stderr
    script = tmp_path / "e.py"
    script.write_text(result.stdout, encoding="utf-8")
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    got = json.loads(ran.stdout)
    assert got["value"] == pytest.approx(doc["value"])
    np.testing.assert_allclose(got["gradient"]["W"], doc["gradient"]["W"])
    assert set(got["gradient"]) == {"W", "c"}


@pytest.mark.parametrize("target, text", [("torch", "idx.long()]"), ("jax", "idx.astype(int)]")])
def test_export_frameworks_write_integer_indexing(cli, target, text):
    result = cli(["export", "L = sum(W[idx]) + sum(pick(W, y)) + sum(onehot(y, 2))", "W=[[1,2],[3,4]]",
                  "idx=[0,0]", "y=[1,0]", "--to", target])
    assert result.exit_code == 0, result.stderr
    assert text in result.stdout and "one_hot" in result.stdout


def test_diff_refuses_integer_data_with_one_clear_line(cli):
    for program in ("E = W[idx]; L = sum(E)", "L = sum(pick(S, y))", "L = sum(onehot(y, 3))"):
        result = cli(["diff", program])
        assert result.exit_code == 2, program
        assert result.stderr.count("\n") == 1 and "integer data" in result.stderr, result.stderr


@pytest.mark.parametrize("program, args", [
    ("E = W[idx]; L = sum(E * E * c)", ["W=[[1,2],[3,4],[5,6]]", "idx=[0,2,0]", "c=[[1,2],[3,4],[5,6]]"]),
    ("L = sum(exp(pick(S, y))) + sum(onehot(y, 3) * S)", ["S=[[0.5,1,-1],[2,0.25,1]]", "y=[2,0]"]),
])
def test_symbolic_checks_read_integer_data_as_numbers(cli, program, args):
    """SymPy's oracle (and --exact) keep the indices as their values: no symbol to index with."""
    result = cli(["eval", program, *args, "--check", "sympy", "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    checks = json.loads(result.stdout)["checks"]["sympy"]
    assert checks and all(r["ok"] for r in checks.values()) and not {"idx", "y"} & set(checks)
    exact = cli(["eval", program, *args, "--exact", "--no-nodes"])
    assert exact.exit_code == 0 and "failed" not in exact.stdout, exact.stdout


def test_integer_data_has_no_tangent_and_no_answer_to_check(cli):
    base = ["E = W[idx]; L = sum(E * E)", "W=[[1,2],[3,4],[5,6]]", "idx=[0,2,0]"]
    seed = cli(["eval", *base, "--mode", "forward", "--seed", "idx"])
    assert seed.exit_code == 2 and "idx is data" in seed.stderr and "no tangent" in seed.stderr
    steps = cli(["eval", *base, "--mode", "forward", "--steps", "--no-nodes"])
    assert steps.exit_code == 0 and "start with Ẇ = E₀₀ (1 at W[0,0]):" in steps.stdout
    answer = cli(["check", *base, "--expect", "idx=[0,0,0]"])
    assert answer.exit_code == 2 and "idx is data" in answer.stderr
    right = cli(["check", *base, "--expect", "W=[[4,8],[0,0],[10,12]]"])
    assert right.exit_code == 0, right.stdout + right.stderr


def test_csv_rows_mark_integer_data(cli):
    result = cli(["eval", "L = sum(W[idx])", "W=[[1,2],[3,4]]", "idx=[1,1]", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2:] == ["idx[0],1.0,data", "idx[1],1.0,data"]
    assert '"W[1,0]",3.0,2.0' in lines
