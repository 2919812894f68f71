"""Softmax with cross-entropy is explained as the lecture's fused step z̄ = p − y (issue 22):
the prelude's cross_entropy shows the fused step alone (its internals never leak), a chain
the user wrote out keeps its long form with the fused step after it, and the printed
values are the engine's gradient."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from clitools import run_cli


def _steps(*argv: str) -> str:
    result = run_cli(["eval", *argv, "--steps", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _fused_value(text: str) -> list[float]:
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if "(p − y)" in line)
    value = next(line for line in lines[k + 1:] if re.match(r"\s+= \[", line))
    return json.loads(value.split("= ", 1)[1])


@pytest.mark.parametrize("program", ["L = cross_entropy(z, 2)", "p = softmax(z); L = -log(p[2])",
                                     "L = -log_softmax(z)[2]"])
def test_fused_step_is_p_minus_y(program):
    text = _steps(program, "z=[1,2,0.5,-1]")
    assert "z̄ += L̄ · (p − y)   p = softmax(z), y = one-hot of class 2" in text
    z = np.array([1, 2, 0.5, -1])
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(_fused_value(text), p - np.eye(4)[2], rtol=1e-5)


def test_prelude_internals_do_not_leak():
    text = _steps("L = cross_entropy(z, 2)", "z=[1,2,0.5,-1]")
    assert "#" not in text and "exp(s)" not in text
    assert "1. L = cross_entropy(z, 2)" in text


def test_a_chain_written_out_keeps_its_long_form():
    text = _steps("p = softmax(z); L = -log(p[2])", "z=[1,2,0.5,-1]")
    assert "p = softmax(z)   z̄ += p ∘ (p̄ − ⟨p̄, p⟩)" in text  # the long form, step by step
    assert "steps 1–4 together:" in text


def test_paths_name_the_selection_and_the_softmax():
    result = run_cli(["eval", "p = softmax(z); L = -log(p[2])", "z=[1,2,0.5,-1]", "--paths", "--edges",
                      "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "I[2]" in result.stdout
    assert not re.search(r"(?<![\w\[])E(?![\w\]])", result.stdout.split("The chain rule", 1)[1])


def test_paths_through_the_prelude_call_show_the_fused_factor():
    result = run_cli(["eval", "L = cross_entropy(z, 2)", "z=[1,2,0.5,-1]", "--paths", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    paths = result.stdout.split("The chain rule", 1)[1]
    assert "(p − y)ᵀ" in paths and "path z → L" in paths
    assert "#" not in paths
