"""Programs that carry their point: a sample runs without bindings, and the command
line overrides what the file says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clitools import run_cli
from test_samples import FILES, directives

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_sample_runs_without_bindings(path):
    result = run_cli(["eval", "-f", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    spec = directives(path)
    assert doc["value"] == pytest.approx(spec["value"], rel=1e-9)
    if spec["output"]:
        assert doc["output"] == spec["output"]


def test_the_command_line_overrides_the_file_and_the_table_says_so():
    lecture = str(SAMPLES / "lecture_e.grad")
    doc = json.loads(run_cli(["eval", "-f", lecture, "b=5", "--json"]).stdout)
    assert doc["inputs"] == {"a": 3.0, "b": 5.0} and doc["value"] == 48.0
    table = run_cli(["eval", "-f", lecture, "b=5"]).stdout
    assert "point    a from the program's #: lines; b given here" in table
    plain = run_cli(["eval", "(a+b)*(b+1)", "a=3", "b=2"]).stdout
    assert "point" not in plain.split("Computational graph")[0]


def test_vars_lines_are_read_relative_to_the_program(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "v.json").write_text('{"x": [1, 2]}', encoding="utf-8")
    prog = tmp_path / "sub" / "p.grad"
    prog.write_text("#: vars v.json\n#: bind k=3\nk*sum(x*x)\n", encoding="utf-8")
    doc = json.loads(run_cli(["eval", "-f", str(prog), "--json"]).stdout)
    assert doc["value"] == 15.0 and doc["gradient"]["x"] == [6.0, 12.0]
    overridden = json.loads(run_cli(["eval", "-f", str(prog), "x=[1,1]", "--json"]).stdout)
    assert overridden["value"] == 6.0


def test_a_program_on_the_command_line_has_no_default_point():
    result = run_cli(["eval", "#: bind a=3\na*2"])
    assert result.exit_code == 2 and "missing value for input a" in result.stderr


def test_bad_point_lines_are_clear_errors(tmp_path):
    prog = tmp_path / "p.grad"
    prog.write_text("#: bind a=\na*2\n", encoding="utf-8")
    result = run_cli(["eval", "-f", str(prog)])
    assert result.exit_code == 2 and "no value after '='" in result.stderr


def test_a_missing_vars_file_matters_only_when_a_value_is_missing(tmp_path):
    prog = tmp_path / "p.grad"
    prog.write_text("#: vars gone.json\nsum(x*x)\n", encoding="utf-8")
    assert run_cli(["eval", "-f", str(prog), "x=[1,2]", "--json"]).exit_code == 0
    result = run_cli(["eval", "-f", str(prog)])
    assert result.exit_code == 2
    assert "missing value for input x" in result.stderr and "'#: vars gone.json'" in result.stderr
