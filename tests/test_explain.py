"""Explaining the gradient: forward mode (--mode forward, --seed), --steps, --paths,
--edges, --exact and --latex, through the command line.

Expected numbers are worked out by hand, in closed form with NumPy, or with SymPy /
fractions inside the test -- never taken from gradcli.  Every invocation checks the
exit status, stdout and stderr.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from click.testing import Result


from clitools import run_cli, strict_json, usage_error, watchdog

LECTURE = "(a+b)*(b+1)"  # a=3 b=2: c = a+b = 5, d = b+1 = 3, e = 15; ē=1, c̄=d=3, d̄=c=5, ā=3, b̄=8

COLUMNS = 250  # wide enough that no table wraps


def invoke(*args: str) -> Result:
    return run_cli(["eval", *args], columns=COLUMNS)


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def ok_json(*args: str) -> dict:
    return strict_json(ok(*args, "--json"))


def table(text: str, title: str) -> list[dict[str, str]]:
    """The rows of the ASCII table under the line starting with `title`, as dicts."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    body = []
    for line in lines[start + 1:]:
        if line.startswith("+") or line.startswith("|-"):
            if body and line.startswith("+"):
                break
            continue
        if not line.startswith("|"):
            break
        body.append([c.strip() for c in line.strip().strip("|").split("|")])
    header, *data = body
    return [dict(zip(header, row)) for row in data]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---- forward mode: the same gradient as reverse mode, and the closed form -----------------
U = np.array([0.3, -0.2, 0.5])
W = np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]])
X = np.array([1.0, 2.0])
B = np.array([0.0, 0.1, -0.1])


def _net_gradient():
    h = sigmoid(W @ X + B)
    delta = U * h * (1 - h)
    return {"u": h, "W": np.outer(delta, X), "x": W.T @ delta, "b": delta}


def _softmax_gradient():
    z = np.array([1, 2, 0.5, -1.0])
    p = np.exp(z - z.max())
    p /= p.sum()
    return {"z": p - np.eye(4)[2]}


FORWARD_CASES = [
    (LECTURE, ["a=3", "b=2"], {"a": 3.0, "b": 8.0}),
    ("x*exp(x^2) + sin(x*y)/y", ["x=0.5", "y=1.5"],
     {"x": math.exp(0.25) * 1.5 + math.cos(0.75), "y": 0.5 * math.cos(0.75) / 1.5 - math.sin(0.75) / 1.5**2}),
    ("s = dot(u, sigmoid(W@x + b))",
     ["u=[0.3,-0.2,0.5]", "W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]", "x=[1,2]", "b=[0,0.1,-0.1]"], _net_gradient()),
    ("-log(softmax(z)[2])", ["z=[1,2,0.5,-1]"], _softmax_gradient()),
    ("sum(x*v) + x^2", ["x=2", "v=[1,2,3]"], {"x": 6.0 + 4.0, "v": [2.0, 2.0, 2.0]}),
    ("norm(M@v)*t", ["M=[[1,2],[3,4]]", "v=[1,-1]", "t=2"],
     # M@v = [-1,-1], norm = √2: ∂t = √2, ∂v = t·Mᵀ(Mv)/√2, ∂M = t·outer(Mv, v)/√2
     {"M": 2 * np.outer([-1, -1], [1, -1]) / math.sqrt(2), "v": 2 * np.array([[1, 3], [2, 4]]) @ [-1, -1] / math.sqrt(2),
      "t": math.sqrt(2)}),
]


