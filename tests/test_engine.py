"""The engine (`gradcli.core.engine.Tape`): forward values, reverse-mode adjoints, forward mode.

Fan-out and sharing, common-subexpression elimination, forward mode against reverse
mode on random programs, the lecture notes' worked examples, programs far too deep
for recursion, and math errors that name the node, its operation and its inputs.
"""

from __future__ import annotations

import math
import random
import re

import pytest
import sympy as sp

from gradcli.core.engine import Tape
from gradcli.core.errors import ExitStatus, MathError
from gradcli.language.lower import lower
from gradcli.language.parser import parse
from gradcli.backends.sympy import to_sympy, value_at


def build(src: str):
    g = lower(parse(src))
    return g, Tape(g)


def run(src: str, **env: float):
    """(output value, {input: gradient}, graph, values, adjoints)."""
    g, tape = build(src)
    values = tape.forward(env)
    adjoints = tape.backward(values)
    grads = {name: adjoints[g.names[name]] for name in env}
    return values[g.output], grads, g, values, adjoints


def count_ops(g, op: str) -> int:
    return sum(1 for n in g.nodes if n.op == op)


XS = [-2.0, -0.7, 0.0, 0.3, 1.0, 1.9]


# ---- fan-out and sharing -------------------------------------------------------------
@pytest.mark.parametrize("x", XS)
def test_fan_out_x_times_x_plus_x(x):
    value, grads, *_ = run("x*x + x", x=x)
    assert value == x * x + x
    assert grads["x"] == pytest.approx(2 * x + 1, rel=1e-15, abs=1e-15)


@pytest.mark.parametrize("x", XS)
def test_fan_out_sum_times_x(x):
    value, grads, *_ = run("(x+x)*x", x=x)
    assert value == (x + x) * x
    assert grads["x"] == pytest.approx(4 * x, rel=1e-15, abs=1e-15)


@pytest.mark.parametrize("x", XS)
def test_parameter_sharing_x_exp_x2(x):
    value, grads, *_ = run("x*exp(x^2)", x=x)
    assert value == pytest.approx(x * math.exp(x * x), rel=1e-14)
    assert grads["x"] == pytest.approx(math.exp(x * x) * (1 + 2 * x * x), rel=1e-13)


@pytest.mark.parametrize("x", XS)
def test_shared_intermediates_across_statements(x):
    value, grads, g, values, adjoints = run("u = x^2; v = exp(u); y = v*u + x", x=x)
    u = x * x
    assert value == pytest.approx(math.exp(u) * u + x, rel=1e-14)
    # dy/dx = 2x e^u (u + 1) + 1
    assert grads["x"] == pytest.approx(2 * x * math.exp(u) * (u + 1) + 1, rel=1e-13, abs=1e-15)
    # the intermediate adjoints: ȳ = 1, v̄ = u, ū = v + v̄ e^u = v (1 + u)
    ids = {n.name: n.id for n in g.nodes}
    assert adjoints[ids["y"]] == 1.0
    assert adjoints[ids["v"]] == pytest.approx(u, abs=1e-15)
    assert adjoints[ids["u"]] == pytest.approx(math.exp(u) * (1 + u), rel=1e-14)


def test_fan_out_to_many_uses():
    value, grads, *_ = run("x + x + x + x*x*x", x=2.0)
    assert value == 14.0
    assert grads["x"] == 3.0 + 3 * 4.0


# ---- common-subexpression elimination ---------------------------------------------------
def test_cse_exp_x2_times_x2_has_one_pow_node():
    g, _ = build("exp(x^2)*x^2")
    assert count_ops(g, "pow") == 1
    assert count_ops(g, "exp") == 1
    assert count_ops(g, "mul") == 1
    value, grads, *_ = run("exp(x^2)*x^2", x=1.5)
    assert grads["x"] == pytest.approx(math.exp(2.25) * (2 * 1.5 * 2.25 + 2 * 1.5), rel=1e-14)


def test_cse_merges_identical_subexpressions_across_statements():
    g, _ = build("u = sin(x)^2\nv = sin(x)^2\nw = u*v + sin(x)")
    assert count_ops(g, "sin") == 1
    assert count_ops(g, "pow") == 1
    mul = next(n for n in g.nodes if n.op == "mul")
    assert mul.args[0] == mul.args[1]


def test_cse_identical_calls_share_one_node():
    g, _ = build("sin(x) + sin(x)")
    assert count_ops(g, "sin") == 1
    add = next(n for n in g.nodes if n.op == "add")
    assert add.args[0] == add.args[1]
    _, grads, *_ = run("sin(x) + sin(x)", x=0.5)
    assert grads["x"] == pytest.approx(2 * math.cos(0.5), rel=1e-15)


