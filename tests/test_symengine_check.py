"""The symbolic check gives the same verdicts and values with SymEngine as with SymPy alone.

SymEngine is a regular dependency (pyproject.toml); these tests compare its path with
the SymPy-only path (SymEngine hidden from ``import``, the fallback when it cannot be
loaded) on every sample and on programs it must hand back to SymPy (ops it cannot
differentiate, complex or infinite values).
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path

import pytest

from clitools import run_cli, strict_json
from gradcli.backends import symengine as fast_backend

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_symengine_is_installed():
    """A regular dependency: every install has it, so no test of its path may skip."""
    assert fast_backend.load() is not None


def test_orjson_is_installed():
    """The other former extra, a regular dependency too: the --points tests of its path run everywhere."""
    importlib.import_module("orjson")


def _bindings(path: Path) -> list[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#: bind "):
            return line[len("#: bind "):].split()
        if line.startswith("#: vars "):
            return ["--vars", str(path.parent / line[len("#: vars "):].strip())]
    raise AssertionError(f"{path.name}: no bindings")


@pytest.fixture
def no_symengine(monkeypatch):
    """Hide SymEngine: the SymPy-only fallback."""
    monkeypatch.setitem(sys.modules, "symengine", None)
    assert fast_backend.load() is None


def _sympy_checks(argv: list[str]) -> dict:
    result = run_cli(["eval", *argv, "--check", "sympy", "--json", "--sympy-timeout", "60"])
    assert result.exit_code == 0, result.stderr
    return strict_json(result.stdout)["checks"]["sympy"]


def _compare(fast: dict, slow: dict) -> None:
    assert fast.keys() == slow.keys()
    for name in fast:
        a, b = fast[name], slow[name]
        assert a["status"] == b["status"] == "ok", (name, a, b)
        assert a["ok"] and b["ok"]
        est_a, est_b = json.dumps(a["estimate"]), json.dumps(b["estimate"])
        if est_a != est_b:  # 30-digit values may round differently in the last float bit
            flat_a = [float(x) for x in est_a.replace("[", " ").replace("]", " ").replace(",", " ").split()]
            flat_b = [float(x) for x in est_b.replace("[", " ").replace("]", " ").replace(",", " ").split()]
            assert all(math.isclose(x, y, rel_tol=1e-15, abs_tol=1e-300) for x, y in zip(flat_a, flat_b))


@pytest.mark.parametrize("sample", ["lecture_e", "sharing", "chain", "logreg", "tiny_net", "layer", "softmax_ce"])
def test_symengine_and_sympy_agree_on_samples(sample, monkeypatch):
    path = SAMPLES / f"{sample}.grad"
    argv = ["-f", str(path), *_bindings(path)]
    fast = _sympy_checks(argv)
    monkeypatch.setitem(sys.modules, "symengine", None)
    slow = _sympy_checks(argv)
    _compare(fast, slow)
    for name in fast:
        # both paths print the shortest form of their library's derivative
        # (gradcli.oracles.short_form); the two derivatives can differ in structure
        # (tiny_net: a factor 1/2 inside or outside a sum), so the texts may too, but the
        # default path's is never the longer one
        if "formula" in fast[name]:
            assert len(fast[name]["formula"]) <= len(slow[name]["formula"]), name


def test_symengine_value_is_exact_float_point(monkeypatch):
    # 0.1 is bound as the float 0.1000000000000000055511…; d/dx x^3 = 3x^2 there is
    # 0.03 + 6 * 0.1 * 5.5511e-18 = 0.0300000000000000033307 (not 0.03)
    fast = _sympy_checks(["x^3", "x=0.1"])["x"]["exact"]
    monkeypatch.setitem(sys.modules, "symengine", None)
    slow = _sympy_checks(["x^3", "x=0.1"])["x"]["exact"]
    assert fast.startswith("0.03000000000000000333066907387")
    assert slow.startswith("0.03000000000000000333066907387")


def test_hidden_symengine_is_absent(no_symengine):
    checks = _sympy_checks(["(a+b)*(b+1)", "a=3", "b=2"])
    assert checks["a"]["formula"] == "b + 1"
    assert checks["b"]["formula"] == "a + 2*b + 1"
    assert checks["b"]["exact"] == "8.00000000000000000000000000000"


@pytest.mark.parametrize("program, bind", [
    ("max(x, y) * x", ["x=1", "y=2"]),          # no SymEngine derivative of Max: SymPy does it
    ("abs(x) + relu(x)", ["x=-1.5"]),
    ("x^y", ["x=2", "y=0.5"]),
    ("sqrt(x) * x", ["x=4"]),
])
def test_programs_symengine_hands_to_sympy_agree(program, bind, monkeypatch):
    fast = _sympy_checks([program, *bind])
    monkeypatch.setitem(sys.modules, "symengine", None)
    slow = _sympy_checks([program, *bind])
    _compare(fast, slow)
    assert fast == slow or all(fast[n]["exact"][:20] == slow[n]["exact"][:20] for n in fast)


def test_supported_ops_are_declared():
    from gradcli.core.ops import OPS  # the closed set of primitives

    assert fast_backend.SUPPORTED - {"input", "const"} <= set(OPS)
    assert not fast_backend.supports(_graph("relu(x) + floor(x)"))  # new ops stay with SymPy


def _graph(program: str):
    from gradcli.language.lower import lower
    from gradcli.language.parser import parse

    return lower(parse(program))


def test_symengine_builds_array_programs_without_sympy():
    """`1 - p` with p an array of SymEngine expressions: SymEngine's own operator would import
    all of SymPy (0.2 s) trying to convert the array; the backend hands it to NumPy first."""
    import subprocess

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gradcli.core.elements import elements\n"
        "from gradcli.oracles import sympy_check as sc\n"
        "from gradcli.run.bindings import collect\n"
        "from gradcli.run.evaluate import evaluate\n"
        f"path = Path({str(SAMPLES / 'logreg_vec.grad')!r})\n"
        "ev = evaluate(path.read_text(), collect([], [str(path.parent / 'logreg_vec.json')]))\n"
        "labels = [(n, l, i) for n in ev.wrt for l, i in elements(n, ev.env[n])]\n"
        "found = sc._symengine_derivatives(ev.graph, ev.env, list(ev.wrt), labels)\n"
        "assert found is not None and len(found[0]) == len(labels)\n"
        "print('sympy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_scalar_check_in_a_fresh_command_spares_numpy():
    """A command's forked check loads SymEngine without NumPy for a scalar program
    (`load(spare_numpy=True)`); its values and formulas are the same as anywhere else."""
    import subprocess

    out = subprocess.run([sys.executable, "-m", "gradcli", "eval", "sigmoid(w*x)", "w=0.5", "x=0.1", "--check",
                          "sympy", "--json"], capture_output=True, text=True, check=True)
    checks = json.loads(out.stdout)["checks"]["sympy"]
    assert checks["w"]["status"] == checks["x"]["status"] == "ok"
    assert checks["w"]["exact"].startswith("0.0249843815")  # x*s*(1 - s) at w*x = 0.05
    assert checks["w"]["formula"] == "x/(4*cosh(w*x/2)**2)"
    code = "import sys; from gradcli.backends import symengine as b; b.load(spare_numpy=True); print('numpy' in sys.modules)"
    spared = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert spared.stdout.strip() == "False"
