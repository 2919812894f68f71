"""``gradcli graph``: the DAG picture through the command line (text, dot, mermaid,
svg, png, -o FILE).

The lecture numbers are worked out by hand: (a+b)*(b+1) at a=3, b=2 has c = a+b = 5,
d = b+1 = 3, e = c·d = 15; ē = 1, c̄ = d = 3, d̄ = c = 5, ā = 3, b̄ = 3 + 5 = 8; the edge
c → e carries ∂e/∂c = d = 3 and d → e carries ∂e/∂d = c = 5.  Every invocation checks
the exit status, stdout and stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Optional

import pytest
from click.testing import Result


from clitools import run_cli, usage_error

LECTURE = "(a+b)*(b+1)"
BINDINGS = ("a=3", "b=2")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def invoke(*args: str, env: Optional[dict] = None) -> Result:
    return run_cli(["graph", *args], env=env)


def test_text_picture_has_the_lecture_numbers():
    result = invoke(LECTURE, *BINDINGS)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "input a = 3 ā = 3 → c" in lines
    assert "input b = 2 b̄ = 8 → c, d" in lines
    assert "c = a + b = 5 c̄ = 3 → e" in lines
    assert "d = b + 1 = 3 d̄ = 5 → e" in lines
    assert "output e = c * d = 15 ē = 1" in lines
    assert "← c ∂e/∂c = d = 3" in lines
    assert "← d ∂e/∂d = c = 5" in lines
    assert "← a ∂c/∂a = 1" in lines and "← b ∂d/∂b = 1" in lines
    assert "(6 nodes, 5 derivative edges" in result.stdout


def test_text_picture_of_a_max_program():
    # (x+y)*max(y,z) at 1,2,0: a = 3, b = max = 2, c = 6; b̄ = a = 3, ȳ = 2 + 3 = 5, ∂b/∂z = 0
    result = invoke("(x+y)*max(y,z)", "x=1", "y=2", "z=0")
    assert result.exit_code == 0 and result.stderr == ""
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "input y = 2 ȳ = 5 → a, b" in lines
    assert "output c = a * b = 6 c̄ = 1" in lines
    assert any(line.startswith("← z ∂b/∂z = ") and line.endswith("= 0") for line in lines)


def test_dot_output():
    result = invoke(LECTURE, *BINDINGS, "--format", "dot")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert out.startswith("digraph gradcli {") and out.rstrip().endswith("}")
    assert 'label="a (input)\\nvalue 3\\nā = 3"' in out
    assert 'label="b (input)\\nvalue 2\\nb̄ = 8"' in out
    assert 'label="e = c * d (output)\\nvalue 15\\nē = 1"' in out
    assert 'n2 -> n5 [label="∂e/∂c = d = 3"];' in out
    assert 'n4 -> n5 [label="∂e/∂d = c = 5"];' in out
    assert out.count(" -> ") == 6  # 5 derivative edges and the constant's dashed edge


@needs_dot
def test_dot_output_is_valid_graphviz():
    result = invoke(LECTURE, *BINDINGS, "--format", "dot")
    assert result.exit_code == 0 and result.stderr == ""
    done = subprocess.run(["dot", "-Tplain"], input=result.stdout.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"node n5" in done.stdout


def test_mermaid_output():
    result = invoke(LECTURE, *BINDINGS, "--format", "mermaid")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0] == "flowchart LR"
    assert 'n1(["b (input)<br/>value 2<br/>b̄ = 8"])' in lines
    assert 'n5[["e = c * d (output)<br/>value 15<br/>ē = 1"]]' in lines
    assert 'n2 -->|"∂e/∂c = d = 3"| n5' in lines
    assert 'n4 -->|"∂e/∂d = c = 5"| n5' in lines
    assert "class n0,n1 input" in lines and "class n5 output" in lines


def test_dot_to_a_file(tmp_path):
    out = tmp_path / "lecture.dot"
    result = invoke(LECTURE, *BINDINGS, "--format", "dot", "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == f"gradcli: wrote a DOT picture to {out}"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("digraph gradcli {") and 'label="∂e/∂c = d = 3"' in text


@needs_dot
def test_svg_to_a_file(tmp_path):
    out = tmp_path / "lecture.svg"
    result = invoke(LECTURE, *BINDINGS, "--format", "svg", "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == f"gradcli: wrote an SVG picture to {out}"
    svg = out.read_text(encoding="utf-8")
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    for label in ("∂e/∂c = d = 3", "∂e/∂d = c = 5", "value 15", "b̄ = 8", "c = a + b"):
        assert label in svg, label


@needs_dot
def test_svg_to_stdout():
    result = invoke(LECTURE, *BINDINGS, "--format", "svg")
    assert result.exit_code == 0 and result.stderr == ""
    assert "<svg" in result.stdout and "∂e/∂d = c = 5" in result.stdout


@needs_dot
def test_png_to_a_file(tmp_path):
    out = tmp_path / "lecture.png"
    result = invoke(LECTURE, *BINDINGS, "--format", "png", "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == f"gradcli: wrote a PNG picture to {out}"
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000


@needs_dot
def test_png_to_a_pipe():
    # CliRunner's stdout is not a terminal: the bytes go through
    result = invoke(LECTURE, *BINDINGS, "--format", "png")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout_bytes.startswith(PNG_SIGNATURE)


def test_svg_without_graphviz_suggests_dot(tmp_path):
    result = invoke(LECTURE, *BINDINGS, "--format", "svg", "-o", str(tmp_path / "x.svg"), env={"PATH": ""})
    usage_error(result, "Graphviz", "--format dot")
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize("fmt", ["text", "dot", "mermaid", pytest.param("svg", marks=needs_dot)])
def test_out_to_an_unwritable_path(tmp_path, fmt):
    target = tmp_path / "no" / "such" / "dir" / f"x.{fmt}"
    usage_error(invoke(LECTURE, *BINDINGS, "--format", fmt, "-o", str(target)), "-o", "No such file or directory")
    assert not target.exists()


def test_out_to_a_directory(tmp_path):
    usage_error(invoke(LECTURE, *BINDINGS, "-o", str(tmp_path)), "-o", str(tmp_path))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_out_to_a_read_only_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        usage_error(invoke(LECTURE, *BINDINGS, "-o", str(locked / "x.txt")), "-o", "Permission denied")
    finally:
        locked.chmod(0o700)


def test_tensor_graph_edges_show_their_rules():
    result = invoke("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--format", "dot")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.count("style=dashed, color=\"#6b7280\"") == 3  # W → a, x → a, a → b
    assert "W̄ += ā xᵀ  (2×1 · 1×2 → 2×2)" in result.stdout and "vjp" not in result.stdout
    assert "value 16" in result.stdout  # Σ W@x = 5 + 11


def test_digits():
    # x/3 at x=1: value 0.333…, x̄ = ∂/∂x = 1/3
    result = invoke("x/3", "x=1", "--digits", "3")
    assert result.exit_code == 0 and result.stderr == ""
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "input x = 1 x̄ = 0.333 → a" in lines
    assert "output a = x / 3 = 0.333 ā = 1" in lines


@pytest.mark.parametrize("digits", [(), ("--digits", "3")])
def test_folded_constant_partial_respects_digits(digits):
    result = invoke("x/3", "x=1", *digits)
    assert result.exit_code == 0 and result.stderr == ""
    assert "0.3333333333" not in result.stdout


def test_unknown_format():
    result = invoke(LECTURE, *BINDINGS, "--format", "jpeg")
    usage_error(result, "--format")


def test_missing_binding():
    usage_error(invoke(LECTURE, "a=3"), "missing value for input b")
