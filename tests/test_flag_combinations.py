"""Every flag (in the slow run: every pair and every triple) of eval's explanation and output flags,
on a scalar and three array samples: never an internal error, never a traceback.

A combination may be refused (exit 2, one line); it may not crash.  These found
``--mode forward --latex`` reading the backward pass that forward mode never ran."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from clitools import run_cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FLAGS = [["--mode", "forward"], ["--steps"], ["--latex"], ["--json"], ["--paths"], ["--edges"], ["--jacobians"],
         ["--check", "fd"], ["--full"], ["--no-nodes"], ["--seed", "SEED"], ["--digits", "3"]]
CASES = [("lecture_e.grad", "b"), ("layer.grad", "u"), ("softmax_ce.grad", "z"), ("mlp.grad", "lam")]


def _runs(k: int):
    for name, seed in CASES:
        for combo in itertools.combinations(FLAGS, k):
            argv = ["eval", "-f", str(SAMPLES / name)]
            for flag in combo:
                argv += [seed if a == "SEED" else a for a in flag]
            yield argv


def _contract(argv: list[str]) -> None:
    result = run_cli(argv)  # asserts no exception escaped and no internal error
    assert result.exit_code in (0, 1, 2, 3), (argv, result.exit_code, result.stderr)
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1, (argv, result.stderr)
    else:
        assert result.stdout.strip(), argv


def test_single_flags_never_crash():
    for argv in _runs(1):
        _contract(argv)


@pytest.mark.slow
def test_pairs_never_crash():
    for argv in _runs(2):
        _contract(argv)


@pytest.mark.slow
def test_triples_never_crash():
    for argv in _runs(3):
        _contract(argv)
