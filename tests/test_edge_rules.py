"""--edges, --paths and --steps on max/min print the rule, as diff does, not its value; relu's
edge is written in the language (issue 22).  Each printed rule evaluates to the engine's value."""

from __future__ import annotations

import json
import re

import pytest

from clitools import run_cli


def _edges(*argv: str) -> dict[str, tuple[str, str]]:
    result = run_cli(["eval", *argv, "--edges", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and "/" in cells[1]:
            rows[cells[0]] = (cells[2], cells[3])
    return rows


@pytest.mark.parametrize("point", [("y=1", "z=2", "a=3"), ("y=2", "z=2", "a=-1"), ("y=3", "z=2", "a=0")])
def test_max_min_and_relu_edges_are_rules_that_evaluate_to_the_value(point):
    rows = _edges("f = max(y, z) + relu(a) + min(y, z, a)", *point)
    assert rows["y → b"][0] == "(y > z) + 0.5*(y == z)"
    assert rows["z → b"][0] == "(z > y) + 0.5*(z == y)"
    assert rows["a → c"][0] == "(a > 0)"
    assert rows["y → e"][0] == "(y == e)/((y == e) + (z == e) + (a == e))"
    binding = dict(p.split("=") for p in point)
    for edge in ("y → b", "z → b", "a → c"):
        rule, value = rows[edge]
        result = run_cli(["eval", rule, *(f"{k}={v}" for k, v in binding.items() if re.search(rf"\b{k}\b", rule)),
                          "--json"])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["value"] == float(value), (edge, rule)


def test_paths_and_steps_parenthesise_the_rule_in_a_product():
    result = run_cli(["eval", "f = max(y, z)*x", "x=3", "y=1", "z=2", "--paths", "--steps", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "∂f/∂y = ((y > z) + 0.5*(y == z))·x = 0" in result.stdout
    assert "= 3 · ((z > y) + 0.5*(z == y)) = 3 · 1 = 3" in result.stdout
    assert "step(" not in result.stdout
