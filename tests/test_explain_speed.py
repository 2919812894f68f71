"""What makes explanations fast keeps their text: cached partials, the forward steps built once,
`number`'s fast path, and a symbolic check that chooses what to simplify by size, not by time."""

from __future__ import annotations

import math

import pytest

from gradcli.core.fmt import number
from gradcli.run.bindings import collect
from gradcli.run.evaluate import prepare, run, run_forward
from gradcli.teach import edges, forward
from gradcli.teach.edges import _symbolic_partials, edge_partials
from gradcli.core.ops import OPS

PROGRAMS = [
    ("x1 = sin(x0)*0.5 + x0\nx2 = sin(x1)*0.5 + x1\ny = x2*x2 - 3/x2 + x1^x0", ["x0=1.5"]),
    ("c = a*b + exp(a) - b/a\nd = max(c, a) + c^2 - (-2)*c\ne = log(d) + tanh(d)*a", ["a=0.7", "b=-1.25"]),
    ("u = sigmoid(w*x + b)\nL = -(t*log(u) + (1-t)*log(1-u))", ["w=0.3", "x=2", "b=-1", "t=1"]),
]


@pytest.mark.parametrize("program, binds", PROGRAMS)
def test_cached_partials_are_the_partials_built_afresh(program, binds):
    edges._TEMPLATES.clear()
    ev = run(prepare(program, collect(binds, [])))
    for _ in range(2):  # the second time from the cache
        got = {(e.source, e.target): e.symbolic for e in edge_partials(ev)}
        for (source, target), text in got.items():
            node = ev.graph.nodes[target]
            fresh = _symbolic_partials(ev, node, OPS[node.op])
            want = [s.text for a, s in zip(node.args, fresh) if a == source]
            if len(want) == 1:  # an argument used twice adds its partials: compared whole below
                assert text == want[0], (node.op, text, want)
    assert edges._TEMPLATES  # the cache was used


def test_same_op_on_other_labels_does_not_reuse_the_labels():
    edges._TEMPLATES.clear()
    ev = run(prepare("p = sin(a)\nq = sin(b)\nr = p*q", collect(["a=1", "b=2"], [])))
    texts = {(e.source_label, e.target_label): e.symbolic for e in edge_partials(ev)}
    assert texts[("a", "p")] == "cos(a)"
    assert texts[("b", "q")] == "cos(b)"
    assert texts[("p", "r")] == "q"
    assert texts[("q", "r")] == "p"


def test_forward_steps_of_scalars_are_written_without_their_data(monkeypatch):
    ev = run_forward(prepare("y = x*x + sin(x)", collect(["x=0.5"], [])))
    built = []
    real = forward._build_forward_steps
    monkeypatch.setattr(forward, "_build_forward_steps", lambda e: built.append(1) or real(e))
    forward.check_forward_steps(ev)
    text = forward.forward_steps_text(ev)
    assert built == []  # checked, then written straight from the edges
    assert text == forward.forward_steps_text(ev)
    steps = forward.forward_steps(ev)  # the data (--json) is built when asked, once
    assert len(built) == 1
    assert steps[0]["derivative"] == pytest.approx(2 * 0.5 + math.cos(0.5), rel=1e-12)


@pytest.mark.parametrize("x", [0.1, 1.0, -2.5, 1e-7, 123456789.123, -0.0, 0.0, 1e300, 3, True, 2**70])
@pytest.mark.parametrize("digits", [3, 6, 10, 17])
def test_number_fast_path_matches_the_general_one(x, digits):
    general = format(float(x), f".{digits}g") if float(x) != 0 else "0"
    if "e" in general:
        mantissa, exp = general.split("e")
        general = f"{mantissa}e{int(exp):+03d}"
    assert number(x, digits) == general


def test_number_non_finite():
    assert (number(math.nan), number(math.inf), number(-math.inf)) == ("nan", "inf", "-inf")


def test_simplify_is_chosen_by_size_not_time():
    import sympy as sp

    from gradcli.oracles import sympy_check as sc

    a, b, w, x = sp.symbols("a b w x", real=True)
    small = a * sp.exp(w * x + b) / (1 + sp.exp(w * x + b))
    two_neurons = sp.exp(w * x + b) * sp.exp(a * x - b) / (1 + sp.exp(a * x - b))
    huge = sum(sp.Symbol(f"v{k}") * sp.exp(sp.Symbol(f"v{k}")) for k in range(30))
    chosen = [label for label, _ in sc.to_simplify({"s": small, "n": two_neurons, "h": huge, "t": "text"})]
    assert chosen == ["s"]
    many = {f"d{k}": small + k for k in range(40)}
    picked = sc.to_simplify(many)
    assert 0 < len(picked) < len(many)  # a total, so a wide program does not wait on every formula
    assert sum(sp.count_ops(d) for _, d in picked) <= sc.SIMPLIFY_TOTAL_OPS
