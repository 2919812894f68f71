"""--mode forward --steps: the tangent sweep by hand, every line checked against the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import gradcli
from clitools import assert_golden, run_cli, usage_error
from gradcli.backends.dual import tangent
from gradcli.run.bindings import collect
from gradcli.run.evaluate import prepare, run_forward, tangent_pass
from gradcli.teach.forward import PASS_LIMIT
from gradcli.teach.forward_arrays import node_rules, rule_value
from test_samples import FILES, directives

GOLDEN = Path(__file__).parent / "golden" / "forward"
WIDE = {"COLUMNS": "300"}  # no line wrapped

SCALAR = [p for p in FILES if "--vars" not in directives(p)["bind"]]
ARRAY = [p for p in FILES if p not in SCALAR]


def test_the_lecture_example_reads_like_the_notes():
    result = run_cli(["eval", "(a+b)*(b+1)", "a=3", "b=2", "--mode", "forward", "--seed", "b", "--steps"])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "Forward pass 1 of 1: start with ḃ = 1, ȧ = 0:" in text
    assert "  ḋ = ∂d/∂b · ḃ = 1 · 1 = 1" in text
    assert "  ė = ∂e/∂c · ċ + ∂e/∂d · ḋ = d · 1 + c · 1 = 3 · 1 + 5 · 1 = 8" in text
    assert "so ∂e/∂b = ė = 8" in text


def _numeric_parts(line: str) -> tuple[str, str]:
    """The last two '='-separated parts: the numbers multiplied out, and the result."""
    parts = [p.strip() for p in line.split(" = ")]
    return parts[-2], parts[-1]


@pytest.mark.parametrize("path", SCALAR, ids=lambda p: p.name)
def test_every_line_is_the_engine_s_tangent(path):
    spec = directives(path)
    args = ["eval", "-f", str(path), *spec["bind"], "--mode", "forward", "--steps"]
    text = run_cli(args, env={"COLUMNS": "300"}).stdout  # no line wrapped
    doc = json.loads(run_cli([*args, "--json"]).stdout)
    tangents = {n["name"]: n["tangent"] for n in doc["nodes"] if n["name"]}
    passes = re.split(r"Forward pass \d+ of \d+: start with ", text)[1:]
    assert passes, text
    checked = 0
    for block in passes:
        seed = block[0]
        for line in block.splitlines()[1:]:
            if not line.startswith("  ") or line.startswith("  so "):
                continue
            label = line.strip()[0]
            node = next(n for n in tangents if n == label) if label in tangents else None
            product, result = _numeric_parts(line)
            value = gradcli.evaluate(product.replace("·", "*"))  # read by gradcli's own parser
            assert value.value == pytest.approx(float(result), rel=1e-9, abs=1e-12), line
            if node is not None and seed in tangents[node]:
                assert float(result) == pytest.approx(tangents[node][seed], rel=1e-9, abs=1e-12), line
            checked += 1
        final = re.search(r"so ∂\S+/∂(\S+) = \S+ = (\S+)", block)
        assert float(final.group(2)) == pytest.approx(doc["gradient"][final.group(1)], rel=1e-9)
    assert checked >= 2


def test_json_carries_the_sweep():
    doc = json.loads(run_cli(["eval", "x*exp(x^2)", "x=0.5", "--mode", "forward", "--steps", "--json"]).stdout)
    (p,) = doc["forward_steps"]
    assert p["seed"] == "x" and p["derivative"] == pytest.approx(doc["gradient"]["x"])
    assert [n["node"] for n in p["nodes"]] == ["a", "b", "c"]


def test_forward_steps_cannot_mix_with_reverse_explanations():
    result = run_cli(["eval", "x*y", "x=1", "y=2", "--mode", "forward", "--steps", "--paths"])
    assert result.exit_code == 2 and "reverse mode" in result.stderr


# ---- programs with vectors and matrices: one pass per element, the JVP in matrix form ----------
def _forward_evaluation(path: Path, seed=None):
    spec = directives(path)
    bind = spec["bind"]
    bound = collect([], [bind[1]]) if bind[0] == "--vars" else collect(bind, [])
    ev = prepare(path.read_text(encoding="utf-8"), bound, spec["output"])
    if seed is not None:
        ev.wrt = [seed.partition("[")[0]]
    return run_forward(ev, seed)


def _array_args(path: Path) -> list[str]:
    return ["eval", "-f", str(path), *directives(path)["bind"], "--mode", "forward", "--steps"]


def test_every_sample_is_explained():
    assert set(SCALAR) | set(ARRAY) == set(FILES) and len(ARRAY) >= 7


@pytest.mark.parametrize("path", ARRAY, ids=lambda p: p.name)
def test_every_array_node_is_the_engine_s_jvp(path):
    """Each pass's JSON: every node's tangent is the engine's dual-number tangent for that
    seed, the printed rule evaluated at the point gives it too, and the pass ends at the gradient."""
    result = run_cli([*_array_args(path), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    passes = doc["forward_steps"]
    assert 1 <= len(passes) <= PASS_LIMIT
    ev = _forward_evaluation(path)
    rules_by_node = node_rules(ev)
    checked = 0
    for p in passes:
        index = None if p["index"] is None else tuple(p["index"])
        engine = [tangent(v) for v in tangent_pass(ev, p["input"], index)]
        assert p["passes"] == ev.passes
        for n in p["nodes"]:
            want = np.asarray(engine[n["id"]], dtype=float)
            assert np.allclose(np.asarray(n["tangent"], dtype=float), want, rtol=1e-12, atol=1e-15), n["node"]
            by_rule = rule_value(ev, rules_by_node[n["id"]], engine)
            assert np.allclose(by_rule, want, rtol=1e-9, atol=1e-12), f"{n['node']} = {n['rule']}"
            checked += 1
        grad = np.asarray(doc["gradient"][p["input"]], dtype=float)
        assert p["derivative"] == pytest.approx(float(grad if index is None else grad[index]), rel=1e-9, abs=1e-12)
    assert checked >= 3


#: every structural op, broadcasting, a repeated argument, a constant argument, a scalar operand
PROGRAMS = [
    ("sum(hstack(x, [y, 1]) * 2)", ["x=[1,2]", "y=3"]),
    ("sum(softmax(W, 0) * W) + sum(log_softmax(W))", ["W=[[1,2,3],[0.5,-1,2]]"]),
    ("dot(x, x) + sum(logsumexp(W, 1)) + logsumexp(x)", ["x=[1,2,3]", "W=[[1,2,3],[0.5,-1,2]]"]),
    ("sum(x * x + c) + c*sum(x) + sum(c*W - x)", ["x=[1,2,3]", "c=2", "W=[[1,2,3],[0.5,-1,2]]"]),
    ("trace(inv(A) @ A.T) + det(A) + logdet(A @ A.T)", ["A=[[2,1],[0.5,3]]"]),
    ("mean(var(W, 0)) + std(x) + prod(x) + max(x) + min(x) + mean(W, 1)[0] + sum(prod(W, 0))",
     ["W=[[1,2,3],[0.5,-1,2]]", "x=[1,2,4]"]),
    ("sum(cumsum(W, 1)) + sum(cumsum(W)) + sum(reshape(W, 3, 2)[1]) + norm(flatten(W))", ["W=[[1,2,3],[0.5,-1,2]]"]),
    ("sum(solve(A, x)) + sum(solve(A, A)) + sum(outer(x, x)) + sum(diag(A)) + sum(diag(x))",
     ["A=[[2,1],[0.5,3]]", "x=[1,2]"]),
    ("sum(vstack(W, x)) + sum(x[0:2]) + sum(W.T @ v) + sum(W @ W.T) + sum(sum(W, 0) * x)",
     ["W=[[1,2,3],[0.5,-1,2]]", "x=[1,2,3]", "v=[1,-1]"]),
    ("sum(x @ W) + sum(tanh(W) / (1 + W^2))", ["x=[1,2]", "W=[[1,2,3],[0.5,-1,2]]"]),
    ("sum(W[idx] * W[idx]) + sum(exp(pick(W, y))) + sum(onehot(y, 3) * W)",  # idx, y: integer data
     ["W=[[1,2,3],[0.5,-1,2]]", "idx=[1,1,0]", "y=[2,0]"]),
    ("sum(maxpool2d(conv2d(x, w, 1, 1), 2)^2) + sum(avgpool2d(x, 2) * x[0, 0:2, 0:2]) + sum(conv1d(v, k, 2, 1))",
     ["x=[[[0.1,0.5,-0.3,0.2],[0.7,0.2,0.4,-0.1],[-0.6,0.9,0.3,0.8],[0.15,-0.25,0.35,0.45]]]",
      "w=[[[[0.5,-1,0.2],[2,0.3,-0.4],[0.1,0.6,-0.7]]],[[[0.1,0.2,0.3],[-0.3,0.4,0.5],[0.6,-0.1,0.2]]]]",
      "v=[[1,2,-1,0.5,0.3]]", "k=[[[0.3,-0.2,0.7]]]"]),
]


@pytest.mark.parametrize("program, binds", PROGRAMS, ids=[p for p, _ in PROGRAMS])
def test_every_op_s_tangent_rule_at_a_point(program, binds):
    args = ["eval", program, *binds, "--mode", "forward", "--steps"]
    ev = run_forward(prepare(program, collect(binds, [])))
    rules_by_node = node_rules(ev)
    ops = set()
    passes = []
    for name in ev.wrt:  # every input's passes (--seed NAME: up to 8 of them); integer data has none
        result = run_cli([*args, "--seed", name, "--json"])
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        passes += [(p, doc) for p in doc["forward_steps"]]
    for p, doc in passes:
        index = None if p["index"] is None else tuple(p["index"])
        engine = [tangent(v) for v in tangent_pass(ev, p["input"], index)]
        for n in p["nodes"]:
            want = np.asarray(engine[n["id"]], dtype=float)
            assert np.allclose(np.asarray(n["tangent"], dtype=float), want, rtol=1e-12, atol=1e-15)
            got = rule_value(ev, rules_by_node[n["id"]], engine)
            assert np.allclose(got, want, rtol=1e-9, atol=1e-12), f"{n['node']} = {n['rule']}: {got} vs {want}"
            ops.add(ev.graph.nodes[n["id"]].op)
        grad = np.asarray(doc["gradient"][p["input"]], dtype=float)
        assert p["derivative"] == pytest.approx(float(grad if index is None else grad[index]), rel=1e-9, abs=1e-12)
    assert len(ops) >= 3
    text = run_cli([*args, "--no-nodes"], env=WIDE)
    assert text.exit_code == 0 and "Forward pass 1 of" in text.stdout


def test_the_programs_cover_every_structural_op():
    from gradcli.core import rules

    seen = set()
    for program, binds in PROGRAMS:
        seen |= {n.op for n in prepare(program, collect(binds, [])).graph.nodes}
    assert set(rules.RULES) <= seen, set(rules.RULES) - seen


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


@pytest.mark.parametrize("path", ARRAY, ids=lambda p: p.name)
def test_every_printed_line_is_the_engine_s_tangent(path):
    """The text: each node's last line (its value) read back and compared with the engine."""
    args = _array_args(path)
    text = run_cli([*args, "--full", "--no-nodes"], env=WIDE).stdout
    doc = json.loads(run_cli([*args, "--json"]).stdout)
    blocks = re.split(r"\nForward pass \d+ of \d+: start with ", text)[1:]
    assert len(blocks) == len(doc["forward_steps"])
    for block, p in zip(blocks, doc["forward_steps"]):
        assert f"(1 at {p['seed']})" in block.splitlines()[0] or p["index"] is None
        lines = block.splitlines()[1:]
        heads = [k for k, line in enumerate(lines) if re.match(r"  \S.* = .*  \(.*→.*\)", line)]
        assert len(heads) == len(p["nodes"])
        ends = heads[1:] + [next(k for k, line in enumerate(lines) if line.startswith("  so "))]
        for k, end, n in zip(heads, ends, p["nodes"]):
            body = [line for line in lines[k + 1:end] if not line.endswith("in this pass)")]
            assert body and body[0].lstrip().startswith("= "), lines[k:end]
            printed = _numbers(" ".join(body))
            want = np.ravel(np.asarray(n["tangent"], dtype=float))
            assert len(printed) == want.size and np.allclose(printed, want, rtol=1e-5, atol=1e-9), (lines[k], printed)
        final = re.search(r"so ∂\S+/∂(\S+) = \S+ = (\S+)", block)
        assert final.group(1) == p["seed"]
        assert float(final.group(2)) == pytest.approx(p["derivative"], rel=1e-9, abs=1e-12)


