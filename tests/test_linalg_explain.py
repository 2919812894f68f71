"""Explaining the shape and linear-algebra ops: --steps, --edges, --paths, --jacobians, --latex.

For each program below (together they use reshape, flatten, hstack, vstack, diag,
cumsum, prod, var, std, trace, det, logdet, inv, solve, eye, zeros and ones):

* every array edge's printed rule, evaluated from the rule data at the program's
  values, equals what the engine adds along that edge (the op's own VJP), and every
  printed local Jacobian equals the Jacobian built from that VJP;
* the commands exit 0 with nothing on stderr, and no output says "vjp" in place of a
  formula;
* a few lines read as the lecture / Matrix Cookbook writes them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from clitools import run_cli
from gradcli.core import rules
from gradcli.run.bindings import collect
from gradcli.run.evaluate import prepare, run
from gradcli.teach.edges import contribution, edge_environment, edge_partials, local_jacobian

WIDE = {"COLUMNS": "160"}
POINT = ["x=[1.5,-2,0.5,1,3,-1]", "y=[0.5,2,-1]", "X=[[3,1,0],[1,4,1],[0,2,5]]"]

PROGRAMS = {
    "shapes": "sum(reshape(x, 3, 2) @ y[0:2]) + dot(flatten(X), flatten(X)) + dot(hstack(x, y), hstack(y, x))",
    "stacks": "sum(vstack(X, y) @ y) + sum(vstack(y, y, y) * X) + sum(hstack(X, reshape(x, 3, 2)))",
    "diag": "sum(diag(y) @ y) + dot(diag(X), y)",
    "cumsum": "dot(cumsum(x), x) + sum(cumsum(X, 0) * X) + sum(cumsum(X) * x[0])",
    "moments": "prod(x) + var(x) + std(x) + sum(var(X, 0)) + sum(std(X, 1)) + sum(prod(X, 0))",
    "linalg": "det(X) + logdet(X) + trace(X @ X) + sum(inv(X) @ y) + sum(solve(X, y)) + sum(solve(X, X))",
    "constants": "sum((eye(3) + ones(3, 3)) @ y) + sum(zeros(3) * y) + trace(X + eye(3))",
}


def _point(program: str) -> list[str]:
    """The bindings the program uses (an unused one draws a warning on stderr)."""
    return [b for b in POINT if re.search(rf"\b{b[0]}\b", program)]


def _evaluate(program: str):
    return run(prepare(program, collect(_point(program), [])))


def _ok(args: list[str]) -> str:
    result = run_cli(["eval", *args], env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


@pytest.mark.parametrize("name", PROGRAMS)
def test_each_printed_rule_and_jacobian_is_the_engines(name):
    ev = _evaluate(PROGRAMS[name])
    checked = 0
    for e in edge_partials(ev):
        if e.tensor is None or not ev.tape.live[e.target]:
            continue
        env = edge_environment(ev, e)
        got = rules.adjoint_value(e.tensor.rule, env)
        assert np.allclose(got, contribution(ev, e), rtol=1e-10, atol=1e-12), f"{e.tensor.lhs} += {e.tensor.text}"
        want = local_jacobian(ev, e)
        assert want.shape == e.tensor.jacobian_shape, e.name
        if e.tensor.jacobian:
            jac = rules.jacobian_value(e.tensor.rule, env)
            assert jac is not None and np.allclose(jac, want), f"{e.name} = {e.tensor.jacobian}"
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_explanation_runs_and_never_says_vjp(name):
    args = [PROGRAMS[name], *_point(PROGRAMS[name])]
    outputs = [_ok([*args, "--steps", "--paths", "--edges", "--jacobians", "--no-nodes"]),
               _ok([*args, "--steps", "--paths", "--edges", "--jacobians", "--json"])]
    result = run_cli(["graph", *args, "--format", "text"], env=WIDE)
    assert result.exit_code == 0, result.stderr
    outputs.append(result.stdout)
    for text in outputs:
        assert not re.search(r"vjp|vector-jacobian", text, re.I), name
    assert "Backward pass" in outputs[0] and "Local Jacobians on the edges" in outputs[0]


@pytest.mark.parametrize("name", ["linalg", "moments"])
def test_latex_of_the_linear_algebra_rules(name):
    out = _ok([PROGRAMS[name], *_point(PROGRAMS[name]), "--latex", "--steps", "--no-nodes"])
    assert not re.search(r"vjp|vector-jacobian", out, re.I)
    if name == "linalg":
        assert r"\bar{X} &\mathrel{+}= \bar{b} \cdot X^{-\top}" in out  # logdet
        assert r"-\left(X^{-\top}\,\bar{" in out  # solve: Ā += −(A⁻ᵀ ȳ) yᵀ


def test_a_scalar_sum_of_array_terms_gives_latex_steps():
    """--latex --steps without --digits on an array program with a scalar + (it used to crash)."""
    out = _ok(["sum(x) + sum(x*x)", "x=[1,2]", "--latex", "--steps", "--no-nodes"])
    assert r"\mathrel{+}=" in out


def _lines(program: str, *flags: str) -> list[str]:
    return [" ".join(line.split()) for line in _ok([program, *_point(program), *flags, "--no-nodes"]).splitlines()]


def test_linear_algebra_rules_read_like_the_cookbook():
    steps = _lines("det(X) + logdet(X) + trace(X) + sum(inv(X)) + sum(solve(X, y))", "--steps", "--edges")
    text = "\n".join(steps)
    assert "X̄ += ā · a · X⁻ᵀ (scalar · 3×3 → 3×3)" in text  # det: d̄ · det(X) X⁻ᵀ
    assert "X̄ += b̄ · X⁻ᵀ (scalar · 3×3 → 3×3)" in text  # logdet
    assert "X̄ += d̄ · I (scalar · 3×3 → 3×3)" in text  # trace
    assert "X̄ += −fᵀ f̄ fᵀ (3×3 · 3×3 → 3×3)" in text  # inv: −Yᵀ Ȳ Yᵀ
    assert "X̄ += −(X⁻ᵀ ī) iᵀ (3×1 · 1×3 → 3×3)" in text  # solve, A
    assert "ȳ += X⁻ᵀ ī (3×3 · 3×1 → 3)" in text  # solve, b
    assert "| X → f | ∂f/∂X = −f ⊗ fᵀ | 9×9 | dense (X read row-major) |" in text
    assert "| X → i | ∂i/∂X = −X⁻¹ ⊗ iᵀ | 3×9 | dense (X read row-major) |" in text
    assert "| X → a | ∂a/∂X = a · vec(X⁻ᵀ)ᵀ | 1×9 | dense row (X read row-major) |" in text
    assert "| X → d | ∂d/∂X = vec(I)ᵀ | 1×9 | sparse row: 1 at each diagonal element (read row-major) |" in text


def test_shape_and_reduction_rules_read_like_the_lecture():
    text = "\n".join(_lines(PROGRAMS["shapes"], "--steps"))
    assert "x̄ += reshape(ā, 6) (→ 6) the adjoint read back in the shape of x" in text
    assert re.search(r"x̄ \+= \w+̄\[0:6\] \(→ 6\) each argument gets its own slice of the adjoint", text)
    assert re.search(r"ȳ \+= \w+̄\[6:9\] \(→ 3\)", text)
    text = "\n".join(_lines("dot(cumsum(x), x) + prod(x) + var(x) + std(x)", "--steps", "--edges"))
    assert "x̄ += flip(cumsum(flip(ā))) (→ 6)" in text
    assert "| x → a | ∂a/∂x = L | 6×6 | lower triangular, all ones (L) |" in text
    assert "x̄ += c̄ · ∏ⱼ≠ᵢ xⱼ (scalar · 6 → 6)" in text
    assert "x̄ += ē · 2 · (x − mean(x)) / n (→ 6)" in text
    assert "x̄ += ḡ · (x − mean(x)) / (n · g) (→ 6)" in text
    text = "\n".join(_lines(PROGRAMS["diag"], "--steps"))
    assert "ȳ += diag(ā) (→ 3) the diagonal of the adjoint" in text
    assert re.search(r"X̄ \+= diag\(\w+̄\) \(→ 3×3\) off the diagonal X gets 0", text)


def test_the_programs_use_every_shape_and_linear_algebra_op():
    used = set()
    for program in PROGRAMS.values():
        ev = _evaluate(program)
        used |= {node.op for node in ev.graph.nodes}
    ops = {"reshape", "flatten", "hstack", "vstack", "diag", "cumsum", "prod", "var", "std", "trace", "det",
           "logdet", "inv", "solve", "eye", "zeros", "ones"}
    assert ops <= used, ops - used


def test_three_argument_elementwise_ops_print_their_own_partial():
    """where(c, a, b) and clip(x, lo, hi): the third argument's rule reads its own partial
    (it read the second's, an internal error, before)."""
    out = _ok(["sum(where(y, u, y*y)) + sum(clip(y, u, y*y + 1))", "y=[0.5,2,-1]", "u=[0,-3,1]",
               "--steps", "--no-nodes"])
    text = "\n".join(" ".join(line.split()) for line in out.splitlines())
    # the partials in the language's own spelling (there is no ne(), eq() or step())
    assert "ū += w̄ ∘ (y != 0) (3 ∘ 3 → 3)" in text
    assert "v̄ += w̄ ∘ (y == 0) (3 ∘ 3 → 3)" in text
    assert "b̄ += c̄ ∘ (y - b > 0) (3 ∘ 3 → 3)" in text
