"""gradcli export computes what gradcli computes whatever the names (issue 22): names that
Python's NFKC normalisation makes equal stay apart, a full-width ``ｎｐ`` does not shadow
NumPy, a backslash in a comment is no escape, and the framework scripts keep the point
inside a function."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import unicodedata

import numpy as np
import pytest

from clitools import run_cli

COLLIDING = ["x*\uff58 + \u00aa*a # C:\\Users\\new", "x=2", "\uff58=3", "a=1", "\u00aa=0"]


def _truth(args: list[str]) -> dict:
    result = run_cli(["eval", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("args", [
    COLLIDING,
    ["\uff4e\uff50*2 + sum(x)", "\uff4e\uff50=3", "x=[1,2]"],  # full-width np
    ["\uff4a\uff53\uff4f\uff4e*x", "\uff4a\uff53\uff4f\uff4e=2", "x=5"],  # full-width json
])
def test_numpy_script_computes_what_gradcli_computes(args, tmp_path):
    result = run_cli(["export", *args, "--to", "numpy"])
    assert result.exit_code == 0, result.stderr
    script = tmp_path / "s.py"
    script.write_text(result.stdout, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got, truth = json.loads(done.stdout), _truth(args)
    assert got["value"] == pytest.approx(truth["value"])
    for name, g in truth["gradient"].items():
        np.testing.assert_allclose(got["gradient"][name], g, err_msg=name)


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_framework_scripts_keep_names_apart_and_the_point_in_a_function(target):
    result = run_cli(["export", *COLLIDING, "--to", target])
    assert result.exit_code == 0, result.stderr
    tree = ast.parse(result.stdout)  # a backslash in the comment is no SyntaxError
    assert "C:\\Users\\new" in (ast.get_docstring(tree) or "")
    params = [a.arg for a in _functions(tree)["forward"].args.args]
    assert len({unicodedata.normalize("NFKC", p) for p in params}) == 4, params
    module_names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
    assert not module_names & set(params), module_names  # the point is not at module level
    assert "main" in _functions(tree)