@pytest.mark.parametrize(
    "src, op, count",
    [
        ("(a+b)*(b+a)", "add", 2),  # not commutatively merged
        ("x*2 + 2*x", "mul", 2),
        ("x^2 + x^3", "pow", 2),
        ("sin(x) + sin(y)", "sin", 2),
        ("max(a, b) + max(b, a)", "max", 2),
        ("(a+b)*(a+b)", "add", 1),
        ("x*2 + x*2.0", "mul", 1),  # equal constants are one node
    ],
)
def test_cse_node_counts(src, op, count):
    g, _ = build(src)
    assert count_ops(g, op) == count


def test_every_node_reads_only_earlier_nodes():
    g, _ = build("u = x^2; v = exp(u); y = v*u + x + max(u, v, x)")
    for node in g.nodes:
        assert all(a < node.id for a in node.args)
    assert g.output == len(g.nodes) - 1


# ---- the lecture notes' worked examples ---------------------------------------------------
def test_lecture_example_e_equals_a_plus_b_times_b_plus_1():
    value, grads, g, values, adjoints = run("(a+b)*(b+1)", a=3.0, b=2.0)
    assert value == 15.0
    assert grads == {"a": 3.0, "b": 8.0}
    ids = {n.name: n.id for n in g.nodes}
    assert values[ids["c"]] == 5.0 and g.definition(ids["c"]) == "a + b"
    assert values[ids["d"]] == 3.0 and g.definition(ids["d"]) == "b + 1"
    assert values[ids["e"]] == 15.0 and g.definition(ids["e"]) == "c * d"
    assert ids["e"] == g.output
    assert adjoints[ids["c"]] == 3.0  # c̄ = d
    assert adjoints[ids["d"]] == 5.0  # d̄ = c
    assert adjoints[ids["e"]] == 1.0  # ē = 1
    lines = str(g).splitlines()
    assert lines[:4] == ["a = input", "b = input", "c = a + b", "d = b + 1"]
    assert lines[4].startswith("e = c * d") and "# output" in lines[4]


def test_lecture_example_x_plus_y_times_max_y_z():
    value, grads, *_ = run("f = (x+y)*max(y,z)", x=1.0, y=2.0, z=0.0)
    assert value == 6.0
    assert grads == {"x": 2.0, "y": 5.0, "z": 0.0}


def test_backward_seed_scales_adjoints():
    g, tape = build("(a+b)*(b+1)")
    values = tape.forward({"a": 3.0, "b": 2.0})
    adj = tape.backward(values, seed=2.0)
    assert adj[g.names["a"]] == 6.0 and adj[g.names["b"]] == 16.0


def test_jvp_lecture_example():
    g, tape = build("(a+b)*(b+1)")
    values = tape.forward({"a": 3.0, "b": 2.0})
    assert tape.jvp(values, {g.names["a"]: 1.0})[g.output] == 3.0
    assert tape.jvp(values, {g.names["b"]: 1.0})[g.output] == 8.0
    # a direction: 1·∂a + 2·∂b
    assert tape.jvp(values, {g.names["a"]: 1.0, g.names["b"]: 2.0})[g.output] == 19.0


def test_backward_to_an_intermediate_output():
    g, tape = build("u = x^2; y = exp(u)")
    values = tape.forward({"x": 1.5})
    ids = {n.name: n.id for n in g.nodes}
    adj = tape.backward(values, output=ids["u"])
    assert adj[g.names["x"]] == 3.0
    assert adj[ids["y"]] == 0.0


@pytest.mark.parametrize("x, y, dx", [(-2.0, 3.0, 12.0), (-2.0, 2.0, -4.0), (-1.5, -1.0, -1 / 2.25)])
def test_pow_negative_base_with_input_exponent(x, y, dx):
    value, grads, g, values, adjoints = run("x^y", x=x, y=y)
    assert value == x ** y
    assert math.isnan(grads["y"])  # d/dy of a negative base's power is undefined
    assert grads["x"] == pytest.approx(dx, rel=1e-15)  # y x^(y-1), counted once


def test_pow_negative_base_forward_mode():
    """Forward mode gets the same point right (reference for the test above)."""
    g, tape = build("x^y")
    values = tape.forward({"x": -2.0, "y": 3.0})
    assert tape.jvp(values, {g.names["x"]: 1.0})[g.output] == 12.0


