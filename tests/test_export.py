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


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_numpy_backprop_reproduces_every_sample(path, tmp_path):
    args = _args(path)
    result = run_cli(["export", *args, "--to", "numpy"])
    assert result.exit_code == 0, result.stderr
    got = _run_script(result.stdout, tmp_path)
    truth = _truth(args)
    assert got["value"] == pytest.approx(truth["value"], rel=1e-12, abs=1e-12)
    assert set(got["gradient"]) == set(truth["gradient"])
    for name, g in truth["gradient"].items():
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
        np.testing.assert_allclose(np.asarray(got["gradient"][name], dtype=float), np.asarray(g, dtype=float),
                                   rtol=1e-12, atol=1e-12, err_msg=name)


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
        np.testing.assert_allclose(np.asarray(got["gradient"][name], dtype=float), np.asarray(g, dtype=float),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_export_needs_a_scalar_output():
    result = run_cli(["export", "W@x", "W=[[1,2],[3,4]]", "x=[1,1]"])
    assert result.exit_code == 2 and "scalar output" in result.stderr