@pytest.mark.parametrize("program, bindings, expected", FORWARD_CASES, ids=lambda c: c if isinstance(c, str) else "")
def test_forward_mode_gives_the_reverse_gradient(program, bindings, expected):
    reverse = ok_json(program, *bindings)
    forward = ok_json(program, *bindings, "--mode", "forward")
    assert reverse["mode"] == "reverse" and forward["mode"] == "forward"
    assert list(forward["gradient"]) == list(reverse["gradient"]) == list(expected)
    for name, want in expected.items():
        np.testing.assert_allclose(np.asarray(forward["gradient"][name]), np.asarray(reverse["gradient"][name]),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.asarray(forward["gradient"][name]), np.asarray(want), rtol=1e-10, atol=1e-14)
    # one tangent pass per input element; reverse mode needs one backward pass
    elements = sum(np.asarray(v).size for v in expected.values())
    assert forward["passes"]["forward"] == elements
    assert forward["passes"]["reverse"] == 0
    assert reverse["passes"]["reverse"] == 1 and reverse["passes"]["forward"] == 0
    assert forward["value"] == pytest.approx(reverse["value"], rel=1e-15)


def test_forward_seed_shows_the_lecture_tangents():
    out = ok(LECTURE, "a=3", "b=2", "--seed", "b")
    nodes = table(out, "Computational graph")
    tangents = {row["name"]: row["tangent ∂node/∂b"] for row in nodes}
    # ∂a/∂b = 0, ∂b/∂b = 1, ∂c/∂b = 1, ∂d/∂b = 1, ∂e/∂b = d·1 + c·1 = 3 + 5 = 8; the constant: —
    assert tangents == {"a": "0", "b": "1", "c": "1", "": "—", "d": "1", "e": "8"}
    grad = table(out, "Gradient of e")
    assert grad == [{"input": "b", "value": "2", "∂e/∂input": "8"}]
    assert "forward mode: 1 tangent pass × 3 operations = 3 steps" in out
    assert "reverse mode: 1 backward pass × 3 operations = 3 steps, for all 2 input values at once" in out


def test_forward_seed_a():
    out = ok(LECTURE, "a=3", "b=2", "--mode", "forward", "--seed", "a")
    tangents = {row["name"]: row["tangent ∂node/∂a"] for row in table(out, "Computational graph")}
    assert tangents == {"a": "1", "b": "0", "c": "1", "": "—", "d": "0", "e": "3"}  # ∂e/∂a = d = 3


def test_forward_mode_counts_passes_and_operations():
    out = ok(LECTURE, "a=3", "b=2", "--mode", "forward", "--no-nodes")
    assert "forward mode: 2 tangent passes × 3 operations = 6 steps" in out
    assert "reverse mode: 1 backward pass × 3 operations = 3 steps, for all 2 input values at once" in out
    assert table(out, "Gradient of e") == [{"input": "a", "value": "3", "∂e/∂input": "3"},
                                           {"input": "b", "value": "2", "∂e/∂input": "8"}]
    # the network: 3 + 6 + 2 + 3 = 14 input values, 4 operations (matmul, add, sigmoid, dot)
    out = ok(*[FORWARD_CASES[2][0], *FORWARD_CASES[2][1]], "--mode", "forward", "--no-nodes")
    assert "forward mode: 14 tangent passes × 4 operations = 56 steps" in out
    assert "reverse mode: 1 backward pass × 4 operations = 4 steps, for all 14 input values at once" in out


def test_forward_json():
    doc = ok_json(LECTURE, "a=3", "b=2", "--seed", "b")
    assert doc["mode"] == "forward"
    assert doc["passes"] == {"forward": 1, "reverse": 0, "operations_per_pass": 3}
    assert doc["gradient"] == {"b": 8.0}
    assert [(n["name"], n["tangent"]) for n in doc["nodes"]] == [
        ("a", {"b": 0.0}), ("b", {"b": 1.0}), ("c", {"b": 1.0}), (None, {"b": 0.0}), ("d", {"b": 1.0}),
        ("e", {"b": 8.0})]
    assert doc["value"] == 15.0


def test_forward_json_tangents_of_every_input():
    doc = ok_json(LECTURE, "a=3", "b=2", "--mode", "forward")
    assert doc["passes"]["forward"] == 2
    tangents = {n["name"]: n["tangent"] for n in doc["nodes"] if n["name"]}
    assert tangents["e"] == {"a": 3.0, "b": 8.0}
    assert tangents["c"] == {"a": 1.0, "b": 1.0}
    assert tangents["d"] == {"a": 0.0, "b": 1.0}