# ---- forward mode equals reverse mode on random programs ----------------------------------
UNARY = ["sin", "cos", "tanh", "sigmoid", "softplus", "atan", "exp", "log", "sqrt", "abs",
         "relu", "sinh", "cosh", "tan", "asin", "acos", "-"]
BINARY = ["+", "-", "*", "/", "^2", "^3", "^", "max", "min", "max3", "pow"]


def random_expression(rng: random.Random, names: list[str], depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.15:
            return rng.choice(["2", "0.5", "3.25", "pi"])
        return rng.choice(names)
    if rng.random() < 0.45:
        f = rng.choice(UNARY)
        arg = random_expression(rng, names, depth - 1)
        return f"-({arg})" if f == "-" else f"{f}({arg})"
    op = rng.choice(BINARY)
    a = random_expression(rng, names, depth - 1)
    b = random_expression(rng, names, depth - 1)
    if op in ("^2", "^3"):
        return f"({a}){op}"
    if op in ("max", "min"):
        return f"{op}({a}, {b})"
    if op == "max3":
        return f"max({a}, {b}, {random_expression(rng, names, depth - 1)})"
    if op in ("^", "pow"):
        # a positive base keeps real powers defined
        return f"(1.5 + sigmoid({a}))^({b})" if op == "^" else f"pow(exp({a}), {b})"
    return f"({a}) {op} ({b})"


def random_program(rng: random.Random) -> tuple[str, list[str]]:
    inputs = [f"x{k}" for k in range(rng.randint(1, 4))]
    names = list(inputs)
    lines = []
    for k in range(rng.randint(1, 5)):
        expr = random_expression(rng, names, rng.randint(2, 5))
        lines.append(f"t{k} = {expr}")
        names.append(f"t{k}")
    # the output uses every statement (and shares them: fan-out across statements)
    lines.append("out = " + " * ".join(names[len(inputs):]) + " + " + rng.choice(names))
    return "\n".join(lines), inputs


def random_cases(n: int, seed: int):
    rng = random.Random(seed)
    made = 0
    while made < n:
        src, inputs = random_program(rng)
        g, tape = build(src)
        env = {name: rng.uniform(-1.5, 1.5) for name in inputs if name in g.names}
        try:
            values = tape.forward(env)
        except MathError:
            continue
        adjoints = tape.backward(values)
        if not all(math.isfinite(adjoints[g.names[name]]) for name in env):
            continue
        made += 1
        yield src, g, tape, env, values, adjoints


def test_jvp_equals_backward_on_random_programs():
    checked = 0
    for src, g, tape, env, values, adjoints in random_cases(300, seed=20240611):
        for name in env:
            k = g.names[name]
            tangent = tape.jvp(values, {k: 1.0})
            forward_mode, reverse_mode = tangent[g.output], adjoints[k]
            assert forward_mode == pytest.approx(reverse_mode, rel=1e-9, abs=1e-12), (src, env, name)
            checked += 1
    assert checked >= 300


@pytest.mark.slow
def test_backward_matches_sympy_on_random_programs():
    """An independent oracle: SymPy's own diff of the translated graph."""
    for src, g, _tape, env, values, adjoints in random_cases(25, seed=7):
        symbols = {name: sp.Symbol(name, real=True) for name in env}
        expr = to_sympy(g, symbols)[g.output]
        point = {symbols[name]: sp.Float(v, 30) for name, v in env.items()}
        assert float(value_at(expr, point)) == pytest.approx(values[g.output], rel=1e-9, abs=1e-12)
        for name in env:
            exact = float(value_at(sp.diff(expr, symbols[name]), point))
            assert adjoints[g.names[name]] == pytest.approx(exact, rel=1e-8, abs=1e-10), (src, env, name)


# ---- scale: no recursion anywhere -----------------------------------------------------------
# Each scale runs at one level: the 10^5-term sum here, the 10^6-deep chain through the command
# line (tests/test_pathological.py, test_chain_1e6_deep).
@pytest.mark.slow
def test_sum_of_100000_terms_over_100_inputs():
    n = 100_000
    src = " + ".join(f"x{k % 100}*{k}" for k in range(1, n + 1))
    env = {f"x{j}": 1.0 + j / 64 for j in range(100)}
    value, grads, g, *_ = run(src, **env)
    expected = {f"x{j}": float(sum(range(j or 100, n + 1, 100))) for j in range(100)}
    assert grads == expected  # integers below 2^53: exact
    assert value == pytest.approx(sum(k * env[f"x{k % 100}"] for k in range(1, n + 1)), rel=1e-12)
    assert count_ops(g, "mul") == n and count_ops(g, "add") == n - 1


@pytest.mark.slow
def test_100000_nested_parentheses():
    n = 100_000
    src = "1.00001*(" * n + "x" + ")" * n
    value, grads, g, *_ = run(src, x=2.0)
    assert len(g.nodes) == n + 2  # x, the constant, n products
    assert grads["x"] == pytest.approx(1.00001 ** n, rel=1e-9)
    assert value == pytest.approx(2.0 * 1.00001 ** n, rel=1e-9)
    # plain parentheses are no nodes at all
    value, grads, g, *_ = run("(" * n + "x" + ")" * n + "^2", x=3.0)
    assert (value, grads["x"], len(g.nodes)) == (9.0, 6.0, 3)


@pytest.mark.slow
def test_100000_nested_function_calls():
    n = 100_000
    value, grads, g, *_ = run("relu(" * n + "x" + ")" * n, x=1.25)
    assert len(g.nodes) == n + 1
    assert (value, grads["x"]) == (1.25, 1.0)


# ---- math errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "src, env, needles",
    [
        ("y = log(x)", {"x": -1.0}, ["log", "x = -1", "positive"]),
        ("y = log(x)", {"x": 0.0}, ["log", "x = 0"]),
        ("y = sqrt(x)", {"x": -1.0}, ["sqrt", "x = -1", "non-negative"]),
        ("y = 1/x", {"x": 0.0}, ["div", "x = 0", "division by zero"]),
        ("y = x/z", {"x": 1.0, "z": 0.0}, ["div", "x = 1", "z = 0", "division by zero"]),
        ("y = asin(x)", {"x": 2.0}, ["asin", "x = 2", "[-1, 1]"]),
        ("y = acos(x)", {"x": -1.5}, ["acos", "x = -1.5"]),
        ("y = exp(x)", {"x": 1000.0}, ["exp", "x = 1000", "overflow"]),
        ("y = cosh(x)", {"x": 1000.0}, ["cosh", "x = 1000", "overflow"]),
        ("y = x*z", {"x": 1e200, "z": 1e200}, ["mul", "x = 1e+200", "z = 1e+200", "overflow"]),
        ("y = x^(1/3)", {"x": -8.0}, ["pow", "x = -8", "negative base"]),
        ("y = pow(x, 1/3)", {"x": -8.0}, ["pow", "x = -8", "negative base"]),
        ("y = x^z", {"x": 0.0, "z": -1.0}, ["pow", "x = 0", "z = -1"]),
    ],
)
def test_math_errors_name_node_operation_and_inputs(src, env, needles):
    g, tape = build(src)
    with pytest.raises(MathError) as info:
        tape.forward(env)
    err = info.value
    assert err.exit_status == ExitStatus.MATH_ERROR == 3
    assert re.search(r"\by\b", err.message), err.message  # the node's label
    for needle in needles:
        assert needle in err.message, (needle, err.message)
    assert err.render().startswith("gradcli: math error: ")


