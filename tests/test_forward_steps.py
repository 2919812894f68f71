"""--mode forward --steps: the tangent sweep by hand, every line checked against the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import gradcli
from clitools import run_cli
from test_samples import FILES, directives

SCALAR = [p for p in FILES if "--vars" not in directives(p)["bind"]]
ARRAY = [p for p in FILES if p not in SCALAR]


def test_the_lecture_example_reads_like_the_notes():
    result = run_cli(["eval", "(a+b)*(b+1)", "a=3", "b=2", "--mode", "forward", "--seed", "b", "--steps"])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "Forward pass 1 of 1: start with ḃ = 1, ȧ = 0:" in text
    assert "  ḋ = ∂d/∂b · ḃ = 1 · 1 = 1" in text
    assert "  ė = ∂e/∂c · ċ + ∂e/∂d · ḋ = d · 1 + c · 1 = 3 · 1 + 5 · 1 = 8" in text
    assert "so ∂e/∂b = ė = 8" in text


def _numeric_parts(line: str) -> tuple[str, str]:
    """The last two '='-separated parts: the numbers multiplied out, and the result."""
    parts = [p.strip() for p in line.split(" = ")]
    return parts[-2], parts[-1]


@pytest.mark.parametrize("path", SCALAR, ids=lambda p: p.name)
def test_every_line_is_the_engine_s_tangent(path):
    spec = directives(path)
    args = ["eval", "-f", str(path), *spec["bind"], "--mode", "forward", "--steps"]
    text = run_cli(args, env={"COLUMNS": "300"}).stdout  # no line wrapped
    doc = json.loads(run_cli([*args, "--json"]).stdout)
    tangents = {n["name"]: n["tangent"] for n in doc["nodes"] if n["name"]}
    passes = re.split(r"Forward pass \d+ of \d+: start with ", text)[1:]
    assert passes, text
    checked = 0
    for block in passes:
        seed = block[0]
        for line in block.splitlines()[1:]:
            if not line.startswith("  ") or line.startswith("  so "):
                continue
            label = line.strip()[0]
            node = next(n for n in tangents if n == label) if label in tangents else None
            product, result = _numeric_parts(line)
            value = gradcli.evaluate(product.replace("·", "*"))  # read by gradcli's own parser
            assert value.value == pytest.approx(float(result), rel=1e-9, abs=1e-12), line
            if node is not None and seed in tangents[node]:
                assert float(result) == pytest.approx(tangents[node][seed], rel=1e-9, abs=1e-12), line
            checked += 1
        final = re.search(r"so ∂\S+/∂(\S+) = \S+ = (\S+)", block)
        assert float(final.group(2)) == pytest.approx(doc["gradient"][final.group(1)], rel=1e-9)
    assert checked >= 2


@pytest.mark.parametrize("path", ARRAY, ids=lambda p: p.name)
def test_array_programs_get_a_clear_message(path):
    spec = directives(path)
    result = run_cli(["eval", "-f", str(path), *spec["bind"], "--mode", "forward", "--steps"])
    assert result.exit_code == 2 and "explains scalar programs" in result.stderr


def test_json_carries_the_sweep():
    doc = json.loads(run_cli(["eval", "x*exp(x^2)", "x=0.5", "--mode", "forward", "--steps", "--json"]).stdout)
    (p,) = doc["forward_steps"]
    assert p["seed"] == "x" and p["derivative"] == pytest.approx(doc["gradient"]["x"])
    assert [n["node"] for n in p["nodes"]] == ["a", "b", "c"]


def test_forward_steps_cannot_mix_with_reverse_explanations():
    result = run_cli(["eval", "x*y", "x=1", "y=2", "--mode", "forward", "--steps", "--paths"])
    assert result.exit_code == 2 and "reverse mode" in result.stderr
