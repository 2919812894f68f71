"""`gradcli check` on layers: any named step's adjoint and value, step-name and array
formulas, element-by-element verdicts, and the diagnosis of each common mistake.

Every expected number is worked out here by hand with NumPy from the lecture's
formulas (δ = u ∘ σ'(z), ∂s/∂W = δ xᵀ, ∂s/∂x = Wᵀ δ, ...), never taken from gradcli.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clitools import run_cli, strict_json, usage_error

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LAYER = ["-f", str(SAMPLES / "layer.grad"), "--vars", str(SAMPLES / "layer.json")]
LOGREG = ["-f", str(SAMPLES / "logreg_vec.grad"), "--vars", str(SAMPLES / "logreg_vec.json")]
LECTURE = "c = a+b; d = b+1; e = c*d"  # a=3 b=2: ∂e/∂b = d + c = 3 + 5 = 8 (path via c: d = 3, via d: c = 5)
COLUMNS = 250  # wide enough that no table wraps

# ---- the layer, by hand -------------------------------------------------------------------
_V = json.loads((SAMPLES / "layer.json").read_text(encoding="utf-8"))
U, W, X, B = (np.array(_V[k], dtype=float) for k in ("u", "W", "x", "b"))
Z = W @ X + B
H = 1 / (1 + np.exp(-Z))
DELTA = U * H * (1 - H)  # δ = z̄ = u ∘ σ'(z)
DW = np.outer(DELTA, X)  # δ xᵀ
DX = W.T @ DELTA  # Wᵀ δ


def invoke(*args: str):
    return run_cli(["check", *args], columns=COLUMNS)


def text(a) -> str:
    return json.dumps(np.asarray(a).tolist())


def verdicts(result) -> dict:
    return {v["question"]: v for v in strict_json(result.stdout)["verdicts"]}


# ---- 1. any named step -------------------------------------------------------------------
def test_expect_on_a_step_judges_its_adjoint():
    result = invoke(*LAYER, "--expect", f"z={text(DELTA)}", "--expect", f"h={text(U)}", "--json")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    doc = verdicts(result)
    assert doc["z"]["ok"] is True and doc["h"]["ok"] is True


def test_expect_value_on_a_step_judges_its_forward_value():
    result = invoke(*LAYER, "--expect-value", f"z={text(Z)}", "--expect-value", f"h={text(H)}",
                    "--expect-value", "0.2126193", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    doc = verdicts(result)
    assert doc["value z"]["ok"] and doc["value h"]["ok"] and doc["value"]["ok"]
    assert abs(float(U @ H) - 0.2126193) < 1e-7  # the sample's stated value, by hand


def test_expect_value_for_the_output_by_name():
    result = invoke(LECTURE, "a=3", "b=2", "--expect-value", "e=15", "--expect-value", "c=4")
    assert result.exit_code == 1 and result.stderr == ""
    assert "c (value)" in result.stdout and "1 of 2 right" in result.stdout


def test_logistic_regression_dz_is_p_minus_y_over_m():
    v = json.loads((SAMPLES / "logreg_vec.json").read_text(encoding="utf-8"))
    z = np.array(v["w"]) @ np.array(v["X"]) + v["b"]
    p = 1 / (1 + np.exp(-z))
    dz = (p - np.array(v["y"])) / 4
    result = invoke(*LOGREG, "--expect", f"z={text(dz)}", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    assert verdicts(result)["z"]["ok"] is True


def test_array_answers_are_judged_element_by_element():
    wrong = DW.copy()
    wrong[1, 0] = 0.14
    result = invoke(*LAYER, "--expect", f"W={text(wrong)}")
    assert result.exit_code == 1 and result.stderr == ""
    assert "1 of 6 elements wrong" in result.stdout
    assert "∂s/∂W [1,0]: 0.14 is wrong" in result.stdout
    assert "expected" not in result.stdout  # the right answer stays hidden
    revealed = invoke(*LAYER, "--expect", f"W={text(wrong)}", "--reveal")
    assert revealed.exit_code == 1
    assert f"∂s/∂W [1,0]: 0.14, expected {DW[1, 0]:.6g}" in revealed.stdout


def test_element_verdicts_in_json():
    wrong = DELTA.copy()
    wrong[2] = 0.5
    result = invoke(*LAYER, "--expect", f"b={text(wrong)}", "--json")
    assert result.exit_code == 1
    (v,) = strict_json(result.stdout)["verdicts"]
    assert v["elements"] == [{"index": [2], "answer": 0.5}]
    result = invoke(*LAYER, "--expect", f"b={text(wrong)}", "--json", "--reveal")
    (v,) = strict_json(result.stdout)["verdicts"]
    assert v["elements"][0]["truth"] == pytest.approx(DELTA[2])


def test_an_unknown_step_is_a_usage_error():
    usage_error(invoke(LECTURE, "a=3", "b=2", "--expect", "q=1"), "--expect q", "steps: c, d, e")
    usage_error(invoke(LECTURE, "a=3", "b=2", "--expect-value", "q=1"), "--expect-value q")


def test_unnamed_steps_get_the_lecture_names():
    # (a+b)*(b+1): gradcli names the steps c, d, e; ∂e/∂c = d = 3, ∂e/∂d = c = 5
    result = invoke("(a+b)*(b+1)", "a=3", "b=2", "--expect", "c=3", "--expect", "d=5")
    assert result.exit_code == 0, result.stdout


# ---- 2. formulas with step names and arrays ---------------------------------------------------
def test_step_name_formula_is_right():
    result = invoke(LECTURE, "a=3", "b=2", "--expect-formula", "b=d+c", "--sympy-timeout", "60", "--prove")
    assert result.exit_code == 0, result.stdout
    assert "equivalent: SymPy simplifies the difference to 0" in result.stdout
    quick = invoke(LECTURE, "a=3", "b=2", "--expect-formula", "b=d+c")
    assert quick.exit_code == 0 and "equal to the derivative at the point and at 12 other points" in quick.stdout


def test_step_name_formula_for_a_step():
    # ∂e/∂c = d
    result = invoke(LECTURE, "a=3", "b=2", "--expect-formula", "c=d", "--expect-formula", "d=a+b",
                    "--sympy-timeout", "60")
    assert result.exit_code == 0, result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("formula", ["W=outer(u*h*(1-h), x)", "x=W.T @ (u*h*(1-h))", "b=u*h*(1-h)",
                                     "z=u*sigmoid(z)*(1-sigmoid(z))"])
def test_array_formulas_on_the_layer(formula):
    result = invoke(*LAYER, "--expect-formula", formula, "--sympy-timeout", "60", "--json", "--reveal")
    assert result.exit_code == 0, result.stdout
    (v,) = strict_json(result.stdout)["verdicts"]
    assert v["ok"] is True
    # --reveal gives the right answer in the lecture's form, as gradcli diff writes the step:
    # over the δ's name dz (handed back and judged right in
    # test_revealed_matrix_formulas_are_right_when_handed_back)
    assert v["truth"] == {"W": "outer(dz, x)", "x": "transpose(W) @ dz",
                          "b": "u * h * (1 - h)", "z": "u * h * (1 - h)"}[formula[0]]


def test_a_formula_right_at_the_point_only_is_wrong():
    # at x=1, 2*x and x+1 agree; the derivative of x^2 is 2*x
    result = invoke("x^2", "x=1", "--expect-formula", "x=x+1", "--sympy-timeout", "60")
    assert result.exit_code == 1
    assert "right at the point, but differs from the derivative at" in result.stdout


def test_a_formula_with_a_shape_error_is_wrong_not_a_crash():
    result = invoke(*LAYER, "--expect-formula", "x=W @ (u*h*(1-h))", "--sympy-timeout", "60")
    assert result.exit_code == 1 and result.stderr == ""
    assert "cannot be evaluated at the point" in result.stdout


# ---- 3. diagnoses -----------------------------------------------------------------------------
def diagnosis(*args: str, reveal: bool = False) -> dict:
    result = invoke(*args, "--json", *(["--reveal"] if reveal else []), "--sympy-timeout", "60")
    assert result.exit_code == 1, result.stdout
    (v,) = strict_json(result.stdout)["verdicts"]
    assert v["ok"] is False
    return v["diagnosis"]


def test_diagnosis_one_path_only_is_a_missing_fan_out_sum():
    d = diagnosis(LECTURE, "a=3", "b=2", "--expect", "b=5")  # only b → d → e (its partial is c = 5)
    assert d["kind"] == "fan-out"
    assert "you have only the path b → d → e; the path b → c → e is missing" in d["message"]
    assert "reveal" not in d and "3" not in d["message"]
    d = diagnosis(LECTURE, "a=3", "b=2", "--expect", "b=5", reveal=True)
    assert d["reveal"] == "it adds 3"


def test_diagnosis_a_subset_of_paths():
    # b reaches e by three paths: via c (d = 3), via d (c = 5) and directly (1): 9 in all
    program = "c = a+b; d = b+1; t = c*d; e = t + b"
    d = diagnosis(program, "a=3", "b=2", "--expect", "b=4")  # via c and directly
    assert d["kind"] == "paths"
    assert d["message"] == ("you have only the paths b → e; b → c → t → e; the path b → d → t → e is missing")


def test_diagnosis_missing_fan_out_sum_for_a_shared_weight():
    # the weight W is used twice: h1 = tanh(W x), h2 = tanh(W h1), s = sum(h2)
    w = np.array([[0.5, -0.3], [0.2, 0.4]])
    x = np.array([1.0, -2.0])
    h1 = np.tanh(w @ x)
    h2 = np.tanh(w @ h1)
    d2 = 1 - h2**2  # through the second use
    only_second = np.outer(d2, h1)
    d1 = (w.T @ d2) * (1 - h1**2)
    assert not np.allclose(only_second, only_second + np.outer(d1, x))
    d = diagnosis("h1 = tanh(W@x); h2 = tanh(W@h1); s = sum(h2)", f"W={text(w)}", f"x={text(x)}",
                  "--expect", f"W={text(only_second)}")
    assert d["kind"] == "fan-out"
    assert "W is used 2 times" in d["message"] and "only the one through" in d["message"]


def test_diagnosis_transposed_matrix():
    d = diagnosis(*LAYER, "--expect", f"W={text(DW.T)}")
    assert d["kind"] == "transposed"
    d = diagnosis(*LAYER, "--expect-formula", "W=outer(x, u*h*(1-h))")
    assert d["kind"] == "transposed"


def test_diagnosis_sigma_for_sigma_prime():
    d = diagnosis(*LAYER, "--expect", f"b={text(U * H)}")
    assert d["kind"] == "sigma"
    assert "σ'(z) = σ(z)(1 − σ(z))" in d["message"]
    d = diagnosis(*LAYER, "--expect-formula", "z=u*h")
    assert d["kind"] == "sigma"


def test_diagnosis_tanh_for_its_derivative():
    # s = tanh(3x) at x = 0.2: ∂s/∂x = 3(1 − tanh²(0.6)); the mistake gives 3 tanh(0.6)
    d = diagnosis("s = tanh(3*x)", "x=0.2", "--expect", f"x={float(3 * np.tanh(0.6))!r}")
    assert d["kind"] == "sigma" and "tanh" in d["message"]


def test_diagnosis_sign_error():
    d = diagnosis("y = x^3 - 4*x", "x=0.5", "--expect", f"x={-(3 * 0.25 - 4)!r}")
    assert d["kind"] == "sign"


def test_diagnosis_factor_of_two():
    d = diagnosis("y = x^2", "x=3", "--expect", "x=3")
    assert d["kind"] == "factor" and "factor 2 is missing" in d["message"]
    d = diagnosis("y = x^2", "x=3", "--expect", "x=12")
    assert d["kind"] == "factor" and "too many" in d["message"]


def test_diagnosis_factor_of_m():
    v = json.loads((SAMPLES / "logreg_vec.json").read_text(encoding="utf-8"))
    xx, y = np.array(v["X"]), np.array(v["y"])
    p = 1 / (1 + np.exp(-(np.array(v["w"]) @ xx + v["b"])))
    d = diagnosis(*LOGREG, "--expect", f"w={text(xx @ (p - y))}")  # the 1/m forgotten
    assert d["kind"] == "factor" and "m = 4" in d["message"] and "missing" in d["message"]
    d = diagnosis(*LOGREG, "--expect-formula", "z=(p-y)/16")
    assert d["kind"] == "factor" and "too often" in d["message"]


def test_no_diagnosis_when_no_common_mistake_explains_it():
    result = invoke(LECTURE, "a=3", "b=2", "--expect", "b=7.5", "--json")
    assert result.exit_code == 1
    (v,) = strict_json(result.stdout)["verdicts"]
    assert "diagnosis" not in v


def test_diagnosis_is_shown_in_the_table_without_the_answer():
    result = invoke(LECTURE, "a=3", "b=2", "--expect", "b=5")
    assert result.exit_code == 1 and result.stderr == ""
    assert "∂e/∂b: you have only the path b → d → e; the path b → c → e is missing" in result.stdout
    assert "adds 3" not in result.stdout and "8" not in result.stdout.split("numbers are right")[0]
    revealed = invoke(LECTURE, "a=3", "b=2", "--expect", "b=5", "--reveal")
    assert "(it adds 3)" in revealed.stdout


def test_the_docs_worked_layer_example_is_what_gradcli_prints():
    """The layer check of docs/tutorials/homework.md (and docs/reference/cli.md), as written."""
    import re
    import shlex

    for page in ("tutorials/homework.md", "reference/cli.md"):
        text = (SAMPLES.parent / "docs" / page).read_text(encoding="utf-8")
        block = text.split("$ gradcli check -f samples/layer.grad", 1)[1].split("```", 1)[0]
        command, _, rest = block.partition("\nAnswers for")
        printed, _, exit_line = ("Answers for" + rest).rpartition("$ echo $?\n")
        argv = [a for a in shlex.split(command.replace("\\\n", " ")) if a != "--vars" and "layer.json" not in a]
        assert re.search(r"--vars samples/layer.json", command)
        result = run_cli(["check", *LAYER, *argv], columns=100)
        assert result.exit_code == int(exit_line.strip()) == 1
        assert result.output == printed, page


def test_diagnosis_fan_out_when_there_are_too_many_paths_to_list():
    # x reaches y by 2^4 paths through the squarings and one through sin: too many to list,
    # so the one-use-only reverse walks find it: keeping only sin's use gives cos(x)
    program = "a = x*x; b = a*a; c = b*b; d = c*c; y = d + sin(x)"
    d = diagnosis(program, "x=0.5", "--expect", f"x={float(np.cos(0.5))!r}")
    assert d["kind"] == "fan-out"
    assert "x is used 3 times" in d["message"] and "only the one through" in d["message"]


# ---- --reveal on array programs: the right answer is a matrix formula, and it is right ----
@pytest.mark.slow
@pytest.mark.parametrize("sample, names", [
    ("layer", ["W", "x", "b", "u", "z", "h"]),
    ("softmax_ce", ["z", "p"]),
    ("mlp", ["W", "x", "v", "y", "lam", "h", "yhat"]),
    ("logreg_vec", None),
])
def test_revealed_matrix_formulas_are_right_when_handed_back(sample, names):
    """--reveal shows ∂out/∂NAME as a formula over the program's names; handing that
    formula back as the answer is judged right (so the revealed text is the derivative)."""
    program = ["-f", str(SAMPLES / f"{sample}.grad")]
    if names is None:  # every input
        doc = strict_json(run_cli(["eval", *program, "--json", "--no-nodes"]).stdout)
        names = list(doc["gradient"])
    asked = [a for n in names for a in ("--expect-formula", f"{n}=0*{n}")]
    doc = strict_json(run_cli(["check", *program, *asked, "--reveal", "--json"]).stdout)
    truths = {v["question"].split(" ", 1)[1]: v.get("truth") for v in doc["verdicts"]}
    assert set(truths) == set(names)
    for name, truth in truths.items():
        assert isinstance(truth, str), (name, truth)  # a formula, not only numbers
    handed_back = [a for n, t in truths.items() for a in ("--expect-formula", f"{n}={t}")]
    result = run_cli(["check", *program, *handed_back, "--json"])
    verdicts = strict_json(result.stdout)["verdicts"]
    assert result.exit_code == 0, [(v["question"], v["how"]) for v in verdicts if not v["ok"]]
    assert all(v["ok"] for v in verdicts) and len(verdicts) == len(names)


@pytest.mark.slow
@pytest.mark.parametrize("program, point", [
    ("where(x > 0, x^2, -x)", "x=2"), ("where(x > 0, x^2, -x)", "x=-1.5"),
    ("elu(x) + leaky_relu(x, 0.2)", "x=-0.5"), ("relu(x)*x + max(x, 1)", "x=0.25"),
])
def test_revealed_piecewise_formulas_are_gradcli_and_right(program, point):
    """A branch is revealed as gradcli writes it (comparisons, where(c, a, b)), never
    SymPy's Piecewise, and handing it back is judged right."""
    doc = strict_json(run_cli(["check", program, point, "--expect-formula", "x=0", "--reveal", "--json"]).stdout)
    (v,) = doc["verdicts"]
    truth = v["truth"]
    assert isinstance(truth, str) and "Piecewise" not in truth and "Heaviside" not in truth, truth
    result = run_cli(["check", program, point, "--expect-formula", f"x={truth}", "--json"])
    assert result.exit_code == 0, strict_json(result.stdout)["verdicts"]
