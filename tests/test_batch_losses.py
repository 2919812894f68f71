"""Issue 23: the prelude's batch losses and norms -- batchnorm, layernorm, svm_loss and
softmax_loss -- against NumPy references written here as CS231n's assignments write them
(naive loops for the losses, the staged backward pass for batch normalisation), against
gradcli's finite differences with the labels held fixed, and batchnorm's compact backward
formula (printed by --steps) against the engine.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcli.language.prelude import DEFAULTS, NAMES

EPS = 1e-5


def _arg(name, value):
    return f"{name}={json.dumps(np.asarray(value).tolist())}"


def _eval(cli, program, *argv):
    result = cli(["eval", program, *argv, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# ---- references, CS231n style ---------------------------------------------------------------
def svm_loss_naive(S, y):
    N, C = S.shape
    loss, dS = 0.0, np.zeros(S.shape)
    for i in range(N):
        for j in range(C):
            if j == y[i]:
                continue
            margin = S[i, j] - S[i, y[i]] + 1
            if margin > 0:
                loss += margin
                dS[i, j] += 1
                dS[i, y[i]] -= 1
    return loss / N, dS / N


def softmax_loss_naive(S, y):
    N, C = S.shape
    loss, dS = 0.0, np.zeros(S.shape)
    for i in range(N):
        shifted = S[i] - np.max(S[i])
        p = np.exp(shifted) / np.sum(np.exp(shifted))
        loss += -np.log(p[y[i]])
        for j in range(C):
            dS[i, j] += p[j] - (j == y[i])
    return loss / N, dS / N


def batchnorm_forward(x, gamma, beta, eps=EPS):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, mu, var, xhat, gamma, eps)


def batchnorm_backward(dout, cache):
    """The staged backward pass (the computational graph of batch normalisation, node by node)."""
    x, mu, var, xhat, gamma, eps = cache
    N = x.shape[0]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + eps) ** -1.5, axis=0)
    dmu = np.sum(-dxhat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / N + dmu / N
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def layernorm_forward(x, gamma, beta, eps=EPS):
    out, cache = batchnorm_forward(x.T, 1.0, 0.0, eps)
    return gamma * out.T + beta, cache


def layernorm_backward(dout, gamma, cache):
    dxt, _, _ = batchnorm_backward((dout * gamma).T, cache)
    return dxt.T


@pytest.fixture
def point():
    rng = np.random.default_rng(231)
    return {
        "x": rng.normal(size=(5, 3)) * 2 + 1, "gamma": rng.normal(size=3), "beta": rng.normal(size=3),
        "c": rng.normal(size=(5, 3)), "S": rng.normal(size=(6, 4)), "y": np.array([0, 3, 1, 1, 2, 3]),
    }


def test_the_prelude_defines_them_with_an_optional_eps():
    assert {"batchnorm", "layernorm", "svm_loss", "softmax_loss"} <= NAMES
    assert DEFAULTS == {"batchnorm": "1e-5", "layernorm": "1e-5"}


def test_batchnorm_matches_cs231n(cli, point):
    x, gamma, beta, c = point["x"], point["gamma"], point["beta"], point["c"]
    args = [_arg(k, point[k]) for k in ("x", "gamma", "beta", "c")]
    out, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = batchnorm_backward(c, cache)
    doc = _eval(cli, "L = sum(batchnorm(x, gamma, beta) * c)", *args)
    assert doc["value"] == pytest.approx(np.sum(out * c), rel=1e-12)
    np.testing.assert_allclose(doc["gradient"]["x"], dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(doc["gradient"]["gamma"], dgamma, rtol=1e-10)
    np.testing.assert_allclose(doc["gradient"]["beta"], dbeta, rtol=1e-12)
    explicit = _eval(cli, "L = sum(batchnorm(x, gamma, beta, 0.1) * c)", *args)
    out_01, cache_01 = batchnorm_forward(x, gamma, beta, 0.1)
    assert explicit["value"] == pytest.approx(np.sum(out_01 * c), rel=1e-12)
    np.testing.assert_allclose(explicit["gradient"]["x"], batchnorm_backward(c, cache_01)[0], rtol=1e-9)


def test_batchnorm_compact_formula_is_printed_and_equals_the_engine(cli, point):
    from gradcli.run.bindings import Binding
    from gradcli.run.evaluate import prepare, run
    from gradcli.teach.batchnorm import batchnorm_notes, compact_dx

    values = {k: point[k].tolist() for k in ("x", "gamma", "beta", "c")}
    bound = {k: Binding(k, np.asarray(v, dtype=float), json.dumps(v), "test") for k, v in values.items()}
    ev = run(prepare("L = sum(batchnorm(x, gamma, beta) * c)", bound))
    notes = batchnorm_notes(ev)
    assert len(notes) == 1 and notes[0]["x"] == "x"
    np.testing.assert_allclose(notes[0]["value"], ev.gradient["x"], rtol=1e-9, atol=1e-12)
    # and by itself against CS231n's staged backward pass
    out, cache = batchnorm_forward(point["x"], point["gamma"], point["beta"])
    sigma = np.sqrt(point["x"].var(axis=0) + EPS)
    np.testing.assert_allclose(compact_dx(point["x"], point["gamma"], sigma, point["c"]),
                               batchnorm_backward(point["c"], cache)[0], rtol=1e-9, atol=1e-12)
    steps = cli(["eval", "L = sum(batchnorm(x, gamma, beta) * c)", *[_arg(k, v) for k, v in values.items()],
                 "--steps", "--no-nodes"])
    assert steps.exit_code == 0, steps.stderr
    assert "batch normalisation's backward pass in one formula (CS231n)" in steps.stdout
    assert "x̄ = gamma / (N σ) ∘ (N batchnorm#1̄ − Σₙ batchnorm#1̄ − x̂ ∘ Σₙ (batchnorm#1̄ ∘ x̂))" in steps.stdout


def test_layernorm_matches_the_reference(cli, point):
    x, gamma, beta, c = point["x"], point["gamma"], point["beta"], point["c"]
    out, cache = layernorm_forward(x, gamma, beta)
    doc = _eval(cli, "L = sum(layernorm(x, gamma, beta) * c)", *[_arg(k, point[k]) for k in ("x", "gamma", "beta", "c")])
    assert doc["value"] == pytest.approx(np.sum(out * c), rel=1e-12)
    np.testing.assert_allclose(doc["gradient"]["x"], layernorm_backward(c, gamma, cache), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss, reference", [("svm_loss", svm_loss_naive), ("softmax_loss", softmax_loss_naive)])
def test_batch_losses_match_the_naive_loops(cli, point, loss, reference):
    S, y = point["S"], point["y"]
    value, dS = reference(S, y)
    doc = _eval(cli, f"L = {loss}(S, y)", _arg("S", S), _arg("y", y))
    assert doc["value"] == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(doc["gradient"]["S"], dS, rtol=1e-10, atol=1e-14)
    assert doc["gradient"]["y"] is None and "labels" in doc["data"]["y"]


@pytest.mark.parametrize("loss", ["svm_loss", "softmax_loss"])
def test_finite_differences_pass_with_the_labels_fixed(cli, point, loss):
    """Perturbing y by h would make it no label at all (an error) and move the loss: the check
    passes because the labels are data, held fixed."""
    result = cli(["eval", f"L = {loss}(S, y)", _arg("S", point["S"]), _arg("y", point["y"]), "--check", "fd",
                  "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["checks"]["fd"]) == {"S"} and doc["checks"]["fd"]["S"]["ok"]


def test_a_label_of_one_and_a_half_is_an_error_naming_it(cli, point):
    result = cli(["eval", "L = svm_loss(S, y)", _arg("S", point["S"]), "y=[0, 1.5, 1, 1, 2, 3]"])
    assert result.exit_code == 2
    assert "y holds 1.5" in result.stderr and "integer labels of pick" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_grader_keeps_the_labels_fixed(cli):
    """The softmax gradient (P − Y)/N is right only for the true labels: the grader's other points
    keep y, so the textbook answer passes at every point and a wrong N fails."""
    argv = ["check", "L = softmax_loss(S, y)", "S=[[0.4,1.0,-0.3,0.2],[1.5,-0.2,0.3,0.1],[0.0,0.9,-1.1,0.6]]",
            "y=[0, 3, 1]"]
    right = cli([*argv, "--expect-formula", "S=(softmax(S) - onehot(y, 4))/3"])
    assert right.exit_code == 0, right.stdout + right.stderr
    assert "other points" in right.stdout
    wrong = cli([*argv, "--expect-formula", "S=(softmax(S) - onehot(y, 4))/4"])
    assert wrong.exit_code == 1


def test_the_points_module_holds_integer_data_fixed():
    from gradcli.teach.points import input_kinds

    env = {"y": np.array([0.0, 3.0, 1.0]), "S": np.ones((3, 4))}
    assert input_kinds(env)["y"] == "whole"
    assert input_kinds(env, integers=["y"])["y"] == "fixed"


def test_a_user_batchnorm_gets_no_cs231n_note(cli):
    result = cli(["eval", "def batchnorm(x, g, b) = g*x + b; L = sum(batchnorm(x, 2, 1))", "x=[[1,2],[3,5]]",
                  "--steps", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "CS231n" not in result.stdout and "x̄ = [[2, 2]," in result.stdout.replace("∂L/∂x = ", "")