def test_forward_seed_tensor_tangents():
    # sum(x*v) + x^2 at x=2, v=[1,2,3]: ∂(x*v)/∂x = v, ∂sum/∂x = 6, ∂x²/∂x = 4, total 10
    doc = ok_json("sum(x*v) + x^2", "x=2", "v=[1,2,3]", "--seed", "x")
    tangents = [n["tangent"]["x"] for n in doc["nodes"]]
    assert tangents[2] == [1.0, 2.0, 3.0]
    assert tangents[-1] == 10.0
    assert doc["gradient"] == {"x": 10.0}


def test_seed_unknown_name():
    usage_error(invoke(LECTURE, "a=3", "b=2", "--seed", "q"), "--seed q", "inputs: a, b")


def test_seed_output_with_forward_mode():
    usage_error(invoke(LECTURE, "a=3", "b=2", "--mode", "forward", "--seed-output", "1"), "--seed-output")


def test_seed_an_array_input():
    """An array input takes one tangent pass per element: --seed x runs x's passes only."""
    doc = ok_json("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--seed", "x")
    assert doc["gradient"] == {"x": [4.0, 6.0]} and doc["passes"]["forward"] == 2
    one = ok_json("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--seed", "x[1]")
    assert one["gradient"] == {"x": [4.0, 6.0]}  # the element picks the pass --steps writes out
    usage_error(invoke("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--seed", "x[2]"), "--seed x[2]", "out of range")


def test_forward_mode_needs_a_scalar_output():
    usage_error(invoke("W@x", "W=[[1,2],[3,4]]", "x=[1,2]", "--mode", "forward"), "scalar output")


def test_paths_and_edges_need_reverse_mode():
    usage_error(invoke(LECTURE, "a=3", "b=2", "--mode", "forward", "--paths"), "--paths")
    usage_error(invoke(LECTURE, "a=3", "b=2", "--mode", "forward", "--steps", "--edges"), "--edges")
    forward = ok(LECTURE, "a=3", "b=2", "--mode", "forward", "--steps", "--no-nodes")  # tests/test_forward_steps.py
    assert "Forward pass 1 of 2: start with ȧ = 1, ḃ = 0:" in forward


# ---- --steps -----------------------------------------------------------------------------
def test_lecture_steps():
    out = ok(LECTURE, "a=3", "b=2", "--steps", "--no-nodes")
    lines = [line.strip() for line in out.splitlines()]
    assert "Backward pass, in reverse evaluation order, starting from ē = 1:" in lines
    assert any(line.endswith("c̄ += ē · ∂e/∂c = 1 · d = 1 · 3 = 3") for line in lines)
    assert "d̄ += ē · ∂e/∂d = 1 · c = 1 · 5 = 5" in lines
    assert any(line.endswith("b̄ += d̄ · ∂d/∂b = 5 · 1 = 5") for line in lines)
    assert any(line.endswith("ā += c̄ · ∂c/∂a = 3 · 1 = 3") for line in lines)
    assert "b̄ += c̄ · ∂c/∂b = 3 · 1 = 3" in lines
    assert "b̄ = 3 + 5 = 8" in lines
    assert "Gradient: ∂e/∂a = ā = 3, ∂e/∂b = b̄ = 8" in lines
    # in reverse evaluation order: e, then d, then c
    order = [line.split(".", 1)[1].split()[0] for line in lines if line[:1].isdigit()]
    assert order == ["e", "d", "c"]


def test_fan_out_steps():
    # x*x + x at x=3: a = x*x, b = a + x; ∂b/∂x = 2x + 1 = 7
    out = ok("x*x + x", "x=3", "--steps", "--no-nodes")
    lines = [line.strip() for line in out.splitlines()]
    assert any(line.endswith("x̄ += ā · ∂a/∂x = 1 · 2*x = 1 · 6 = 6") for line in lines)
    assert "x̄ += b̄ · ∂b/∂x = 1 · 1 = 1" in lines
    assert "Nodes that feed several others add up their contributions:" in lines
    assert "x̄ = 6 + 1 = 7" in lines
    assert "Gradient: ∂b/∂x = x̄ = 7" in lines


