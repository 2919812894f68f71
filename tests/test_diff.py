"""gradcli diff: derivatives as formulas, from a symbolic reverse sweep over our own DAG.

Every formula it prints is read back by gradcli's own parser and evaluated at random
points against the engine's reverse mode, as is every adjoint line of --steps."""

from __future__ import annotations

import json
import random
import re
import unicodedata

import pytest

import gradcli
from clitools import run_cli


def _comparisons_parse() -> bool:
    try:
        gradcli.evaluate("(x > 0) + 0*x", x=1)
    except gradcli.GradcliError:
        return False
    return True


needs_comparisons = pytest.mark.skipif(not _comparisons_parse(),
                                       reason="kink formulas use comparisons, which this build's language lacks")


def diff(*args: str) -> dict:
    result = run_cli(["diff", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def agree_at_random_points(program: str, formulas: dict[str, str], inputs: list[str], low=-2.0, high=2.0,
                           points: int = 6, seed: int = 0, where: tuple[str, ...] = ()) -> int:
    """Evaluate each formula with gradcli at random points (after the `where` steps it is written
    in, if any); compare with reverse mode. Returns points used."""
    rng = random.Random(seed)
    used = 0
    for _ in range(points * 10):
        point = {n: rng.uniform(low, high) for n in inputs}
        try:
            r = gradcli.evaluate(program, point)
        except gradcli.GradcliError:
            continue
        if any("not differentiable" in w for w in r.warnings):
            continue
        for name, formula in formulas.items():
            steps = "".join(f"{line}; " for line in where)
            used_names = {k: v for k, v in point.items() if re.search(rf"\b{k}\b", steps + formula)}
            value = gradcli.evaluate(f"{steps}0*{inputs[0]} + ({formula})", {inputs[0]: point[inputs[0]], **used_names})
            assert value.value == pytest.approx(r.gradient[name], rel=1e-9, abs=1e-12), (name, formula, point)
        used += 1
        if used == points:
            break
    assert used, "no point inside the domain"
    return used


def test_the_lecture_example():
    doc = diff("(a+b)*(b+1)")
    assert doc["gradient"] == {"a": "b + 1", "b": "a + 2*b + 1"}
    assert doc["output"] == "e" and doc["schema"] == 1


def test_steps_show_the_sweep_in_symbols():
    result = run_cli(["diff", "c = a + b; d = b + 1; e = c * d", "--steps"])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "starting from ē = 1" in text
    assert "c̄ += ē · ∂e/∂c = 1 · d = d" in text
    assert "b̄ += d̄ · ∂d/∂b = c · 1 = c" in text
    assert "     b̄ = c + d = a + 2*b + 1" in text
    # the lecture's form: in the program's own steps, after them (--expand: in the inputs)
    assert "where (the program's steps):\n  c = a + b\n  d = b + 1\n" in text
    assert text.rstrip().endswith("∂e/∂a = d\n∂e/∂b = c + d")
    expanded = run_cli(["diff", "c = a + b; d = b + 1; e = c * d", "--expand"]).stdout
    assert expanded == "∂e/∂a = b + 1\n∂e/∂b = a + 2*b + 1\n"


SMOOTH = [
    "c = a + b; d = b + 1; e = c * d",
    "x*exp(x^2)",
    "sin(x)*cos(y) + tanh(x*y)",
    "sigmoid(w*x + b)",
    "log(1 + x^2) / (1 + y^2)",
    "sqrt(x^2 + y^2 + 1) - atan(x/(1 + y^2))",
    "softplus(x) - x*y + y^3/3",
    "p = sigmoid(w1*x1 + w2*x2 + b); -(y*log(p) + (1 - y)*log(1 - p))",
]


def _first_fast(programs):
    """The first program runs in the quick loop; the rest (seconds of SymPy each) are marked slow."""
    return [pytest.param(p, marks=() if i == 0 else pytest.mark.slow) for i, p in enumerate(programs)]


@pytest.mark.parametrize("program", _first_fast(SMOOTH))
def test_formulas_parse_back_and_agree_with_reverse_mode(program):
    doc = diff(program)
    inputs = [n for n in gradcli.evaluate(program, {n: 0.3 for n in _inputs(program)}).inputs]
    agree_at_random_points(program, doc["gradient"], inputs, low=-1.5, high=1.5, where=tuple(doc.get("where", ())))


def _inputs(program: str) -> list[str]:
    from gradcli.language.lower import lower
    from gradcli.language.parser import parse

    g = lower(parse(program))
    return [g.nodes[i].name for i in g.inputs]


@pytest.mark.parametrize("program", _first_fast(SMOOTH[:4]))
def test_every_adjoint_line_of_steps_is_the_engine_s_adjoint(program):
    text = run_cli(["diff", program, "--steps"]).stdout
    section = text.split("Each adjoint, in node labels and then in the inputs:", 1)[1].split("Gradient:", 1)[0]
    rng = random.Random(1)
    point = {n: rng.uniform(0.2, 1.2) for n in _inputs(program)}
    r = gradcli.evaluate(program, point)
    checked = 0
    for line in section.strip().splitlines():
        label_bar, *forms = [s.strip() for s in line.split(" = ")]
        label = unicodedata.normalize("NFD", label_bar)[0]
        if not forms:
            continue
        truth = r.adjoint(label)
        for form in forms:  # each form, in node labels or in inputs, evaluates to the adjoint
            names = set(re.findall(r"[A-Za-z_]\w*", form)) - {"exp", "log", "sin", "cos", "tanh", "sigmoid",
                                                             "sqrt", "atan", "softplus", "cosh", "max", "pi"}
            got = gradcli.evaluate(form, {n: r.value_of(n) for n in names})
            assert got.value == pytest.approx(truth, rel=1e-9, abs=1e-12), (line, form)
            checked += 1
    assert checked >= 3


@needs_comparisons
@pytest.mark.parametrize("program", ["f = (x+y)*max(y,z)", "relu(x)*x + abs(x)^3", "min(x, y)^2 + max(x, 0)"])
def test_kinks_are_written_with_gradcli_s_conventions(program):
    doc = diff(program)
    assert all("Heaviside" not in f and "Piecewise" not in f for f in doc["gradient"].values())
    agree_at_random_points(program, doc["gradient"], _inputs(program))


@pytest.mark.slow
@needs_comparisons
@pytest.mark.parametrize("program", ["where(x > 0, x^2, y)", "elu(x, 0.5)*y", "where(x < y, sin(x), x*y) + elu(y)"])
def test_piecewise_derivatives_are_written_with_where(program):
    doc = diff(program)
    assert all("Piecewise" not in f for f in doc["gradient"].values())
    agree_at_random_points(program, doc["gradient"], _inputs(program))
    steps = run_cli(["diff", program, "--steps"])
    assert steps.exit_code == 0, steps.stderr


def test_the_max_example_reads_like_the_notes():
    doc = diff("f = (x+y)*max(y,z)")
    assert doc["gradient"]["x"] == "max(y, z)"
    assert doc["gradient"]["y"] == "(x + y)*((y > z) + 0.5*(y == z)) + max(y, z)"


def test_wrt_latex_and_errors():
    doc = diff("x^2*y", "--wrt", "y", "--latex")
    assert doc["gradient"] == {"y": "x^2"} and doc["latex"] == {"y": "x^{2}"}
    bound = run_cli(["diff", "x*y", "x=1"])  # a scalar point changes nothing (its shapes are scalars)
    assert bound.exit_code == 0 and bound.stdout == run_cli(["diff", "x*y"]).stdout
    arr = run_cli(["diff", "v @ v"])
    assert arr.exit_code == 2 and "every input as a scalar" in arr.stderr
    literal = run_cli(["diff", "sum(x*[1, 2])"])
    assert literal.exit_code == 2 and "scalar programs" in literal.stderr
    unknown = run_cli(["diff", "x*y", "--wrt", "q"])
    assert unknown.exit_code == 2 and "not an input" in unknown.stderr
    const = diff("x*0 + y")
    assert const["gradient"]["x"] == "0"


def test_check_reveal_writes_the_right_formula_in_gradcli_s_syntax():
    result = run_cli(["check", "x^3 + relu(x)", "x=2", "--expect-formula", "x=3*x^2", "--reveal", "--json"])
    assert result.exit_code == 1, result.stderr
    (verdict,) = json.loads(result.stdout)["verdicts"]
    assert verdict["truth"] == "3*x^2 + (x > 0)"
    lecture = run_cli(["check", "c = a+b; d = b+1; e = c*d", "a=3", "b=2", "--expect-formula", "b=d",
                       "--expect-formula", "c=d", "--reveal", "--json"])
    truths = [v["truth"] for v in json.loads(lecture.stdout)["verdicts"]]
    assert truths == ["a + 2*b + 1", "b + 1"]
    for t in truths:
        assert "**" not in t and "Heaviside" not in t
