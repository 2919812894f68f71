"""Forward mode computes each node's local partials once and shares them.

`Tape.jvp` writes its commonest nodes out (one argument, two, a product) and keeps each node's
partials in the list it is given; `run_forward` passes one list to every input's pass and keeps
it on the evaluation, and `edges.edge_partials` shows those very numbers in the explanation.
Held here to the walk it replaced (`safe_partials` on every node, on every pass) to the bit,
on random scalar programs (kinks, ties, repeated arguments, infinite derivatives) and on the
ones that take each written-out road.
"""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings

from clitools import examples
from gradcli.backends.floats import SCALAR
from gradcli.core.engine import safe_partials
from gradcli.teach.edges import edge_partials
from test_explain_fast_paths import comparable, evaluate, general_edges, programs


def reference_jvp(tape, values, seeds: dict[int, float]) -> list:
    """`Tape.jvp` as it was: every node's partials from `safe_partials`, summed in a loop."""
    tangent = [0.0] * tape.n
    for k, t in seeds.items():
        tangent[k] = t
    for i, kind, args, parts in tape._forward_order():
        local = safe_partials(SCALAR, kind, parts, [values[a] for a in args], values[i])
        total = 0.0
        for a, p in zip(args, local):
            if p is not None and tangent[a] and p != 0.0:
                total = total + p * tangent[a]
        tangent[i] = float(total)
    return tangent


def bits(xs) -> list[str]:
    return [repr(x) for x in xs]


def check_passes(ev) -> None:
    """Every input's pass, alone and sharing one list of partials, is the reference's pass;
    the shared partials are `safe_partials`' to the bit."""
    tape, values, names = ev.tape, ev.values, ev.graph.names
    shared: list = [None] * tape.n
    for name in ev.inputs:
        seeds = {names[name]: 1.0}
        expected = bits(reference_jvp(tape, values, seeds))
        assert bits(tape.jvp(values, seeds)) == expected
        assert bits(tape.jvp(values, seeds, shared)) == expected
    for i, kind, args, parts in tape._forward_order():
        local = safe_partials(SCALAR, kind, parts, [values[a] for a in args], values[i])
        assert bits(shared[i]) == bits(local), ev.graph.label(i)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs())
def test_the_passes_are_the_walk_they_replaced(case):
    ev = evaluate(*case, mode="forward")
    check_passes(ev)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs())
def test_the_explanation_shows_the_passes_partials(case):
    ev = evaluate(*case, mode="forward")
    if ev.tangents:  # a pass ran (some input is reached): its partials are kept
        assert ev.partials is not None and ev.partials[0] is ev.values
    assert comparable(edge_partials(ev)) == comparable(general_edges(ev))


@pytest.mark.parametrize("program, point", [
    ("sin(x)*0.5 + x", ["x=1"]),                    # one argument, a product with a number, a sum
    ("x*y - y*x + x*x", ["x=2", "y=-3"]),           # products of two inputs, an argument twice
    ("exp(x) / y", ["x=0.5", "y=4"]),               # a quotient: two partials that are functions
    ("sqrt(x) + log(y)", ["x=0", "y=1"]),           # an infinite partial: the IEEE road
    ("max(x, y, 1) * relu(x)", ["x=1", "y=1"]),     # variadic, a tie, a kink
    ("where(x > 0, x*y, y)", ["x=1", "y=2"]),       # three arguments
])
def test_each_written_out_road(program, point):
    ev = evaluate(program, point, mode="forward")
    check_passes(ev)
    assert comparable(edge_partials(ev)) == comparable(general_edges(ev))


def test_the_passes_share_one_list_of_partials():
    ev = evaluate("sin(x)*y + x*y", ["x=1", "y=2"], mode="forward")
    values, shared = ev.partials
    sine = next(i for i, op in enumerate(ev.graph.ops) if op == "sin")
    assert values is ev.values
    assert shared[sine] == (math.cos(1.0),)
    assert len(ev.tangents) == 2  # two passes, one list: each node's partials computed once
    marked = list(shared)
    marked[sine] = (42.0,)  # a list already filled is used, not computed again
    tangents = ev.tape.jvp(ev.values, {ev.graph.names["x"]: 1.0}, marked)
    assert tangents[sine] == 42.0


def test_an_evaluation_at_other_values_does_not_show_the_old_partials():
    ev = evaluate("sin(x)*0.5 + x", ["x=1"], mode="forward")
    there = copy.copy(ev)
    there.values = evaluate("sin(x)*0.5 + x", ["x=2"], mode="forward").values
    shown = {e.symbolic: e.value for e in edge_partials(there)}
    assert shown["cos(x)"] == math.cos(2.0)
    assert comparable(edge_partials(there)) == comparable(general_edges(there))
