"""Bug hunt on the explanations: what they print must agree with the engine and line up.

Each test reads an explanation back: the products ``upstream · local`` of `gradcli diff
--steps` are evaluated as written (by gradcli's own parser) and compared with the term
they are said to equal; the continuation rows of arrays and steps must start in the column
their first row sets, counted in terminal columns (a name's adjoint bar takes none, a
Chinese character two).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest

import gradcli
from clitools import run_cli


def _cols(text: str) -> int:
    """Terminal columns of `text` (the test's own count: combining marks 0, wide characters 2)."""
    return sum(0 if unicodedata.combining(ch) else (2 if unicodedata.east_asian_width(ch) in "WF" else 1)
               for ch in text)


# ---- diff --steps: "upstream · local = term" reads as it is meant ----------------------------
DIFF_PROGRAMS = [
    ("c = x*y; a = c*x; b = sin(c); z = a + b", {"x": 0.7, "y": -1.3}),
    ("c = x + y; a = c*c; z = a - c", {"x": 0.4, "y": 2.0}),
    ("c = x - y; a = exp(c); b = a + c; z = b*x", {"x": 1.1, "y": 0.3}),
    ("c = x*x + y; d = c*y - x; z = d*c", {"x": -0.6, "y": 1.7}),
]
#: ``x̄ += c̄ · ∂c/∂x = UPSTREAM · LOCAL = TERM``
PRODUCT = re.compile(r"\+= \S+ · ∂\S+/∂\S+ = (.+?) · (.+) = (.+)$")


@pytest.mark.parametrize("program, point", DIFF_PROGRAMS, ids=[p for p, _ in DIFF_PROGRAMS])
def test_diff_steps_products_mean_what_they_say(program, point):
    """Before the fix, an upstream sum was written bare: ``x + cos(c) · y`` for (x + cos(c))·y."""
    result = run_cli(["diff", program, "--steps"])
    assert result.exit_code == 0, result.stderr
    bindings = [f"{k}={v}" for k, v in point.items()]
    seen = 0
    for line in result.stdout.splitlines():
        match = PRODUCT.search(line)
        if match is None:
            continue
        upstream, local, term = match.groups()
        written = f"{program}; __w = {upstream}*{local}".replace(" · ", "*")
        meant = f"{program}; __t = {term}"
        got = gradcli.evaluate(written, **point).value
        want = gradcli.evaluate(meant, **point).value
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (line, bindings)
        seen += 1
    assert seen >= 3, result.stdout


def test_diff_steps_bracket_an_upstream_sum():
    text = run_cli(["diff", "c = x*y; z = c*x + sin(c)", "--steps"]).stdout
    assert "x̄ += c̄ · ∂c/∂x = (x + cos(c)) · y = y*(x + cos(c))" in text


# ---- continuation rows line up, in terminal columns --------------------------------------------
def _matrix_blocks_line_up(text: str) -> int:
    """Every matrix written over several lines (``[[a, b],`` then ``[c, d]]``) has each row's
    ``[`` under the first row's inner ``[``; returns how many matrices were checked."""
    lines = text.splitlines()
    checked = 0
    for i, line in enumerate(lines):
        k = line.find("[[")
        if k == -1 or not line.endswith("],"):
            continue
        column = _cols(line[:k]) + 1
        j = i + 1
        while j < len(lines):
            row = lines[j]
            assert len(row) - len(row.lstrip(" ")) == column and row.lstrip(" ")[0] == "[", (line, row)
            if not row.endswith("],"):
                break
            j += 1
        checked += 1
    return checked


ARRAY_CASES = [
    (["sum(inv(N))", "N=[[0.5,-1],[2,0.25]]"], 2),
    (["s = dot(u, sigmoid(W@x + b))", "W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]", "x=[1,2]", "b=[0,0.1,-0.1]",
      "u=[0.3,-0.2,0.5]"], 2),
    (["变量 = W@x; z = sum(变量*变量)", "W=[[1,2],[3,4]]", "x=[1,2]"], 2),
    (["θ = M*2; s = sum(θ@M)", "M=[[1,2],[3,4]]"], 2),
]


@pytest.mark.parametrize("argv, at_least", ARRAY_CASES, ids=[a[0] for a, _ in ARRAY_CASES])
def test_matrix_rows_line_up_in_steps_and_paths(argv, at_least):
    """Before the fix the Gradient block's rows sat one column right of their matrix: its
    head ``∂s/∂W = W̄ = `` was measured in characters, the bar being one."""
    result = run_cli(["eval", *argv, "--steps", "--paths", "--no-nodes"], columns=200)
    assert result.exit_code == 0, result.stderr
    gradient = result.stdout[result.stdout.index("\nGradient:\n"):]
    assert _matrix_blocks_line_up(gradient) >= 1
    assert _matrix_blocks_line_up(result.stdout) >= at_least


def test_forward_array_steps_line_up_with_a_wide_name():
    result = run_cli(["eval", "变量 = M@N; z = sum(变量)", "M=[[1,2],[3,4]]", "N=[[0.5,-1],[2,0.25]]",
                      "--steps", "--mode", "forward", "--seed", "M[0,1]", "--no-nodes"], columns=200)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    head = next(line for line in lines if line.startswith("  变量̇ = "))
    rows = lines[lines.index(head) + 1:lines.index(head) + 3]
    assert all(row.index("=") == _cols("  变量̇ ") for row in rows), (head, rows)
    assert _matrix_blocks_line_up(result.stdout) >= 1


def _contribution_columns(text: str) -> list[int]:
    """The column where each contribution (``x̄ += …``) of the backward steps starts."""
    found = []
    for line in text.splitlines():
        if "+=" not in line:
            continue
        step = re.match(r" *\d+\. .*?   (?=\S)", line)
        found.append(_cols(step.group(0)) if step else len(line) - len(line.lstrip(" ")))
    return found


@pytest.mark.parametrize("argv", [
    ["变量 = x*y; z = 变量*x", "x=2", "y=3"],
    ["变量 = x*y; zz = 变量*x + y", "x=2", "y=3"],
    ["变量 = W@x; z = sum(变量*变量)", "W=[[1,2],[3,4]]", "x=[1,2]"],
    ["ǎ = x*y; b = ǎ*ǎ + x", "x=1", "y=2"],
], ids=["scalar", "scalar-longer", "arrays", "precomposed"])
def test_steps_contributions_start_in_one_column(argv):
    """Before the fix a step whose line held a wide character (变量) put its own and the
    next contributions two columns off the others'."""
    result = run_cli(["eval", *argv, "--steps", "--no-nodes"], columns=200)
    assert result.exit_code == 0, result.stderr
    starts = _contribution_columns(result.stdout)
    assert len(starts) >= 3 and len(set(starts)) == 1, (starts, result.stdout)


# ---- the numbers still agree with the engine -------------------------------------------------
def test_the_layer_gradient_block_is_the_engine_gradient():
    """The lecture's sigmoid layer: δ = u∘σ'(z), ∂s/∂W = δxᵀ, ∂s/∂x = Wᵀδ, written with NumPy."""
    W = np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]])
    x, b, u = np.array([1.0, 2.0]), np.array([0.0, 0.1, -0.1]), np.array([0.3, -0.2, 0.5])
    h = 1 / (1 + np.exp(-(W @ x + b)))
    delta = u * h * (1 - h)
    result = run_cli(["eval", "z = W@x + b; h = sigmoid(z); s = dot(u, h)", f"W={W.tolist()}", f"x={x.tolist()}",
                      f"b={b.tolist()}", f"u={u.tolist()}", "--steps", "--no-nodes"], columns=200)
    assert result.exit_code == 0, result.stderr
    block = result.stdout[result.stdout.index("\nGradient:\n") + len("\nGradient:\n"):]
    shown: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        match = re.match(r"  ∂s/∂(\w+) = \S+ = (.*)$", line)
        if match:
            name, text = match.groups()
            shown[name] = text
        else:
            shown[name] += line.strip()
    expected = {"W": np.outer(delta, x), "x": W.T @ delta, "b": delta, "u": h}
    assert set(shown) == set(expected)
    for key, value in expected.items():
        assert np.allclose(np.array(_read_array(shown[key])), value, rtol=1e-5, atol=1e-7), key


