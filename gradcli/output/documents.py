"""Machine-readable results: the JSON document and CSV/TSV rows.

The JSON schema (README, "JSON output") is a contract: ``value`` and ``gradient``
stay as they are.  JSON is strict -- non-finite numbers are the strings ``"nan"``,
``"inf"``, ``"-inf"``, never the NaN/Infinity literals Python would write.
"""

from __future__ import annotations

import math
import re
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional

from ..run.evaluate import Evaluation

if TYPE_CHECKING:  # pragma: no cover - names for annotations: the fast path never imports the oracles
    from ..oracles.checks import Check
    from ..run.reports import EvalReport
from ..core.fmt import json_number, json_value
from ..core.graph import CONST
from .json_text import ROW_SEPARATOR, dict_rows, encode, node_entries, string_inside

SCHEMA_VERSION = 1


def overall_ok(checks: list[Check]) -> bool:
    return not any(check.failed for check in checks)


def to_json(report: EvalReport, with_nodes: bool = True) -> dict:
    """The eval document; `with_nodes` False (``--no-nodes``) leaves ``nodes`` empty,
    which skips the per-node work, most of the document's cost on a large graph."""
    doc = _document(report)
    if with_nodes:
        doc["nodes"] = list(node_entries(report.evaluation))
    return doc


def _document(report: EvalReport) -> dict:
    """The eval document with ``nodes`` empty."""
    ev, checks, explained = report.evaluation, report.checks, report.explained
    doc: dict = {
        **_head(ev),
        "gradient": ({**{name: json_value(g) for name, g in ev.gradient.items()}, **dict.fromkeys(ev.data)}
                     if ev.has_gradient else None),
        **({"data": dict(ev.data)} if ev.data else {}),
        "nodes": [],
        "checks": {},
        "tolerances": {},
        "warnings": list(ev.warnings),
        "ok": overall_ok(checks),
        "mode": ev.mode,
        "passes": {"forward": ev.passes, "reverse": 0 if ev.mode == "forward" else 1,
                   "operations_per_pass": ev.operations},
    }
    exact: Any = explained.exact
    if exact is not None:
        doc["exact"] = {
            "nodes": {ev.graph.label(i): {"exact": t, "decimal": d} for i, (t, d) in exact.values.items()},
            "gradient": {name: {"exact": t, "decimal": d} for name, (t, d) in exact.gradient.items()},
        }
        if exact.note:
            doc["exact"]["note"] = exact.note
    if explained.latex is not None:
        doc["latex"] = explained.latex
    if explained.latex_steps is not None:
        doc["latex_steps"] = explained.latex_steps
    if explained.edges:
        doc["edges"] = edges_json(ev, explained.jacobians)
    for key in ("steps", "paths"):
        if getattr(explained, key):
            from ..teach import explain

            doc[key] = getattr(explain, f"{key}_json")(ev)
    if explained.forward_steps and _has_arrays(ev):
        from ..teach.forward_arrays import array_steps_json

        doc["forward_steps"] = array_steps_json(ev)
    elif explained.forward_steps:
        from ..teach.forward import forward_steps

        steps = forward_steps(ev)
        for p in steps:  # strict JSON: non-finite numbers as strings, as everywhere
            p["derivative"] = json_value(p["derivative"])
            for n in p["nodes"]:
                n["tangent"] = json_value(n["tangent"])
                for term in n["terms"]:
                    for key in ("partial_value", "tangent"):
                        term[key] = None if term[key] is None else json_value(term[key])
        doc["forward_steps"] = steps
    for check in checks:
        doc["tolerances"][check.name] = {"rtol": check.rtol, "atol": check.atol}
        entries = {}
        for name, r in check.results.items():
            entry = {
                "estimate": None if r.estimate is None else json_value(r.estimate),
                "error": _num(r.error),
                "ok": r.ok,
                "status": r.status,
            }
            if r.note:
                entry["note"] = r.note
            for key, val in r.detail.items():
                entry[key] = _num(val) if isinstance(val, float) else val
            entries[name] = entry
        doc["checks"][check.name] = entries
        if check.note:
            doc.setdefault("check_notes", {})[check.name] = check.note
    return doc


