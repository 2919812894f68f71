"""`gradcli check --answers`: a class's sheet graded into a gradebook.

Step columns, formula columns, malformed rows reported by line, the summary, numeric
scores, LMS columns kept, delimiters, the key row, CSV-injection safety, JSON (against
gradcli/schemas/gradebook.schema.json), exit codes, and Gradescope's results.json.
Expected answers are worked out by hand: on ``c = a+b; d = b+1; e = c*d`` at a=3, b=2,
e = 15, ∂e/∂a = d = 3, ∂e/∂b = d + c = 8, ∂e/∂c = d = 3, and c = 5.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from clitools import run_cli, strict_json, usage_error

LECTURE = "c = a+b; d = b+1; e = c*d"
COLUMNS = 200  # wide enough that no table wraps
SCHEMA = Path(__file__).resolve().parent.parent / "gradcli" / "schemas" / "gradebook.schema.json"


def invoke(*args: str, input=None):
    return run_cli(["check", LECTURE, "a=3", "b=2", *args], input=input, columns=COLUMNS)


def sheet(tmp_path, text: str, name: str = "answers.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def book(text: str, delimiter: str = ",") -> list[dict]:
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def summary_rows(text: str) -> dict[str, list[str]]:
    out = {}
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|-"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] != "question":
                out[cells[0]] = cells[1:]
    return out


def test_step_columns_values_and_formulas(tmp_path):
    answers = sheet(tmp_path, "id,c,value:c,formula:b,d/db\n"
                              "ann,3,5,d+c,8\n"
                              "ben,5,4,d,5\n")
    result = invoke("--answers", answers, "--sympy-timeout", "60")
    assert result.exit_code == 0, result.stderr
    rows = {r["id"]: r for r in book(result.stdout)}
    assert [rows["ann"][f"{c} verdict"] for c in ("c", "value:c", "formula:b", "d/db")] == ["right"] * 4
    assert rows["ann"]["score"] == "4" and rows["ann"]["out_of"] == "4"
    ben = rows["ben"]
    assert ben["c verdict"] == "wrong" and ben["value:c verdict"] == "wrong"
    # a formula with only one branch, and the number of only one path, are diagnosed
    assert "missing fan-out sum" in ben["formula:b verdict"]
    assert ben["d/db verdict"].startswith("wrong: you have only the path b → d → e")
    assert ben["score"] == "0"


def test_malformed_rows_are_reported_by_line_and_the_rest_graded(tmp_path):
    answers = sheet(tmp_path, "id,a,b\n"
                              "ann,3,8\n"
                              "ben,3,8,9\n"  # line 3: an extra field
                              "cat,max(y,z),8\n"  # line 4: an unquoted formula split over columns
                              "ann,3,3\n"  # line 5: a duplicate id
                              ",3,8\n"  # line 6: an empty id
                              "dan,3,7\n")
    out = tmp_path / "grades.csv"
    result = invoke("--answers", answers, "--out", str(out))
    assert result.exit_code == 0
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 4
    assert warnings[0].startswith(f"gradcli: warning: {answers}: line 3: 4 fields where the header has 3")
    assert "line 4: 4 fields" in warnings[1] and '"max(y,z)"' in warnings[1]
    assert "line 5: the id 'ann' already appeared on line 2" in warnings[2]
    assert "line 6: the id is empty" in warnings[3]
    rows = {r["id"]: r for r in book(out.read_text(encoding="utf-8"))}
    assert list(rows) == ["ann", "ben", "cat", "dan"]
    assert rows["ann"]["score"] == "2" and rows["dan"]["score"] == "1"
    assert rows["ben"]["a verdict"].startswith("invalid row") and rows["ben"]["score"] == "0"
    assert rows["cat"]["b verdict"].startswith("invalid row")
    table = summary_rows(result.stdout)
    assert table["a"] == ["2", "0", "0", "2"]  # right, wrong, missing, invalid
    assert table["b"] == ["1", "1", "0", "2"]
    assert "class average: 0.75 of 2 points (37.5%)" in result.stdout
    assert "4 rows with problems" in result.stdout


def test_headers_are_stripped_and_lms_columns_kept(tmp_path):
    answers = sheet(tmp_path, "ID , name ,d/da, email\n"
                              "s1,Ann Lee,3,ann@example.org\n"
                              "s2,\"Lee, Ben\",4,ben@example.org\n")
    result = invoke("--answers", answers)
    assert result.exit_code == 0 and "warning" not in result.stderr
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0] == ["ID", "name", "d/da", "d/da verdict", "email", "score", "out_of"]
    assert lines[1] == ["s1", "Ann Lee", "3", "right", "ann@example.org", "1", "1"]
    assert lines[2][:5] == ["s2", "Lee, Ben", "4", lines[2][3], "ben@example.org"]
    assert lines[2][3].startswith("wrong") and lines[2][5] == "0"


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_tsv_and_semicolons(tmp_path, delimiter):
    text = delimiter.join(["id", "a", "b"]) + "\n" + delimiter.join(["s1", "3", "8"]) + "\n" + \
        delimiter.join(["s2", "1/3", "8"]) + "\n"
    result = invoke("--answers", sheet(tmp_path, text))
    assert result.exit_code == 0, result.stderr
    rows = {r["id"]: r for r in book(result.stdout, delimiter)}  # the gradebook keeps the delimiter
    assert rows["s1"]["score"] == "2" and rows["s2"]["score"] == "1"


def test_reveal_adds_a_key_row(tmp_path):
    result = invoke("--answers", sheet(tmp_path, "id,a,b,value,value:c,formula:a\ns1,3,8,15,5,d\n"), "--reveal")
    assert result.exit_code == 0
    key = book(result.stdout)[0]
    assert key["id"] == "(answer key)"
    assert [float(key[c]) for c in ("a", "b", "value", "value:c", "formula:a")] == [3, 8, 15, 5, 3]
    hidden = invoke("--answers", sheet(tmp_path, "id,a\ns1,3\n"))
    assert "(answer key)" not in hidden.stdout


@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
    ("+cmd", "'+cmd"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("-3", "-3"),  # a plain number keeps reading as a number
    ("+8", "+8"),
    ("-1e-3", "-1e-3"),
])
def test_cells_are_neutralised_against_csv_injection(tmp_path, cell, written):
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["id", "name", "b"], ["s1", cell, cell]])
    result = invoke("--answers", str(answers))
    assert result.exit_code == 0
    (row,) = book(result.stdout)
    assert row["name"] == written and row["b"] == written


def test_a_negative_number_answer_is_still_graded_as_a_number(tmp_path):
    result = run_cli(["check", "y = -3*x", "x=1", "--answers", sheet(tmp_path, "id,x\ns1,-3\n")], columns=COLUMNS)
    assert result.exit_code == 0
    (row,) = book(result.stdout)
    assert row["x"] == "-3" and row["x verdict"] == "right"


def test_json_document(tmp_path):
    answers = sheet(tmp_path, "id,name,a,formula:b,value\nann,Ann,3,d+c,15\nben,Ben,-3,d,\nbad,x,1,2,3,4\n")
    result = invoke("--answers", answers, "--json", "--sympy-timeout", "60")
    assert result.exit_code == 0
    doc = strict_json(result.stdout)
    assert doc["schema"] == 1 and doc["tolerance"] == {"rtol": 1e-4, "atol": 1e-8, "min_digits": 3, "explicit": False} and doc["ok"] is False
    students = {s["id"]: s for s in doc["students"]}
    assert students["ann"]["score"] == 3 and students["ann"]["fields"] == {"name": "Ann"}
    ben = students["ben"]["answers"]
    assert ben["a"]["status"] == "wrong" and ben["a"]["diagnosis"]["kind"] == "sign"
    assert ben["value"]["status"] == "missing"
    assert students["bad"]["line"] == 4 and doc["problems"][0].startswith("line 4:")
    questions = {q["column"]: q for q in doc["questions"]}
    assert questions["a"] == {"column": "a", "kind": "gradient", "name": "a", "right": 1, "wrong": 1,
                              "missing": 0, "invalid": 1}
    assert doc["average"] == pytest.approx(1.0)  # 3, 0 and 0 points
    assert "truth" not in json.dumps(doc)
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    revealed = strict_json(invoke("--answers", answers, "--json", "--reveal", "--sympy-timeout", "60").stdout)
    jsonschema.validate(revealed, schema)
    assert {q["column"]: q["truth"] for q in revealed["questions"]} == {"a": 3, "formula:b": 8, "value": 15}


def test_all_right_json_is_ok(tmp_path):
    doc = strict_json(invoke("--answers", sheet(tmp_path, "id,a\ns1,3\n"), "--json").stdout)
    assert doc["ok"] is True and doc["problems"] == []


# ---- exit codes ----------------------------------------------------------------------------------
def test_exit_0_when_the_gradebook_is_written_even_with_wrong_answers(tmp_path):
    out = tmp_path / "g.csv"
    result = invoke("--answers", sheet(tmp_path, "id,a\ns1,4\n"), "--out", str(out))
    assert result.exit_code == 0 and out.exists()


def test_strict_exits_1_when_any_answer_is_not_right(tmp_path):
    wrong = sheet(tmp_path, "id,a\ns1,4\n", "wrong.csv")
    right = sheet(tmp_path, "id,a\ns1,3\n", "right.csv")
    missing = sheet(tmp_path, "id,a,b\ns1,3,\n", "missing.csv")
    assert invoke("--answers", wrong, "--strict").exit_code == 1
    assert invoke("--answers", missing, "--strict").exit_code == 1
    assert invoke("--answers", right, "--strict").exit_code == 0
    assert invoke("--answers", wrong, "--strict", "--json").exit_code == 1


def test_strict_without_answers_is_a_usage_error():
    usage_error(invoke("--expect", "a=3", "--strict"), "--answers")


def test_the_gradebook_never_overwrites_the_answers(tmp_path):
    answers = sheet(tmp_path, "id,a\ns1,3\n")
    usage_error(invoke("--answers", answers, "--out", answers), "--out", "never overwrites")
    assert Path(answers).read_text(encoding="utf-8") == "id,a\ns1,3\n"


def test_answers_from_stdin():
    result = invoke("--answers", "-", input="id,a\ns1,3\n")
    assert result.exit_code == 0
    assert book(result.stdout)[0]["a verdict"] == "right"


# ---- Gradescope ------------------------------------------------------------------------------------
def test_gradescope_results_json(tmp_path):
    out = tmp_path / "results.json"
    result = invoke("--answers", sheet(tmp_path, "id,a,b,value\ns1,3,5,15\n"), "--format", "gradescope",
                    "--out", str(out))
    assert result.exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["score"] == 2.0
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in doc["tests"]] == [
        ("a", 1.0, 1.0, "passed"), ("b", 0.0, 1.0, "failed"), ("value", 1.0, 1.0, "passed")]
    assert doc["tests"][1]["output"].startswith("wrong: you have only the path")
    assert "8" not in doc["tests"][1]["output"]


def test_gradescope_needs_one_submission(tmp_path):
    usage_error(invoke("--answers", sheet(tmp_path, "id,a\ns1,3\ns2,3\n"), "--format", "gradescope"),
                "one submission", "2 students")


# ---- per-student inputs -------------------------------------------------------------------------
def test_each_student_may_have_their_own_point(tmp_path):
    # at a=3 b=2: ∂e/∂b = a + 2b + 1 = 8; ann has b=4: 3 + 8 + 1 = 12; ben has a=1, b=0: 2
    answers = sheet(tmp_path, "id,in:a,in:b,b,value\nann,,4,12,35\nben,1,0,2,1\ncat,,,8,15\ndan,,4,8,15\n")
    result = invoke("--answers", answers, "--json")
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    scores = {s["id"]: s["score"] for s in doc["students"]}
    assert scores == {"ann": 2, "ben": 2, "cat": 2, "dan": 0}
    assert {s["id"]: s["fields"] for s in doc["students"]}["ben"] == {"in:a": "1", "in:b": "0"}


def test_a_student_point_where_the_program_is_undefined_is_reported(tmp_path):
    answers = sheet(tmp_path, "id,in:x,x\nann,2,0.5\nben,-1,1\n")
    result = run_cli(["check", "log(x)", "x=1", "--answers", answers], columns=COLUMNS)
    assert result.exit_code == 0
    assert "line 3: the student's inputs:" in result.stderr
    rows = {r["id"]: r for r in book(result.stdout)}
    assert rows["ann"]["x verdict"] == "right" and rows["ben"]["x verdict"].startswith("invalid row")


def test_an_input_column_must_name_an_input(tmp_path):
    usage_error(invoke("--answers", sheet(tmp_path, "id,in:c,a\nann,1,3\n")), "in:c", "not an input")


def test_gradescope_to_stdout_and_not_with_json(tmp_path):
    answers = sheet(tmp_path, "id,a\ns1,3\n")
    result = invoke("--answers", answers, "--format", "gradescope")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"score": 1.0, "tests": [
        {"name": "a", "score": 1.0, "max_score": 1.0, "status": "passed", "output": "right"}]}
    assert "1 student" in result.stderr  # the summary goes to stderr
    usage_error(invoke("--answers", answers, "--format", "gradescope", "--json"), "--format gradescope")
