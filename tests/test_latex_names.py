"""LaTeX names are valid TeX: multi-letter names in \\mathrm, '#' and '_' escaped (a
name like hidden_1_a would otherwise be a double subscript, cell#2.a a TeX error)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clitools import run_cli
from gradcli.core.fmt import tex_name

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "samples").glob("*.grad"))
UNESCAPED_HASH = re.compile(r"(?<!\\)#")
DOUBLE_SUBSCRIPT = re.compile(r"_(\{[^}]*\}|[^{\\])[^\s{}\\]*_")


@pytest.mark.parametrize("name, tex", [
    ("w1", "w_{1}"), ("h_2", "h_{2}"), ("lam", r"\mathrm{lam}"), ("x", "x"), ("W", "W"),
    ("hidden#1.a", r"\mathrm{hidden\#1.a}"), ("d_z", r"\mathrm{d\_z}"), ("cell_2_a", r"\mathrm{cell\_2\_a}"),
])
def test_tex_name(name, tex):
    assert tex_name(name) == tex


def _valid(text: str, where: str) -> None:
    for line in text.splitlines():
        assert not UNESCAPED_HASH.search(line), (where, line)
        assert not DOUBLE_SUBSCRIPT.search(line.replace(r"\_", "")), (where, line)


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.stem not in ("layer", "mlp", "lecture_e")
                                  else p for p in SAMPLES], ids=lambda p: p.stem)
def test_diff_latex_of_every_sample(path):
    result = run_cli(["diff", "-f", str(path), "--latex"])
    if path.stem == "convnet":  # diff refuses a convolution (no point-free formula) in one line
        assert result.exit_code == 2 and "no point-free formula" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    tex = result.stdout.split("\n\n")[-1]
    assert r"\frac{\partial" in tex
    _valid(tex, path.stem)


@pytest.mark.slow
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_eval_latex_steps_of_every_sample(path):
    result = run_cli(["eval", "-f", str(path), "--latex", "--steps", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    _valid(result.stdout[result.stdout.index("LaTeX"):], path.stem)


def test_the_check_can_fail():
    with pytest.raises(AssertionError):
        _valid(r"\bar{\mathrm{hidden_1_a}}", "double subscript")
    with pytest.raises(AssertionError):
        _valid(r"\mathrm{cell#2}", "hash")


@pytest.mark.parametrize("args", [
    ["-f", "samples/rnn.grad", "--latex", "--steps", "--no-nodes"],
    ["-f", "samples/layer.grad", "--latex", "--mode", "forward", "--steps", "--seed", "W[0,1]", "--no-nodes"],
])
def test_latex_lines_are_never_folded(args):
    """A narrow terminal wraps tables and text, never a LaTeX line (a fold inside
    ``\\,\\mathrm`` would break the TeX): the LaTeX is the same at 40 and at 1000 columns."""
    root = Path(__file__).resolve().parent.parent
    args = [str(root / a) if a.startswith("samples/") else a for a in args]
    narrow, wide = (run_cli(["eval", *args], env={"COLUMNS": c}) for c in ("40", "1000"))
    assert narrow.exit_code == wide.exit_code == 0, narrow.stderr
    tex = [r.stdout[r.stdout.index("LaTeX"):] for r in (narrow, wide)]
    assert tex[0] == tex[1]
    assert max(len(line) for line in tex[0].splitlines()) > 40  # the long lines are there, whole
