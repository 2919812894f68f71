"""The grading corpus (tests/grading_corpus.py): its own consistency, then the grader's scores.

The first part checks the corpus against its NumPy oracle alone, without gradcli's
grader: each family's hand-written backward pass agrees with central differences of
its forward pass; each right number agrees with the oracle to the digits it is
written with, and each wrong number differs beyond them; each formula's NumPy twin
agrees with the oracle at the point and at random points (data kept in kind: a one-hot
label stays one-hot) when the formula is right, and disagrees somewhere when it is
wrong.

The second part runs every answer through `gradcli.judge` and a sample through
``gradcli check --json``, and asserts the issue's scores: 0 right answers judged wrong,
0 wrong answers judged right, the mistake class named for ≥ 95 % of wrong answers.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from clitools import run_cli
from grading_corpus import (KINDS, WRONG_DIGITS, Answer, answers, cli_argv, families, family, kind_matches,
                            scores)

FAMILIES = [f.name for f in families()]
#: random points per formula twin
RIGHT_POINTS = 12
WRONG_POINTS = 40
#: every CLI_EVERY-th answer also goes through the command line
CLI_EVERY = 15
#: the issue's goal for the share of wrong answers diagnosed with their class
DIAGNOSED_GOAL = 0.95


def _numbers(text: str) -> np.ndarray:
    """The numbers of an answer text (JSON-shaped: a number or nested lists)."""
    return np.asarray(json.loads(text), dtype=float)


_NUMBER = re.compile(r"-?[0-9.]+(?:e[+-]?[0-9]+)?")


def _significant_digits(token: str) -> int:
    """Significant digits of a number as written: 0.0123 has 3, 8.00 has 3, 0.00 has 3."""
    mantissa = token.lstrip("-").split("e")[0].replace(".", "")
    return len(mantissa.lstrip("0")) or len(mantissa)


def _half_unit(value: float, digits: int) -> float:
    """Half a unit in the last of `digits` significant digits of `value` as written."""
    if value == 0:
        return 0.5 * 10.0 ** (-(digits - 1))
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)


def _close(a: object, b: object) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-12))


# ---- the corpus itself -----------------------------------------------------------------------
def test_corpus_is_large_labelled_and_covers_every_class():
    items = answers()
    assert len(items) >= 300
    assert len({a.id for a in items}) == len(items)
    for a in items:
        assert a.question in ("expect", "expect-formula", "expect-value"), a.id
        assert a.right == (a.kind is None), a.id
        if a.kind is not None:
            assert all(k in KINDS for k in a.kind.split("+")), a.id
    kinds = {k for a in items if a.kind for k in a.kind.split("+")}
    assert kinds == set(KINDS)
    for name in FAMILIES:
        mine = [a for a in items if a.family == name]
        assert any(a.right for a in mine) and any(not a.right for a in mine), name
    # every class as a number and as a formula
    for kind in KINDS:
        assert any(a.kind == kind and a.question == "expect" for a in items), kind
        if kind != "paths":  # one path of several is a number here (the LSTM's dx)
            assert any(a.kind == kind and a.question == "expect-formula" for a in items), kind


@pytest.mark.parametrize("name", FAMILIES)
def test_oracle_agrees_with_finite_differences(name):
    fam = family(name)
    grads = fam.grads()
    h = 1e-6
    for var, value in fam.point.items():
        if var in fam.data:
            continue
        base = np.array(value, dtype=float)
        estimate = np.zeros_like(base)
        for index in np.ndindex(*base.shape):
            up, down = base.copy(), base.copy()
            up[index] += h
            down[index] -= h
            f_up = fam.loss({**fam.point, var: up if base.shape else float(up)})
            f_down = fam.loss({**fam.point, var: down if base.shape else float(down)})
            estimate[index] = (f_up - f_down) / (2 * h)
        analytic = np.asarray(grads[var], dtype=float)
        assert analytic.shape == base.shape, (name, var)
        assert np.allclose(analytic, estimate, rtol=1e-5, atol=1e-7), (name, var, analytic, estimate)


def _truth(a: Answer) -> object:
    env = family(a.family).env()
    return env[a.name] if a.question == "expect-value" else env["d" + a.name]


def test_right_numbers_agree_with_the_oracle_to_their_digits():
    checked = 0
    for a in answers():
        if not a.right or a.question == "expect-formula":
            continue
        written, truth = _numbers(a.text), np.asarray(_truth(a), dtype=float)
        assert written.shape == truth.shape, a.id
        if a.digits is None:
            assert np.allclose(written, truth, rtol=1e-12, atol=1e-15), a.id
        else:
            for w, t in zip(written.flat, truth.flat):
                assert abs(w - t) <= _half_unit(w, a.digits) * (1 + 1e-9), (a.id, w, t)
            # and it really is written with that many digits (8 to 3 digits is 8.00)
            assert {_significant_digits(token) for token in _NUMBER.findall(a.text)} == {a.digits}, a.id
        checked += 1
    assert checked >= 150


def test_wrong_numbers_differ_from_the_oracle_beyond_their_digits():
    checked = 0
    for a in answers():
        if a.right or a.question == "expect-formula":
            continue
        assert a.digits == WRONG_DIGITS, a.id
        written, truth = _numbers(a.text), np.asarray(_truth(a), dtype=float)
        if written.shape == truth.shape:
            gaps = [abs(w - t) - 2 * max(_half_unit(w, a.digits), _half_unit(t, a.digits))
                    for w, t in zip(written.flat, truth.flat)]
            assert max(gaps) > 0, (a.id, a.text)
        checked += 1
    assert checked >= 80


@pytest.mark.parametrize("name", FAMILIES)
def test_right_formula_twins_agree_at_random_points(name):
    fam = family(name)
    rng = np.random.default_rng(2020)
    points = [fam.point] + [fam.random_point(rng) for _ in range(RIGHT_POINTS)]
    mine = [a for a in answers() if a.family == name and a.question == "expect-formula" and a.right]
    for point in points:
        for var in fam.data:  # the data stay in kind: one-hot rows, 0/1 labels
            value = np.asarray(point[var])
            assert set(np.unique(value)) <= {0.0, 1.0}, (name, var)
            if fam.data_kind == "one-hot":
                assert np.all(value.sum(axis=-1) == 1), (name, var)
        env = fam.env(point)
        for a in mine:
            assert a.twin is not None, a.id
            assert _close(a.twin(env), env["d" + a.name]), (a.id, point)


@pytest.mark.parametrize("name", FAMILIES)
def test_wrong_formula_twins_disagree_somewhere(name):
    fam = family(name)
    rng = np.random.default_rng(2021)
    points = [fam.point] + [fam.random_point(rng) for _ in range(WRONG_POINTS)]
    envs = [fam.env(p) for p in points]
    for a in answers():
        if a.family != name or a.question != "expect-formula" or a.right:
            continue
        if a.twin is None:  # the formula does not fit: its product's shapes do not match
            continue
        assert not all(_close(a.twin(env), env["d" + a.name]) for env in envs), a.id


def test_kink_formulas_are_right_at_the_point_and_wrong_across_the_kink():
    """The issue's cases: `w=x` for relu(w*x) at (2, 3), `x=y` for (x+y)·max(y,z) at (1, 2, 0)."""
    for fid in ("relu-on/expect-formula/w/relu-mask0", "lecture-max/expect-formula/x/max-routing1"):
        a = next(a for a in answers() if a.id == fid)
        fam = family(a.family)
        env = fam.env()
        assert _close(a.twin(env), env["d" + a.name]), fid
        assert not a.right and a.kind in ("relu-mask", "max-routing")


