"""Diagnoses that change one rule of the reverse walk: a ReLU mask, max routing,
softmax with cross-entropy, a missing factor of the chain, σ' at the wrong argument,
and a 1/2 left out.

Every wrong answer here is computed by hand in NumPy from the lecture's formulas (the
oracle), never taken from gradcli; the test asserts which mistake gradcli names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from clitools import run_cli, strict_json
from gradcli.core.ops import OPS
from gradcli.run.bindings import Binding
from gradcli.run.evaluate import evaluate
from gradcli.teach import mistakes
from gradcli.teach.homework import Answer, Request, adjoint_node, judge


def ev_of(source: str, **values):
    bindings = {}
    for name, v in values.items():
        value = np.asarray(v, dtype=float) if isinstance(v, (list, np.ndarray)) else float(v)
        bindings[name] = Binding(name, value, str(v), "test")
    return evaluate(source, bindings)


def verdict(source: str, name: str, answer, **values):
    """The verdict on one --expect NAME=answer."""
    ev = ev_of(source, **values)
    answer = np.asarray(answer, dtype=float) if np.ndim(answer) else float(answer)
    (v,) = judge(ev, Request(expect={name: Answer(answer)}))
    return v


def diagnosed(source: str, name: str, answer, **values):
    """The diagnosis of a wrong answer (which must be judged wrong)."""
    v = verdict(source, name, answer, **values)
    assert v.ok is False
    assert v.diagnosis is not None, "no diagnosis"
    return v.diagnosis


def formula_diagnosed(source: str, name: str, formula: str, **values):
    ev = ev_of(source, **values)
    (v,) = judge(ev, Request(formulas={name: formula}))
    assert v.ok is False
    assert v.diagnosis is not None, "no diagnosis"
    return v.diagnosis


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# ---- the ReLU mask ---------------------------------------------------------------------------
RELU = "y = relu(w*x)"


def test_relu_mask_missing_on_scalars():
    # z = w x = -6 < 0: ∂y/∂w = 0; without the mask it is x = 3
    d = diagnosed(RELU, "w", 3.0, w=-2, x=3)
    assert d.kind == "relu-mask"
    assert d.message == "the ReLU mask is missing: y = relu(a) passes the gradient only where a > 0"


def test_relu_mask_missing_as_a_formula():
    d = formula_diagnosed(RELU, "w", "x", w=-2, x=3)
    assert d.kind == "relu-mask"


def test_relu_mask_taken_from_the_output_on_scalars():
    # z = 6 > 0: ∂y/∂w = x = 3; with h = 6 for the mask: 6 x = 18
    d = diagnosed(RELU, "w", 18.0, w=2, x=3)
    assert d.kind == "relu-mask" and "taken from the output" in d.message


MLP = "h = relu(W1@x + b1); s = W2@h + b2; L = sum((s - t)^2)"
MLP_VALUES = dict(
    W1=[[1.0, -2.0], [0.5, 1.0], [-1.0, 0.3]], x=[0.4, 0.7], b1=[0.1, -0.2, 0.2],
    W2=[[0.3, -0.6, 1.2], [0.8, 0.1, -0.5]], b2=[0.05, -0.1], t=[1.0, -1.0],
)


def mlp_by_hand():
    v = {k: np.array(x) for k, x in MLP_VALUES.items()}
    z = v["W1"] @ v["x"] + v["b1"]
    h = np.maximum(z, 0)
    s = v["W2"] @ h + v["b2"]
    hbar = v["W2"].T @ (2 * (s - v["t"]))
    return v, z, h, hbar


def test_relu_mask_on_vectors_missing_and_inverted():
    v, z, h, hbar = mlp_by_hand()
    assert (z > 0).any() and (z <= 0).any()  # a mask that matters
    d = diagnosed(MLP, "b1", hbar, **MLP_VALUES)  # the mask left out
    assert d.kind == "relu-mask" and "missing" in d.message
    d = diagnosed(MLP, "b1", hbar * (z <= 0), **MLP_VALUES)  # 1 where z ≤ 0
    assert d.kind == "relu-mask" and "inverted" in d.message
    assert "h = relu(" in d.message


def test_relu_mask_on_matrices():
    v, z, h, hbar = mlp_by_hand()
    d = diagnosed(MLP, "W1", np.outer(hbar, v["x"]), **MLP_VALUES)
    assert d.kind == "relu-mask" and "missing" in d.message
    d = diagnosed(MLP, "W1", np.outer(hbar * h, v["x"]), **MLP_VALUES)  # h for 1[z > 0]
    assert d.kind == "relu-mask" and "taken from the output" in d.message


def test_relu_mask_on_a_batch_matrix_and_as_a_formula():
    source = "H = relu(X@W + b); L = sum(H*C)"
    X = np.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.2]])
    W = np.array([[0.7, -0.4, 0.1], [0.2, 0.5, -0.9]])
    b = np.array([0.1, -0.1, 0.3])
    C = np.array([[1.0, 2.0, -1.0], [0.5, -0.3, 0.8], [1.5, 0.4, -0.7]])
    Z = X @ W + b
    assert (Z > 0).any() and (Z <= 0).any()
    d = diagnosed(source, "W", X.T @ C, X=X, W=W, b=b, C=C)  # no mask at all
    assert d.kind == "relu-mask"
    d = formula_diagnosed(source, "W", "X.T @ C", X=X, W=W, b=b, C=C)
    assert d.kind == "relu-mask"


def test_leaky_relu_mask_missing_on_vectors():
    z, u = np.array([1.5, -2.0, 0.3, -0.1]), np.array([1.0, 2.0, -1.0, 0.5])
    source = "h = leaky_relu(z, 0.1); L = sum(u*h)"
    d = diagnosed(source, "z", u, z=z, u=u)  # the truth is u where z > 0, 0.1 u elsewhere
    assert d.kind == "relu-mask" and "missing" in d.message and "slope" in d.message
    d = diagnosed(source, "z", u * np.where(z > 0, 0.1, 1.0), z=z, u=u)
    assert d.kind == "relu-mask" and "inverted" in d.message


def test_every_relu_mask_missing_in_a_two_layer_net():
    W1 = np.array([[1.0, -2.0], [0.5, 1.0], [-1.0, 0.3]])
    W2 = np.array([[0.3, -0.6, 1.2], [-0.8, 0.1, -0.5]])
    x, u = np.array([0.4, 0.7]), np.array([1.0, -2.0])
    z1 = W1 @ x
    h1 = np.maximum(z1, 0)
    z2 = W2 @ h1
    assert (z1 <= 0).any() and (z2 <= 0).any()
    no_masks = W1.T @ (W2.T @ u)  # x̄ with neither mask
    d = diagnosed("h1 = relu(W1@x); h2 = relu(W2@h1); L = dot(u, h2)", "x", no_masks, W1=W1, W2=W2, x=x, u=u)
    assert d.kind == "relu-mask" and d.message.startswith("every ReLU mask is missing (h2 = relu(")


# ---- max and min routing ----------------------------------------------------------------------
LECTURE_MAX = "f = (x+y)*max(y,z)"  # x=1 y=2 z=0: ∂f/∂z = (x+y)·1[z > y] = 0


def test_max_routed_to_the_wrong_input_on_scalars():
    d = diagnosed(LECTURE_MAX, "z", 3.0, x=1, y=2, z=0)  # x + y sent to z
    assert d.kind == "max-routing"
    assert "max(y, z)" in d.message and "wrong input" in d.message
    d = formula_diagnosed(LECTURE_MAX, "z", "x+y", x=1, y=2, z=0)
    assert d.kind == "max-routing"


def test_max_routed_on_vectors_and_to_every_element():
    u, v, w = np.array([1.0, -2.0, 3.0]), np.array([0.5, 1.0, 4.0]), np.array([2.0, -1.0, 0.5])
    source = "m = max(u, v); L = sum(w*m)"
    d = diagnosed(source, "u", w * (v > u), u=u, v=v, w=w)  # swapped
    assert d.kind == "max-routing" and "wrong input" in d.message
    d = diagnosed(source, "u", w, u=u, v=v, w=w)  # to both
    assert d.kind == "max-routing" and "every input" in d.message
    # the max of one vector: the gradient goes to its largest element only
    x = np.array([1.0, 3.0, 2.0])
    d = diagnosed("s = 5*max(x)", "x", np.full(3, 5.0), x=x)
    assert d.kind == "max-routing" and "every element" in d.message
    d = diagnosed("s = 5*max(x)", "x", 5.0 * (x == x.min()), x=x)
    assert d.kind == "max-routing" and "wrong element" in d.message


def test_max_routed_on_matrices():
    A = np.array([[1.0, -2.0], [3.0, 0.5]])
    B = np.array([[0.0, 1.0], [-1.0, 2.0]])
    C = np.array([[2.0, 3.0], [-1.0, 4.0]])
    d = diagnosed("H = min(A, B); L = sum(C*H)", "A", C * (A > B), A=A, B=B, C=C)
    assert d.kind == "max-routing" and "min(A, B)" in d.message
    d = diagnosed("H = min(A, B); L = sum(C*H)", "B", C, A=A, B=B, C=C)  # to both
    assert d.kind == "max-routing" and "every input (A and B)" in d.message
    d = diagnosed("s = 2*min(A)", "A", np.full((2, 2), 2.0), A=A)  # the min of one matrix: to every element
    assert d.kind == "max-routing" and "min routed to every element" in d.message


# ---- softmax with cross-entropy ---------------------------------------------------------------
SOFTMAX = "z = W@h + b; p = softmax(z); L = -sum(y*log(p))"
SM = dict(W=[[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]], h=[0.3, -0.2], b=[0.1, 0.2, 0.3], y=[0.0, 1.0, 0.0])


def sm_by_hand():
    v = {k: np.array(x) for k, x in SM.items()}
    p = softmax(v["W"] @ v["h"] + v["b"])
    return v, p


def test_softmax_p_for_p_minus_y_on_vectors():
    v, p = sm_by_hand()
    d = diagnosed(SOFTMAX, "z", p, **SM)
    assert d.kind == "softmax"
    assert d.message == ("softmax with cross-entropy: ∂L/∂z taken as p instead of p − y (the targets y left out)")
    d = diagnosed(SOFTMAX, "z", v["y"] - p, **SM)  # y − p: a softmax mistake before a plain sign
    assert d.kind == "softmax" and "y − p instead of p − y" in d.message
    d = diagnosed(SOFTMAX, "h", v["W"].T @ p, **SM)  # the h̄ that follows from z̄ = p
    assert d.kind == "softmax"
    d = formula_diagnosed(SOFTMAX, "z", "p", **SM)
    assert d.kind == "softmax"


def test_softmax_on_matrices():
    v, p = sm_by_hand()
    d = diagnosed(SOFTMAX, "W", np.outer(p, v["h"]), **SM)
    assert d.kind == "softmax" and "instead of p − y" in d.message
    # y − p for p − y flips every sign after z: downstream of z that is the plain sign mistake
    d = diagnosed(SOFTMAX, "W", np.outer(v["y"] - p, v["h"]), **SM)
    assert d.kind == "sign"


def test_softmax_on_a_scalar():
    # a temperature-like scale s: z = s a, ∂L/∂s = (p − y)·a; with z̄ = p it is p·a
    a, y = np.array([1.0, -0.5, 2.0]), np.array([1.0, 0.0, 0.0])
    p = softmax(0.7 * a)
    d = diagnosed("z = s*a; p = softmax(z); L = -sum(y*log(p))", "s", float(p @ a), s=0.7, a=a, y=y)
    assert d.kind == "softmax"


BATCH = "Z = X@W + b; P = softmax(Z, 1); L = -mean(sum(Y*log(P), 1))"
BATCH_VALUES = dict(X=[[1.0, 2.0], [3.0, 4.0], [-1.0, 0.5]], W=[[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]],
                    b=[0.1, 0.2, 0.3], Y=[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def test_softmax_on_a_batch_without_the_one_over_n():
    v = {k: np.array(x) for k, x in BATCH_VALUES.items()}
    P = softmax(v["X"] @ v["W"] + v["b"], axis=1)
    n = 3
    d = diagnosed(BATCH, "W", v["X"].T @ (P - v["Y"]), **BATCH_VALUES)  # the 1/N left out
    assert d.kind == "softmax" and "1/N" in d.message and "N = 3" in d.message
    d = diagnosed(BATCH, "Z", P / n, **BATCH_VALUES)  # P for P − Y (with the 1/N)
    assert d.kind == "softmax" and "targets Y left out" in d.message
    d = diagnosed(BATCH, "b", np.sum(P, axis=0), **BATCH_VALUES)  # P, and no 1/N
    assert d.kind == "softmax" and "1/N" in d.message


def test_softmax_in_the_prelude_cross_entropy():
    z = np.array([1.0, 2.0, 0.5, -1.0])
    d = diagnosed("L = cross_entropy(z, 2)", "z", softmax(z), z=z)
    assert d.kind == "softmax"
    assert "#" not in d.message and "log_softmax" not in d.message


# ---- a missing factor of the chain -------------------------------------------------------------
def test_chain_factor_missing_on_scalars():
    # L = sin(x y)^2: ∂L/∂x = 2 sin(a) cos(a) y; without cos(a) (∂b/∂a) it is 2 sin(a) y
    x, y = 0.7, 1.3
    a = x * y
    d = diagnosed("a = x*y; b = sin(a); L = b^2", "x", 2 * np.sin(a) * y, x=x, y=y)
    assert d.kind == "chain"
    assert d.message == "a factor of the chain is missing: ∂b/∂a at b = sin(a)"
    d = formula_diagnosed("a = x*y; b = sin(a); L = b^2", "x", "2*b*y", x=x, y=y)
    assert d.kind == "chain"


TANH_LAYER = "z = W@x; h = tanh(z); L = sum(u*h)"
TL = dict(W=[[0.5, -0.3], [0.2, 0.4], [-0.6, 0.1]], x=[1.0, -2.0], u=[1.0, 2.0, -0.5])


def test_chain_factor_missing_on_vectors_and_matrices():
    W, x, u = (np.array(TL[k]) for k in ("W", "x", "u"))
    d = diagnosed(TANH_LAYER, "x", W.T @ u, **TL)  # tanh' left out
    assert d.kind == "chain" and "∂h/∂z at h = tanh(z)" in d.message
    d = diagnosed(TANH_LAYER, "W", np.outer(u, x), **TL)
    assert d.kind == "chain"


# ---- σ' at the wrong argument ------------------------------------------------------------------
SIG = "h = sigmoid(z); L = 3*h"


def test_sigma_prime_at_the_output_on_scalars():
    z = 0.7
    h = sigmoid(z)
    d = diagnosed(SIG, "z", 3 * sigmoid(h) * (1 - sigmoid(h)), z=z)
    assert d.kind == "sigma" and "taken at the output" in d.message
    d = diagnosed(SIG, "z", 3 * z * (1 - z), z=z)
    assert d.kind == "sigma" and "z(1 − z) written for h(1 − h)" in d.message
    d = formula_diagnosed(SIG, "z", "3*z*(1-z)", z=z)
    assert d.kind == "sigma"


LAYER = "z = W@x + b; h = sigmoid(z); L = sum(u*h)"
LV = dict(W=[[0.5, -0.3], [0.2, 0.4], [-0.6, 0.1]], x=[1.0, -2.0], b=[0.1, 0.0, -0.2], u=[1.0, 2.0, -0.5])


def test_sigma_prime_at_the_output_on_vectors_and_matrices():
    W, x, b, u = (np.array(LV[k]) for k in ("W", "x", "b", "u"))
    h = sigmoid(W @ x + b)
    wrong = u * sigmoid(h) * (1 - sigmoid(h))
    d = diagnosed(LAYER, "b", wrong, **LV)
    assert d.kind == "sigma" and "σ(h)(1 − σ(h))" in d.message
    d = diagnosed(LAYER, "W", np.outer(wrong, x), **LV)
    assert d.kind == "sigma"


def test_sigma_prime_at_the_output_in_one_layer_of_two():
    W1 = np.array([[0.5, -0.3], [0.2, 0.4]])
    W2 = np.array([[1.0, -1.5], [0.7, 0.2]])
    x, u = np.array([1.0, -2.0]), np.array([1.0, 2.0])
    h1 = sigmoid(W1 @ x)
    h2 = sigmoid(W2 @ h1)
    z2bar = u * h2 * (1 - h2)  # right in the top layer
    wrong = (W2.T @ z2bar) * sigmoid(h1) * (1 - sigmoid(h1))  # σ'(h1) for σ'(z1) in the first
    d = diagnosed("h1 = sigmoid(W1@x); h2 = sigmoid(W2@h1); L = dot(u, h2)", "x", W1.T @ wrong,
                  W1=W1, W2=W2, x=x, u=u)
    assert d.kind == "sigma" and "at h1 = sigmoid(" in d.message


def test_tanh_prime_of_the_input_on_matrices():
    W, x, u = (np.array(TL[k]) for k in ("W", "x", "u"))
    z = W @ x
    d = diagnosed(TANH_LAYER, "W", np.outer(u * (1 - z**2), x), **TL)
    assert d.kind == "sigma" and "1 − z² written for 1 − h²" in d.message


# ---- factors: a 1/2 left out, 2, and the 1/N of a mean ----------------------------------------
def test_half_left_out_on_scalars():
    w, x, t = 1.5, 3.0, 1.0
    r = w * x - t
    d = diagnosed("L = 0.5*(w*x - t)^2", "w", 2 * r * x, w=w, x=x, t=t)
    assert d.kind == "factor" and "the 1/2 of L = 0.5 * " in d.message
    d = diagnosed("L = 0.5*(w*x - t)^2", "w", r * x / 2, w=w, x=x, t=t)
    assert d.kind == "factor" and "factor 2 is missing" in d.message
    d = formula_diagnosed("L = 0.5*(w*x - t)^2", "w", "2*(w*x - t)*x", w=w, x=x, t=t)
    assert d.kind == "factor" and "1/2" in d.message


def test_half_left_out_on_vectors_and_matrices():
    source = "r = W@x - t; L = sum(r^2)/2"
    W, x, t = np.array([[1.0, 2.0], [-0.5, 0.3]]), np.array([0.4, -1.2]), np.array([0.2, 0.1])
    r = W @ x - t
    d = diagnosed(source, "x", 2 * W.T @ r, W=W, x=x, t=t)
    assert d.kind == "factor" and "1/2" in d.message
    d = diagnosed(source, "W", 2 * np.outer(r, x), W=W, x=x, t=t)
    assert d.kind == "factor" and "1/2" in d.message


def test_mean_factor_on_matrices():
    X, w, t = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.3], [-1.0, 1.0]]), np.array([0.3, -0.2]), np.zeros(4)
    r = X @ w - t
    d = diagnosed("L = mean((X@w - t)^2)", "w", 2 * X.T @ r, X=X, w=w, t=t)  # the 1/4 left out
    assert d.kind == "factor" and "m = 4" in d.message


# ---- no diagnosis for a right answer; never an internal name -------------------------------------
@pytest.mark.parametrize("source, name, values", [
    (RELU, "w", dict(w=-2, x=3)),
    (LECTURE_MAX, "y", dict(x=1, y=2, z=0)),
    (MLP, "W1", MLP_VALUES),
    (SOFTMAX, "W", SM),
    (BATCH, "W", BATCH_VALUES),
    (SIG, "z", dict(z=0.7)),
])
def test_a_right_answer_gets_no_diagnosis(source, name, values):
    ev = ev_of(source, **values)
    truth = ev.adjoints[adjoint_node(ev, name, "test")]
    (v,) = judge(ev, Request(expect={name: Answer(truth)}))
    assert v.ok is True and v.diagnosis is None


#: op names a student never writes (or writes differently: ``@`` for matmul)
_INTERNAL = [name for name, op in OPS.items() if not op.user] + ["matmul", "add", "sub", "mul", "div", "neg",
                                                                  "pow"]


@pytest.mark.parametrize("source, names, values", [
    ("L = cross_entropy(z, 2)", ["z"], dict(z=[1.0, 2.0, 0.5, -1.0])),
    ("def layer(W, x) = relu(W@x)\nh = layer(W, x); L = sum(h*u)", ["W", "x"],
     dict(W=[[1.0, -1.0], [0.5, 2.0]], x=[1.0, 0.5], u=[1.0, -2.0])),
    ("def act(z) = sigmoid(z)\nL = sum(u*act(W@x))", ["W"], dict(W=[[1.0, -1.0], [0.5, 2.0]], x=[1.0, 0.5],
                                                                  u=[1.0, -2.0])),
    ("s = 5*max(x) + min(x[0], x[1])", ["x"], dict(x=[1.0, 3.0, 2.0])),
    (MLP, ["W1", "b1", "x"], MLP_VALUES),
    (BATCH, ["W", "X", "Z"], BATCH_VALUES),
])
def test_no_message_names_what_the_student_never_wrote(source, names, values):
    ev = ev_of(source, **values)
    count = 0
    for name in names:
        for m in mistakes.mistakes(ev, adjoint_node(ev, name, "test")):
            count += 1
            assert "#" not in m.message and "%" not in m.message, m.message
            for op in _INTERNAL:
                if not re.search(rf"\b{op}\b", source):
                    assert not re.search(rf"\b{op}\b", m.message), (op, m.message)
    assert count > 0


def test_candidates_are_computed_only_as_far_as_needed():
    ev = ev_of(RELU, w=-2, x=3)
    node = adjoint_node(ev, "w", "test")
    candidates = mistakes.mistakes(ev, node)
    first = next(iter(candidates))
    assert first.kind == "relu-mask"
    assert len(candidates._found) < len(list(candidates))


def test_a_class_sheet_names_the_new_mistakes_and_its_json_fits_the_schema(tmp_path):
    """The gradebook's JSON accepts every mistake class (its schema listed only the first six)."""
    sheet = tmp_path / "answers.csv"
    sheet.write_text("id,z,y\nann,3,2\nben,0,5\n", encoding="utf-8")  # ann: x + y sent to z by the max
    result = run_cli(["check", LECTURE_MAX, "x=1", "y=2", "z=0", "--answers", str(sheet), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    students = {s["id"]: s["answers"] for s in doc["students"]}
    assert students["ann"]["z"]["diagnosis"]["kind"] == "max-routing"
    assert students["ben"]["z"]["status"] == "right" and "diagnosis" not in students["ben"]["z"]
    jsonschema = pytest.importorskip("jsonschema")
    path = Path(__file__).resolve().parent.parent / "gradcli" / "schemas" / "gradebook.schema.json"
    jsonschema.validate(doc, json.loads(path.read_text(encoding="utf-8")))
    broken = json.loads(json.dumps(doc))
    broken["students"][0]["answers"]["z"]["diagnosis"]["kind"] = "max-routing+"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("source, name, values", [
    ("y = sqrt(x) + relu(x)*x", "x", dict(x=0.0)),  # an infinite partial and a kink
    ("y = sum(sqrt(v) * max(v, w))", "w", dict(v=[0.0, 1.0], w=[0.0, 2.0])),
    ("L = cross_entropy(z, 0)", "z", dict(z=[700.0, -700.0, 0.0])),
    ("h = sigmoid(z); L = sum(h*log(h))", "z", dict(z=[40.0, -40.0])),
])
def test_diagnosing_at_awkward_points_never_fails(source, name, values):
    """Reruns that overflow or meet an infinite partial explain nothing; they never raise
    (and, with filterwarnings = error, never warn)."""
    ev = ev_of(source, **values)
    node = adjoint_node(ev, name, "test")
    truth = ev.adjoints[node]
    candidates = list(mistakes.mistakes(ev, node))
    assert all(isinstance(m.message, str) and m.message for m in candidates)
    wrong = np.asarray(truth) + 0.123 if np.ndim(truth) else 0.123 + (truth if np.isfinite(truth) else 0.0)
    v = verdict(source, name, wrong, **values)
    assert v.ok is False