def _read_array(text: str) -> list:
    """A printed array (``[[1, 2], [3, 4]]``) as nested lists, read as JSON."""
    import json

    return json.loads(text)


# ---- --digits reaches the array elements of the explanations, as it does the tables' -------
def _arrays_after(text: str, marker: str) -> list[list]:
    """Every array printed on a line after `marker` (``= [..]``, rows joined), as nested lists."""
    import json

    found, pending = [], ""
    for line in text[text.index(marker):].splitlines():
        part = pending + line.strip() if pending else line[line.find("= [") + 2:] if "= [" in line else ""
        if not part:
            continue
        if part.count("[") == part.count("]"):
            found.append(json.loads(part))
            pending = ""
        else:
            pending = part
    return found


@pytest.mark.parametrize("extra, marker", [
    (["--steps"], "\nGradient:\n"),
    (["--paths"], "The chain rule"),
], ids=["steps", "paths"])
def test_digits_reach_the_array_elements_of_explanations(extra, marker):
    """Before the fix the array elements of --steps and --paths had at most 6 significant
    digits whatever --digits said (the tables had them all): with 17 they are the engine's
    (to 1e-13: 6 digits are 1e-6 off)."""
    import json

    argv = ["eval", "sum(inv(N))", "N=[[0.3,-1.1],[2.7,0.25]]"]
    engine = np.array(json.loads(run_cli([*argv, "--json"]).stdout)["gradient"]["N"])
    result = run_cli([*argv, *extra, "--no-nodes", "--digits", "17"], columns=200)
    assert result.exit_code == 0, result.stderr
    shown = _arrays_after(result.stdout, marker)
    # the paths multiply Jacobians: the engine's numbers up to rounding, not bit for bit
    assert shown and np.allclose(np.array(shown[-1]), engine, rtol=1e-13, atol=0), (shown, engine)


