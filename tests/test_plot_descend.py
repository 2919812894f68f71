"""gradcli plot and gradcli descend: the sampled data equal gradcli's values, the pictures
are real images, and descent matches a hand-written NumPy loop step for step."""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import gradcli
from clitools import run_cli
from gradcli.run import sample
from gradcli.run.bindings import Binding


def _csv(text: str) -> list[dict[str, float]]:
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


# ---- plot --------------------------------------------------------------------------------
def test_curve_data_are_gradcli_s_values_and_derivatives():
    result = run_cli(["plot", "x*exp(-x^2)", "x=-2:2:41", "--format", "csv", "--check", "fd"])
    assert result.exit_code == 0, result.stderr
    rows = _csv(result.stdout)
    assert len(rows) == 41 and rows[0]["x"] == -2.0 and rows[-1]["x"] == 2.0
    for row in rows[::5]:
        r = gradcli.evaluate("x*exp(-x^2)", x=row["x"])
        assert row[r.output] == r.value
        assert row[f"d{r.output}/dx"] == r.gradient["x"]
        assert row["finite_difference"] == pytest.approx(r.gradient["x"], rel=1e-6, abs=1e-8)


def test_other_inputs_take_their_bound_values_and_output_picks_a_step():
    rows = _csv(run_cli(["plot", "h = w*x; y = sigmoid(h + b)", "w=-1:1:5", "b=0.5", "x=2", "--output", "h",
                         "--format", "csv"]).stdout)
    assert [row["h"] for row in rows] == [2 * w for w in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    assert all(row["dh/dw"] == 2.0 for row in rows)


def test_field_data_are_gradcli_s_gradients():
    result = run_cli(["plot", "(x-1)^2 + 10*(y-x^2)^2", "x=-2:2:5", "y=-1:3:5", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = _csv(result.stdout)
    assert len(rows) == 25
    for row in rows:
        r = gradcli.evaluate("(x-1)^2 + 10*(y-x^2)^2", x=row["x"], y=row["y"])
        name = r.output
        assert (row[name], row[f"d{name}/dx"], row[f"d{name}/dy"]) == (r.value, r.gradient["x"], r.gradient["y"])


def test_kinks_and_undefined_points_are_gaps():
    fixed: dict[str, Binding] = {}
    c = sample.curve("relu(x) + abs(x - 1)", sample.parse_range("x=-2:2:100"), fixed)
    assert np.flatnonzero(c.jumps).tolist() == [49, 74]  # between the samples around 0 and around 1
    x, y = sample.with_gaps(c.x, c.slope, c.jumps)
    assert int(np.isnan(y).sum()) == 2 and len(x) == 102
    on = sample.curve("relu(x)", sample.parse_range("x=-1:1:5"), fixed)  # a sample exactly on the kink
    assert on.jumps.tolist() == [False, True, True, False]
    u = sample.curve("log(x)", sample.parse_range("x=-1:1:5"), fixed)
    assert np.isnan(u.value[:3]).all() and np.isfinite(u.value[3:]).all()


def test_text_plot_in_the_terminal_has_both_panels():
    result = run_cli(["plot", "x^2", "x=-1:1", "--format", "text"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "over x" in out and "(reverse mode)" in out
    assert out.count("└") == 2 and "*" in out and "+" in out


def _image_ok(data: bytes) -> None:
    Image = pytest.importorskip("PIL.Image")
    image = Image.open(io.BytesIO(data)).convert("L")
    lo, hi = image.getextrema()
    assert image.size[0] > 300 and hi - lo > 100


@pytest.mark.slow
@pytest.mark.parametrize("args", [["x*exp(-x^2)", "x=-2:2"], ["x^2 + 3*y^2", "x=-2:2", "y=-1:1"]])
def test_png_and_svg_are_real_pictures(args, tmp_path):
    pytest.importorskip("matplotlib")
    png, svg = tmp_path / "p.png", tmp_path / "p.svg"
    assert run_cli(["plot", *args, "-o", str(png)]).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _image_ok(png.read_bytes())
    assert run_cli(["plot", *args, "-o", str(svg)]).exit_code == 0
    root = ET.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg") and len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 20


@pytest.mark.parametrize("args, message", [
    (["x^2"], "give one range"),
    (["x^2", "x=2:1"], "low end must be below"),
    (["x^2", "x=0:1:1"], "number of points"),
    (["x^2", "x=0:1", "-o", "p.gif"], "give --format"),
    (["x*y", "x=0:1", "y=0:1", "--format", "text"], "png or svg"),
    (["x*y", "x=0:1", "x=0:2"], "two ranges for x"),
    (["x*y", "x=0:1"], "missing value for input y"),
])
def test_plot_refuses_clearly(args, message):
    result = run_cli(["plot", *args])
    assert result.exit_code == 2 and message in result.stderr, result.stderr


# ---- descend -----------------------------------------------------------------------------
def _descend(*args: str) -> dict:
    result = run_cli(["descend", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_full_batch_matches_a_numpy_loop_with_momentum():
    program = "(x-1)^2 + 10*(y-x^2)^2"
    doc = _descend(program, "x=-1", "y=2", "--lr", "0.005", "--updates", "60", "--momentum", "0.9")
    x, y, vx, vy = -1.0, 2.0, 0.0, 0.0
    for _ in range(60):
        gx = 2 * (x - 1) - 40 * x * (y - x * x)
        gy = 20 * (y - x * x)
        vx, vy = 0.9 * vx + gx, 0.9 * vy + gy
        x, y = x - 0.005 * vx, y - 0.005 * vy
    assert doc["final"]["x"] == pytest.approx(x, rel=1e-12, abs=1e-12)
    assert doc["final"]["y"] == pytest.approx(y, rel=1e-12, abs=1e-12)
    assert doc["steps"] == 60 and doc["stopped"] == "steps" and len(doc["records"]) == 61


def test_array_parameters():
    doc = _descend("sum((W @ x - t)^2)", "W=[[0,0],[0,0]]", "x=[1,2]", "t=[1,-1]", "--wrt", "W",
                   "--lr", "0.05", "--updates", "30")
    W = np.zeros((2, 2))
    x, t = np.array([1.0, 2.0]), np.array([1.0, -1.0])
    for _ in range(30):
        W = W - 0.05 * np.outer(2 * (W @ x - t), x)
    np.testing.assert_allclose(doc["final"]["W"], W, rtol=1e-12, atol=1e-14)


def _logistic_data(tmp_path, n=40, seed=1):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (x1 - 0.5 * x2 + 0.3 * rng.normal(size=n) > 0).astype(float)
    path = tmp_path / "data.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("x1,x2,y\n")
        for row in zip(x1, x2, y):
            fh.write(",".join(repr(float(v)) for v in row) + "\n")
    return path, np.column_stack([x1, x2, y])


def test_minibatch_sgd_matches_a_numpy_loop(tmp_path):
    path, data = _logistic_data(tmp_path)
    program = "p = sigmoid(w1*x1 + w2*x2 + b); -(y*log(p) + (1 - y)*log(1 - p))"
    doc = _descend(program, "w1=0", "w2=0", "b=0", "--examples", str(path), "--batch", "8", "--shuffle-seed", "0",
                   "--lr", "0.5", "--updates", "25")
    rng = np.random.default_rng(0)
    w1 = w2 = b = 0.0
    n, size = len(data), 8
    order = np.arange(n)
    for step in range(25):
        k = step % (n // size)
        if k == 0:
            order = rng.permutation(n)
        rows = data[order[k * size:(k + 1) * size]]
        x1, x2, y = rows[:, 0], rows[:, 1], rows[:, 2]
        p = 1 / (1 + np.exp(-(w1 * x1 + w2 * x2 + b)))
        dz = p - y
        w1, w2, b = w1 - 0.5 * np.mean(dz * x1), w2 - 0.5 * np.mean(dz * x2), b - 0.5 * np.mean(dz)
    assert doc["final"]["w1"] == pytest.approx(w1, rel=1e-12)
    assert doc["final"]["w2"] == pytest.approx(w2, rel=1e-12)
    assert doc["final"]["b"] == pytest.approx(b, rel=1e-12, abs=1e-15)
    assert doc["wrt"] == ["w1", "w2", "b"]
    losses = [r["loss"] for r in doc["records"]]
    assert losses[-1] < losses[0]


def test_tolerance_stops_early_and_every_thins_the_table():
    doc = _descend("(x-3)^2", "x=0", "--lr", "0.25", "--updates", "1000", "--tol", "1e-9", "--every", "10")
    assert doc["stopped"] == "tolerance" and doc["steps"] < 1000
    assert doc["final"]["x"] == pytest.approx(3.0, abs=1e-9)
    assert all(r["step"] % 10 == 0 for r in doc["records"][:-1])
    table = run_cli(["descend", "(x-3)^2", "x=0", "--updates", "3"])
    assert table.exit_code == 0 and "Gradient descent on" in table.stdout
    rows = list(csv.reader(io.StringIO(run_cli(["descend", "(x-3)^2", "x=0", "--updates", "3", "--format",
                                                 "csv"]).stdout)))
    assert rows[0][0] == "step" and len(rows) == 5


def test_divergence_is_a_clear_math_error():
    result = run_cli(["descend", "x^2", "x=1", "--lr", "1.5", "--updates", "100"])
    assert result.exit_code == 3
    assert "diverged at step" in result.stderr and "smaller --lr" in result.stderr


@pytest.mark.slow
def test_descend_plot_files(tmp_path):
    pytest.importorskip("matplotlib")
    loss = tmp_path / "loss.png"
    assert run_cli(["descend", "sum((v - [1,2])^2)", "v=[0,0]", "--plot", str(loss)]).exit_code == 0
    _image_ok(loss.read_bytes())
    path = tmp_path / "path.svg"
    assert run_cli(["descend", "(x-1)^2 + 3*(y+1)^2", "x=0", "y=0", "--updates", "10", "--plot",
                    str(path)]).exit_code == 0
    assert ET.fromstring(path.read_bytes()).tag.endswith("svg")


@pytest.mark.parametrize("args, message", [
    (["x^2", "x=1", "--lr", "0"], "--lr must be a positive"),
    (["x^2", "x=1", "--momentum", "1"], "--momentum"),
    (["x^2", "x=1", "--batch", "4"], "--batch takes minibatches"),
    (["W@x", "W=[[1,0],[0,1]]", "x=[1,1]"], "scalar output"),
])
def test_descend_refuses_clearly(args, message):
    result = run_cli(["descend", *args])
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_no_python_warnings_or_nan_in_json():
    doc = _descend("sqrt(x^2 + 1)", "x=2", "--updates", "5")
    assert all(math.isfinite(r["loss"]) for r in doc["records"])


# ---- descend's renamed options: the released spellings still work, with a warning -------
def _examples(tmp_path) -> str:
    path = tmp_path / "data.csv"
    path.write_text("x,y\n1,2\n2,4\n3,6\n4,8\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("new, old", [
    (["--updates", "7"], ["--steps", "7"]),
    (["--shuffle-seed", "3", "--batch", "2"], ["--seed", "3", "--batch", "2"]),
    (["--examples", "DATA"], ["--points", "DATA"]),
    (["--updates", "4", "--shuffle-seed", "1", "--batch", "3", "--examples", "DATA"],
     ["--steps", "4", "--seed", "1", "--batch", "3", "--points", "DATA"]),
])
@pytest.mark.parametrize("fmt", [["--json"], ["--format", "csv"], []])
def test_the_old_descend_spellings_give_the_same_run_and_one_warning_each(new, old, fmt, tmp_path):
    data = _examples(tmp_path)
    with_data = [] if "DATA" in new else ["--examples", data]
    new = [data if a == "DATA" else a for a in new] + with_data
    old = [data if a == "DATA" else a for a in old] + with_data
    base = ["descend", "(w*x - y)^2", "w=0", "--lr", "0.01", *fmt]
    current, released = run_cli([*base, *new]), run_cli([*base, *old])
    assert current.exit_code == released.exit_code == 0, (current.stderr, released.stderr)
    assert released.stdout == current.stdout and current.stderr == ""  # never on stdout, never in JSON
    warnings = released.stderr.splitlines()
    spellings = [a for a in old if a in ("--steps", "--seed", "--points")]
    assert len(warnings) == len(spellings)
    for line, spelling in zip(warnings, spellings):
        assert line.startswith(f"gradcli: warning: descend {spelling} is deprecated: write --")


def test_an_old_and_a_new_spelling_together_are_refused():
    result = run_cli(["descend", "x^2", "x=1", "--steps", "3", "--updates", "4"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("gradcli: error: --steps is the old spelling of --updates: give --updates once")


def test_descend_help_shows_only_the_current_spellings():
    text = run_cli(["descend", "--help"], env={"COLUMNS": "200"}).stdout
    for current in ("--updates", "--shuffle-seed", "--examples"):
        assert current in text
    for old in ("--steps", "--seed ", "--points"):
        assert old not in text


def test_eval_keeps_steps_seed_and_points_in_their_one_meaning():
    steps = run_cli(["eval", "x*y", "x=2", "y=3", "--steps"])
    seeded = run_cli(["eval", "x*y", "x=2", "y=3", "--seed", "y", "--json"])
    assert steps.exit_code == 0 and "ȳ += ā · ∂a/∂y" in steps.stdout and steps.stderr == ""
    assert seeded.exit_code == 0 and json.loads(seeded.stdout)["gradient"] == {"y": 2.0}
