"""User-defined functions (``def``), the prelude of losses, and built-in names used as
values (issue 11): how definitions parse (S-expressions), that inlining gives exactly
the hand-unrolled graph, the errors (with columns), deep nesting, names, pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clitools import run_cli as run
from gradcli.core.errors import ParseError, UsageError
from gradcli.language import lower as lower_module
from gradcli.language.lower import lower
from gradcli.language.parser import parse, program_sexpr
from gradcli.language.prelude import NAMES, PRELUDE, definitions


def sx(src: str) -> str:
    return program_sexpr(parse(src))


def graph_of(src: str, output=None):
    return lower(parse(src), output)


def structure(g) -> list[tuple]:
    """Everything a node is, except the names given to anonymous nodes."""
    return [(n.op, n.args, n.param, n.text) for n in g.nodes]


def named(g) -> dict[int, str]:
    """Nodes the user named (inputs and steps), by id."""
    return {i: n for n, i in g.names.items()}


# ---- parsing -----------------------------------------------------------------------------
@pytest.mark.parametrize("src, expected", [
    ("def f(x) = x^2", "(def f (x) (^ x 2))"),
    ("def f(a, b) = a*b + 1", "(def f (a b) (+ (* a b) 1))"),
    ("def c() = 2*pi", "(def c () (* 2 pi))"),
    ("def cell(h, x) = tanh(Wh @ h + Wx @ x + b); h1 = cell(h0, x1)",
     "(def cell (h x) (tanh (+ (+ (@ Wh h) (@ Wx x)) b))); (= h1 (cell h0 x1))"),
    ("def ce(z, k) = -log_softmax(z)[k]", "(def ce (z k) (neg (index (log_softmax z) k)))"),
    ("def f(x) = (x +\n 1)\ny = f(2)", "(def f (x) (+ x 1)); (= y (f 2))"),
    # `def` is a keyword only before a name: otherwise it is an ordinary name
    ("def = 3; def + 1", "(= def 3); (+ def 1)"),
])
def test_definitions_parse(src, expected):
    assert sx(src) == expected


# ---- inlining gives the hand-unrolled graph ------------------------------------------------
EQUIVALENT = [
    ("def cell(h, x) = tanh(Wh @ h + Wx @ x + b); h1 = cell(h0, x1); h2 = cell(h1, x2); h3 = cell(h2, x3); "
     "C = sum((Wo @ h3 - y)^2)",
     "h1 = tanh(Wh @ h0 + Wx @ x1 + b); h2 = tanh(Wh @ h1 + Wx @ x2 + b); h3 = tanh(Wh @ h2 + Wx @ x3 + b); "
     "C = sum((Wo @ h3 - y)^2)"),
    # an argument used twice is one node; shared subexpressions across calls merge
    ("def sq(u) = u*u; y = sq(a + b) + sq(a + b)", "y = (a + b)*(a + b) + (a + b)*(a + b)"),
    # a parameter shadows an input of the same name; inputs first used in a body come in body order
    ("def f(x) = w*x + c; y = f(2*x)", "y = w*(2*x) + c"),
    # nested calls and calls inside bodies
    ("def sq(u) = u^2; def n2(a, b) = sqrt(sq(a) + sq(b)); r = n2(n2(x, y), z)",
     "r = sqrt(sqrt(x^2 + y^2)^2 + z^2)"),
    # the prelude
    ("L = mse(W @ x, y) + lam * l2(W)", "L = mean((W @ x - y)^2) + lam * sum(W^2)"),
    ("L = cross_entropy(z, 2)", "L = -log_softmax(z)[2]"),
    ("L = bce(sigmoid(s), t)", "L = -mean(t*log(sigmoid(s)) + (1 - t)*log(1 - sigmoid(s)))"),
    # a user definition overrides the prelude's
    ("def l2(w) = sqrt(sum(w^2)); r = l2(v)", "r = sqrt(sum(v^2))"),
    # a built-in name as a step, then used as a value
    ("def f(dot) = 2*dot; dot = u + v; y = f(dot)", "dot = u + v; y = 2*dot"),
]


@pytest.mark.parametrize("with_defs, unrolled", EQUIVALENT)
def test_a_def_program_lowers_to_the_hand_unrolled_graph(with_defs, unrolled):
    a, b = graph_of(with_defs), graph_of(unrolled)
    assert structure(a) == structure(b)
    assert named(a) == named(b)
    assert [a.nodes[i].name for i in a.inputs] == [b.nodes[i].name for i in b.inputs]
    assert a.output == b.output and a.output_name == b.output_name


def test_the_issue_example_runs_and_matches_numpy():
    rng = np.random.default_rng(11)
    env = {"Wh": rng.normal(size=(3, 3)), "Wx": rng.normal(size=(3, 2)), "b": rng.normal(size=3),
           "h0": rng.normal(size=3), "x1": rng.normal(size=2), "x2": rng.normal(size=2),
           "x3": rng.normal(size=2), "Wo": rng.normal(size=(2, 3)), "y": rng.normal(size=2)}
    program = ("def cell(h, x) = tanh(Wh @ h + Wx @ x + b); h1 = cell(h0, x1); h2 = cell(h1, x2); "
               "h3 = cell(h2, x3); C = sum((Wo @ h3 - y)^2)")
    args = [f"{k}={json.dumps(v.tolist())}" for k, v in env.items()]
    result = run(["eval", program, *args, "--json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    doc = json.loads(result.stdout)
    # by hand, with NumPy: forward, then backpropagation through time
    hs = [env["h0"]]
    for x in (env["x1"], env["x2"], env["x3"]):
        hs.append(np.tanh(env["Wh"] @ hs[-1] + env["Wx"] @ x + env["b"]))
    r = env["Wo"] @ hs[3] - env["y"]
    assert doc["value"] == pytest.approx(float(r @ r), rel=1e-12)
    hbar = env["Wo"].T @ (2 * r)
    gWh = np.zeros((3, 3))
    gb = np.zeros(3)
    for t in (3, 2, 1):
        abar = hbar * (1 - hs[t] ** 2)
        gWh += np.outer(abar, hs[t - 1])
        gb += abar
        hbar = env["Wh"].T @ abar
    np.testing.assert_allclose(doc["gradient"]["Wh"], gWh, rtol=1e-10)
    np.testing.assert_allclose(doc["gradient"]["b"], gb, rtol=1e-10)
    np.testing.assert_allclose(doc["gradient"]["h0"], hbar, rtol=1e-10)
    names = [n["name"] for n in doc["nodes"]]
    assert {"h1", "h2", "h3", "cell#1.a", "cell#2.d", "cell#3.b"} <= set(names)


# ---- names of nodes made by calls ------------------------------------------------------------
def test_nodes_are_named_after_the_call_that_made_them():
    g = graph_of("def sq(u) = u*u + 1; y = sq(a) * sq(b)")
    text = str(g)
    assert "sq#1.a = a * a" in text
    assert "sq#1 = sq#1.a + 1" in text
    assert "sq#2.a = b * b" in text
    assert "y = sq#1 * sq#2" in text
    calls = [label for label, _, _ in g.calls]
    assert calls == ["sq#1", "sq#2"]
    assert {g.nodes[i].call for i in range(len(g.nodes)) if (g.nodes[i].name or "").startswith("sq#2")} == {1}


def test_a_named_step_keeps_its_name_and_the_call_is_its_provenance():
    g = graph_of("def f(u) = exp(u); y = f(x)")
    node = g.nodes[g.names["y"]]
    assert node.name == "y" and g.calls[node.call][0] == "f#1"


def test_dot_draws_calls_as_nested_clusters():
    result = run(["graph", "def sq(u) = u*u; def f(a) = sq(a) + 1; z = f(x) * f(y)", "x=1", "y=2",
                  "--format", "dot"])
    assert result.exit_code == 0, result.stderr
    dot = result.stdout
    assert dot.count("subgraph cluster_") == 4
    assert 'label="f#1"' in dot and 'label="sq#1"' in dot
    f1 = dot.index('label="f#1"')
    sq1 = dot.index('label="sq#1"')
    f2 = dot.index('label="f#2"')
    assert f1 < sq1 < f2  # sq#1 sits inside f#1's cluster
    assert dot.count("{") == dot.count("}")


def test_the_node_table_shows_call_names():
    result = run(["eval", "def sq(u) = u*u + 1; y = sq(a) * sq(b)", "a=2", "b=3"])
    assert result.exit_code == 0, result.stderr
    assert "sq#1.a" in result.stdout and "sq#2" in result.stdout
    assert result.stdout.count("input") >= 2


# ---- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("src, col, needle", [
    ("def f(x) = f(x) + 1; f(2)", 12, "recursion is not supported"),
    ("def f(x) = g(x); def g(x) = f(x); f(1)", 12, "recursion, direct or mutual, cannot happen"),
    ("def f(a, b) = a*b; f(1)", 20, "f() takes 2 arguments (a, b), got 1"),
    ("y = f(1); def f(x) = x", 5, "used before its definition on line 1"),
    ("dot = 2*x; dot(u, v)", 12, "also the built-in function dot(...)"),
    ("mean(x) * mean", 1, "'mean' is an input of this program (line 1, column 11)"),
])
def test_errors_point_at_the_column(src, col, needle):
    with pytest.raises(ParseError) as info:
        graph_of(src)
    assert needle in info.value.message
    assert info.value.line_col == (1, col)


def test_errors_go_to_stderr_with_exit_2():
    result = run(["eval", "def f(x) = f(x); f(1)", "x=1"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "column 12" in result.stderr and "recursion" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_exponential_expansion_is_refused(monkeypatch):
    monkeypatch.setattr(lower_module, "MAX_INLINED", 10_000)
    defs = ["def f0(x) = sin(x)"] + [f"def f{i + 1}(x) = f{i}(x) + f{i}(x + 1)" for i in range(30)]
    with pytest.raises(ParseError, match="expand to over 10,000 operations"):
        graph_of("\n".join(defs) + "\ny = f30(t)")


def test_an_unused_argument_is_still_checked():
    with pytest.raises(ParseError, match="unknown function 'sine'"):
        graph_of("def first(a, b) = a; y = first(x, sine(x))")
    g = graph_of("def first(a, b) = a; y = first(x, z)")
    assert [g.nodes[i].name for i in g.inputs] == ["x", "z"]  # z is an input, with gradient 0


def test_prelude_errors_point_at_the_call():
    with pytest.raises(ParseError) as info:
        graph_of("L = 1 + cross_entropy(z, 1.5)")
    assert "(in the prelude's cross_entropy)" in info.value.message
    assert info.value.line_col == (1, 9)
    # an input k is an integer index now (x[idx], issue 23): data, not an error
    assert "gather" in {n.op for n in graph_of("L = 1 + cross_entropy(z, k)").nodes}


# ---- deep nesting and many calls: no recursion ---------------------------------------------
@pytest.mark.slow
def test_ten_thousand_nested_calls():
    n = 10_000
    g = graph_of("def f(x) = 2*x + 1\ny = " + "f(" * n + "x" + ")" * n)
    assert len(g.inputs) == 1
    assert sum(1 for node in g.nodes if node.op == "mul") == n


@pytest.mark.slow
def test_ten_thousand_definitions_deep():
    n = 10_000
    defs = ["def f0(x) = sin(x)"] + [f"def f{i + 1}(x) = f{i}(x) + 1" for i in range(n)]
    g = graph_of("\n".join(defs) + f"\ny = f{n}(x)")
    assert sum(1 for node in g.nodes if node.op == "add") == n


@pytest.mark.slow
def test_many_call_sites():
    n = 30_000  # 10^5 works too (25 s on a loaded 2-core machine); this keeps the suite quick
    g = graph_of("def f(x) = 2*x\n" + "\n".join(f"y{i + 1} = f(y{i})" for i in range(n)))
    assert len(g.nodes) == n + 2 and len(g.calls) == n


@pytest.mark.slow
def test_doubling_definitions_stay_linear():
    # f_{k+1}(x) = f_k(x) + f_k(x): the second call is the same function on the same node,
    # so inlining it again adds nothing; without that this would take 2^3000 steps
    defs = ["def f0(x) = x*x"] + [f"def f{i + 1}(x) = f{i}(x) + f{i}(x)" for i in range(3000)]
    g = graph_of("\n".join(defs) + "\ny = f3000(t)")
    assert len(g.nodes) == 3002


# ---- names: built-in function names as values ------------------------------------------------
def test_the_cs231n_dot_step():
    result = run(["eval", "dot = w[0]*x[0] + w[1]*x[1] + w[2]; f = 1/(1 + exp(-dot))",
                  "w=[2,-3,-3]", "x=[-1,-2]", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    dot = 2 * -1 + -3 * -2 - 3
    f = 1 / (1 + np.exp(-dot))
    assert doc["value"] == pytest.approx(f, rel=1e-14)
    local = f * (1 - f)
    np.testing.assert_allclose(doc["gradient"]["w"], [local * -1, local * -2, local], rtol=1e-12)
    np.testing.assert_allclose(doc["gradient"]["x"], [local * 2, local * -3], rtol=1e-12)


def test_inputs_named_like_functions():
    result = run(["eval", "(mean - x)^2 / norm", "mean=1", "x=3", "norm=2", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["value"] == 2.0
    assert doc["gradient"] == {"mean": -2.0, "x": 2.0, "norm": -1.0}


def test_a_constant_stays_reserved():
    with pytest.raises(ParseError, match="built-in constant"):
        graph_of("pi = 3")
    result = run(["eval", "x + 1", "pi=3", "x=1"])
    assert result.exit_code == 2 and "constant" in result.stderr


# ---- the prelude ------------------------------------------------------------------------------
def test_the_prelude_is_data_and_parses():
    assert {"mse", "bce", "cross_entropy", "l2", "batchnorm", "layernorm", "svm_loss", "softmax_loss"} == set(NAMES)
    parsed = parse(PRELUDE)
    assert [st.target for st in parsed.statements] == [f.name for f in definitions()]
    for f, st in zip(definitions(), parsed.statements):
        assert st.params == f.params and f.doc
        assert sx(f.line) == sx(f"def {f.name}({', '.join(f.params)}) = {f.body}")


def test_only_the_prelude_functions_used_are_inlined():
    g = graph_of("y = l2(w)")
    assert [label for label, _, _ in g.calls] == ["l2#1"]
    assert "mean" not in {n.op for n in g.nodes}


def test_prelude_losses_match_numpy():
    rng = np.random.default_rng(3)
    z, yhat, y = rng.normal(size=5), rng.normal(size=4), rng.normal(size=4)
    p, t = rng.uniform(0.1, 0.9, size=3), np.array([0.0, 1.0, 1.0])
    w = rng.normal(size=(2, 3))
    bind = [f"z={json.dumps(z.tolist())}", f"yhat={json.dumps(yhat.tolist())}", f"y={json.dumps(y.tolist())}",
            f"p={json.dumps(p.tolist())}", f"t={json.dumps(t.tolist())}", f"w={json.dumps(w.tolist())}"]
    cases = {
        "mse(yhat, y)": (np.mean((yhat - y) ** 2), {"yhat": 2 * (yhat - y) / 4}),
        "bce(p, t)": (-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), {"p": (p - t) / (p * (1 - p)) / 3}),
        "cross_entropy(z, 3)": (np.log(np.sum(np.exp(z))) - z[3],
                                {"z": np.exp(z) / np.sum(np.exp(z)) - np.eye(5)[3]}),
        "l2(w)": (np.sum(w ** 2), {"w": 2 * w}),
    }
    for program, (value, grads) in cases.items():
        result = run(["eval", f"{program} + 0*sum(z)*sum(yhat)*sum(y)*sum(p)*sum(t)*sum(w)", *bind, "--json"])
        assert result.exit_code == 0, (program, result.stderr)
        doc = json.loads(result.stdout)
        assert doc["value"] == pytest.approx(value, rel=1e-12), program
        for name, expected in grads.items():
            np.testing.assert_allclose(doc["gradient"][name], expected, rtol=1e-10, atol=1e-14,
                                       err_msg=program)


def test_a_user_definition_overrides_the_prelude():
    result = run(["eval", "def mse(a, b) = sum((a - b)^2); L = mse(u, v)", "u=[1,2]", "v=[0,0]", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["value"] == 5.0


def test_output_can_name_a_step_that_uses_a_function():
    g = graph_of("def f(u) = u + 1; a = f(x); b = a * 2", output="a")
    assert g.output_name == "a" and len(g.nodes) == 3
    with pytest.raises(UsageError):
        graph_of("def f(u) = u + 1; a = f(x)", output="f")
