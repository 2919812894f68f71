"""Explaining backprop through layers: --steps, --edges, --jacobians, --paths, --latex on arrays.

* Golden files: each array sample's ``--steps --paths`` and ``--edges`` output is
  recorded in tests/golden/array/ (GRADCLI_UPDATE_GOLDEN=1 rewrites them; read them
  before committing).
* Every rule printed for a sample is evaluated from the same rule data
  (`gradcli.core.rules`) at the sample's values and compared with the engine's own
  contribution; every printed local Jacobian formula with the Jacobian built from the
  op's VJP; every chain of Jacobians with the gradient.
* No output of any sample says "vjp" or "vector-Jacobian product" in place of a formula.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from clitools import assert_golden, run_cli
from gradcli.core import rules
from gradcli.run.bindings import collect
from gradcli.run.evaluate import prepare, run
from gradcli.teach.edges import contribution, edge_environment, edge_partials, local_jacobian

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
GOLDEN = ROOT / "tests" / "golden" / "array"
WIDE = {"COLUMNS": "160"}
ARRAY_SAMPLES = ["layer", "logreg_vec", "mlp", "softmax_ce", "rnn", "relu_layer", "rnn_softmax", "convnet"]


def _args(name: str) -> list[str]:
    """A sample's program and bindings as command-line arguments."""
    path = SAMPLES / f"{name}.grad"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#: vars "):
            return ["-f", str(path), "--vars", str(SAMPLES / line[len("#: vars "):].strip())]
        if line.startswith("#: bind "):
            return ["-f", str(path), *line[len("#: bind "):].split()]
    raise AssertionError(f"{name} has no bindings")


def _evaluate(name: str):
    path = SAMPLES / f"{name}.grad"
    args = _args(name)
    bound = collect([], [args[3]]) if "--vars" in args else collect(args[2:], [])
    return run(prepare(path.read_text(encoding="utf-8"), bound))