def test_digits_reach_the_tangent_matrices_of_forward_steps():
    """Forward mode through inv: pass (i, j) has the tangent −N⁻¹ Eᵢⱼ N⁻¹ (NumPy here)."""
    N = np.array([[0.3, -1.1], [2.7, 0.25]])
    inverse = np.linalg.inv(N)
    result = run_cli(["eval", "a = inv(N); s = sum(a)", f"N={N.tolist()}", "--steps", "--mode", "forward",
                      "--seed", "N[1,0]", "--no-nodes", "--digits", "17"], columns=200)
    assert result.exit_code == 0, result.stderr
    unit = np.zeros((2, 2))
    unit[1, 0] = 1
    tangent = np.array(_arrays_after(result.stdout, "Forward pass")[-1])
    assert tangent.shape == (2, 2)
    assert np.allclose(tangent, -inverse @ unit @ inverse, rtol=1e-14, atol=0), tangent
    assert not np.allclose(tangent, np.round(tangent, 5), rtol=1e-9, atol=0)  # not cut to 6 digits


def test_default_digits_of_array_elements_stay_six():
    result = run_cli(["eval", "sum(inv(N))", "N=[[0.3,-1.1],[2.7,0.25]]", "--steps", "--no-nodes"], columns=200)
    assert "∂b/∂N = N̄ = [[0.356718, -0.634166]," in result.stdout, result.stdout


def test_digits_reach_the_local_jacobians():
    """--jacobians wrote 4 significant digits whatever --digits said (the tables' array
    elements follow it).  ∂(N⁻¹)ᵢⱼ/∂Nₖₗ = −(N⁻¹)ᵢₖ (N⁻¹)ₗⱼ, rows and columns row-major (NumPy here)."""
    N = np.array([[0.3, -1.1], [2.7, 0.25]])
    inverse = np.linalg.inv(N)
    expected = -np.einsum("ik,lj->ijkl", inverse, inverse).reshape(4, 4)
    result = run_cli(["eval", "a = inv(N); s = sum(a)", f"N={N.tolist()}", "--jacobians", "--no-nodes",
                      "--digits", "17"], columns=200)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("∂a/∂N = "))
    shown = np.array([[float(v) for v in line.strip(" []").split()] for line in lines[start + 1:start + 5]])
    assert np.allclose(shown, expected, rtol=1e-14, atol=0), shown


def test_local_jacobians_keep_four_digits_by_default():
    result = run_cli(["eval", "a = inv(N); s = sum(a)", "N=[[0.3,-1.1],[2.7,0.25]]", "--jacobians", "--no-nodes"],
                     columns=200)
    assert "  [-0.006741    0.0728  -0.02966    0.3203]" in result.stdout, result.stdout


def test_graph_html_steps_follow_digits_for_arrays():
    """The page's written-out backward pass cut array elements to 6 digits under --digits 10,
    while its table cells had 10; now both have 10 (the default stays 6)."""
    argv = ["graph", "sum(inv(N))", "N=[[0.3,-1.1],[2.7,0.25]]", "--format", "html", "-o", "-"]
    ten = run_cli([*argv, "--digits", "10"]).stdout
    assert "∂b/∂N = N̄ = [[0.3567181926, -0.6341656758]," in _page_steps(ten)
    assert "∂b/∂N = N̄ = [[0.356718, -0.634166]," in _page_steps(run_cli(argv).stdout)


def _page_steps(page: str) -> str:
    """The page's backward sweep as text (its --steps block)."""
    start = page.index("<pre>Backward pass, in reverse evaluation order")
    return page[start:page.index("</pre>", start)]


@pytest.mark.parametrize("argv", [
    ["diff", "变量 = x*y; z = 变量*x + sin(变量)", "--steps"],
    ["diff", "变量 = W@x; z = sum(变量*变量)", "--shape", "W=2x2", "--shape", "x=2", "--steps"],
], ids=["scalars", "arrays"])
def test_diff_steps_second_contributions_sit_under_the_first(argv):
    """A step's second contribution started two columns left of its first when the step's
    head held a wide character (its indent was counted in characters)."""
    result = run_cli(argv, columns=200)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    pairs = 0
    for first, second in zip(lines, lines[1:]):
        step = re.match(r" *\d+\. .*?   (?=\S)", first)
        if step and "+=" in first and "+=" in second and not re.match(r" *\d+\.", second):
            assert len(second) - len(second.lstrip(" ")) == _cols(step.group(0)), (first, second)
            pairs += 1
    assert pairs >= 2, result.stdout


def test_forward_steps_equals_line_up_with_a_wide_name():
    """Forward --steps pads each dotted label to the widest; 变量 was counted as 2 columns, not 4."""
    result = run_cli(["eval", "变量 = x*y; z = 变量*x + y", "x=2", "y=3", "--steps", "--mode", "forward",
                      "--no-nodes"], columns=200)
    assert result.exit_code == 0, result.stderr
    block = result.stdout[result.stdout.index("Forward pass 1 of 2"):result.stdout.index("  so ∂z/∂x")]
    rows = [line for line in block.splitlines() if line.startswith("  ")]
    assert len(rows) == 3
    assert len({_cols(row[:row.index(" = ")]) for row in rows}) == 1, rows