def _has_arrays(ev: Evaluation) -> bool:
    from ..teach.forward import has_arrays

    return has_arrays(ev)


#: with --jacobians, JSON carries a local Jacobian matrix with at most this many entries
JSON_JACOBIAN_LIMIT = 10_000


def edges_json(ev: Evaluation, jacobians: bool = False) -> list[dict]:
    """Every edge: its local derivative (scalars) or its local Jacobian's formula, shape,
    structure and adjoint rule (arrays); with --jacobians, the matrix itself when small."""
    from ..teach.edges import edge_partials, local_jacobian

    out = []
    for e in edge_partials(ev):
        entry: dict = {"source": e.source_label, "target": e.target_label, "name": e.name, "kind": e.kind}
        if e.tensor is None:
            entry["partial"] = e.symbolic
            entry["value"] = None if e.value is None else json_number(e.value)
        else:
            t = e.tensor
            rows, cols = t.jacobian_shape
            entry.update({"jacobian": t.jacobian or None, "jacobian_latex": t.latex_jacobian or None,
                          "jacobian_shape": [rows, cols], "structure": t.structure,
                          "rule": f"{t.lhs} += {t.text}", "rule_latex": f"{t.latex_lhs} \\mathrel{{+}}= {t.latex}",
                          "shapes": t.shapes})
            if t.note:
                entry["note"] = t.note
            if jacobians and rows * cols <= JSON_JACOBIAN_LIMIT:
                entry["matrix"] = json_value(local_jacobian(ev, e))
        out.append(entry)
    return out


def _head(ev: Evaluation) -> dict:
    """The keys every document starts with: the program, its output and inputs."""
    return {
        "schema": SCHEMA_VERSION,
        "program": ev.source,
        "output": ev.output_name,
        "value": json_value(ev.value),
        "shape": list(ev.graph.nodes[ev.graph.output].shape),
        "inputs": {name: json_value(ev.env[name]) for name in ev.inputs},
    }


def _num(x: Optional[float]) -> object:
    return None if x is None else json_number(x)


def csv_rows(report: EvalReport) -> list[list[str]]:
    """Header, then one row per input (per element for arrays, ``W[0,1]``)."""
    ev, checks = report.evaluation, report.checks
    from ..core.elements import elements

    header = ["input", "value", "gradient"]
    for check in checks:
        header += [check.name, f"{check.name}_error", f"{check.name}_status"]
    rows = [header]
    for name, g in ev.gradient.items():
        for label, index in elements(name, ev.env[name]):
            row = [label, _cell(_at(ev.env[name], index)), _cell(_at(g, index))]
            for check in checks:
                r = check.results.get(name)
                if r is None or r.estimate is None:
                    row += ["", "", "skipped"]
                else:
                    err = r.errors[index] if index is not None and r.errors is not None else r.error
                    row += [_cell(_at(r.estimate, index)), _cell(err), r.status]
            rows.append(row)
    for name in ev.data:  # integer data (indices, labels): its values, and "data" for the gradient
        for label, index in elements(name, ev.env[name]):
            rows.append([label, _cell(_at(ev.env[name], index)), "data", *(["", "", "data"] * len(checks))])
    return rows


def _at(x, index):
    return float(x if index is None else x[index])


def _cell(x: Optional[float]) -> str:
    if x is None:
        return ""
    if math.isfinite(x):
        return repr(float(x))
    return str(json_number(x))


__all__ = ["to_json", "csv_rows", "overall_ok", "CONST"]


def dumps(doc: dict) -> str:
    """The JSON document, indented, with each node on one line (easy to read and grep).

    Strict JSON: a non-finite float that reached the document unencoded (a tolerance
    of inf, a NaN asymmetry) is written as its string, like every other one.  DEL, C1 and
    bidi characters from user text are ``\\u`` escapes (`json_visible`).
    """
    return "".join(_chunks(doc, _entry_rows(doc.get("nodes") or ())))