def test_max_steps():
    # (x+y)*max(y,z) at 1,2,0: a = x+y = 3, b = max(y,z) = 2 (y wins), c = 6
    out = ok("(x+y)*max(y,z)", "x=1", "y=2", "z=0", "--steps", "--no-nodes")
    lines = [line.strip() for line in out.splitlines()]
    assert any(line.endswith("ā += c̄ · ∂c/∂a = 1 · b = 1 · 2 = 2") for line in lines)
    assert "b̄ += c̄ · ∂c/∂b = 1 · a = 1 · 3 = 3" in lines
    # the rule, as diff writes it (a tie splits evenly), then its value
    assert any(line.endswith("ȳ += b̄ · ∂b/∂y = 3 · ((y > z) + 0.5*(y == z)) = 3 · 1 = 3") for line in lines)
    assert "z̄ += b̄ · ∂b/∂z = 3 · ((z > y) + 0.5*(z == y)) = 3 · 0 = 0" in lines
    assert "ȳ = 2 + 3 = 5" in lines
    assert "Gradient: ∂c/∂x = x̄ = 2, ∂c/∂y = ȳ = 5, ∂c/∂z = z̄ = 0" in lines


def test_tensor_steps_print_matrix_rules():
    out = ok("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--steps", "--no-nodes")
    lines = [line.strip() for line in out.splitlines()]
    assert "1. b = sum(a)   ā += b̄ · 𝟏  (scalar · 2 → 2)   broadcast back to the shape of a" in lines
    assert "2. a = W @ x    W̄ += ā xᵀ  (2×1 · 1×2 → 2×2)" in lines
    assert "x̄ += Wᵀ ā  (2×2 · 2×1 → 2)" in lines
    # ∂/∂W_ij = x_j, ∂/∂x_j = Σ_i W_ij
    assert "∂b/∂W = W̄ = [[1, 2]," in lines and "[1, 2]]" in lines
    assert "∂b/∂x = x̄ = [4, 6]" in lines
    assert "vector-Jacobian" not in out and "vjp" not in out


def test_tensor_steps_json():
    doc = ok_json("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--steps")
    got = {(c["to"], c["from"]): (c["kind"], c["lhs"] + " += " + c["rule"], c["shapes"], c["product"])
           for s in doc["steps"] for c in s["contributions"]}
    assert got == {
        ("a", "b"): ("structural", "ā += b̄ · 𝟏", "scalar · 2 → 2", [1.0, 1.0]),
        ("W", "a"): ("structural", "W̄ += ā xᵀ", "2×1 · 1×2 → 2×2", [[1.0, 2.0], [1.0, 2.0]]),
        ("x", "a"): ("structural", "x̄ += Wᵀ ā", "2×2 · 2×1 → 2", [4.0, 6.0]),
    }


STEP_PROGRAMS = [
    (LECTURE, ["a=3", "b=2"], {"a": 3.0, "b": 8.0}),
    ("x*x + x", ["x=3"], {"x": 7.0}),
    ("(x+y)*max(y,z)", ["x=1", "y=2", "z=0"], {"x": 2.0, "y": 5.0, "z": 0.0}),
    ("x*2*pi + x/(3+4)", ["x=1"], {"x": 2 * math.pi + 1 / 7}),
    ("c = a*b; d = c + 1; e = c*2; f = d*e + sin(c)", ["a=0.5", "b=-1.5"],
     # c = ab, f = (c+1)·2c + sin c: ∂f/∂c = 4c + 2 + cos c
     {"a": (4 * -0.75 + 2 + math.cos(-0.75)) * -1.5, "b": (4 * -0.75 + 2 + math.cos(-0.75)) * 0.5}),
    ("log(1 + exp(-y*(w*x + b)))", ["w=0.7", "x=1.3", "b=-0.2", "y=1"],
     {n: -sigmoid(-(0.7 * 1.3 - 0.2)) * d for n, d in (("w", 1.3), ("x", 0.7), ("b", 1.0), ("y", 0.7 * 1.3 - 0.2))}),
]