def test_math_error_in_a_later_statement_names_that_node():
    g, tape = build("u = x*x\nw = log(u - 1)")
    with pytest.raises(MathError) as info:
        tape.forward({"x": 1.0})
    assert "w = log(" in info.value.message and "= 0" in info.value.message


def test_non_finite_input_is_a_math_error():
    g, tape = build("y = 2*x")
    with pytest.raises(MathError) as info:
        tape.forward({"x": math.inf})
    assert "x" in info.value.message and "inf" in info.value.message


@pytest.mark.parametrize("src", ["y = x*z\nw = sin(y)", "y = x*z\nw = sqrt(-y)"])
def test_overflow_is_blamed_on_the_overflowing_node(src):
    g, tape = build(src)
    with pytest.raises(MathError) as info:
        tape.forward({"x": 1e200, "z": 1e200})
    msg = info.value.message
    assert "mul" in msg and "overflow" in msg and "x = 1e+200" in msg, msg


@pytest.mark.parametrize(
    "src, x, grad",
    [
        ("sqrt(x)", 0.0, math.inf),
        ("x^0.5", 0.0, math.inf),
        ("asin(x)", 1.0, math.inf),
        ("acos(x)", 1.0, -math.inf),
        ("sqrt(x - 1)", 1.0, math.inf),
    ],
)
def test_infinite_derivative_is_not_an_error(src, x, grad):
    value, grads, g, values, adjoints = run(src, x=x)
    assert math.isfinite(value)
    assert grads["x"] == grad
    g2, tape = build(src)
    assert tape.jvp(values, {g2.names["x"]: 1.0})[g2.output] == grad