def _ok(args: list[str], env=WIDE) -> str:
    result = run_cli(["eval", *args], env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_every_array_sample_is_covered():
    have = {p.stem for p in SAMPLES.glob("*.grad") if "#: vars " in p.read_text(encoding="utf-8")}
    assert have == set(ARRAY_SAMPLES)


# ---- golden outputs ------------------------------------------------------------------------
@pytest.mark.parametrize("flags", [("--steps", "--paths"), ("--edges",)], ids=["steps", "edges"])
@pytest.mark.parametrize("name", ARRAY_SAMPLES)
def test_matches_the_golden_file(name, flags):
    assert_golden(GOLDEN / f"{name}_{flags[0][2:]}.txt", _ok([*_args(name), *flags, "--no-nodes"]))


# ---- the printed rules are the engine's math -------------------------------------------------
@pytest.mark.parametrize("name", ARRAY_SAMPLES)
def test_each_printed_rule_evaluates_to_the_engine_contribution(name):
    ev = _evaluate(name)
    checked = 0
    for e in edge_partials(ev):
        if e.tensor is None or not ev.tape.live[e.target]:
            continue
        env = edge_environment(ev, e)
        got = rules.adjoint_value(e.tensor.rule, env)
        want = contribution(ev, e)
        assert np.allclose(got, want, rtol=1e-10, atol=1e-13), f"{e.tensor.lhs} += {e.tensor.text}"
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("name", ARRAY_SAMPLES)
def test_each_printed_jacobian_is_the_local_jacobian(name):
    ev = _evaluate(name)
    for e in edge_partials(ev):
        if e.tensor is None:
            continue
        want = local_jacobian(ev, e)
        assert want.shape == e.tensor.jacobian_shape
        got = rules.jacobian_value(e.tensor.rule, edge_environment(ev, e))
        if e.tensor.jacobian:
            assert got is not None and np.allclose(got, want), f"{e.name} = {e.tensor.jacobian}"


@pytest.mark.parametrize("name", ARRAY_SAMPLES)
def test_chains_of_jacobians_add_up_to_the_gradient(name):
    doc = json.loads(_ok([*_args(name), "--paths", "--json"]))
    for x, entry in doc["paths"].items():
        if not entry["paths"]:
            continue
        total = sum(np.asarray(p["value"], dtype=float) for p in entry["paths"])
        grad = np.asarray(doc["gradient"][x], dtype=float)
        assert np.allclose(np.reshape(total, grad.shape), grad, rtol=1e-9, atol=1e-12), x
        for p in entry["paths"]:
            assert len(p["factors"]) == len(p["nodes"]) - 1
            assert "shapes" not in p or len(p["shapes"]) == len(p["factors"])


# ---- what the lecture writes ------------------------------------------------------------------
def test_layer_steps_read_like_the_lecture():
    out = _ok([*_args("layer"), "--steps", "--no-nodes"])
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "4. a = W @ x W̄ += ā xᵀ (3×1 · 1×2 → 3×2)" in lines
    assert "x̄ += Wᵀ ā (2×3 · 3×1 → 2)" in lines
    assert "1. s = dot(u, h) ū += s̄ · h (scalar · 3 → 3)" in lines
    # δ = u ∘ σ'(z), the sample's hand-computed numbers
    assert "2. h = sigmoid(z) δ = z̄ = h̄ ∘ σ'(z) (3 ∘ 3 → 3) σ'(z) = h ∘ (1 - h)" in lines
    assert "= [0.0705011, -0.0457568, 0.106955] δ: the error signal of the layer z" in lines
    assert "= [[0.0705011, 0.141002]," in lines and "[-0.0457568, -0.0915137]," in lines


def test_layer_paths_and_edges_read_like_the_lecture():
    out = _ok([*_args("layer"), "--paths", "--edges", "--no-nodes"])
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "∂s/∂b = ∂s/∂h · ∂h/∂z · ∂z/∂b" in lines
    assert "= uᵀ · diag(σ'(z)) · I (1×3 · 3×3 · 3×3 → 1×3)" in lines
    assert "= (u ∘ σ'(z))ᵀ" in lines
    assert "= [0.0705011, -0.0457568, 0.106955]" in lines
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| ") and "→" in line}
    assert rows["W → a"][:2] == ["∂a/∂W = I ⊗ xᵀ", "3×6"]
    assert rows["W → a"][2].startswith("sparse: W read as a vector (row-major), row i holds xᵀ in block i")
    assert rows["x → a"][:3] == ["∂a/∂x = W", "3×2", "dense"]
    assert rows["z → h"][:3] == ["∂h/∂z = diag(σ'(z))", "3×3", "diagonal"]
    assert rows["u → s"][:2] == ["∂s/∂u = hᵀ", "1×3"]


def test_shared_weights_show_each_use_and_the_sum():
    out = _ok([*_args("rnn"), "--steps", "--no-nodes"])
    assert "Wh̄ = (step 30) + (step 25) + (step 20) = [[-0.425449, -0.00325242, 0.401882]," in out
    doc = json.loads(_ok([*_args("rnn"), "--steps", "--json"]))
    uses = [np.asarray(c["product"]) for s in doc["steps"] for c in s["contributions"] if c["to"] == "Wh"]
    assert len(uses) == 3
    # the sample's hand-computed contributions to ∂L/∂Wh[0,0], time step 3, 2, 1
    assert [round(float(u[0, 0]), 6) for u in uses] == [-0.020978, -0.426665, 0.022194]
    assert np.allclose(sum(uses), doc["gradient"]["Wh"])


def test_error_signals_of_the_mlp_and_logistic_regression():
    mlp = _ok([*_args("mlp"), "--steps", "--no-nodes"])
    # the sample calls `hidden(W, x)`: the pre-activation is named after the call
    assert "δ = hidden#1.ā = h̄ ∘ σ'(hidden#1.a)" in mlp
    assert "[-0.0593413, 0.0848376, -0.0280969]   δ: the error signal of the layer hidden#1.a" in mlp
    logreg = _ok([*_args("logreg_vec"), "--steps", "--no-nodes"])
    assert "δ = z̄ = p̄ ∘ σ'(z)" in logreg
    # b is a scalar broadcast over the 4 examples: its adjoint sums over them
    assert "b̄ += Σ₀ z̄  (→ scalar)   summed over axis 0: b is broadcast from scalar to 4" in logreg
    assert "w̄ += X ā  (2×4 · 4×1 → 2)" in logreg


def test_softmax_and_indexing_rules():
    out = _ok([*_args("softmax_ce"), "--steps", "--edges", "--no-nodes"])
    assert "z̄ += p ∘ (p̄ − ⟨p̄, p⟩)  (4 ∘ 4 → 4)" in out
    assert "p̄[2] += ā  (→ 4)   the rest gets 0: scatter into zeros" in out
    assert "∂p/∂z = diag(p) − p pᵀ" in out


def test_full_prints_whole_arrays():
    args = ["sum(sigmoid(x))", "x=[1,2,3,4,5,6,7,8]", "--steps", "--no-nodes"]
    assert "…" in _ok(args)
    full = _ok([*args, "--full"])
    assert "…" not in full and "[0.196612, 0.104994, 0.0451767, 0.0176627, 0.00664806, 0.00246651, 0.000910221, " \
                                "0.000335238]" in full


def test_jacobians_are_printed_when_small():
    out = _ok([*_args("layer"), "--jacobians", "--no-nodes"])
    text = "\n".join(" ".join(line.split()) for line in out.splitlines())
    assert "∂a/∂W = I ⊗ xᵀ (3×6, sparse: W read as a vector (row-major), row i holds xᵀ in block i)\n" \
           "[1 2 0 0 0 0]\n[0 0 1 2 0 0]\n[0 0 0 0 1 2]" in text
    assert "∂h/∂z = diag(σ'(z)) (3×3, diagonal)\n[ 0.235 0 0]" in text
    big = _ok(["sum(W@x)", f"W={[[1.0] * 13] * 13}".replace(" ", ""), f"x={[1.0] * 13}".replace(" ", ""),
               "--jacobians", "--no-nodes"])
    assert "∂a/∂W = I ⊗ xᵀ: 13×169 has 2197 entries, more than 144: not printed (--full prints it)" in big
    assert "∂a/∂x = W   (13×13, dense)" not in big  # 169 entries: above the limit too


def test_latex_gives_the_rules_and_chains():
    doc = json.loads(_ok([*_args("layer"), "--latex", "--steps", "--json"]))
    assert r"\bar{W} &\mathrel{+}= \bar{a}\,x^\top" in doc["latex_steps"]
    assert r"\delta = \bar{z} &= \bar{h} \circ \sigma'(z)" in doc["latex_steps"]
    assert doc["latex"]["b"] == r"\frac{\partial s}{\partial b} = u^\top\,\operatorname{diag}(\sigma'(z))\,I"


def test_json_edges_and_steps_carry_rules_shapes_and_values():
    doc = json.loads(_ok([*_args("layer"), "--edges", "--steps", "--jacobians", "--json"]))
    edge = next(e for e in doc["edges"] if (e["source"], e["target"]) == ("W", "a"))
    assert edge["jacobian"] == "I ⊗ xᵀ" and edge["jacobian_shape"] == [3, 6]
    assert edge["rule"] == "W̄ += ā xᵀ" and edge["shapes"] == "3×1 · 1×2 → 3×2"
    assert edge["matrix"] == [[1, 2, 0, 0, 0, 0], [0, 0, 1, 2, 0, 0], [0, 0, 0, 0, 1, 2]]
    step = next(c for s in doc["steps"] for c in s["contributions"] if c["to"] == "W")
    assert step["rule"] == "ā xᵀ" and np.allclose(step["product"], doc["gradient"]["W"])


# ---- never "vjp" in place of a formula ----------------------------------------------------------
def _all_samples():
    return sorted(p.stem for p in SAMPLES.glob("*.grad"))


@pytest.mark.parametrize("name", _all_samples())
def test_no_output_says_vjp(name):
    args = _args(name)
    outputs = [
        _ok([*args, "--steps", "--paths", "--edges", "--jacobians"]),
        _ok([*args, "--steps", "--paths", "--edges", "--jacobians", "--json"]),
    ]
    for fmt in ("text", "dot", "mermaid", "html"):
        result = run_cli(["graph", *args, "--format", fmt], env=WIDE)
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    if name == "layer":  # one SymPy run is enough for --latex
        outputs.append(_ok([*args, "--latex", "--steps"]))
    for text in outputs:
        assert not re.search(r"vjp|vector-jacobian", text, re.I), name


def test_the_layer_tutorial_shows_what_gradcli_prints():
    """docs/tutorials/layer.md works the layer with --steps, --edges --jacobians and --paths, and
    each block is gradcli's output (the commands as written, on the docs' 100 columns)."""
    import shlex

    page = (ROOT / "docs" / "tutorials" / "layer.md").read_text(encoding="utf-8")
    shown = {}
    for block in re.findall(r"```console\n(.*?)```", page, re.DOTALL):
        command, _, output = block.partition("\n")
        if command.startswith("$ gradcli eval -f samples/layer.grad"):
            shown[command[2:]] = output
    flags = " ".join(shown)
    for flag in ("--steps", "--edges", "--jacobians", "--paths", "--mode forward"):
        assert flag in flags, flag
    for command, output in shown.items():
        argv = [str(ROOT / a) if a.startswith("samples/") else a for a in shlex.split(command)[2:]]
        assert _ok(argv, env={"COLUMNS": "100"}) == output, command