@pytest.mark.parametrize("program, bindings, gradient", STEP_PROGRAMS, ids=[p for p, _, _ in STEP_PROGRAMS])
def test_steps_json_contributions_sum_to_the_adjoints(program, bindings, gradient):
    doc = ok_json(program, *bindings, "--steps")
    nodes = {n["name"]: n for n in doc["nodes"] if n["name"] is not None}
    by_id = {n["id"]: n for n in doc["nodes"]}
    received: dict[str, list[float]] = {}
    for step in doc["steps"]:
        node = by_id[step["id"]]
        assert node["name"] == step["node"]
        for c in step["contributions"]:
            assert c["from"] == step["node"]
            assert c["upstream"] == node["adjoint"]  # the adjoint is final before it is passed on
            assert c["product"] == pytest.approx(c["upstream"] * c["partial_value"], rel=1e-15)
            received.setdefault(c["to"], []).append(c["product"])
    output = doc["output"]
    for name, node in nodes.items():
        if name == output or node["adjoint"] is None:
            continue
        assert name in received, name
        assert math.fsum(received[name]) == pytest.approx(node["adjoint"], rel=1e-14, abs=1e-300), name
    assert set(received) <= set(nodes)
    for name, want in gradient.items():
        assert doc["gradient"][name] == pytest.approx(want, rel=1e-12, abs=1e-15)
        assert math.fsum(received[name]) == pytest.approx(want, rel=1e-12, abs=1e-15)


# ---- --paths -------------------------------------------------------------------------------
def test_lecture_paths():
    out = ok(LECTURE, "a=3", "b=2", "--paths", "--no-nodes")
    lines = [line.strip() for line in out.splitlines()]
    assert "∂e/∂a = 1·(b + 1) = 3" in lines
    assert "∂e/∂b = 1·(b + 1) + 1·(a + b) = 3 + 5 = 8" in lines
    assert "path a → c → e" in lines
    assert "path b → c → e" in lines and "path b → d → e" in lines


def test_paths_json():
    doc = ok_json(LECTURE, "a=3", "b=2", "--paths")
    assert doc["paths"]["a"]["count"] == 1
    assert doc["paths"]["b"]["count"] == 2
    b_paths = sorted((p["nodes"], p["factors"], p["value"]) for p in doc["paths"]["b"]["paths"])
    assert b_paths == [(["b", "c", "e"], ["1", "d"], 3.0), (["b", "d", "e"], ["1", "c"], 5.0)]
    assert sum(p["value"] for p in doc["paths"]["b"]["paths"]) == 8.0


def test_fan_out_paths():
    out = ok("x*x + x", "x=3", "--paths", "--no-nodes")
    assert "∂b/∂x = (2*x)·1 + 1 = 6 + 1 = 7" in out


def _chain(n: int) -> str:
    return "; ".join(["x0 = x"] + [f"x{i} = x{i-1}*x{i-1} + x{i-1}" for i in range(1, n + 1)])


def _chain_gradient(x: float, n: int) -> float:
    g = 1.0
    for _ in range(n):
        g *= 2 * x + 1
        x = x * x + x
    return g


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def test_too_many_paths_are_counted_not_listed():
    """The paths are counted, not enumerated: 2^10 times as many paths (10 more statements)
    take about twice as long, not 1000 times.  A ratio measured in one run, loosely
    bounded, so a loaded machine cannot fail it (no wall-clock limit; speed is in benchmarks/)."""
    short = min(_seconds(lambda: ok_json(_chain(10), "x=0.001", "--paths")) for _ in range(3))
    long = min(_seconds(lambda: ok_json(_chain(20), "x=0.001", "--paths")) for _ in range(3))
    assert long / short < 50, (long, short)


