"""Adding an elementwise op is one row (issue 21): a row registered here, in the test, is
differentiated, explained, exported, checked and diffed through the command line, with no
backend code of its own.

Two rows: ``softsign`` made of primitives (a composite ``forward``, so every backend writes
it with its own ``abs``), and ``erfc`` made of library functions (``impl`` names: math,
SymPy, PyTorch, JAX; NumPy maps math.erfc over the elements).  The `rows` fixture takes
them out of the table again, so no other test sees them.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest

from gradcli.backends.floats import SCALAR
from gradcli.core.ops import FUNCTIONS, OPS, Op, catalogue, register, unregister

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def softsign_row() -> Op:
    return Op("softsign", 1, (lambda m, x, o: 1.0 / ((1.0 + m.abs(x)) * (1.0 + m.abs(x))),),
              forward=lambda m, x: x / (1.0 + m.abs(x)), doc="x / (1 + |x|)", activation=True)


def erfc_row() -> Op:
    return Op("erfc", 1, (lambda m, x, o: -_TWO_OVER_SQRT_PI * m.exp(-(x * x)),),
              impl={"math": "erfc", "sympy": "erfc", "torch": "torch.erfc", "jax": "jax.scipy.special.erfc",
                    "latex": r"\operatorname{erfc}"},
              doc="complementary error function")


@pytest.fixture
def rows():
    """softsign and erfc in the op table for one test, and out of it afterwards."""
    added = [register(softsign_row()), register(erfc_row())]
    try:
        yield added
    finally:
        for op in added:
            unregister(op.name)
        assert "softsign" not in OPS and "erfc" not in FUNCTIONS


# independent definitions, for finite differences
def _softsign(x: float) -> float:
    return x / (1.0 + abs(x))


def _program(x: float, y: float) -> float:
    return _softsign(x) * math.erfc(y)


SCALAR_PROGRAM = "softsign(x)*erfc(y)"
POINT = {"x": -0.7, "y": 0.4}
ARGS = [f"{k}={v}" for k, v in POINT.items()]


def _central(f, point: dict, name: str, h: float = 1e-6) -> float:
    up, down = dict(point), dict(point)
    up[name] += h
    down[name] -= h
    return (f(**up) - f(**down)) / (2 * h)


def _close(a: float, b: float, rtol: float = 1e-7, atol: float = 1e-9) -> bool:
    return abs(a - b) <= atol + rtol * abs(b)


def _eval_json(cli, *argv: str) -> dict:
    result = cli(["eval", *argv, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def _value_of(cli, formula: str, point: dict) -> float:
    """A printed formula, evaluated by gradcli itself at `point` (it is in gradcli's language)."""
    used = [f"{k}={v}" for k, v in point.items() if k in formula]
    return float(_eval_json(cli, formula, *used)["value"])


# ---- the row is in the language ---------------------------------------------------------
def test_registered_rows_are_callable_and_listed(rows, cli):
    names = [row["name"] for row in catalogue()]
    assert "softsign" in names and "erfc" in names
    listed = json.loads(cli(["functions", "--json"]).stdout)
    assert any(row["name"] == "softsign" and row["meaning"] == "x / (1 + |x|)" for row in listed["functions"])


def test_without_the_row_the_name_is_unknown(cli):
    result = cli(["eval", "softsign(x)", "x=1"])
    assert result.exit_code == 2 and "softsign" in result.stderr


def test_register_refuses_taken_names_structural_rows_and_rows_without_a_forward(rows):
    with pytest.raises(ValueError, match="taken"):
        register(softsign_row())
    with pytest.raises(ValueError, match="elementwise"):
        register(Op("rowsum", 1, None, vjp=(lambda m, g, xs, o, p: g,)))
    with pytest.raises(ValueError, match="forward"):
        register(Op("nothing", 1, (lambda m, x, o: 1.0,)))
    assert "rowsum" not in OPS and "nothing" not in FUNCTIONS


# ---- differentiated -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_eval_value_and_gradient_match_finite_differences(rows, cli, mode):
    doc = _eval_json(cli, SCALAR_PROGRAM, *ARGS, "--mode", mode)
    assert _close(doc["value"], _program(**POINT), 1e-15, 0.0)
    for name in POINT:
        assert _close(doc["gradient"][name], _central(_program, POINT, name)), (name, doc["gradient"])


def test_a_long_program_takes_the_fast_lane_with_the_rows_and_without_them(cli):
    """A program of 2,000 characters and more is lowered by the fast lane, which caches what
    it learns of each function: the cache follows `register` and `unregister`."""
    from gradcli.language.fastlane import lower_fast

    lines = [f"t{k} = softsign(x*{k + 1}) * erfc(y) + t{k - 1}" if k else "t0 = softsign(x) * erfc(y)"
             for k in range(60)]
    source = "\n".join(lines) + "\n"
    assert len(source) >= 2000

    def f(x: float, y: float) -> float:
        return sum(_softsign(x * (k + 1)) for k in range(60)) * math.erfc(y)

    for _ in range(2):  # known, unknown, known again, unknown again: never a stale answer
        added = [register(softsign_row()), register(erfc_row())]
        try:
            assert lower_fast(source) is not None  # the lane took it
            doc = _eval_json(cli, source, *ARGS)
        finally:
            for op in added:
                unregister(op.name)
        assert _close(doc["value"], f(**POINT), 1e-13, 0.0)
        for name in POINT:
            assert _close(doc["gradient"][name], _central(f, POINT, name), 1e-6), (name, doc["gradient"])
        unknown = cli(["eval", source, *ARGS])
        assert unknown.exit_code == 2 and "unknown function 'softsign'" in unknown.stderr


def test_array_program_matches_finite_differences(rows, cli):
    """On NumPy: softsign through ARRAY.abs, erfc as math.erfc over the elements."""
    w, v = [[1.0, 2.0], [3.0, -4.0]], [0.5, -0.75]  # W@v = [-1, 4.5]: away from the kink of abs

    def f(w00, w01, w10, w11, v0, v1):
        a = [w00 * v0 + w01 * v1, w10 * v0 + w11 * v1]
        return sum(_softsign(a[k]) * math.erfc([v0, v1][k]) for k in range(2))

    doc = _eval_json(cli, "sum(softsign(W@v) * erfc(v))", f"W={json.dumps(w)}", f"v={json.dumps(v)}")
    point = {"w00": 1.0, "w01": 2.0, "w10": 3.0, "w11": -4.0, "v0": 0.5, "v1": -0.75}
    assert _close(doc["value"], f(**point), 1e-14, 0.0)
    got = [*doc["gradient"]["W"][0], *doc["gradient"]["W"][1], *doc["gradient"]["v"]]
    for g, name in zip(got, point):
        assert _close(g, _central(f, point, name)), (name, g)


def test_hessian_by_dual_numbers_matches_finite_differences_of_the_gradient(rows, cli):
    result = cli(["hessian", SCALAR_PROGRAM, *ARGS, "--json"])
    assert result.exit_code == 0, result.stderr
    hessian = json.loads(result.stdout)["hessian"]
    names = list(POINT)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            numeric = _central(lambda a=a, **p: _central(_program, p, a, 1e-5), POINT, b, 1e-5)
            assert _close(hessian[i][j], numeric, 1e-5, 1e-7), (a, b, hessian[i][j], numeric)


# ---- explained ------------------------------------------------------------------------------
def test_edges_print_the_rows_partials_and_they_evaluate_to_the_engines(rows, cli):
    doc = _eval_json(cli, SCALAR_PROGRAM, *ARGS, "--edges")
    edges = {(e["source"], e["target"]): e for e in doc["edges"]}
    soft, erfc = edges[("x", "a")], edges[("y", "b")]
    assert soft["partial"] == "1/(1 + abs(x))^2"
    want = {"x": OPS["softsign"].partials_at(SCALAR, [POINT["x"]], _softsign(POINT["x"]))[0],
            "y": OPS["erfc"].partials_at(SCALAR, [POINT["y"]], math.erfc(POINT["y"]))[0]}
    for edge, name in ((soft, "x"), (erfc, "y")):
        assert _close(edge["value"], want[name], 1e-15, 0.0)
        assert _close(_value_of(cli, edge["partial"], POINT), want[name], 1e-9, 0.0), edge


def test_steps_explain_the_new_ops(rows, cli):
    result = cli(["eval", SCALAR_PROGRAM, *ARGS, "--steps"])
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())  # the table wraps long lines
    assert "a = softsign(x)" in out and "∂a/∂x = 0.571607645 · 1/(1 + abs(x))^2 = 0.571607645 · 0.3460207612" in out
    assert "b = erfc(y)" in out and "-1.128379167*exp(-y^2)" in out


