"""gradcli.testing (pytest helpers for autograders) and notebook display of results."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import gradcli
from gradcli.testing import GradientMismatch, assert_gradient, assert_matches

LECTURE = "c = a + b; d = b + 1; e = c * d"
LAYER = "s = dot(u, sigmoid(W@x + b))"


# ---- assert_gradient -------------------------------------------------------------------
def test_assert_gradient_passes_on_the_lecture_answers():
    r = assert_gradient(LECTURE, {"a": 3, "b": 2}, {"a": 3, "b": 8})
    assert r.value == 15.0


def test_assert_gradient_reports_like_gradcheck():
    with pytest.raises(GradientMismatch) as info:
        assert_gradient(LECTURE, {"a": 3, "b": 2}, {"a": 3, "b": 5})
    text = str(info.value)
    assert "∂e/∂b mismatch at a=3, b=2" in text
    assert "analytic (student): 5.0" in text and "gradcli (reverse mode): 8.0" in text
    assert "max abs error 3" in text
    assert "∂e/∂a" not in text  # only the wrong answer is reported


def test_assert_gradient_on_arrays_names_the_first_wrong_element():
    point = {"u": [0.3, -0.2, 0.5], "W": [[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]], "x": [1, 2], "b": [0, 0.1, -0.1]}
    right = gradcli.evaluate(LAYER, point).gradient["W"]
    assert_gradient(LAYER, point, {"W": right})
    wrong = right.copy()
    wrong[2, 1] += 0.01
    with pytest.raises(GradientMismatch, match=r"first wrong element \[2, 1\]; 1 of 6 wrong"):
        assert_gradient(LAYER, point, {"W": wrong})
    with pytest.raises(GradientMismatch, match=r"shape \(2, 3\), the gradient has shape \(3, 2\)"):
        assert_gradient(LAYER, point, {"W": right.T})


def test_assert_gradient_refuses_a_name_that_is_not_an_input():
    with pytest.raises(GradientMismatch, match="'z' is not an input"):
        assert_gradient(LECTURE, {"a": 3, "b": 2}, {"z": 1})


# ---- assert_matches --------------------------------------------------------------------
def student_right(a, b):
    return {"a": b + 1, "b": a + 2 * b + 1}


def student_one_path(a, b):
    return {"a": b + 1, "b": b + 1}  # forgot the path b -> c -> e


def test_assert_matches_accepts_a_right_function():
    assert_matches(student_right, LECTURE)
    assert_matches(lambda a, b: (b + 1, a + 2 * b + 1), LECTURE)  # a tuple in input order


def test_assert_matches_catches_a_missing_path_with_a_reproducible_point():
    with pytest.raises(GradientMismatch) as info:
        assert_matches(student_one_path, LECTURE, seed=3)
    text = str(info.value)
    assert "student_one_path disagrees with gradcli" in text and "seed 3" in text
    assert "∂e/∂b mismatch at a=" in text and "∂e/∂a" not in text
    student, truth = re.findall(r"\): (-?[\d.e+-]+)", text)
    point = dict(re.findall(r"([ab])=(-?[\d.e+-]+)", text.split("mismatch at", 1)[1].split("\n", 1)[0]))
    a, b = float(point["a"]), float(point["b"])  # the point is shown to 6 digits
    assert float(student) == pytest.approx(b + 1, abs=1e-5)
    assert float(truth) == pytest.approx(a + 2 * b + 1, abs=1e-5)
    with pytest.raises(GradientMismatch) as again:  # the same seed, the same report
        assert_matches(student_one_path, LECTURE, seed=3)
    assert str(again.value) == text


def test_assert_matches_on_a_layer_with_shapes():
    def student(u, W, x, b):
        h = 1 / (1 + np.exp(-(W @ x + b)))
        delta = u * h * (1 - h)
        return {"W": np.outer(delta, x), "x": W.T @ delta, "b": delta, "u": h}

    assert_matches(student, LAYER, shapes={"u": (3,), "W": (3, 2), "x": (2,), "b": (3,)})

    def doubled(u, W, x, b):
        grads = student(u, W, x, b)
        grads["x"] = grads["x"] * 2  # a factor of 2
        return grads

    with pytest.raises(GradientMismatch, match="∂s/∂x mismatch"):
        assert_matches(doubled, LAYER, shapes={"u": (3,), "W": (3, 2), "x": (2,), "b": (3,)})


def test_assert_matches_skips_points_outside_the_domain():
    assert_matches(lambda x: 1 / x, "log(x)", low=-1, high=3)
    with pytest.raises(AssertionError, match="no point"):
        assert_matches(lambda x: 1 / x, "log(x)", low=-3, high=-1)


def test_assert_matches_with_fixed_inputs_and_wrong_return_shape():
    assert_matches(lambda x, k: {"x": 2 * x * k}, "k*x^2", fixed={"k": 3})
    with pytest.raises(GradientMismatch, match="should return the gradient"):
        assert_matches(lambda a, b: [1, 2, 3], LECTURE)
    with pytest.raises(AssertionError, match="not an input"):
        assert_matches(student_right, LECTURE, shapes={"q": (2,)})


# ---- notebooks --------------------------------------------------------------------------
def test_html_display_holds_the_tables_escaped():
    r = gradcli.evaluate("(a+b)*(b+1)", a=3, b=2)
    r.check("fd")
    page = r._repr_html_()
    assert page.count("<table>") == 2
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page)
    assert cells[12:18] == ["2", "c", "add", "a + b", "5", "3"]
    assert "<caption>Gradient of e</caption>" in page
    evil = gradcli.evaluate("x*2 # <script>alert(1)</script>", x=1)
    assert "<script>alert" not in evil._repr_html_()
    assert html.escape("<script>") in evil._repr_html_()


def test_rich_display_is_the_cli_table():
    rich = pytest.importorskip("rich")
    from rich.console import Console

    console = Console(width=100, record=True, color_system=None, file=__import__("io").StringIO())
    console.print(gradcli.evaluate("(a+b)*(b+1)", a=3, b=2))
    text = console.export_text()
    assert "Gradient of e" in text and "adjoint ∂e/∂node" in text
    assert rich is not None


def test_ipython_display_machinery_uses_the_html():
    IPython = pytest.importorskip("IPython")  # an optional test dependency
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(gradcli.evaluate("(a+b)*(b+1)", a=3, b=2))
    assert "text/html" in data and "Computational graph" in data["text/html"]
    assert IPython is not None
