"""Structural diagnoses: a missing or extra transpose, a broadcast gradient not summed
over the batch, shared weights over time steps, two mistakes at once, and a formula's
shape error said in the student's own words.

Every right and every wrong answer here is computed by hand with NumPy from the
lecture's formulas (x̄ = Wᵀ ā, b̄ = Σ_rows Z̄, ∂L/∂Wh = Σ_t ā_t h_{t−1}ᵀ, ...), never
taken from gradcli.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from clitools import run_cli, strict_json
from gradcli.run.bindings import Binding
from gradcli.run.evaluate import evaluate
from gradcli.teach import homework
from gradcli.teach.formula_shapes import explain

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
#: names a message must never show: gradcli's anonymous nodes and op names the student did not write
INTERNAL = re.compile(r"%\d|\bmatmul\b|\bnode\b|\bunbroadcast\b")


def program(source: str, **values) -> object:
    bindings = {k: Binding(k, np.asarray(v, dtype=float) if np.ndim(v) else float(v), "", "argument")
                for k, v in values.items()}
    return evaluate(source, bindings)


def number(ev, name: str, answer):
    (v,) = homework.judge(ev, homework.Request(expect={name: homework.Answer(answer)}))
    return v


def formula(ev, name: str, text: str):
    (v,) = homework.judge(ev, homework.Request(formulas={name: text}))
    return v


def kind(v) -> str | None:
    assert v.ok is False
    if v.diagnosis is None:
        return None
    assert not INTERNAL.search(v.diagnosis.message), v.diagnosis.message
    return v.diagnosis.kind


def right(v) -> None:
    assert v.ok is True and v.diagnosis is None


RNG = np.random.default_rng(20)
W = RNG.normal(size=(3, 3))
X3 = RNG.normal(size=3)


# ---- transposed: a vector through W @ x -------------------------------------------------------
VEC = "a = W @ x; h = tanh(a); s = sum(h*h)"
A = W @ X3
H = np.tanh(A)
DA = 2 * H * (1 - H**2)  # ā = 2h ∘ (1 − h²)


def test_transposed_vector_number():
    ev = program(VEC, W=W, x=X3)
    right(number(ev, "x", W.T @ DA))
    v = number(ev, "x", W @ DA)  # W ā for Wᵀ ā
    assert kind(v) == "transposed"
    assert v.diagnosis.message == "a transpose is missing: the adjoint of x through a = W @ x is Wᵀ ā, not W ā"


def test_transposed_vector_formula():
    ev = program(VEC, W=W, x=X3)
    right(formula(ev, "x", "transpose(W) @ (2*h*(1-h^2))"))
    assert kind(formula(ev, "x", "W @ (2*h*(1-h^2))")) == "transposed"


def test_transposed_vector_on_the_left():
    # s = sum(tanh(x @ W)): x̄ = W ḡ; the mistake writes Wᵀ ḡ (a transpose too many)
    ev = program("s = sum(tanh(x @ W))", W=W, x=X3)
    g = 1 - np.tanh(X3 @ W) ** 2
    right(number(ev, "x", W @ g))
    v = number(ev, "x", W.T @ g)
    assert kind(v) == "transposed" and "a transpose too many" in v.diagnosis.message
    assert "x @ W" in v.diagnosis.message


def test_transposed_through_a_transpose_the_program_wrote():
    # s = sum(tanh(W.T @ x)): x̄ = W ḡ; writing Wᵀ ḡ (the forward matrix again) is a transpose too many
    ev = program("s = sum(tanh(W.T @ x))", W=W, x=X3)
    g = 1 - np.tanh(W.T @ X3) ** 2
    right(number(ev, "x", W @ g))
    v = number(ev, "x", W.T @ g)
    assert kind(v) == "transposed"
    assert v.diagnosis.message == ("a transpose too many: the adjoint of x through W.T @ x is W ḡ, not Wᵀ ḡ "
                                   "(ḡ: the adjoint of W.T @ x)")


def test_transposed_upstream_of_the_question():
    # two layers: the question is W1, the transpose is forgotten at W2 (δ1 = (W2 δ2) ∘ σ'(z1))
    w1, w2, x = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 3)), RNG.normal(size=2)
    ev = program("z1 = W1 @ x; h1 = sigmoid(z1); z2 = W2 @ h1; s = sum(tanh(z2))", W1=w1, W2=w2, x=x)
    h1 = 1 / (1 + np.exp(-(w1 @ x)))
    d2 = 1 - np.tanh(w2 @ h1) ** 2
    right(number(ev, "W1", np.outer((w2.T @ d2) * h1 * (1 - h1), x)))
    v = number(ev, "W1", np.outer((w2 @ d2) * h1 * (1 - h1), x))
    assert kind(v) == "transposed" and "h1 through z2 = W2 @ h1 is W2ᵀ dz2, not W2 dz2" in v.diagnosis.message


def test_transposed_matrix_product():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3))
    ev = program("C = A @ B; h = tanh(C); s = sum(h)", A=a, B=b)
    g = 1 - np.tanh(a @ b) ** 2
    right(number(ev, "A", g @ b.T))
    v = number(ev, "A", g @ b)  # Ḡ B for Ḡ Bᵀ
    assert kind(v) == "transposed" and "is C̄ Bᵀ, not C̄ B" in v.diagnosis.message
    assert kind(formula(ev, "A", "(1 - h^2) @ B")) == "transposed"
    right(formula(ev, "A", "(1 - h^2) @ transpose(B)"))
    # the existing whole-answer transpose (x δᵀ for δ xᵀ) stays
    assert kind(number(ev, "B", (a.T @ g).T)) == "transposed"


def test_a_symmetric_matrix_offers_no_transpose():
    s = W + W.T
    ev = program(VEC, W=s, x=X3)
    d = 2 * np.tanh(s @ X3) * (1 - np.tanh(s @ X3) ** 2)
    right(number(ev, "x", s @ d))  # W ā equals Wᵀ ā: right, not a mistake


# ---- broadcast: a bias added to every row ----------------------------------------------------
XB = RNG.normal(size=(4, 3))
WB = RNG.normal(size=(3, 2))
BB = RNG.normal(size=2)
LAYER = "Z = X @ W + b; H = tanh(Z); L = sum(H)"
DZ = 1 - np.tanh(XB @ WB + BB) ** 2  # Z̄, one row per example


def test_broadcast_bias_numbers():
    ev = program(LAYER, X=XB, W=WB, b=BB)
    right(number(ev, "b", DZ.sum(axis=0)))
    v = number(ev, "b", DZ)  # the un-reduced adjoint: shape (4, 2) where (2,) belongs
    assert v.how == "expected shape (2,), got (4, 2)"
    assert kind(v) == "broadcast" and "not summed over the batch" in v.diagnosis.message
    assert "all 4 rows of Z = (X @ W) + b" in v.diagnosis.message
    v = number(ev, "b", DZ[0])
    assert kind(v) == "broadcast" and "only the first row" in v.diagnosis.message
    v = number(ev, "b", DZ.mean(axis=0))
    assert kind(v) == "factor" and "averaged, not summed" in v.diagnosis.message and "N = 4" in v.diagnosis.message


def test_broadcast_bias_formulas():
    ev = program(LAYER, X=XB, W=WB, b=BB)
    right(formula(ev, "b", "sum(1 - H^2, 0)"))
    assert kind(formula(ev, "b", "1 - H^2")) == "broadcast"
    assert kind(formula(ev, "b", "(1 - H^2)[0]")) == "broadcast"
    assert kind(formula(ev, "b", "mean(1 - H^2, 0)")) == "factor"


def test_broadcast_row_bias_matrix():
    # a bias kept as a 1×2 matrix: its gradient is the 1×2 sum over the rows
    ev = program(LAYER, X=XB, W=WB, b=BB[None, :])
    right(number(ev, "b", DZ.sum(axis=0, keepdims=True)))
    assert kind(number(ev, "b", DZ)) == "broadcast"
    assert kind(number(ev, "b", DZ[:1])) == "broadcast"
    assert kind(formula(ev, "b", "1 - H^2")) == "broadcast"


def test_broadcast_scalar_weight():
    # a scalar w scales every element of x: ∂/∂w = Σ ḡ ∘ x, not the vector ḡ ∘ x
    x = RNG.normal(size=5)
    ev = program("y = w * x; L = sum(tanh(y))", w=0.7, x=x)
    g = (1 - np.tanh(0.7 * x) ** 2) * x
    right(number(ev, "w", float(g.sum())))
    v = number(ev, "w", g)
    assert kind(v) == "broadcast" and "all 5 elements" in v.diagnosis.message
    assert kind(formula(ev, "w", "(1 - tanh(y)^2) * x")) == "broadcast"


def test_broadcast_answer_in_the_command_line():
    result = run_cli(["check", LAYER, f"X={json.dumps(XB.tolist())}", f"W={json.dumps(WB.tolist())}",
                      f"b={json.dumps(BB.tolist())}", "--expect", f"b={json.dumps(DZ.tolist())}", "--json"])
    assert result.exit_code == 1 and result.stderr == ""
    (v,) = strict_json(result.stdout)["verdicts"]
    assert v["ok"] is False and v["diagnosis"]["kind"] == "broadcast"


# ---- time steps: the weights of an unrolled RNN ------------------------------------------------
_RNN = {k: np.asarray(v, dtype=float) for k, v in json.loads((SAMPLES / "rnn.json").read_text("utf-8")).items()}


def _rnn_by_hand():
    wi, wh, wo, xs, ys, h0 = (_RNN[k] for k in ("Wi", "Wh", "Wo", "X", "Y", "h0"))
    hs = [h0]
    for t in range(3):
        hs.append(np.tanh(wi @ xs[t] + wh @ hs[-1]))
    es = [2 * (wo @ hs[t + 1] - ys[t]) for t in range(3)]
    abar: dict[int, np.ndarray] = {}
    for t in (3, 2, 1):
        hbar = wo.T @ es[t - 1] + (wh.T @ abar[t + 1] if t < 3 else 0)
        abar[t] = hbar * (1 - hs[t] ** 2)
    return [np.outer(abar[t], hs[t - 1]) for t in (1, 2, 3)], [np.outer(es[t], hs[t + 1]) for t in range(3)]


RNN_WH, RNN_WO = _rnn_by_hand()


def rnn():
    return program((SAMPLES / "rnn.grad").read_text("utf-8"), **_RNN)


def test_time_steps_matrix_numbers():
    ev = rnn()
    right(number(ev, "Wh", sum(RNN_WH)))
    v = number(ev, "Wh", RNN_WH[2])
    assert kind(v) == "time-steps"
    assert v.diagnosis.message.startswith("only the last time step's contribution to Wh; backprop through time "
                                          "sums over all 3 steps")
    v = number(ev, "Wh", RNN_WH[1] + RNN_WH[2])
    assert kind(v) == "time-steps" and "first time step's contribution to Wh (cell#1) is missing" in v.diagnosis.message
    v = number(ev, "Wh", RNN_WH[0] + RNN_WH[1])
    assert kind(v) == "time-steps" and "last time step's contribution to Wh (cell#3) is missing" in v.diagnosis.message
    assert kind(number(ev, "Wo", RNN_WO[2])) == "time-steps"


def test_time_steps_matrix_formula():
    ev = rnn()
    # the last step only: ā_3 h_2ᵀ with ā_3 = (Woᵀ e_3) ∘ (1 − h_3²), e_3 = 2 (Wo h_3 − y_3)
    assert kind(formula(ev, "Wh", "outer((transpose(Wo) @ (2*(Wo@h3 - Y[2]))) * (1 - h3^2), h2)")) == "time-steps"


SCALAR_RNN = "def cell(h, x) = tanh(w*x + u*h); h1 = cell(h0, x1); h2 = cell(h1, x2); h3 = cell(h2, x3); L = h3"
SV = {"w": 0.8, "u": -0.6, "h0": 0.3, "x1": 0.5, "x2": -1.2, "x3": 0.9}


def _scalar_rnn():
    hs = [SV["h0"]]
    for x in (SV["x1"], SV["x2"], SV["x3"]):
        hs.append(float(np.tanh(SV["w"] * x + SV["u"] * hs[-1])))
    abar = {3: 1 - hs[3] ** 2}
    for t in (2, 1):
        abar[t] = abar[t + 1] * SV["u"] * (1 - hs[t] ** 2)
    return [abar[t] * hs[t - 1] for t in (1, 2, 3)]


def test_time_steps_scalar():
    ev = program(SCALAR_RNN, **SV)
    c = _scalar_rnn()
    right(number(ev, "u", sum(c)))
    v = number(ev, "u", c[2])
    assert kind(v) == "time-steps" and "shared by cell#1, cell#2 and cell#3" in v.diagnosis.message
    assert kind(number(ev, "u", c[1] + c[2])) == "time-steps"
    assert kind(formula(ev, "u", "(1 - h3^2) * h2")) == "time-steps"


def test_time_steps_vector_bias():
    wh = _RNN["Wh"]
    c0, xs = np.array([0.1, -0.2, 0.3]), RNG.normal(size=(3, 3))
    src = ("def cell(h, x) = tanh(Wh@h + x + c); h1 = cell(h0, X[0]); h2 = cell(h1, X[1]); h3 = cell(h2, X[2]); "
           "L = sum(h3)")
    ev = program(src, Wh=wh, c=c0, h0=_RNN["h0"], X=xs)
    hs = [_RNN["h0"]]
    for t in range(3):
        hs.append(np.tanh(wh @ hs[-1] + xs[t] + c0))
    abar = {3: 1 - hs[3] ** 2}
    for t in (2, 1):
        abar[t] = (wh.T @ abar[t + 1]) * (1 - hs[t] ** 2)
    right(number(ev, "c", abar[1] + abar[2] + abar[3]))
    assert kind(number(ev, "c", abar[3])) == "time-steps"
    assert kind(number(ev, "c", abar[2] + abar[3])) == "time-steps"
    assert kind(formula(ev, "c", "1 - h3^2")) == "time-steps"  # ā_3 alone


def test_time_steps_with_a_regularizer_outside_the_steps():
    # L = h3 + lam * u^2: the regularizer's use of u is kept in every time-step candidate
    ev = program(SCALAR_RNN.replace("L = h3", "L = h3 + lam*u^2"), lam=0.5, **SV)
    c, reg = _scalar_rnn(), 2 * 0.5 * SV["u"]
    right(number(ev, "u", sum(c) + reg))
    assert kind(number(ev, "u", c[2] + reg)) == "time-steps"
    assert kind(number(ev, "u", c[0] + c[1] + reg)) == "time-steps"


def test_ordinary_fan_out_stays_fan_out():
    w, x = np.array([[0.5, -0.3], [0.2, 0.4]]), np.array([1.0, -2.0])
    ev = program("h1 = tanh(W@x); h2 = tanh(W@h1); s = sum(h2)", W=w, x=x)
    h1 = np.tanh(w @ x)
    assert kind(number(ev, "W", np.outer(1 - np.tanh(w @ h1) ** 2, h1))) == "fan-out"


# ---- two mistakes at once --------------------------------------------------------------------
def test_transposed_and_sign():
    ev = program(VEC, W=W, x=X3)
    v = number(ev, "x", -(W @ DA))
    assert kind(v) == "transposed+sign" and v.diagnosis.message.endswith("; and the sign is wrong")
    assert kind(formula(ev, "x", "-(W @ (2*h*(1-h^2)))")) == "transposed+sign"
    # a single mistake is named before a combination
    assert kind(number(ev, "x", -(W.T @ DA))) == "sign"


def test_transposed_matrix_and_factor():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3))
    ev = program("C = A @ B; s = sum(tanh(C))", A=a, B=b)
    g = 1 - np.tanh(a @ b) ** 2
    assert kind(number(ev, "A", 2 * (g @ b))) == "transposed+factor"
    assert kind(formula(ev, "A", "2 * ((1 - tanh(C)^2) @ B)")) == "transposed+factor"


def test_time_steps_and_sign_scalar():
    ev = program(SCALAR_RNN, **SV)
    assert kind(number(ev, "u", -_scalar_rnn()[2])) == "time-steps+sign"
    assert kind(formula(ev, "u", "-(1 - h3^2) * h2")) == "time-steps+sign"


def test_broadcast_and_sign():
    ev = program(LAYER, X=XB, W=WB, b=BB)
    assert kind(formula(ev, "b", "H^2 - 1")) == "broadcast+sign"


# ---- a formula's shape error, in the student's words ------------------------------------------
def test_formula_shape_error_names_the_product_and_suggests_the_transpose():
    w2 = RNG.normal(size=(3, 4))
    ev = program("z2 = W2 @ h; s = sum(tanh(z2))", W2=w2, h=RNG.normal(size=4))
    v = formula(ev, "h", "W2 @ (1 - tanh(z2)^2)")
    assert kind(v) == "transposed"
    assert v.diagnosis.message == ("W2 @ (1 - tanh(z2)^2) does not fit: W2 is 3×4 and (1 - tanh(z2)^2) has 3 "
                                   "elements; did you mean transpose(W2) @ (1 - tanh(z2)^2)?")
    assert v.how == "cannot be evaluated at the point: the shapes do not fit"
    right(formula(ev, "h", "transpose(W2) @ (1 - tanh(z2)^2)"))


def test_formula_shape_error_inside_a_longer_formula():
    from gradcli.teach.homework import parse_formula

    w2, dz2, x = np.zeros((3, 4)), np.zeros(3), np.zeros(4)
    text = "x * (W2@dz2) + 1"
    graph = parse_formula(text)
    env = {"W2": w2, "dz2": dz2, "x": x}
    assert explain(text, graph, env) == ("W2@dz2 does not fit: W2 is 3×4 and dz2 has 3 elements; "
                                        "did you mean transpose(W2) @ dz2?")
    text = "outer(dz2, W2)"  # no transpose makes outer take a matrix: no suggestion
    assert explain(text, parse_formula(text), env) == "outer(dz2, W2) does not fit: dz2 has 3 elements and W2 is 3×4"
    text = "x + dz2"
    assert explain(text, parse_formula(text), env) == "x + dz2 does not fit: x has 4 elements and dz2 has 3 elements"
    text = "W2 @ x"  # fits: nothing to explain
    assert explain(text, parse_formula(text), env) is None


def test_formula_shape_error_without_a_transpose_fix_is_not_diagnosed():
    w2 = RNG.normal(size=(3, 4))
    ev = program("z2 = W2 @ h; s = sum(tanh(z2))", W2=w2, h=RNG.normal(size=4))
    v = formula(ev, "h", "outer(W2, z2)")
    assert v.ok is False and v.diagnosis is None
    assert v.how == "cannot be evaluated at the point: outer(W2, z2) does not fit: W2 is 3×4 and z2 has 3 elements"


@pytest.mark.parametrize("text, expected", [
    ("((W2)) @ dz2", "((W2)) @ dz2 does not fit: ((W2)) is 3×4 and dz2 has 3 elements; "
                     "did you mean transpose(W2) @ dz2?"),
    ("dz2 @ W2.T", "dz2 @ W2.T does not fit: dz2 has 3 elements and W2.T is 4×3; did you mean dz2 @ W2?"),
    ("dz2 @ transpose(W2)", "dz2 @ transpose(W2) does not fit: dz2 has 3 elements and transpose(W2) is 4×3; "
                            "did you mean dz2 @ W2?"),
    ("x*(u + W2)", "u + W2 does not fit: u has 3 elements and W2 is 3×4; did you mean u + transpose(W2)?"),
])
def test_formula_shape_error_keeps_the_students_text(text, expected):
    from gradcli.teach.homework import parse_formula

    env = {"W2": np.zeros((3, 4)), "dz2": np.zeros(3), "u": np.zeros(3), "x": np.zeros(4)}
    assert explain(text, parse_formula(text), env) == expected


# ---- a class's gradebook carries the new kinds, within its schema ------------------------------
def test_gradebook_json_with_structural_diagnoses_validates(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    sheet = tmp_path / "answers.csv"
    rows = {"ann": RNN_WH[2], "ben": -RNN_WH[2], "cid": sum(RNN_WH)}
    sheet.write_text("id;Wh\n" + "".join(f"{k};{json.dumps(v.tolist())}\n" for k, v in rows.items()),
                     encoding="utf-8")
    result = run_cli(["check", "-f", str(SAMPLES / "rnn.grad"), "--vars", str(SAMPLES / "rnn.json"),
                      "--answers", str(sheet), "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = strict_json(result.stdout)
    kinds = {s["id"]: s["answers"]["Wh"].get("diagnosis", {}).get("kind") for s in doc["students"]}
    assert kinds == {"ann": "time-steps", "ben": "time-steps+sign", "cid": None}
    schema = json.loads((SAMPLES.parent / "gradcli" / "schemas" / "gradebook.schema.json").read_text("utf-8"))
    jsonschema.validate(doc, schema)
    bad = json.loads(json.dumps(doc))
    bad["students"][0]["answers"]["Wh"]["diagnosis"]["kind"] = "time-steps+bogus"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