def write_json(report: EvalReport, write: Callable[[str], object], with_nodes: bool = True) -> None:
    """`dumps(to_json(report, with_nodes))` and a newline, passed to `write` a piece at a
    time: the node table is written from the graph's columns a batch at a time
    (`node_rows`), with no dict per node, and never held whole."""
    from .json_text import node_rows

    for chunk in _chunks(_document(report), node_rows(report.evaluation) if with_nodes else iter(())):
        write(chunk)
    write("\n")


#: nodes encoded by one json.dumps call in `dumps`
_BATCH = 2000


def _entry_rows(nodes: Iterable[dict]) -> Iterator[str]:
    """Node entries as the node table's text, `_BATCH` to an item (`node_rows`'s form)."""
    it = iter(nodes)
    batch = list(islice(it, _BATCH))
    while batch:
        yield dict_rows(batch)
        batch = list(islice(it, _BATCH))


def _chunks(doc: dict, rows: Iterator[str]) -> Iterator[str]:
    """The pieces of `dumps`'s text; `rows` (the node table's text, a batch of rows to an
    item, `node_rows`) is written in the place of ``doc["nodes"]``."""
    from .terminal import json_visible

    yield "{"
    keys = list(doc)
    for k, key in enumerate(keys):
        comma = "," if k < len(keys) - 1 else ""
        value = doc[key]
        if key == "nodes":
            first = next(rows, None)
            if first is None:
                yield f"\n  {encode(key)}: []{comma}"
                continue
            yield f"\n  {encode(key)}: [\n    "
            yield first
            for more in rows:
                yield ROW_SEPARATOR
                yield more
            yield f"\n  ]{comma}"
        elif key == "checks" and value:
            blocks = []
            for check, entries in value.items():
                lines = ",\n".join(f"      {encode(name)}: {encode(e)}" for name, e in entries.items())
                blocks.append(f"    {encode(check)}: {{\n{lines}\n    }}")
            yield json_visible(f"\n  {encode(key)}: {{\n" + ",\n".join(blocks) + f"\n  }}{comma}")
        elif isinstance(value, str):
            # a program's text, encoded a piece at a time: never two whole copies of a long one at once
            yield f"\n  {encode(key)}: \""
            for start in range(0, len(value), _PIECE):
                yield string_inside(value[start:start + _PIECE])
            yield f"\"{comma}"
        else:
            yield json_visible(f"\n  {encode(key)}: {encode(value)}{comma}")
    yield "\n}"


#: characters of a long string value encoded at a time by `_chunks`
_PIECE = 1 << 18


def matrix_json(ev: Evaluation, matrix) -> dict:
    """``gradcli jacobian`` / ``gradcli hessian`` as a JSON document."""
    from ..core.fmt import json_value

    doc: dict = {
        **_head(ev),
        matrix.kind: json_value(matrix.data) if matrix.data.size else [[] for _ in matrix.rows],
        "rows": matrix.rows,
        "columns": matrix.columns,
        "mode": matrix.mode,
        "passes": matrix.passes,
        "checks": {},
        "warnings": list(ev.warnings),
        "ok": not any(c.status == "fail" for c in matrix.checks),
    }
    if matrix.kind == "hessian" and matrix.data.size:
        from ..run.derivatives import largest_difference

        doc["asymmetry"] = largest_difference(matrix.data, matrix.data.T)
    if hasattr(matrix, "agreement"):
        doc["forward_reverse_difference"] = matrix.agreement
    for c in matrix.checks:
        doc["checks"][c.name] = {
            "estimate": None if c.estimate is None else json_value(c.estimate),
            "error": c.max_error,
            "ok": None if c.status == "skipped" else c.status != "fail",
            "status": c.status,
            "note": c.note,
            "rtol": c.rtol,
            "atol": c.atol,
        }
    return doc