def test_too_many_paths_is_a_clear_message():
    # each statement doubles the paths: x_{i-1} → (x*x) → x_i and x_{i-1} → x_i; 2^20 in all
    out = ok(_chain(20), "x=0.001", "--paths", "--no-nodes")
    want = _chain_gradient(0.001, 20)
    line = next(line.strip() for line in out.splitlines() if "paths are too many" in line)
    prefix = f"∂x20/∂x: {2**20} paths are too many to list (the limit is 64); their sum is "
    assert line.startswith(prefix)
    assert float(line[len(prefix):]) == pytest.approx(want, rel=1e-9)


def test_too_many_paths_json_counts():
    doc = ok_json(_chain(20), "x=0.001", "--paths")
    assert doc["paths"]["x"] == {"count": 2**20, "capped": False, "paths": []}
    assert doc["gradient"]["x"] == pytest.approx(_chain_gradient(0.001, 20), rel=1e-12)
    small = ok_json(_chain(3), "x=0.5", "--paths")
    assert small["paths"]["x"]["count"] == 8 and len(small["paths"]["x"]["paths"]) == 8
    assert math.fsum(p["value"] for p in small["paths"]["x"]["paths"]) == pytest.approx(_chain_gradient(0.5, 3))


def test_tensor_paths_are_chains_of_jacobians():
    out = ok("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--paths", "--no-nodes")
    lines = [line.strip() for line in out.splitlines()]
    assert "∂b/∂W = ∂b/∂a · ∂a/∂W" in lines and "= 𝟏ᵀ · (I ⊗ xᵀ)   (1×2 · 2×4 → 1×4)" in lines
    assert "∂b/∂x = ∂b/∂a · ∂a/∂x" in lines and "= 𝟏ᵀ · W   (1×2 · 2×2 → 1×2)" in lines
    assert "= [4, 6]" in lines and "path x → a → b" in lines


# ---- --edges ---------------------------------------------------------------------------------
def test_edges_table():
    out = ok(LECTURE, "a=3", "b=2", "--edges", "--no-nodes")
    rows = table(out, "Local derivatives on the edges")
    assert [(r["edge"], r["local derivative"], r["symbolic"], r["value"]) for r in rows] == [
        ("a → c", "∂c/∂a", "1", "1"),
        ("b → c", "∂c/∂b", "1", "1"),
        ("b → d", "∂d/∂b", "1", "1"),
        ("c → e", "∂e/∂c", "d", "3"),
        ("d → e", "∂e/∂d", "c", "5"),
    ]


def test_edges_of_a_nonlinear_program():
    # a = x*y, b = sin(a): ∂a/∂x = y = 2, ∂b/∂a = cos(a) = cos(1)
    out = ok("sin(x*y)", "x=0.5", "y=2", "--edges", "--no-nodes", "--digits", "6")
    rows = {r["edge"]: r for r in table(out, "Local derivatives on the edges")}
    assert rows["x → a"]["symbolic"] == "y" and rows["x → a"]["value"] == "2"
    assert rows["y → a"]["symbolic"] == "x" and rows["y → a"]["value"] == "0.5"
    assert rows["a → b"]["symbolic"] == "cos(a)"
    assert float(rows["a → b"]["value"]) == pytest.approx(math.cos(1.0), rel=1e-5)


def test_explaining_needs_a_scalar_output():
    usage_error(invoke("W@x", "W=[[1,2],[3,4]]", "x=[1,2]", "--edges"), "--edges")