def test_the_layer_reads_like_the_notes():
    path = next(p for p in ARRAY if p.name == "layer.grad")
    text = run_cli([*_array_args(path), "--no-nodes"], env=WIDE).stdout
    assert "Ẇ x + W ẋ  (3×2 · 2 + 3×2 · 2 → 3)" in text
    assert "σ'(z) ∘ ż  (3 ∘ 3 → 3)   σ'(z) = h ∘ (1 - h)" in text
    assert "Forward pass 1 of 14: start with Ẇ = E₀₀ (1 at W[0,0]), ẋ = 0, ḃ = 0, u̇ = 0:" in text
    assert "(6 more passes not shown; --seed NAME[i,j] shows one, e.g. --seed 'b[0]')" in text
    assert "Forward mode took 14 passes, one per input element" in text


def test_the_layer_matches_the_golden_file():
    path = next(p for p in ARRAY if p.name == "layer.grad")
    result = run_cli([*_array_args(path), "--no-nodes"], env=WIDE)
    assert result.exit_code == 0 and result.stderr == ""
    assert_golden(GOLDEN / "layer.txt", result.stdout)


def test_one_element_s_pass():
    path = next(p for p in ARRAY if p.name == "layer.grad")
    result = run_cli([*_array_args(path), "--seed", "W[2,1]", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    (p,) = doc["forward_steps"]
    assert p["seed"] == "W[2,1]" and p["index"] == [2, 1] and p["pass"] == 6 and p["passes"] == 6
    assert p["derivative"] == pytest.approx(doc["gradient"]["W"][2][1], rel=1e-12)
    text = run_cli([*_array_args(path), "--seed", "W[2,1]", "--no-nodes"], env=WIDE).stdout
    assert "Forward pass 6 of 6: start with Ẇ = E₂₁ (1 at W[2,1])" in text
    assert text.count("Forward pass ") == 1 and "more passes not shown" not in text
    whole = json.loads(run_cli([*_array_args(path), "--seed", "W", "--json"]).stdout)
    assert [q["seed"] for q in whole["forward_steps"]] == [f"W[{i},{j}]" for i in range(3) for j in range(2)]


def test_a_scalar_input_of_an_array_program():
    path = next(p for p in ARRAY if p.name == "logreg_vec.grad")
    doc = json.loads(run_cli([*_array_args(path), "--seed", "b", "--json"]).stdout)
    (p,) = doc["forward_steps"]
    assert p["seed"] == "b" and p["index"] is None and p["derivative"] == pytest.approx(doc["gradient"]["b"])
    text = run_cli([*_array_args(path), "--seed", "b", "--no-nodes"], env=WIDE).stdout
    assert "start with ḃ = 1, ẇ = 0" in text and "ḃ is broadcast from scalar to 4" in text


@pytest.mark.parametrize("seed, fragment", [
    ("W[3,0]", "index 3 is out of range for W of shape 3×2"),
    ("W[0]", "W has shape 3×2, so give 2 indices"),
    ("W[a,b]", "write whole-number indices"),
    ("Q[0,0]", "not an input of the program"),
    ("u[", "write an input's name"),
])
def test_bad_seeds_are_one_line(seed, fragment):
    path = next(p for p in ARRAY if p.name == "layer.grad")
    usage_error(run_cli([*_array_args(path), "--seed", seed]), fragment)


def test_a_scalar_seed_with_an_index_is_refused():
    usage_error(run_cli(["eval", "x*y", "x=1", "y=2", "--seed", "x[0]"]), "x is a scalar")


def _balanced(tex: str) -> None:
    assert tex.count("{") == tex.count("}"), tex
    assert tex.count(r"\begin{align*}") == tex.count(r"\end{align*}") >= 1
    assert tex.count(r"\begin{bmatrix}") == tex.count(r"\end{bmatrix}")
    depth = 0
    for ch in tex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0


@pytest.mark.parametrize("name", ["layer.grad", "mlp.grad", "rnn.grad"])
def test_latex_carries_the_passes(name):
    path = next(p for p in ARRAY if p.name == name)
    result = run_cli([*_array_args(path), "--latex", "--json"])
    assert result.exit_code == 0, result.stderr
    tex = json.loads(result.stdout)["latex_steps"]
    _balanced(tex)
    assert tex.count(r"\begin{align*}") == min(PASS_LIMIT, len(json.loads(result.stdout)["forward_steps"]))
    if name == "layer.grad":
        assert re.search(r"\\dot\{\w+\} &= \\dot\{W\}\\,x \+ W\\,\\dot\{x\} = \\dot\{W\}\\,x = "
                         r"\\begin\{bmatrix\} 1 \\\\ 0 \\\\ 0 \\end\{bmatrix\}", tex), tex[:400]
    assert "#" not in tex.replace(r"\#", "")


def test_latex_on_a_scalar_program():
    result = run_cli(["eval", "(a+b)*(b+1)", "a=3", "b=2", "--mode", "forward", "--steps", "--latex", "--json"])
    assert result.exit_code == 0, result.stderr
    tex = json.loads(result.stdout)["latex_steps"]
    _balanced(tex)
    assert r"\dot{e} &= \frac{\partial e}{\partial c}\,\dot{c} + \frac{\partial e}{\partial d}\,\dot{d}" in tex


def test_latex_in_forward_mode_without_steps():
    """--latex in forward mode: the derivatives' LaTeX (chains of Jacobians on arrays), no reverse sweep."""
    path = next(p for p in ARRAY if p.name == "layer.grad")
    result = run_cli(["eval", "-f", str(path), *directives(path)["bind"], "--mode", "forward", "--latex", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert "latex_steps" not in doc and doc["latex"]["W"].startswith(r"\frac{\partial s}{\partial W} = u^\top")
    scalar = run_cli(["eval", "x*y", "x=1", "y=2", "--mode", "forward", "--latex", "--json"])
    assert scalar.exit_code == 0 and "latex_steps" not in json.loads(scalar.stdout)
