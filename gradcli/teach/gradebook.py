"""A class's answers, graded: reading the sheet, judging every cell, the summary.

The sheet is CSV, TSV or ``;``-separated (the delimiter is read off the header line).
The first column is the student's id.  Headers are stripped of spaces.  A column is

* ``NAME``, ``d/dNAME`` or ``∂/∂NAME``: ∂out/∂NAME, for an input or any named step;
* ``value`` (the output's value) or ``value:NAME`` (a step's forward value);
* ``formula:NAME``: a formula for ∂out/∂NAME (judged at the point and at chosen
  points, as `gradcli.teach.homework` does);
* ``in:NAME``: the student's own value of the input NAME (each student may have a
  different point; the command line's values are the defaults);
* anything else (``name``, ``email``, ...): an LMS column, kept unchanged.

Rows that cannot be trusted are reported with their line number and the rest are
graded: a row with more fields than the header (often an unquoted ``max(y,z)``) is
kept in the gradebook with every answer ``invalid``; a repeated id or an empty id is
not graded.  A student's score is the number of right answers (points).
"""

from __future__ import annotations

import csv
import io
from typing import Optional

from ..core.errors import GradcliError, UsageError
from ..run.evaluate import Evaluation
from . import homework
from . import mistakes as mistakes_mod

#: largest answers file read (bytes)
MAX_ANSWERS_BYTES = 64 * 1024 * 1024

STATUSES = ("right", "wrong", "missing", "invalid")


class Sheet:
    """The answers file as read: its delimiter, stripped header, and rows with line numbers."""

    def __init__(self, path: str, delimiter: str, header: list[str], rows: list[tuple[int, list[str]]]) -> None:
        self.path = path
        self.delimiter = delimiter
        self.header = header
        self.rows = rows


class Column:
    """One column of the sheet and what it asks."""

    __slots__ = ("index", "title", "kind", "name", "truth")

    def __init__(self, index: int, title: str, kind: str, name: Optional[str] = None) -> None:
        self.index = index
        self.title = title
        #: "id", "keep" (an LMS column), "input", "gradient", "value" or "formula"
        self.kind = kind
        self.name = name
        #: the right answer at the class's point (the key row)
        self.truth: object = None

    @property
    def question(self) -> bool:
        return self.kind in ("gradient", "value", "formula")


class Student:
    __slots__ = ("id", "line", "cells", "verdicts")

    def __init__(self, id: str, line: int, cells: list[str]) -> None:
        self.id = id
        self.line = line
        #: the row's cells, aligned with the header (short rows padded with "")
        self.cells = cells
        #: column index -> verdict
        self.verdicts: dict[int, homework.Verdict] = {}

    @property
    def score(self) -> int:
        return sum(1 for v in self.verdicts.values() if v.ok)


class Book:
    """The graded class."""

    def __init__(self, sheet: Sheet, columns: list[Column]) -> None:
        self.sheet = sheet
        self.columns = columns
        self.students: list[Student] = []
        #: "line N: ..." for each row that was not graded as written
        self.problems: list[str] = []

    @property
    def questions(self) -> list[Column]:
        return [c for c in self.columns if c.question]

    @property
    def out_of(self) -> int:
        return len(self.questions)

    def counts(self, column: Column) -> dict[str, int]:
        """right / wrong / missing / invalid for one question."""
        counts = {s: 0 for s in STATUSES}
        for student in self.students:
            status = student.verdicts[column.index].status
            counts[status if status in counts else "invalid"] += 1
        return counts

    @property
    def average(self) -> Optional[float]:
        if not self.students:
            return None
        return sum(s.score for s in self.students) / len(self.students)

    @property
    def all_right(self) -> bool:
        return not self.problems and all(s.score == self.out_of for s in self.students)