# ---- --exact -----------------------------------------------------------------------------------
def test_exact_rationals():
    # a = 1/3, b = 1/2: c = 5/6, d = 3/2, e = 5/4; ∂e/∂a = d = 3/2, ∂e/∂b = d + c = 7/3
    a, b = Fraction(1, 3), Fraction(1, 2)
    want = {"a": a, "b": b, "c": a + b, "d": b + 1, "e": (a + b) * (b + 1), "∂e/∂a": b + 1, "∂e/∂b": a + 2 * b + 1}
    assert want["e"] == Fraction(5, 4) and want["∂e/∂b"] == Fraction(7, 3)
    out = ok(LECTURE, "a=1/3", "b=1/2", "--exact", "--no-nodes", "--sympy-timeout", "60")
    rows = {r[""]: r for r in table(out, "Exact arithmetic")}
    assert set(rows) == set(want)
    for key, value in want.items():
        assert Fraction(rows[key]["exact"]) == value, key
        assert float(rows[key]["decimal"]) == pytest.approx(float(value), rel=1e-14), key


def test_exact_json():
    doc = ok_json(LECTURE, "a=1/3", "b=1/2", "--exact", "--sympy-timeout", "60")
    assert doc["exact"]["gradient"] == {"a": {"exact": "3/2", "decimal": "1.5"},
                                        "b": {"exact": "7/3", "decimal": "2.33333333333333"}}
    assert doc["exact"]["nodes"]["e"] == {"exact": "5/4", "decimal": "1.25"}
    assert "note" not in doc["exact"]


def test_exact_keeps_pi_and_surds():
    doc = ok_json("sqrt(x)*y + sin(y)", "x=2", "y=pi/4", "--exact", "--sympy-timeout", "60")
    x, y = sp.Integer(2), sp.pi / 4
    want = {"x": y / (2 * sp.sqrt(x)), "y": sp.sqrt(x) + sp.cos(y)}
    for name, value in want.items():
        got = doc["exact"]["gradient"][name]
        assert "." not in got["exact"]  # exact, not a float
        assert sp.simplify(sp.sympify(got["exact"]) - value) == 0
        assert float(got["decimal"]) == pytest.approx(float(value), rel=1e-14)
    value = doc["exact"]["nodes"][doc["output"]]
    assert "pi" in value["exact"] and "sqrt(2)" in value["exact"]
    assert sp.simplify(sp.sympify(value["exact"]) - (sp.sqrt(x) * y + sp.sin(y))) == 0


def test_exact_reads_decimals_as_fractions():
    doc = ok_json("x*0.1", "x=0.1", "--exact", "--sympy-timeout", "60")
    assert doc["exact"]["nodes"]["a"] == {"exact": "1/100", "decimal": "0.01"}
    assert doc["exact"]["gradient"]["x"] == {"exact": "1/10", "decimal": "0.1"}


def test_exact_vector_input():
    # sum(v*v): gradient 2v = [2/3, 1]
    doc = ok_json("sum(v*v)", "v=[1/3,1/2]", "--exact", "--sympy-timeout", "60")
    assert doc["exact"]["gradient"]["v"]["exact"] == "[2/3, 1]"
    assert doc["exact"]["nodes"][doc["output"]]["exact"] == "13/36"


def test_huge_exact_power_is_refused():
    with watchdog(120):  # a hang guard, not a speed limit: computing 3^(10^7) exactly would not end
        result = invoke("x^10000000", "x=1/3", "--exact")
    usage_error(result, "--exact", "digits")


def test_exact_needs_a_scalar_output():
    usage_error(invoke("W@x", "W=[[1,2],[3,4]]", "x=[1,2]", "--exact"), "--exact")


def test_exact_power_with_more_than_4300_digits():
    result = invoke("x^10000", "x=1/3", "--exact", "--no-nodes", "--sympy-timeout", "60")
    if result.exit_code == 2:  # a clear refusal would do
        usage_error(result, "--exact", "digits")
        return
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "exact arithmetic failed" not in result.stdout
    assert "ValueError" not in result.stdout and "4300" not in result.stdout
    # the exact value is wider than any screen: the table is shown stacked, never cut to fit
    assert "\n∂a/∂x\n  exact\n    10000/" in result.stdout  # 10000·(1/3)^9999