def verdict_entry(v, reveal: bool) -> dict:
    """One judged answer for JSON: the truth, and what a diagnosis would reveal, only with --reveal."""
    entry: dict = {"question": v.question, "ok": v.ok, "status": v.status, "how": v.how}
    if getattr(v, "rule", ""):
        entry["rule"] = v.rule
    if getattr(v, "note", ""):
        entry["note"] = v.note
    entry["answer"] = v.answer if isinstance(v.answer, str) else json_value(v.answer)
    if v.elements:
        entry["elements"] = [
            {"index": list(index), "answer": json_number(a), **({"truth": json_number(t)} if reveal else {})}
            for index, a, t in v.elements
        ]
    if v.diagnosis is not None:
        entry["diagnosis"] = {"kind": v.diagnosis.kind, "message": v.diagnosis.message}
        if reveal and v.diagnosis.reveal:
            entry["diagnosis"]["reveal"] = v.diagnosis.reveal
    if reveal and v.truth is not None:
        entry["truth"] = v.truth if isinstance(v.truth, str) else json_value(v.truth)
    return entry


def tolerance_json(rules) -> dict:
    """The rules numbers were judged by."""
    return {"rtol": rules.rtol, "atol": rules.atol, "min_digits": rules.min_digits, "explicit": rules.explicit}


def verdicts_json(ev: Evaluation, verdicts: list, reveal: bool, rules) -> dict:
    """``gradcli check --json``: one entry per answer; the truth only with --reveal."""
    return {
        "schema": SCHEMA_VERSION,
        "program": ev.source,
        "output": ev.output_name,
        "verdicts": [verdict_entry(v, reveal) for v in verdicts],
        "tolerance": tolerance_json(rules),
        "ok": all(v.ok for v in verdicts),
    }


# ---- a class's gradebook ------------------------------------------------------------------
#: what a spreadsheet may run as a formula when a cell starts with it (OWASP, CSV injection),
#: with the full-width forms some spreadsheets read as the same characters
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: a plain number, which stays as it is (``-3``, ``+1e-5``, ``-inf``); no spaces around it
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|nan)", re.ASCII)


def safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ tab or CR (or a
    full-width ＝ ＋ － ＠) gets a leading apostrophe (OWASP); a plain number such as -3 or
    +1e-5 is left as it is."""
    if not text.startswith(_FORMULA_STARTS) or _PLAIN_NUMBER.fullmatch(text):
        return text
    return "'" + text


def _cell_number(x: object) -> str:
    """A right answer for the key row: full precision, arrays as nested lists."""
    if isinstance(x, str):
        return x
    if getattr(x, "shape", ()):
        import json

        return json.dumps(json_value(x))
    return repr(float(x)) if math.isfinite(float(x)) else json_number(float(x))  # type: ignore[return-value, arg-type]


def verdict_cell(v) -> str:
    """``right``, ``wrong``, ``wrong: <diagnosis>``, ``missing`` or ``invalid: …``."""
    if v.ok:
        return "right"
    if v.status in ("missing", "invalid"):
        return v.how if v.how.startswith(v.status) else f"{v.status}: {v.how}" if v.how else v.status
    text = "wrong" if v.ok is False else "not judged"
    if v.diagnosis is not None:
        return f"{text}: {v.diagnosis.message}"
    return f"{text}: {v.how}" if v.how else text


#: the id cell of the answer key row (--reveal)
KEY_ID = "(answer key)"


def gradebook_csv(book, reveal: bool) -> str:
    """The gradebook: every column of the sheet as it was (LMS columns unchanged), a
    verdict column after each question, then ``score`` (points) and ``out_of``; cells
    neutralised against CSV injection; the sheet's delimiter."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=book.sheet.delimiter, lineterminator="\n")
    header = []
    for c in book.columns:
        header.append(c.title)
        if c.question:
            header.append(f"{c.title} verdict")
    writer.writerow([safe_cell(h) for h in header + ["score", "out_of"]])
    if reveal:
        row = []
        for c in book.columns:
            row.append(KEY_ID if c.kind == "id" else _cell_number(c.truth) if c.question else "")
            if c.question:
                row.append("")
        writer.writerow([safe_cell(x) for x in row + [str(book.out_of), str(book.out_of)]])
    for s in book.students:
        row = []
        for c in book.columns:
            row.append(s.cells[c.index])
            if c.question:
                row.append(verdict_cell(s.verdicts[c.index]))
        writer.writerow([safe_cell(x) for x in row + [str(s.score), str(book.out_of)]])
    return buf.getvalue()


