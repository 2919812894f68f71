"""The formulas ``--check sympy`` prints: never longer than the golden ones, and right.

tests/golden/sympy_formulas.json holds, for every sample the symbolic check runs on, each
input element's printed formula with its full length (``chars``, before the cut at 400)
and ``count_ops`` (``ops``; null for SymEngine's text of a formula too long to convert).
It started as what gradcli printed when ``simplify`` was on the check's path (issue 24:
"the formulas stay as short as today's or shorter").  Each printed formula must be no
longer in characters and in operations, and must evaluate -- the SymPy tree itself, at the
sample's point, never text read back -- to the engine's gradient.

GRADCLI_UPDATE_GOLDEN=1 rewrites the entries whose new formula is no longer (characters
and operations), keeps the others, and fails on those.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from clitools import UPDATE_GOLDEN, run_cli, strict_json
from gradcli.backends.sympy import FORMULA_LIMIT, input_symbols, point_of, short
from gradcli.core.elements import elements
from gradcli.oracles import short_form
from gradcli.oracles import sympy_check as sc
from gradcli.run.bindings import collect
from gradcli.run.evaluate import evaluate

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "sympy_formulas.json"
WITH_GOLDEN = sorted(json.loads(GOLDEN.read_text(encoding="utf-8")))


def _bindings(path: Path) -> tuple[list[str], list[str]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#: bind "):
            return line[len("#: bind "):].split(), []
        if line.startswith("#: vars "):
            return [], [str(path.parent / line[len("#: vars "):].strip())]
    raise AssertionError(f"{path.name}: no bindings")


def _evaluation(stem: str):
    path = SAMPLES / f"{stem}.grad"
    arguments, vars_files = _bindings(path)
    return evaluate(path.read_text(encoding="utf-8"), collect(arguments, vars_files))


def _printed(stem: str) -> dict[str, tuple[object, str]]:
    """label -> (the printed SymPy expression, or None for SymEngine's text; its full text)."""
    out: dict[str, tuple[object, str]] = {}
    for label, d in sc.symbolic_derivatives(_evaluation(stem)).items():
        out[label] = (None, d) if isinstance(d, str) else short_form.shortest(d)
    return out


def test_every_checked_sample_has_a_golden():
    checked = [p.stem for p in sorted(SAMPLES.glob("*.grad"))
               if sc._window_terms(_evaluation(p.stem).graph) <= sc.WINDOW_TERM_LIMIT]
    assert WITH_GOLDEN == checked


@pytest.mark.parametrize("stem", WITH_GOLDEN)
def test_printed_formulas_are_no_longer_than_the_golden(stem):
    import sympy as sp

    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    old = golden[stem]
    printed = _printed(stem)
    assert printed.keys() == old.keys()
    longer, new = [], {}
    for label, (expr, text) in printed.items():
        ops = None if expr is None else int(sp.count_ops(expr))
        entry = {"chars": len(text), "ops": ops, "formula": short(text)}
        limit = old[label]
        worse = entry["chars"] > limit["chars"] or (ops is not None and limit["ops"] is not None
                                                    and ops > limit["ops"])
        if worse:
            longer.append(f"{label}: {entry['chars']} chars, {ops} ops > {limit['chars']}, {limit['ops']}: {text}")
        new[label] = limit if worse else entry
    if UPDATE_GOLDEN and new != old:
        golden[stem] = new
        GOLDEN.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert not longer, "\n".join(longer)


@pytest.mark.parametrize("stem", WITH_GOLDEN)
def test_printed_formulas_evaluate_to_the_engine_gradient(stem):
    """Each printed SymPy tree, at the sample's point (30-digit Floats), is the engine's gradient."""
    ev = _evaluation(stem)
    point = point_of(input_symbols(ev.graph, ev.env), ev.env)
    by_label = {label: (name, index) for name in ev.wrt for label, index in elements(name, ev.env[name])}
    checked = 0
    for label, (expr, _text) in _printed(stem).items():
        if expr is None:  # SymEngine's own text (over CONVERT_LIMIT characters): not rewritten
            continue
        name, index = by_label[label]
        engine = float(ev.gradient[name] if index is None else ev.gradient[name][index])
        value = float(expr.xreplace(point).evalf(30))
        assert math.isclose(value, engine, rel_tol=1e-9, abs_tol=1e-12), (label, value, engine)
        checked += 1
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))[stem]
    assert checked or all(entry["ops"] is None for entry in golden.values())  # rnn_softmax: all text


def test_the_cli_prints_the_tested_formulas():
    """What the tests above check is what `gradcli eval --check sympy` prints."""
    path = SAMPLES / "logreg.grad"
    result = run_cli(["eval", "-f", str(path), *_bindings(path)[0], "--check", "sympy", "--json",
                      "--sympy-timeout", "60"])
    assert result.exit_code == 0, result.stderr
    checks = strict_json(result.stdout)["checks"]["sympy"]
    printed = _printed("logreg")
    assert {name: entry["formula"] for name, entry in checks.items()} == \
        {label: short(text) for label, (_, text) in printed.items()}
    assert checks["t"]["formula"] == "-b - w1*x1 - w2*x2"  # simplify left log(1 - 1/(exp(-z) + 1)) - ...


def test_the_printed_formula_never_simplifies(monkeypatch):
    import sympy as sp

    def refuse(*args, **kwargs):
        raise AssertionError("simplify is not on the symbolic check's path")

    monkeypatch.setattr(sp, "simplify", refuse)
    derivatives = sc.symbolic_derivatives(_evaluation("logreg"))
    texts = [sc.printed_formula(d) for d in derivatives.values()]
    assert all(texts) and all(len(t) <= FORMULA_LIMIT for t in texts)


def test_the_shortest_form_is_deterministic():
    first = {label: text for label, (_, text) in _printed("layer").items()}
    again = {label: text for label, (_, text) in _printed("layer").items()}
    assert first == again
    assert first["W[0,0]"] == "u[0]*x[0]/(4*cosh(W[0,0]*x[0]/2 + W[0,1]*x[1]/2 + b[0]/2)**2)"


def test_rewrites_are_identities():
    import sympy as sp

    x, t = sp.symbols("x t", real=True)
    s = 1 / (1 + sp.exp(-x))
    loss = -(t * sp.log(s) + (1 - t) * sp.log(1 - s))
    cases = [
        sp.exp(-x) / (sp.exp(-x) + 1) ** 2,         # the sigmoid's derivative: cosh form
        3 * sp.exp(2 * x + 1) / (sp.exp(2 * x + 1) + 1) ** 2,
        sp.diff(loss, x),                             # exponential form: (s - t) in one fraction
        sp.diff(loss, t),                             # exponential form: log(...) - log(...) is -x
        sp.exp(x) / (sp.exp(-x) + 1) ** 2,           # not the pattern: left as it is
    ]
    for expr in cases:
        best, text = short_form.shortest(expr)
        assert len(text) <= len(str(expr))
        for at in (-1.3, 0.0, 0.7):
            for tv in (0.0, 0.4, 1.0):
                here = {x: sp.Float(at, 30), t: sp.Float(tv, 30)}
                assert math.isclose(float(best.xreplace(here).evalf(30)), float(expr.xreplace(here).evalf(30)),
                                    rel_tol=1e-12, abs_tol=1e-15), (expr, best)
    assert short_form.shortest(sp.diff(loss, t))[1] == "-x"
    assert short_form.cosh_form(cases[4]) == cases[4]
    assert "cosh" in short_form.shortest(cases[0])[1]