def test_exact_decimal_of_a_tiny_value():
    doc = ok_json("x^1000", "x=1/3", "--exact", "--sympy-timeout", "60")
    decimal = doc["exact"]["nodes"]["a"]["decimal"]
    assert decimal != "0"
    assert abs(sp.Float(decimal, 30) * 3**1000 - 1) < 1e-9


# ---- --latex -----------------------------------------------------------------------------------
def test_latex_derivatives():
    out = ok(LECTURE, "a=3", "b=2", "--latex", "--no-nodes", "--sympy-timeout", "60")
    lines = [line.strip() for line in out.splitlines()]
    a, b = sp.symbols("a b")
    e = (a + b) * (b + 1)
    for name, sym in (("a", a), ("b", b)):
        prefix = f"\\frac{{\\partial e}}{{\\partial {name}}} = "
        (line,) = [line for line in lines if line.startswith(prefix)]
        rhs = line[len(prefix):]
        d = sp.diff(e, sym)
        assert rhs in (sp.latex(d), sp.latex(sp.simplify(d)), sp.latex(sp.expand(d)))


def test_latex_of_a_transcendental_program():
    doc = ok_json("x*exp(x^2) + a/b", "x=1/3", "a=pi/4", "b=2", "--latex", "--sympy-timeout", "60")
    x, a, b = sp.symbols("x a b")
    f = x * sp.exp(x**2) + a / b
    assert set(doc["latex"]) == {"x", "a", "b"}
    for name, sym in (("x", x), ("a", a), ("b", b)):
        text = doc["latex"][name]
        assert text.startswith(f"\\frac{{\\partial g}}{{\\partial {name}}} = ")
        d = sp.diff(f, sym)
        assert text.split(" = ", 1)[1] in (sp.latex(d), sp.latex(sp.simplify(d)))


def test_latex_steps_align_block():
    out = ok(LECTURE, "a=3", "b=2", "--latex", "--steps", "--no-nodes", "--sympy-timeout", "60")
    start = out.index("\\begin{align*}")
    block = out[start:out.index("\\end{align*}")]
    rows = [r.strip() for r in block.split("\n")[1:] if r.strip()]
    assert rows == [
        "\\bar{c} &\\mathrel{+}= \\bar{e} \\cdot \\frac{\\partial e}{\\partial c} = 1 \\cdot d = 3 \\\\",
        "\\bar{d} &\\mathrel{+}= \\bar{e} \\cdot \\frac{\\partial e}{\\partial d} = 1 \\cdot c = 5 \\\\",
        "\\bar{b} &\\mathrel{+}= \\bar{d} \\cdot \\frac{\\partial d}{\\partial b} = 5 \\cdot 1 = 5 \\\\",
        "\\bar{a} &\\mathrel{+}= \\bar{c} \\cdot \\frac{\\partial c}{\\partial a} = 3 \\cdot 1 = 3 \\\\",
        "\\bar{b} &\\mathrel{+}= \\bar{c} \\cdot \\frac{\\partial c}{\\partial b} = 3 \\cdot 1 = 3",
    ]


def test_exact_and_latex_json():
    doc = ok_json(LECTURE, "a=1/3", "b=1/2", "--exact", "--latex", "--steps", "--sympy-timeout", "60")
    assert set(doc["latex"]) == {"a", "b"}
    assert doc["latex"]["a"] == "\\frac{\\partial e}{\\partial a} = b + 1"
    assert doc["latex_steps"].startswith("\\begin{align*}\n") and doc["latex_steps"].endswith("\\end{align*}")
    assert "steps" in doc and "exact" in doc
    assert doc["exact"]["gradient"]["b"]["exact"] == "7/3"


def test_latex_input_named_steps():
    doc = ok_json("steps*2", "steps=3", "--latex", "--steps", "--sympy-timeout", "60")
    assert any(v.startswith("\\frac{\\partial a}{\\partial \\mathrm{steps}} = 2") for v in doc["latex"].values())
