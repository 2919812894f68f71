"""``gradcli eval PROGRAM --points FILE.csv``: one program at many points.

Expected values and gradients are closed forms evaluated with NumPy in the test.
Every invocation checks the exit status, stdout and stderr.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from click.testing import Result


from clitools import run_cli, usage_error

LECTURE = "(a+b)*(b+1)"



def invoke(*args: str, input=None) -> Result:
    return run_cli(["eval", *args], input=input)


def lecture(a, b):
    """(a+b)*(b+1) and its gradient, by hand: ∂/∂a = b + 1, ∂/∂b = (b + 1) + (a + b)."""
    return (a + b) * (b + 1), b + 1, a + 2 * b + 1


def parse_csv(text: str) -> tuple[list[str], list[list[float]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [[float(c) for c in row] for row in reader]


def write(tmp_path, text: str, name: str = "points.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---- values and gradients ---------------------------------------------------------------
def test_lecture_points_from_stdin():
    result = invoke(LECTURE, "--points", "-", input="a,b\n3,2\n1,1\n-1,0.5\n")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    header, rows = parse_csv(result.stdout)
    assert header == ["a", "b", "value", "d/da", "d/db"]
    assert len(rows) == 3
    for (a, b, value, da, db) in rows:
        assert (value, da, db) == pytest.approx(lecture(a, b), rel=1e-15)
    assert rows[0] == [3.0, 2.0, 15.0, 3.0, 8.0]  # the lecture's numbers


def test_lecture_points_from_a_file_with_wrt(tmp_path):
    rng = np.random.default_rng(7)
    points = rng.uniform(-10, 10, size=(50, 2))
    text = "a,b\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in points)
    result = invoke(LECTURE, "--points", write(tmp_path, text), "--wrt", "b")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    header, rows = parse_csv(result.stdout)
    assert header == ["a", "b", "value", "d/db"]
    got = np.array(rows)
    np.testing.assert_array_equal(got[:, :2], points)  # inputs are echoed exactly (repr round-trips)
    value, _, db = lecture(points[:, 0], points[:, 1])
    np.testing.assert_allclose(got[:, 2], value, rtol=1e-13)
    np.testing.assert_allclose(got[:, 3], db, rtol=1e-13, atol=1e-13)


def test_wrt_order_is_kept(tmp_path):
    result = invoke(LECTURE, "--points", write(tmp_path, "a,b\n3,2\n"), "--wrt", "b,a")
    assert result.exit_code == 0 and result.stderr == ""
    assert parse_csv(result.stdout) == (["a", "b", "value", "d/db", "d/da"], [[3.0, 2.0, 15.0, 8.0, 3.0]])


def test_fixed_bindings_from_the_command_line(tmp_path):
    # a*x^2 + b with a fixed at 3: ∂/∂a = x², ∂/∂x = 2ax, ∂/∂b = 1
    result = invoke("a*x^2 + b", "a=3", "--points", write(tmp_path, "x,b\n1,2\n2,3\n-0.5,0\n"))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert set(rows[0]) == {"x", "b", "value", "d/da", "d/dx", "d/db"}
    for row in rows:
        x, b = float(row["x"]), float(row["b"])
        assert float(row["value"]) == pytest.approx(3 * x * x + b, rel=1e-15)
        assert float(row["d/da"]) == pytest.approx(x * x, rel=1e-15)
        assert float(row["d/dx"]) == pytest.approx(6 * x, rel=1e-15)
        assert float(row["d/db"]) == 1.0
    assert [float(r["x"]) for r in rows] == [1.0, 2.0, -0.5]


def test_fixed_binding_constant_expression(tmp_path):
    # sin(k*x) with k = pi/2: ∂/∂x = k cos(kx), ∂/∂k = x cos(kx)
    result = invoke("sin(k*x)", "k=pi/2", "--points", write(tmp_path, "x\n0\n1\n0.5\n"))
    assert result.exit_code == 0 and result.stderr == ""
    header, rows = parse_csv(result.stdout)
    assert header == ["x", "value", "d/dk", "d/dx"]
    k = math.pi / 2
    for x, value, dk, dx in rows:
        assert value == pytest.approx(math.sin(k * x), abs=1e-15)
        assert dk == pytest.approx(x * math.cos(k * x), abs=1e-15)
        assert dx == pytest.approx(k * math.cos(k * x), abs=1e-15)


def test_tsv(tmp_path):
    result = invoke(LECTURE, "--points", write(tmp_path, "a,b\n3,2\n"), "--format", "tsv")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == "a\tb\tvalue\td/da\td/db\n3.0\t2.0\t15.0\t3.0\t8.0\n"


def test_json_lines(tmp_path):
    result = invoke(LECTURE, "--points", write(tmp_path, "a,b\n3,2\n0.25,-4\n"), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    docs = [json.loads(line) for line in lines]
    assert docs[0] == {"schema": 1, "row": 1, "inputs": {"a": 3.0, "b": 2.0}, "value": 15.0,
                       "gradient": {"a": 3.0, "b": 8.0}}
    value, da, db = lecture(0.25, -4.0)
    assert docs[1]["row"] == 2 and docs[1]["inputs"] == {"a": 0.25, "b": -4.0}
    assert docs[1]["value"] == pytest.approx(value) and docs[1]["gradient"] == {"a": pytest.approx(da),
                                                                               "b": pytest.approx(db)}


# ---- undefined rows ------------------------------------------------------------------------
def test_a_row_with_log_of_a_negative_number(tmp_path):
    # log(x)*y with y = 2: value 2 log x, ∂/∂x = 2/x, ∂/∂y = log x; x = -1 is undefined
    result = invoke("log(x)*y", "y=2", "--points", write(tmp_path, "x\n1\n-1\n2\n"))
    assert result.exit_code == 3
    header, rows = parse_csv(result.stdout)
    assert header == ["x", "value", "d/dx", "d/dy"]
    assert rows[0] == [1.0, 0.0, 2.0, 0.0]
    assert rows[1][0] == -1.0 and all(math.isnan(v) for v in rows[1][1:])
    assert rows[2] == pytest.approx([2.0, 2 * math.log(2), 1.0, math.log(2)], rel=1e-15)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("gradcli: math error: 1 of 3 rows are undefined")
    assert "row 2" in lines[0] and "log" in lines[0] and "x = -1" in lines[0]


def test_undefined_rows_in_json_lines(tmp_path):
    result = invoke("sqrt(x)", "--points", write(tmp_path, "x\n4\n-9\n"), "--json")
    assert result.exit_code == 3
    docs = [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard {c}"))
            for line in result.stdout.splitlines()]
    assert docs[0]["value"] == 2.0 and docs[0]["gradient"] == {"x": 0.25}  # 1/(2√4)
    assert docs[1]["value"] == "nan" and docs[1]["gradient"] == {"x": "nan"}
    assert "row 2" in result.stderr and result.stderr.count("\n") == 1


# ---- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, fragment", [
    ("a,b\n3,x\n", "--points"),  # not a number
    ("a,b\n3,2,1\n", "3 values in the row but 2 column names"),
    ("a,b\n3\n", "--points"),
    ("a,b\n1,2\n3\n", "--points"),  # a short row later on
    ("a,b\n3,inf\n", "finite"),
    ("a,b\n3,nan\n", "finite"),
    ("a,a\n1,2\n", "twice"),
    ("a,,b\n1,2,3\n", "first line"),
    ("", "first line"),
])
def test_bad_csv(tmp_path, text, fragment):
    usage_error(invoke(LECTURE, "--points", write(tmp_path, text)), fragment)


def test_unknown_column(tmp_path):
    usage_error(invoke(LECTURE, "--points", write(tmp_path, "a,b,z\n3,2,1\n")), "column z", "inputs: a, b")


def test_missing_input(tmp_path):
    usage_error(invoke("x*y", "--points", write(tmp_path, "x\n1\n")), "missing value for input y")


def test_missing_file(tmp_path):
    usage_error(invoke(LECTURE, "--points", str(tmp_path / "nope.csv")), "nope.csv")


@pytest.mark.parametrize("program, bindings", [
    ("sum(v)*x", ["v=[1,2]"]),
    ("[x, x]", []),
    ("dot(w, w)*x", ["w=[1,2,3]"]),
])
def test_tensor_programs_are_refused(tmp_path, program, bindings):
    usage_error(invoke(program, *bindings, "--points", write(tmp_path, "x\n1\n2\n")), "scalar programs")


@pytest.mark.parametrize("option", [["--check", "fd"], ["--mode", "forward"], ["--seed-output", "1"]])
def test_points_is_plain_reverse_mode(tmp_path, option):
    usage_error(invoke("x*2", "--points", write(tmp_path, "x\n1\n"), *option), "--points")


def test_header_only_file(tmp_path):
    usage_error(invoke(LECTURE, "--points", write(tmp_path, "a,b\n")), "--points")


@pytest.mark.parametrize("text", ["a,b\n3,x\n", "a,b\n1,2\n3\n"])
def test_csv_error_messages_speak_gradcli(tmp_path, text):
    result = invoke(LECTURE, "--points", write(tmp_path, text))
    usage_error(result, "--points")
    assert "row 0" not in result.stderr and "usecols" not in result.stderr and "float64" not in result.stderr


def test_program_and_points_both_from_stdin():
    usage_error(invoke("-", "--points", "-", input="x*2\n"), "stdin")


def test_seed_with_points(tmp_path):
    usage_error(invoke("x*2", "--points", write(tmp_path, "x\n1\n"), "--seed", "x"), "--points")


def test_binding_shadowed_by_a_column(tmp_path):
    result = invoke("x*2", "x=5", "--points", write(tmp_path, "x\n1\n"))
    if result.exit_code == 2:  # refusing the clash would do
        usage_error(result, "x")
        return
    assert result.exit_code == 0
    assert result.stdout == "x,value,d/dx\n1.0,2.0,2.0\n"
    assert "gradcli: warning:" in result.stderr and "x=5" in result.stderr


# ---- scale -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_hundred_thousand_rows_quickly_and_correctly(tmp_path):
    rng = np.random.default_rng(12345)
    points = rng.uniform(-5, 5, size=(100_000, 2))
    path = tmp_path / "big.csv"
    np.savetxt(path, points, delimiter=",", header="a,b", comments="", fmt="%.17g")
    result = invoke(LECTURE, "--points", str(path))  # speed: benchmarks/ (README, "Performance")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.split("\n", 1)
    assert lines[0] == "a,b,value,d/da,d/db"
    got = np.loadtxt(io.StringIO(lines[1]), delimiter=",")
    assert got.shape == (100_000, 5)
    np.testing.assert_array_equal(got[:, :2], points)
    value, da, db = lecture(points[:, 0], points[:, 1])
    np.testing.assert_allclose(got[:, 2], value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[:, 3], da, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[:, 4], db, rtol=1e-12, atol=1e-12)