def test_array_edges_name_the_derivative_after_the_op(rows, cli):
    result = cli(["eval", "sum(softsign(W@v))", "W=[[1,2],[3,-4]]", "v=[0.5,-0.25]", "--edges"])
    assert result.exit_code == 0, result.stderr
    assert "softsign'(a) = 1/(1 + abs(a))^2" in result.stdout


# ---- exported ------------------------------------------------------------------------------
def _run_script(source: str) -> dict:
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_numpy_export_runs_and_agrees(rows, cli):
    doc = _eval_json(cli, SCALAR_PROGRAM, *ARGS)
    result = cli(["export", SCALAR_PROGRAM, *ARGS, "--to", "numpy"])
    assert result.exit_code == 0, result.stderr
    script = result.stdout
    assert "a = x / (1.0 + np.abs(x))" in script and "def erfc(x):" in script
    ran = _run_script(script)  # standalone: no gradcli, no registered rows
    assert _close(ran["value"], doc["value"], 1e-14, 0.0)
    for name in POINT:
        assert _close(ran["gradient"][name], doc["gradient"][name], 1e-12, 0.0)


@pytest.mark.parametrize("target,call", [("torch", "torch.erfc(y)"), ("jax", "jax.scipy.special.erfc(y)")])
def test_framework_export_writes_the_rows(rows, cli, target, call):
    result = cli(["export", SCALAR_PROGRAM, *ARGS, "--to", target])
    assert result.exit_code == 0, result.stderr
    script = result.stdout
    xp = "torch" if target == "torch" else "jnp"
    assert f"a = x / (1.0 + {xp}.abs(x))" in script and f"b = {call}" in script
    compile(script, f"<{target} export>", "exec")
    if importlib.util.find_spec(target) is None:
        return  # compiled, not run (the framework is not installed)
    ran = _run_script(script)
    doc = _eval_json(cli, SCALAR_PROGRAM, *ARGS)
    for name in POINT:
        assert _close(ran["gradient"][name], doc["gradient"][name], 1e-12, 0.0)


