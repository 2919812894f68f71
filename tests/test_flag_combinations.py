"""Every flag of eval's explanation and output flags, and (in the slow run) every pair of them,
on a scalar and three array samples: never an internal error, never a traceback.

Not all pairs and triples (1,144 runs once): a covering set.  Every pair of flags that may go
together runs together once, in a triple with a third flag where one fits (`covering_triples`),
and every pair that must be refused (`CONFLICTS`) is refused on one line.  Two runs per sample
add every compatible flag at once.

A combination may be refused (exit 2, one line); it may not crash.  These found
``--mode forward --latex`` reading the backward pass that forward mode never ran."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import Result

from clitools import run_cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FLAGS = [["--mode", "forward"], ["--steps"], ["--latex"], ["--json"], ["--paths"], ["--edges"], ["--jacobians"],
         ["--check", "fd"], ["--full"], ["--no-nodes"], ["--seed", "SEED"], ["--digits", "3"]]
CASES = [("lecture_e.grad", "b"), ("layer.grad", "u"), ("softmax_ce.grad", "z"), ("mlp.grad", "lam")]


#: the pairs that are refused: the reverse-mode explanations (--paths, --edges, --jacobians)
#: with forward mode or with a seed ("they need ... --mode reverse")
REVERSE_ONLY = ({"--paths", "--edges", "--jacobians"}, {"--mode", "--seed"})
CONFLICTS = {frozenset((a, b)) for a in REVERSE_ONLY[0] for b in REVERSE_ONLY[1]}


def _compatible(*names: str) -> bool:
    return not any(frozenset(pair) in CONFLICTS for pair in itertools.combinations(names, 2))


def covering_triples(names: list[str]) -> list[tuple[str, ...]]:
    """Triples (a pair where no third flag fits) in which every compatible pair of `names`
    occurs at least once, chosen greedily and deterministically."""
    uncovered = [pair for pair in itertools.combinations(names, 2) if _compatible(*pair)]
    combos: list[tuple[str, ...]] = []
    while uncovered:
        a, b = uncovered[0]
        gain = {c: sum(p in uncovered for p in (tuple(sorted((a, c), key=names.index)),
                                                tuple(sorted((b, c), key=names.index))))
                for c in names if c not in (a, b) and _compatible(a, b, c)}
        best = max(gain, key=lambda c: gain[c], default=None)
        combo = tuple(sorted((a, b, best), key=names.index)) if best and gain[best] else (a, b)
        combos.append(combo)
        uncovered = [p for p in uncovered if not set(p) <= set(combo)]
    return combos


def _argv(name: str, seed: str, flags: tuple[str, ...]) -> list[str]:
    by_name = {flag[0]: flag for flag in FLAGS}
    argv = ["eval", "-f", str(SAMPLES / name)]
    for flag in flags:
        argv += [seed if a == "SEED" else a for a in by_name[flag]]
    return argv


def _runs(k: int):
    for name, seed in CASES:
        for combo in itertools.combinations([flag[0] for flag in FLAGS], k):
            yield _argv(name, seed, combo)


def _contract(argv: list[str]) -> Result:
    result = run_cli(argv)  # asserts no exception escaped and no internal error
    assert result.exit_code in (0, 1, 2, 3), (argv, result.exit_code, result.stderr)
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1, (argv, result.stderr)
    else:
        assert result.stdout.strip(), argv
    return result


@pytest.mark.slow
def test_single_flags_never_crash():
    for argv in _runs(1):
        _contract(argv)


def test_the_covering_set_covers_every_compatible_pair():
    names = [flag[0] for flag in FLAGS]
    combos = covering_triples(names)
    covered = {frozenset(p) for combo in combos for p in itertools.combinations(combo, 2)}
    wanted = {frozenset(p) for p in itertools.combinations(names, 2)} - CONFLICTS
    assert covered == wanted
    assert all(_compatible(*combo) for combo in combos)
    assert len(combos) < len(wanted) / 2  # mostly triples: a covering set, not every pair


@pytest.mark.slow
@pytest.mark.parametrize("name, seed", CASES, ids=[c[0] for c in CASES])
def test_every_compatible_pair_together_never_crashes(name, seed):
    names = [flag[0] for flag in FLAGS]
    everything = ([n for n in names if n not in REVERSE_ONLY[1]], [n for n in names if n not in REVERSE_ONLY[0]])
    for combo in [*covering_triples(names), *map(tuple, everything)]:
        result = _contract(_argv(name, seed, combo))
        assert result.exit_code != 2, f"{combo} refused ({result.stderr.strip()}): a new conflict? see CONFLICTS"


@pytest.mark.slow
@pytest.mark.parametrize("name, seed", CASES, ids=[c[0] for c in CASES])
def test_every_conflicting_pair_is_refused_on_one_line(name, seed):
    for pair in sorted(tuple(sorted(p)) for p in CONFLICTS):
        result = _contract(_argv(name, seed, pair))
        assert result.exit_code == 2, (pair, result.exit_code)
