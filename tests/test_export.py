"""gradcli export: the NumPy script of every sample reproduces gradcli's gradient, and the
PyTorch and JAX scripts compile (and run and agree where those frameworks are installed)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clitools import run_cli
from test_samples import FILES, directives


def _args(path: Path) -> list[str]:
    spec = directives(path)
    args = ["-f", str(path), *spec["bind"]]
    if spec["output"]:
        args += ["--output", spec["output"]]
    return args


def _run_script(source: str, tmp_path: Path, name: str = "script.py") -> dict:
    script = tmp_path / name
    script.write_text(source, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def _truth(args: list[str]) -> dict:
    result = run_cli(["eval", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_numpy_backprop_reproduces_every_sample(path, tmp_path):
    args = _args(path)
    result = run_cli(["export", *args, "--to", "numpy"])
    assert result.exit_code == 0, result.stderr
    got = _run_script(result.stdout, tmp_path)
    truth = _truth(args)
    assert got["value"] == pytest.approx(truth["value"], rel=1e-12, abs=1e-12)
    assert set(got["gradient"]) == {name for name, g in truth["gradient"].items() if g is not None}
    for name, g in truth["gradient"].items():
        if g is None:  # integer data (an index, labels): no gradient
            continue
        np.testing.assert_allclose(np.asarray(got["gradient"][name], dtype=float), np.asarray(g, dtype=float),
                                   rtol=1e-12, atol=1e-12, err_msg=name)


def test_the_layer_script_reads_like_the_notes():
    root = Path(__file__).resolve().parent.parent / "samples"
    text = run_cli(["export", "-f", str(root / "layer.grad"), "--vars", str(root / "layer.json")]).stdout
    for line in ("a = W @ x", "h = sigmoid(z)", "dz = dh * h * (1.0 - h)", "dW = np.outer(da, x)", "dx = W.T @ da"):
        assert f"    {line}\n" in text, line
    assert "import numpy as np" in text and "def sigmoid(x):" in text


def test_fan_out_adds_and_arrays_are_never_aliased(tmp_path):
    result = run_cli(["export", "s = sum(v*v) + sum(v)", "v=[1,2,3]"])
    text = result.stdout
    assert "dv = dv + " in text
    got = _run_script(text, tmp_path)
    assert got["gradient"]["v"] == [3.0, 5.0, 7.0]


@pytest.mark.parametrize("program, args", [
    ("(a+b)*(b+1)", ["a=3", "b=2"]),
    ("f = (x+y)*max(y,z)", ["x=1", "y=2", "z=2"]),  # a tie: shared evenly, as the engine does
    ("-log(softmax(z)[2]) + logsumexp(z) + norm(z) + mean(z[0:2])", ["z=[1,2,0.5,-1]"]),
    ("sum(relu(W @ x) * 2) + abs(x[0] - 1) + min(x[1], 0.5)", ["W=[[1,-2],[3,0.5]]", "x=[1,2]"]),
    ("t = outer(u, v); sum(transpose(t) @ u) + sum(t, 0)[1] + sum(softplus(u) * sigmoid(v[0:2]))",
     ["u=[0.5,-1]", "v=[2,1,0]"]),
])
def test_programs_with_kinks_and_structural_ops(program, args, tmp_path):
    result = run_cli(["export", program, *args])
    assert result.exit_code == 0, result.stderr
    got = _run_script(result.stdout, tmp_path)
    truth = _truth([program, *args])
    for name, g in truth["gradient"].items():
        if g is None:  # integer data (an index, labels): no gradient
            continue
        np.testing.assert_allclose(np.asarray(got["gradient"][name], dtype=float), np.asarray(g, dtype=float),
                                   rtol=1e-12, atol=1e-12, err_msg=name)


#: programs that between them use every operation of the language (a test checks that)
EVERY_OP = [
    ("sum(erf(x)) + sum(gelu(x)) + sum(elu(x)) + sum(elu(x, 0.5)) + sum(leaky_relu(x, 0.2))",
     ["x=[0.3,-1.2,2]"]),
    ("sum(log1p(u) + expm1(u) + log2(u) + log10(u) + asinh(u) + atanh(u) + cbrt(u) + acosh(u + 1))"
     " + sum(atan2(u, x) + hypot(u, x) + logaddexp(u, x)) + sum(floor(x) + ceil(x) + round(x) + sign(x))",
     ["x=[0.3,-1.2,2]", "u=[0.5,0.25,0.125]"]),
    ("sum(where(x > 0, x^2, -x) + (x < 0)*x + (x <= 0.3)*x + (x >= 2)*x + (x != 0.3)*x + (x == 2)*x)"
     " + sum(clip(x, -1, 1)) + sum(tan(u) + asin(u) + acos(u) + atan(u) + cosh(u) + sinh(u) + abs(x))",
     ["x=[0.3,-1.2,2]", "u=[0.5,0.25,0.125]"]),
    ("prod(x) + sum(prod(A, 0)) + sum(prod(A, 1)) + sum(cumsum(x) * x) + sum(cumsum(A, 1) * A)"
     " + var(x) + std(x) + sum(var(A, 0)) + sum(std(A, 1))",
     ["x=[1,0,3]", "A=[[1,2],[0,4]]"]),
    ("sum(reshape(y, 2, 3) @ v3) + sum(flatten(A) * flatten(A)) + sum(hstack(v, v) * hstack(v, w))"
     " + sum(vstack(A, A) @ v) + sum(hstack(A, A) @ hstack(v, v)) + sum(vstack(v, w) @ v)",
     ["y=[1,2,3,4,5,6]", "v3=[1,-1,0.5]", "A=[[1,2],[0,4]]", "v=[0.5,-2]", "w=[3,1]"]),
    ("trace(A @ A) + det(A) + det(S) + logdet(B) + sum(inv(B)) + sum(solve(B, v)) + sum(solve(B, A))"
     " + sum(diag(v) @ v) + sum(diag(A)) + sum((A + eye(2)) @ v) + sum(zeros(2) + v) + sum(ones(2, 2) @ v)",
     ["A=[[1,2],[0,4]]", "S=[[1,2],[2,4]]", "B=[[3,1],[1,2]]", "v=[0.5,-2]"]),
    ("sum(exp(u) + log(u) + sqrt(u) + sin(u) + cos(u) + tanh(u) + sigmoid(u) + softplus(u) + relu(x))"
     " + max(u[0], u[1]) + min(u[0], x[0]) + mean(u) + sum(softmax(u) * log_softmax(u)) + logsumexp(u)"
     " + norm(u) + sum(outer(u, x) @ x) + sum(transpose(outer(u, x)) @ u) + dot(u, x) - u[0] * x[1] / u[2]^2",
     ["x=[0.3,-1.2,2]", "u=[0.5,0.25,0.125]"]),
    ("sum(exp(pick(A, y))) + sum(onehot(y, 2) * A) + sum(A[idx] ^ 2)",  # integer data: no gradient to y, idx
     ["A=[[1,2],[0,4]]", "y=[1,0]", "idx=[1,1,0]"]),
    ("amax(T) + amin(T) + sum(amax(T, 1) * amin(T, -1)) + sum(transpose(T, 2, 0, 1) * ones(2, 2, 2))"
     " + sum(reshape(T, 4, 2, 1) * zeros(4, 1, 3))",
     ["T=[[[1,-2],[0.5,3]],[[4,0.25],[-1,2.5]]]"]),
    ("sum(conv2d(x, w, 1, 1) ^ 2) + sum(maxpool2d(x, 3, 2) * avgpool2d(x, 3, 2)) + sum(conv1d(v, k, 2, 1) ^ 2)"
     " + sum(maxpool2d(x[0], 3, 1)) + sum(conv2d(x[0], w, 2) * avgpool2d(x[0], 3, 2)[0, 0, 0])",
     ["x=[[[[0.1,0.9,-0.3,0.4,0.2],[0.7,-0.5,0.25,0.6,-0.1],[0.35,0.05,-0.8,0.3,0.45],[0.15,-0.2,0.55,-0.65,0.5],"
      "[0.8,-0.4,0.12,0.33,-0.7]]]]",
      "w=[[[[0.2,-0.1,0.3],[0.4,0.5,-0.6],[0.7,-0.8,0.9]]],[[[-0.3,0.2,0.1],[0.05,-0.15,0.25],[0.35,0.45,-0.55]]]]",
      "v=[[[0.5,-1,2,0.25,-0.75],[1.5,0.1,-0.2,0.3,0.4]]]", "k=[[[0.3,-0.6,0.9],[0.2,0.4,-0.1]]]"]),
]


def test_the_every_op_programs_use_every_operation():
    from gradcli.core.ops import OPS
    from gradcli.language.lower import lower
    from gradcli.language.parser import parse

    used = {node.op for program, _ in EVERY_OP for node in lower(parse(program))}
    listed = {name for name, op in OPS.items() if op.user}
    assert listed <= used, sorted(listed - used)


@pytest.mark.parametrize("program, args", EVERY_OP)
def test_every_operation_exports_and_agrees(program, args, tmp_path):
    result = run_cli(["export", program, *args])
    assert result.exit_code == 0, result.stderr
    got = _run_script(result.stdout, tmp_path)
    truth = _truth([program, *args])
    assert got["value"] == pytest.approx(truth["value"], rel=1e-12, abs=1e-12)
    for name, g in truth["gradient"].items():
        if g is None:  # integer data (an index, labels): no gradient
            continue
        np.testing.assert_allclose(np.asarray(got["gradient"][name], dtype=float), np.asarray(g, dtype=float),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("target, module", [("torch", "torch"), ("jax", "jax")])
@pytest.mark.parametrize("path", [p for p in FILES if p.stem in ("lecture_e", "layer", "softmax_ce", "mlp")],
                         ids=lambda p: p.name)
def test_framework_scripts_compile_and_agree_where_installed(target, module, path, tmp_path):
    args = _args(path)
    result = run_cli(["export", *args, "--to", target])
    assert result.exit_code == 0, result.stderr
    compile(result.stdout, f"{path.stem}_{target}.py", "exec")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: the {target} script was compiled, not run")
    got = _run_script(result.stdout, tmp_path)
    truth = _truth(args)
    for name, g in truth["gradient"].items():
        if g is None:  # integer data (an index, labels): no gradient
            continue
        np.testing.assert_allclose(np.asarray(got["gradient"][name], dtype=float), np.asarray(g, dtype=float),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("target, module", [("torch", "torch"), ("jax", "jax")])
@pytest.mark.parametrize("program, args", EVERY_OP)
def test_every_operation_in_the_frameworks(target, module, program, args, tmp_path):
    # PyTorch's det gradient is 0 at a singular matrix (gradcli's is the exact cofactor matrix)
    args = ["S=[[1,2],[2,5]]" if a.startswith("S=") else a for a in args]
    result = run_cli(["export", program, *args, "--to", target])
    assert result.exit_code == 0, result.stderr
    compile(result.stdout, f"every_{target}.py", "exec")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: the {target} script was compiled, not run")
    got = _run_script(result.stdout, tmp_path)
    truth = _truth([program, *args])
    for name, g in truth["gradient"].items():
        if g is None:  # integer data (an index, labels): no gradient
            continue
        np.testing.assert_allclose(np.asarray(got["gradient"][name], dtype=float), np.asarray(g, dtype=float),
                                   rtol=1e-9, atol=1e-12, err_msg=name)


def test_export_needs_a_scalar_output():
    result = run_cli(["export", "W@x", "W=[[1,2],[3,4]]", "x=[1,1]"])
    assert result.exit_code == 2 and "scalar output" in result.stderr


@pytest.mark.parametrize("target, module", [("numpy", "numpy"), ("torch", "torch"), ("jax", "jax")])
def test_a_constant_output_exports_with_zero_gradient(target, module, tmp_path):
    """Was a bug (exit 4, found by the explanation fuzzer): the output node a constant."""
    result = run_cli(["export", "t = x; t1 = x; t2 = 0", "x=0.5", "--to", target])
    assert result.exit_code == 0, result.stderr
    compile(result.stdout, f"constant_{target}.py", "exec")
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: the {target} script was compiled, not run")
    assert _run_script(result.stdout, tmp_path) == {"value": 0.0, "gradient": {"x": 0.0}}