# ---- reading ----------------------------------------------------------------------------
def read_answers(path: str) -> Sheet:
    """The sheet at `path` (``-``: stdin), delimiter sniffed from the header line."""
    from ..run.files import read_text

    text = read_text(path, f"--answers {path}", MAX_ANSWERS_BYTES)  # bounded, as every read
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else (";" if first.count(";") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] = []
    # a field is bounded by the file's own limit, not csv's 128 KiB: one student's long answer
    # is that row's verdict, not an error that stops the whole class's gradebook
    field_limit = csv.field_size_limit(MAX_ANSWERS_BYTES)
    try:
        line = 1
        for fields in reader:
            if not header:
                header = [h.strip() for h in fields]
            elif any(f.strip() for f in fields):
                rows.append((line, fields))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UsageError(f"--answers {path}: line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(field_limit)
    if len(header) < 2:
        raise UsageError(f"--answers {path}: expected an id column and at least one answer column")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise UsageError(f"--answers {path}: the column {duplicates[0]!r} appears twice")
    return Sheet(path, delimiter, header, rows)


def one_submission(sheet: Sheet) -> Sheet:
    """The sheet of one submission (Gradescope's results.json), whose id is ignored: the
    one row's empty id is graded as ``submission`` rather than skipped."""
    if len(sheet.rows) != 1 or sheet.rows[0][1][0].strip():
        return sheet
    line, fields = sheet.rows[0]
    return Sheet(sheet.path, sheet.delimiter, sheet.header, [(line, ["submission", *fields[1:]])])


def classify(ev: Evaluation, header: list[str]) -> list[Column]:
    """What each column asks; UsageError for a column that names no step."""
    names = homework.step_names(ev)
    known = ", ".join(names)
    columns = [Column(0, header[0], "id")]
    for k, title in enumerate(header[1:], start=1):
        lower = title.lower()
        if lower == "value":
            columns.append(Column(k, title, "value", None))
            continue
        for prefix, kind in (("value:", "value"), ("formula:", "formula"), ("in:", "input"), ("d/d", "gradient"),
                             ("∂/∂", "gradient")):
            if lower.startswith(prefix):
                name = title[len(prefix):].strip()
                if kind == "input" and name not in ev.inputs:
                    raise UsageError(f"answers column {title!r}: {name!r} is not an input of the program "
                                     f"(inputs: {', '.join(ev.inputs)})")
                if name not in names:
                    raise UsageError(f"answers column {title!r}: {name!r} is not an input or a step of the "
                                     f"program (inputs: {', '.join(ev.inputs)}; names: {known})")
                columns.append(Column(k, title, kind, name))
                break
        else:
            columns.append(Column(k, title, "gradient", title) if title in names else Column(k, title, "keep"))
    asked: dict[tuple, str] = {}
    for c in columns:
        if not c.question:
            continue
        key = (c.kind, None if c.name == ev.output_name and c.kind == "value" else c.name)
        if key in asked:
            raise UsageError(f"answers columns {asked[key]!r} and {c.title!r} ask the same question")
        asked[key] = c.title
    if not any(c.question for c in columns):
        raise UsageError(f"--answers: no answer column: name columns value, NAME or d/dNAME, value:NAME or "
                         f"formula:NAME (inputs: {', '.join(ev.inputs)}; names: {known})")
    return columns


# ---- grading ----------------------------------------------------------------------------
class _Truths:
    """Per evaluation (the class's point, or one student's own point): each question's
    node, truth and candidate mistakes."""

    def __init__(self, ev: Evaluation, columns: list[Column], data: tuple[str, ...] = ()) -> None:
        self.ev = ev
        #: the points formulas are tested at, chosen once per evaluation
        self.context = homework.formula_context(ev, data)
        self.node: dict[int, int] = {}
        self.truth: dict[int, object] = {}
        self.candidates: dict[int, object] = {}
        for c in columns:
            where = f"answers column {c.title!r}"
            if c.kind == "value":
                self.truth[c.index] = homework.value_of(ev, c.name, where)
            elif c.kind in ("gradient", "formula"):
                self.node[c.index] = homework.adjoint_node(ev, str(c.name), where)
                self.truth[c.index] = ev.adjoints[self.node[c.index]]
                self.candidates[c.index] = mistakes_mod.mistakes(ev, self.node[c.index])


def grade(ev: Evaluation, sheet: Sheet, request: homework.Request) -> Book:
    """Every answer of every well-formed row judged, by the rules of `request` (its
    answers are the sheet's); the rest reported."""
    rules = request.rules
    columns = classify(ev, sheet.header)
    shared = _Truths(ev, columns, request.data)
    for c in columns:
        c.truth = shared.truth.get(c.index)
    book = Book(sheet, columns)
    width = len(sheet.header)
    seen: dict[str, int] = {}
    formula_cache: dict[tuple[int, str], homework.Verdict] = {}
    inputs = [c for c in columns if c.kind == "input"]
    for line, fields in sheet.rows:
        sid = fields[0].strip() if fields else ""
        if not sid:
            book.problems.append(f"line {line}: the id is empty; the row is not graded")
            continue
        if sid in seen:
            book.problems.append(f"line {line}: the id {sid!r} already appeared on line {seen[sid]}; "
                                 "the row is not graded")
            continue
        seen[sid] = line
        student = Student(sid, line, (fields + [""] * width)[:width])
        book.students.append(student)
        why = ""
        if len(fields) > width:
            why = (f"{len(fields)} fields where the header has {width} (quote answers that contain "
                   f"'{sheet.delimiter}', such as \"max(y,z)\")")
        truths, cache = shared, formula_cache
        own = {c.name: student.cells[c.index].strip() for c in inputs if student.cells[c.index].strip()}
        if own and not why:
            try:
                truths, cache = _Truths(_at(ev, own), columns, request.data), {}
            except GradcliError as exc:
                why = f"the student's inputs: {exc.message}"
        if why:
            book.problems.append(f"line {line}: {why}; every answer on it is marked invalid")
            first = book.questions[0].title if book.questions else ""
            for k, c in enumerate(book.questions):  # the reason once, in the first column; the others point to it
                how = f"invalid row: {why}" if k == 0 else f"invalid row (see {first})"
                student.verdicts[c.index] = homework.Verdict(c.title, student.cells[c.index].strip(), c.truth,
                                                             False, how, "invalid")
            continue
        for c in book.questions:
            student.verdicts[c.index] = _judge_cell(truths, c, student.cells[c.index].strip(), rules,
                                                    cache, f"line {line}, {c.title}")
    return book


def _at(ev: Evaluation, own: dict) -> Evaluation:
    """The program evaluated at the class's point with a student's own input values."""
    from ..run.bindings import Binding, constant_value
    from ..run.evaluate import prepare, run

    bindings = dict(ev.bindings)
    for name, text in own.items():
        value = constant_value(text, f"in:{name}")
        wanted = getattr(ev.env.get(name), "shape", ())
        if getattr(value, "shape", ()) != wanted:  # the class's shapes are the ones the answers have
            raise UsageError(f"in:{name} = {text} has shape {_shape_text(getattr(value, 'shape', ()))}; "
                             f"the class's {name} has shape {_shape_text(wanted)}")
        bindings[name] = Binding(name, value, text, "answers")
    names = homework.step_names(ev)
    output = ev.output_name if ev.output_name in ev.graph.names and ev.output_name in names else None
    student = prepare(ev.source, bindings, output, list(ev.wrt))
    return run(student)


def _shape_text(shape: tuple) -> str:
    return "() (a scalar)" if not shape else "×".join(map(str, shape))


def _judge_cell(truths: _Truths, c: Column, raw: str, rules: homework.Rules,
                cache: dict, where: str) -> homework.Verdict:
    from ..run.bindings import constant_value

    truth = truths.truth[c.index]
    if not raw:
        return homework.Verdict(c.title, "", truth, False, "missing", "missing")
    if c.kind == "formula":
        key = (c.index, raw)
        if key not in cache:
            v, _ = homework.judge_formula(truths.context, str(c.name), truths.node[c.index], raw, rules,
                                          truths.candidates[c.index])
            v.question = c.title
            cache[key] = v
        found = cache[key]
        copy = homework.Verdict(found.question, raw, found.truth, found.ok, found.how, found.status)
        copy.elements, copy.diagnosis, copy.rule, copy.note = found.elements, found.diagnosis, found.rule, found.note
        return copy
    try:
        answer = constant_value(raw, where)
    except GradcliError as exc:  # an unreadable answer is invalid, not a crash
        return homework.Verdict(c.title, raw, truth, False, f"invalid: {exc.message}", "invalid")
    candidates = truths.candidates.get(c.index) if c.kind == "gradient" else None
    v = homework.judge_number(c.title, homework.Answer(answer, raw), truth, rules, candidates)
    v.answer = raw
    return v
