"""The engine's hand-written fast paths agree with the op rows they stand for.

`Tape._backward_floats` writes the partials of the commonest scalar ops inline (mul,
add, sub, neg, tanh, sigmoid, exp, sin, every argument live), and the array walk has
kernels for sigmoid's and x^2's partials and adds and multiplies in place.  Every adjoint must be exactly (to the bit) what the
plain reverse walk over the rows' partials (`local_partials`) gives.
"""

from __future__ import annotations

import math
import random
import struct

import pytest

from gradcli.backends.floats import SCALAR
from gradcli.core import engine
from gradcli.core.engine import Tape, local_partials
from gradcli.language.lower import lower
from gradcli.language.parser import parse

TEMPLATES = [
    "{a} * {b}", "{a} + {b}", "{a} - {b}", "-{a}", "tanh({a})", "sigmoid({a})", "exp({a} - 1)",
    "sin({a})", "0.5 * {a}", "{a} * 0.25", "1 - {a}", "{a} - 1", "2 + {a}", "{a} + 3",
    "{a} * {a}", "{a} + {a}", "{a} - {b} * {a}", "log(1 + {a} * {a})", "{a} / (2 + {b} * {b})",
    "max({a}, {b})", "({a})^2", "where({a} > 0, {a}, {b})", "clip({a}, -0.5, 0.5)",
]
INLINE = [engine._MUL, engine._ADD, engine._SUB, engine._NEG, engine._TANH, engine._SIGMOID, engine._EXP,
          engine._SIN, engine._MUL_FIRST, engine._MUL_SECOND, engine._ADD_FIRST, engine._ADD_SECOND, engine._SUB_FIRST]


def random_program(seed: int, statements: int = 60) -> tuple[str, dict[str, float]]:
    rng = random.Random(seed)
    names = ["x", "y", "z"]
    env = {name: rng.uniform(-1.0, 1.0) for name in names}
    lines = []
    for k in range(statements):
        template = TEMPLATES[rng.randrange(len(TEMPLATES))]
        a, b = rng.choice(names), rng.choice(names)
        lines.append(f"v{k} = {template.format(a=a, b=b)}")
        names.append(f"v{k}")
    lines.append("out = " + " + ".join(names[-8:]))
    return "\n".join(lines) + "\n", env


def reference_backward(tape: Tape, values: list, out: int) -> list:
    """The reverse walk over the rows' partials, with nothing written inline."""
    adjoint = [0.0] * tape.n
    adjoint[out] = 1.0
    for i, kind, args, parts in tape.reverse_code:
        if i > out:
            continue
        g = adjoint[i]
        local = local_partials(SCALAR, kind, parts, [values[a] for a in args], values[i])
        for a, p in zip(args, local):
            if p is not None:
                adjoint[a] += g * p
    return adjoint


def bits(xs: list) -> list:
    return [struct.pack("<d", x) for x in xs]


@pytest.mark.parametrize("seed", range(12))
def test_float_walk_equals_the_rows_to_the_bit(seed):
    source, env = random_program(seed)
    graph = lower(parse(source))
    tape = Tape(graph)
    values = tape.forward(env)
    assert bits(tape.backward(values)) == bits(reference_backward(tape, values, graph.output))


def test_every_inline_op_is_exercised_and_so_are_the_others():
    seen = []
    for seed in range(12):
        tape = Tape(lower(parse(random_program(seed)[0])))
        seen += [parts for _, _, _, parts in tape.reverse_code]
    assert all(any(parts is inline for parts in seen) for inline in INLINE)
    assert any(all(parts is not inline for inline in INLINE) for parts in seen)


def test_another_output_than_the_last():
    source, env = random_program(3)
    graph = lower(parse(source))
    tape = Tape(graph)
    values = tape.forward(env)
    for out in (graph.names["v40"], graph.names["v59"], graph.names["x"]):
        assert bits(tape.backward(values, output=out)) == bits(reference_backward(tape, values, out))


@pytest.mark.parametrize("source, x, grad", [
    ("sqrt(x) * 2", 0.0, math.inf),  # an infinite partial: the careful walk, as before
    ("tanh(x) - 1/x", 1e-200, math.inf),  # 1/x^2 overflows on the way back
])
def test_the_careful_walk_still_takes_over(source, x, grad):
    graph = lower(parse(source))
    tape = Tape(graph)
    values = tape.forward({"x": x})
    assert tape.backward(values)[graph.names["x"]] == grad


# ---- the array path ------------------------------------------------------------------------
np = pytest.importorskip("numpy")
EDGES = [0.0, -0.0, 1e-320, -1e-320, 0.5, -0.5, 36.0, -36.0, 709.0, -709.0, 745.0, -745.0, 800.0,
         -800.0, 1e308, -1e308, math.inf, -math.inf, math.nan]


