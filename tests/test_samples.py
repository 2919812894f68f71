"""Every samples/*.grad runs through the CLI and gives the answers written in it.

A sample's ``#:`` lines say how to run it and what to expect (samples/README.md):
``#: bind`` (or ``#: vars FILE.json`` for vectors and matrices), ``#: value``,
``#: grad`` (``NAME=NUMBER ...``, or one ``NAME=JSON`` array per line) and
optionally ``#: output``.  The expected
numbers were computed independently of gradcli (closed form), so these tests check
gradcli against the lecture, not against itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from clitools import invoke

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FILES = sorted(SAMPLES.glob("*.grad"))
REL = 1e-9


def _pairs(text: str) -> dict[str, str]:
    out = {}
    for item in text.split():
        name, eq, value = item.partition("=")
        assert eq and name and value, f"bad NAME=VALUE item {item!r}"
        out[name] = value
    return out


def directives(path: Path) -> dict:
    spec: dict = {"output": None, "grad": {}}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#:"):
            continue
        key, _, rest = line[2:].strip().partition(" ")
        if key == "bind":
            spec["bind"] = [f"{k}={v}" for k, v in _pairs(rest).items()]
        elif key == "vars":
            spec["bind"] = ["--vars", str(path.parent / rest.strip())]
        elif key == "value":
            spec["value"] = float(rest)
        elif key == "grad" and "[" in rest:
            name, _, array = rest.partition("=")
            spec["grad"][name.strip()] = json.loads(array)
        elif key == "grad":
            spec["grad"].update({k: float(v) for k, v in _pairs(rest).items()})
        elif key == "output":
            spec["output"] = rest.strip()
        else:
            raise AssertionError(f"{path.name}: unknown directive #: {key}")
    for key in ("bind", "value"):
        assert key in spec, f"{path.name}: no '#: {key}' line"
    assert spec["grad"], f"{path.name}: no '#: grad' line"
    return spec


def _strict(text: str) -> dict:
    def reject(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=reject)


def _invoke(args: list[str]):
    result = invoke(args)
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _args(path: Path, spec: dict, *extra: str) -> list[str]:
    args = ["eval", "-f", str(path), *spec["bind"]]
    if spec["output"]:
        args += ["--output", spec["output"]]
    return [*args, *extra]


def test_the_lecture_samples_exist():
    names = {p.name for p in FILES}
    assert {"lecture_e.grad", "lecture_max.grad", "chain.grad", "sharing.grad",
            "logreg.grad", "tiny_net.grad"} <= names
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert name in readme, f"{name} is not listed in samples/README.md"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sample_starts_with_a_description(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and lines[1].startswith("# "), "describe the example first"
    first_directive = next(i for i, line in enumerate(lines) if line.startswith("#:"))
    assert first_directive >= 2


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sample_value_and_gradient(path: Path):
    spec = directives(path)
    result = _invoke(_args(path, spec, "--json"))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # no warnings: every binding is used, nothing is a kink
    doc = _strict(result.stdout)
    if spec["output"]:
        assert doc["output"] == spec["output"]
    assert doc["value"] == pytest.approx(spec["value"], rel=REL, abs=1e-300)
    data = set(doc.get("data", {}))  # integer labels and indices: no gradient (null)
    assert set(doc["gradient"]) - data == set(spec["grad"])
    assert all(doc["gradient"][name] is None for name in data)
    for name, expected in spec["grad"].items():
        got = doc["gradient"][name]
        if isinstance(expected, list):
            assert np.asarray(got).shape == np.asarray(expected).shape, name
            np.testing.assert_allclose(got, expected, rtol=REL, atol=1e-15, err_msg=name)
            continue
        assert isinstance(got, float) and math.isfinite(got), (name, got)
        assert got == pytest.approx(expected, rel=REL, abs=1e-300 if expected else 1e-15), name


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sample_passes_all_checks(path: Path):
    spec = directives(path)
    # a generous budget: the command returns as soon as the values and formulas are in
    # (only small formulas are simplified, chosen by size), so this only matters on a slow machine
    # a convnet expands to one SymPy expression per window and element: far beyond the symbolic
    # check's budget at this size (tests/test_conv.py checks the SymPy forms on small programs)
    checks = ("fd",) if path.stem == "convnet" else ("sympy", "fd")
    result = _invoke(_args(path, spec, "--check", "all" if len(checks) == 2 else "fd", "--sympy-timeout", "60",
                           "--json"))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stderr == ""
    doc = _strict(result.stdout)
    assert doc["ok"] is True
    assert set(doc["checks"]) == set(checks)
    for check, entries in doc["checks"].items():
        assert set(entries) == set(spec["grad"]), check
        for name, entry in entries.items():
            assert entry["status"] == "ok", (check, name, entry)
            np.testing.assert_allclose(entry["estimate"], spec["grad"][name], rtol=1e-6, atol=1e-8)