def test_shape_misfits_are_labelled_transposed():
    misfits = [a for a in answers() if a.question == "expect-formula" and a.twin is None]
    assert misfits and all(a.kind == "transposed" and not a.right for a in misfits)


# ---- the grader's scores ---------------------------------------------------------------------
def _report(s, label: str) -> str:
    return f"{label}: {s.summary()}\n{s.table()}"


def _meets_goals(s) -> bool:
    return not s.rejected and not s.accepted and s.diagnosed_share >= DIAGNOSED_GOAL


def test_grader_scores_on_the_whole_corpus_api():
    s = scores(answers())
    print("\n" + _report(s, "gradcli.judge") + "\n" + s.kind_table())
    assert _meets_goals(s), _report(s, "gradcli.judge")


def _judge_cli(a: Answer) -> tuple:
    result = run_cli(cli_argv(a), env={"COLUMNS": "200"})
    if result.exit_code not in (0, 1):
        return None, None
    doc = json.loads(result.stdout)
    if len(doc["verdicts"]) != 1:
        return None, None
    v = doc["verdicts"][0]
    return v["ok"], (v.get("diagnosis") or {}).get("kind")


def test_grader_scores_on_a_sample_cli():
    sample = answers()[::CLI_EVERY]
    s = scores(sample, _judge_cli)
    print("\n" + _report(s, "gradcli check") + "\n" + s.kind_table())
    assert _meets_goals(s), _report(s, "gradcli check")


def test_significant_digits_of_a_written_number():
    assert [_significant_digits(t) for t in ("8.00", "0.0123", "0.00", "-1.235e-05", "12.3")] == [3, 3, 3, 4, 3]


def test_kind_matching():
    assert kind_matches("transposed+sign", "sign+transposed")
    assert kind_matches("sigma", "sigma")
    assert not kind_matches("sigma", None)
    assert not kind_matches("sigma", "chain")