def _bits(x) -> bytes:
    return np.asarray(x, dtype=float).tobytes()


def _sigmoid_by_the_formula(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@pytest.mark.parametrize("x", [
    np.array(EDGES),
    np.random.default_rng(5).normal(size=(40, 30)) * 10.0 ** np.random.default_rng(6).integers(-8, 4, (40, 30)),
    np.array(2.5), np.float64(-3.0), -0.0, np.array([[1.0]]), np.array([3, -4]),
])
def test_array_sigmoid_is_the_formula_to_the_bit(x):
    from gradcli.backends.arrays import ARRAY

    with np.errstate(all="ignore"):
        got, want = ARRAY.sigmoid(x), _sigmoid_by_the_formula(x)
    assert np.shape(got) == np.shape(want) and _bits(got) == _bits(want)


def test_array_sigmoid_leaves_its_input_alone():
    from gradcli.backends.arrays import ARRAY

    x = np.linspace(-5, 5, 11)
    before = x.copy()
    ARRAY.sigmoid(x)
    assert _bits(x) == _bits(before)


def test_square_partial_is_the_pow_rows_to_the_bit():
    from gradcli.backends.arrays import ARRAY
    from gradcli.core.ops import OPS

    x = np.concatenate([np.array(EDGES), np.random.default_rng(7).normal(size=200) * 1e150])
    with np.errstate(all="ignore"):
        row = OPS["pow"].partials[0](ARRAY, x, 2.0, x ** 2.0)
        fast = engine._square_partial(ARRAY, x, 2.0, x ** 2.0)
    assert _bits(fast) == _bits(row)


def test_square_partial_is_used_only_for_a_constant_exponent_2():
    for source, expected in [("sum(W^2)", 1), ("sum(W^3)", 0), ("sum(W^p)", 0), ("x^2 + sum(W)", 0)]:
        graph = lower(parse(source))
        env = {"W": np.ones((2, 3)), "p": 2.0, "x": 1.5}
        from gradcli.core.shapes import infer_shapes

        infer_shapes(graph, {k: v for k, v in env.items() if k in graph.names})
        assert len(Tape(graph).array_partials) == expected, source


@pytest.mark.parametrize("w", [np.random.default_rng(8).normal(size=(4, 5)) * 3, np.eye(3) * 1e100])
def test_array_gradients_of_squares_agree_with_the_rows(w):
    """The array walk with the square kernel equals the walk without it, also where sqrt's
    infinite partial at 0 sends it down the careful walk (W with zeros)."""
    from gradcli.core.shapes import infer_shapes

    graph = lower(parse("J = sum(sqrt(W^2)) + sum(W^2) * 0.5 + sum((W @ v)^2)"))
    env = {"W": w, "v": np.linspace(-1, 1, w.shape[1])}
    infer_shapes(graph, env)
    tape = Tape(graph)
    values = tape.forward(env)
    assert tape.array_partials
    fast = tape.backward(values)
    tape.array_partials = {}
    slow = tape.backward(values)
    assert all(_bits(a) == _bits(b) for a, b in zip(fast, slow))


@pytest.mark.parametrize("x", [np.zeros(0), np.ones((3, 4)), np.array([1.0, math.nan]), np.array([math.inf]),
                               np.array(-math.inf), 2.0, math.nan, np.arange(5),
                               np.broadcast_to(np.float64(math.nan), (3, 4)),
                               np.broadcast_to(np.array([1.0, math.inf])[:, None], (2, 5)),
                               np.broadcast_to(np.array([1.0, 2.0]), (3, 2)), np.broadcast_to(1.0, (0, 3))])
def test_all_finite(x):
    from gradcli.backends.arrays import all_finite

    assert all_finite(x) == bool(np.all(np.isfinite(x)))


def reference_array_backward(tape: Tape, values: list) -> list:
    """The array walk over the rows alone: new arrays for every product and sum."""
    from gradcli.backends.arrays import ARRAY

    adjoint: list = [None] * tape.n
    adjoint[tape.graph.output] = 1.0
    nodes = tape.graph.nodes
    with np.errstate(all="ignore"):
        for i, kind, args, parts in tape.reverse_code:
            g = adjoint[i]
            if g is None:
                continue
            xs = [values[a] for a in args]
            if kind < 0:
                contributions = [None if v is None else v(ARRAY, g, xs, values[i], nodes[i].param) for v in parts]
            else:
                m = SCALAR if tape._on_floats(nodes[i]) else ARRAY
                local = local_partials(m, kind, parts, xs, values[i])
                contributions = [None if p is None else ARRAY.unbroadcast(g * p, tape.shapes[a])
                                 if tape.shapes[a] != tape.shapes[i] else g * p for a, p in zip(args, local)]
            for a, c in zip(args, contributions):
                if c is not None:
                    adjoint[a] = c if adjoint[a] is None else adjoint[a] + c
    return adjoint


ARRAY_PROGRAMS = [
    "a = W @ X; h = sigmoid(a); J = mean((v @ h - y)^2) + 0.01 * (sum(W^2) + sum(v^2))",
    "J = sum(W^2 + W * W + sigmoid(W) * W + W) + sum(sigmoid(W)^2)",  # W fans out four ways
    "B = W^2; J = sum(B @ X) + sum(B) + sum(sigmoid(B))",
    "J = sum(transpose(W) ^ 2) + sum(W)",  # a view of a cotangent meets a product
]


@pytest.mark.parametrize("source", ARRAY_PROGRAMS)
def test_array_walk_equals_the_rows_to_the_bit(source):
    from gradcli.core.shapes import infer_shapes

    rng = np.random.default_rng(11)
    env = {"W": rng.normal(size=(4, 4)), "X": rng.normal(size=(4, 3)), "v": rng.normal(size=4),
           "y": rng.normal(size=3)}
    graph = lower(parse(source))
    env = {k: v for k, v in env.items() if k in graph.names}
    infer_shapes(graph, env)
    tape = Tape(graph)
    assert tape.array_partials
    values = tape.forward(env)
    got = tape.backward(values)
    want = reference_array_backward(tape, values)
    for k in range(tape.n):
        if want[k] is not None:
            assert _bits(got[k]) == _bits(np.broadcast_to(want[k], tape.shapes[k])), graph.label(k)


def test_array_gradients_are_the_callers_own_arrays():
    from gradcli.core.shapes import infer_shapes

    graph = lower(parse("J = sum(W) + sum(V)"))
    env = {"W": np.ones((2, 3)), "V": np.ones((2, 3))}
    infer_shapes(graph, env)
    tape = Tape(graph)
    adjoints = tape.backward(tape.forward(env))
    gw, gv = adjoints[graph.names["W"]], adjoints[graph.names["V"]]
    assert gw.flags.writeable and gv.flags.writeable
    gw += 1.0  # the caller may update a gradient in place
    assert np.all(gv == 1.0) and np.all(gw == 2.0)


def _swapped(tape: Tape, op: str, parts: tuple) -> Tape:
    """A copy of `tape` whose `op` instructions have other partials (as gradcli.teach.mistakes makes)."""
    import copy

    other = copy.copy(tape)
    nodes = tape.graph.nodes
    other.reverse_code = [(i, kind, args, parts if nodes[i].op == op else p)
                          for i, kind, args, p in tape.reverse_code]
    return other


def test_a_copy_with_other_float_partials_uses_them():
    graph = lower(parse("y = sigmoid(x) * x + tanh(x)"))
    tape = Tape(graph)
    values = tape.forward({"x": 0.3})
    tape.backward(values)  # the float code is made and kept
    other = _swapped(tape, "sigmoid", (lambda m, x, o: 7.0,))
    got = other.backward(values)
    assert bits(got) == bits(reference_backward(other, values, graph.output))
    assert got[graph.names["x"]] != tape.backward(values)[graph.names["x"]]


def test_a_copy_with_other_array_partials_uses_them():
    from gradcli.core.shapes import infer_shapes

    graph = lower(parse("J = sum(sigmoid(W) * W) + sum(W^2)"))
    env = {"W": np.random.default_rng(12).normal(size=(3, 4))}
    infer_shapes(graph, env)
    tape = Tape(graph)
    values = tape.forward(env)
    other = _swapped(_swapped(tape, "sigmoid", (lambda m, x, o: 7.0 * o,)), "pow", (lambda m, x, y, o: x, None))
    got = other.backward(values)
    want = reference_array_backward(other, values)
    w = graph.names["W"]
    assert _bits(got[w]) == _bits(want[w])
    assert _bits(got[w]) != _bits(tape.backward(values)[w])


def test_all_finite_reads_the_sum_first_without_warnings():
    """The array path's finiteness test tries the sum first: an overflowing sum of finite
    numbers falls through to the element test, silently (pytest turns warnings into errors)."""
    import numpy as np

    from gradcli.backends.arrays import all_finite

    assert all_finite(np.array([1e308, 1e308]))
    assert all_finite(np.array([[1.0, -2.0], [3.0, 4.0]]))
    assert not all_finite(np.array([np.inf, -np.inf]))
    assert not all_finite(np.array([1.0, np.nan]))
    assert not all_finite(np.array([1e308, np.inf]))
    assert all_finite(np.broadcast_to(np.array([1e308]), (3, 4)))