# ---- checked and diffed ---------------------------------------------------------------------
def test_sympy_check_and_exact_arithmetic(rows, cli):
    doc = _eval_json(cli, SCALAR_PROGRAM, *ARGS, "--check", "sympy")
    assert doc["ok"] is True
    assert all(doc["checks"]["sympy"][name]["status"] == "ok" for name in POINT)
    exact = _eval_json(cli, SCALAR_PROGRAM, *ARGS, "--exact")["exact"]
    assert exact["nodes"]["a"]["exact"] == "-7/17"  # the composite's 1.0 is the exact 1
    assert exact["nodes"]["b"]["exact"] == "erfc(2/5)"
    assert _close(float(exact["gradient"]["y"]["decimal"]), doc["gradient"]["y"], 1e-14, 0.0)


def test_diff_formulas_evaluate_to_the_gradient(rows, cli):
    result = cli(["diff", SCALAR_PROGRAM, "--latex"])
    assert result.exit_code == 0, result.stderr
    formulas = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if line.startswith("∂c/∂"))
    assert set(formulas) == {"∂c/∂x", "∂c/∂y"}
    assert r"\operatorname{erfc}" in result.stdout
    gradient = _eval_json(cli, SCALAR_PROGRAM, *ARGS)["gradient"]
    for name in POINT:
        assert _close(_value_of(cli, formulas[f"∂c/∂{name}"], POINT), gradient[name], 1e-12, 0.0), formulas


def test_a_students_formula_is_graded_against_the_row(rows, cli):
    right = cli(["check", SCALAR_PROGRAM, *ARGS, "--expect-formula", "x=erfc(y)/(1 + abs(x))^2"])
    assert right.exit_code == 0, (right.stdout, right.stderr)
    wrong = cli(["check", SCALAR_PROGRAM, *ARGS, "--expect-formula", "x=erfc(y)/(1 + abs(x))"])
    assert wrong.exit_code == 1, (wrong.stdout, wrong.stderr)


# ---- the facts in the rows ------------------------------------------------------------------
def test_every_library_name_in_a_row_exists_in_its_library():
    import numpy as np
    import sympy as sp

    libraries = {"math": math, "numpy": np, "sympy": sp}
    missing = [(name, target, op.impl[target]) for name, op in OPS.items() for target in libraries
               if target in op.impl and not callable(getattr(libraries[target], op.impl[target], None))]
    assert missing == []


def test_the_backends_take_their_library_functions_from_the_rows():
    import numpy as np

    from gradcli.backends.arrays import ARRAY

    assert SCALAR.exp is math.exp and SCALAR.abs is math.fabs and SCALAR.erf is math.erf
    assert ARRAY.asin is np.arcsin and ARRAY.atan2 is np.arctan2
    assert float(ARRAY.erf(np.array([0.5]))[0]) == math.erf(0.5)  # math's, over the elements


def test_kink_kinds_agree_with_the_rows_sides():
    from gradcli.core.ops import KINK_KINDS

    for name, op in OPS.items():
        assert op.kink_kind in KINK_KINDS
        assert op.kink_kind == "" or op.kink is not None, name  # a kind only where there is a kink
        if op.kink_kind == "side":  # the branch switches at 0: the side is x > 0
            assert op.side is not None and bool(op.side(1.0)) and not bool(op.side(0.0)), name
    assert {n for n, op in OPS.items() if op.kink_kind == "extreme"} == {"max", "min", "amax", "amin", "maxpool2d"}