def gradebook_json(ev: Evaluation, book, reveal: bool, rules) -> dict:
    """``gradcli check --answers --json`` (gradcli/schemas/gradebook.schema.json)."""
    questions = []
    for c in book.questions:
        q: dict = {"column": c.title, "kind": c.kind, "name": c.name if c.name is not None else ev.output_name,
                   **book.counts(c)}
        if reveal:
            q["truth"] = json_value(c.truth)
        questions.append(q)
    average = book.average
    return {
        "schema": SCHEMA_VERSION,
        "program": ev.source,
        "output": ev.output_name,
        "tolerance": tolerance_json(rules),
        "questions": questions,
        "students": [
            {
                "id": s.id,
                "line": s.line,
                "score": s.score,
                "out_of": book.out_of,
                "fields": {c.title: s.cells[c.index] for c in book.columns if c.kind in ("keep", "input")},
                "answers": {c.title: verdict_entry(s.verdicts[c.index], reveal) for c in book.questions},
            }
            for s in book.students
        ],
        "problems": list(book.problems),
        "average": average,
        "ok": book.all_right,
    }


def gradescope_json(book) -> dict:
    """Gradescope's results.json for one submission (the autograder runs once per
    student): total ``score``, and one test per question with ``name``, ``score``,
    ``max_score``, ``status`` and ``output`` (the verdict, without the right answer)."""
    (s,) = book.students
    tests = []
    for c in book.questions:
        v = s.verdicts[c.index]
        tests.append({"name": c.title, "score": 1.0 if v.ok else 0.0, "max_score": 1.0,
                      "status": "passed" if v.ok else "failed", "output": verdict_cell(v)})
    return {"score": float(s.score), "tests": tests}


def functions_markdown(rows: list[dict]) -> str:
    """The language's operations as a Markdown table (README's reference is this text)."""

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|")

    lines = ["| operation | meaning | where not differentiable |", "|---|---|---|"]
    for row in rows:
        lines.append(f"| `{cell(row['usage'])}` | {cell(row['meaning'])} | {cell(row['kink'])} |")
    return "\n".join(lines)


def descent_json(run: Any) -> dict:
    """``gradcli descend --json``: the shown steps and the final parameters (`gradcli.run.descend.Descent`)."""
    return {"schema": 1, "output": run.output, "wrt": run.wrt, "stopped": run.stopped, "steps": run.steps_taken,
            "records": [{"step": r.step, "loss": json_value(r.loss), "grad_norm": json_value(r.grad_norm),
                         "params": {n: json_value(v) for n, v in r.params.items()}} for r in run.records],
            "final": {n: json_value(v) for n, v in run.final.items()}}


def dumps_indented(doc: dict) -> str:
    """A document as ``descend`` and ``diff`` print it: indented two spaces, one key a line."""
    import json

    return json.dumps(doc, indent=2, ensure_ascii=False)


def diff_json(report: Any) -> dict:
    """``gradcli diff --json`` (`gradcli.run.reports.DiffReport`): scalar or matrix formulas."""
    doc: dict[str, Any] = {"schema": 1, "program": report.source, "output": report.output}
    if report.arrays is not None:
        from ..teach import derive_arrays as da

        d = report.arrays
        doc.update({"output": d.output, "gradient": {n: f.text() for n, f in d.gradient.items()},
                    "shapes": {n: list(s) for n, s in d.shapes.items()}, "shapes_from": report.shapes_from,
                    "where": da.where_lines(d), "adjoints": da.adjoint_lines(d),
                    "adjoint_names": {d.names[label]: adj for label, adj in d.adjoint_names.items()},
                    "notes": d.notes})
        if report.steps:
            doc["steps"] = da.steps_text(d)
        if report.latex:
            doc["latex"] = da.latex(d)
        return doc
    written = report.formulas
    doc["gradient"] = written.formulas
    if written.where:
        doc["where"] = written.where
    if written.steps is not None:
        doc["steps"] = written.steps.splitlines()
    if written.latex is not None:
        doc["latex"] = written.latex
    return doc
