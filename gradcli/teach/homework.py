"""Judging a student's answers: numbers, formulas, and whole classes from a CSV.

* A number (``--expect b=8``, ``--expect-value 15``) is right when it is within the
  tolerance of the true value: ``|answer - truth| <= atol + rtol·|truth|``, by
  default rtol 1e-4 and atol 1e-8 (five significant digits, or an exact fraction).
* A formula (``--expect-formula "x=exp(x^2)*(1+2*x^2)"``) is parsed by gradcli's own
  parser, never by SymPy's, then compared with SymPy's derivative: first by
  simplifying the difference to 0 (under the time budget), else by agreeing at
  several random points near the given one.  The verdict says which.
* A CSV of answers (``--answers``) has an id column, then a column per question:
  ``NAME`` or ``d/dNAME`` for ∂out/∂NAME, ``value`` for the output; it gives a
  gradebook with one verdict per answer and a score per student.
"""

from __future__ import annotations

import math
import random
from typing import Optional

from ..core.errors import UsageError
from ..run.evaluate import Evaluation

#: default tolerance for a student's number
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-8
#: random points tried when a formula cannot be shown equal symbolically
FORMULA_POINTS = 6


class Verdict:
    """One answer, judged."""

    __slots__ = ("question", "answer", "truth", "ok", "how")

    def __init__(self, question: str, answer: object, truth: object, ok: Optional[bool], how: str = "") -> None:
        #: "value", an input name (its gradient), or "formula NAME"
        self.question = question
        self.answer = answer
        self.truth = truth
        #: True right, False wrong, None could not be judged
        self.ok = ok
        #: how it was judged, or why not
        self.how = how


def close(answer: object, truth: object, rtol: float, atol: float) -> bool:
    """Numbers (or arrays of the same shape) within tolerance of the truth."""
    if getattr(answer, "shape", ()) != getattr(truth, "shape", ()):
        return False
    if getattr(truth, "shape", ()):
        import numpy as np

        return bool(np.all(np.abs(np.asarray(answer) - truth) <= atol + rtol * np.abs(truth)))
    a, t = float(answer), float(truth)  # type: ignore[arg-type]
    if math.isinf(t) or math.isnan(t):
        return a == t or (math.isnan(a) and math.isnan(t))
    return abs(a - t) <= atol + rtol * abs(t)


def _gradient_of(ev: Evaluation, name: str, what: str) -> object:
    """The true ∂out/∂name, or a UsageError that says why there is none."""
    if not ev.has_gradient:
        raise UsageError(f"{what}: the output {ev.output_name} is not a scalar, so it has no gradient "
                         "(check its Jacobian with 'gradcli jacobian')")
    if name not in ev.inputs:
        raise UsageError(f"{what}: {name!r} is not an input of the program (inputs: {', '.join(ev.inputs)})")
    if name not in ev.gradient:
        raise UsageError(f"{what}: {name} is left out by --wrt")
    return ev.gradient[name]


def judge_numbers(ev: Evaluation, expected: dict[str, object], expected_value: Optional[object],
                  rtol: float, atol: float) -> list[Verdict]:
    verdicts = []
    if expected_value is not None:
        verdicts.append(Verdict("value", expected_value, ev.value, close(expected_value, ev.value, rtol, atol)))
    for name, answer in expected.items():
        truth = _gradient_of(ev, name, f"--expect {name}")
        shape = getattr(truth, "shape", ())
        if getattr(answer, "shape", ()) != shape:
            verdicts.append(Verdict(name, answer, truth, False, f"expected shape {shape}"))
            continue
        verdicts.append(Verdict(name, answer, truth, close(answer, truth, rtol, atol)))
    return verdicts


def judge_formulas(ev: Evaluation, formulas: dict[str, str], seconds: float) -> list[Verdict]:
    """Each ``NAME -> formula text`` against SymPy's ∂out/∂NAME."""
    if not formulas:
        return []
    from ..language.lower import lower
    from ..language.parser import parse

    graphs = {}
    verdicts: dict[str, Verdict] = {}
    for name, text in formulas.items():
        _gradient_of(ev, name, f"--expect-formula {name}")
        if getattr(ev.env[name], "shape", ()):
            raise UsageError(f"--expect-formula {name}: formulas are checked for scalar inputs only")
        try:
            graph = lower(parse(text))
        except Exception as exc:  # a student's formula that does not parse is a wrong answer, not a crash
            message = getattr(exc, "message", str(exc))
            verdicts[name] = Verdict(f"formula {name}", text, None, False, f"does not parse: {message}")
            continue
        unknown = [graph.nodes[i].name for i in graph.inputs if graph.nodes[i].name not in ev.inputs]
        if unknown:
            verdicts[name] = Verdict(f"formula {name}", text, None, False,
                                     f"uses names the program does not have: {', '.join(map(str, unknown))}")
            continue
        graphs[name] = graph
    judged = _formula_verdicts(ev, graphs, formulas, seconds)
    for name, v in verdicts.items():  # unreadable answers still get the right answer (--reveal)
        v.truth = judged.get(name, v).truth
    verdicts.update({name: v for name, v in judged.items() if name in graphs})
    return [verdicts[name] for name in formulas]


def _formula_verdicts(ev: Evaluation, graphs: dict, formulas: dict[str, str], seconds: float) -> dict:
    import sympy  # noqa: F401  (imported before the budget's fork)

    from ..oracles import budget
    from ..backends.sympy import input_symbols, to_sympy

    program = ev.graph
    scalar_names = [n for n in ev.inputs if not getattr(ev.env[n], "shape", ())]
    rng = random.Random(0)
    points = [
        {n: ev.env[n] * (1 + 0.2 * (rng.random() - 0.5)) + 0.1 * (rng.random() - 0.5) for n in scalar_names}
        for _ in range(FORMULA_POINTS)
    ]

    def job(send: budget.Send) -> None:
        import sympy as sp

        symbols = input_symbols(program, ev.env)
        truth_f = to_sympy(program, symbols)[program.output]
        for name in formulas:
            if name not in graphs:  # unreadable: only the right answer
                send(("truth", name, str(sp.diff(truth_f, symbols[name]))))
        for name, graph in graphs.items():
            truth = sp.diff(truth_f, symbols[name])
            student = to_sympy(graph, {graph.nodes[i].name: symbols[graph.nodes[i].name] for i in graph.inputs})[
                graph.output
            ]
            send(("truth", name, str(truth)))
            # numeric agreement first (fast, robust), then the symbolic proof
            agree, tried = 0, 0
            for point in points:
                subs = {symbols[n]: sp.Float(v, 30) for n, v in point.items() if n in symbols}
                try:
                    t = complex(truth.evalf(30, subs=subs))
                    s = complex(student.evalf(30, subs=subs))
                except (TypeError, ValueError):
                    continue
                if not (math.isfinite(t.real) and math.isfinite(s.real)):
                    continue
                tried += 1
                if abs(t - s) <= 1e-9 * max(1.0, abs(t)):
                    agree += 1
            send(("numeric", name, agree, tried))
            if sp.simplify(truth - student) == 0:
                send(("symbolic", name, True))

    outcome = budget.run(job, seconds)
    out = {}
    found: dict[str, dict] = {name: {} for name in formulas}
    for kind, name, *rest in outcome.messages:
        found[name][kind] = rest
    for name in formulas:
        if name not in graphs:
            out[name] = Verdict(f"formula {name}", formulas[name], found[name].get("truth", [None])[0], False)
            continue
        got = found[name]
        truth = got.get("truth", [None])[0]
        question = f"formula {name}"
        if "symbolic" in got:
            out[name] = Verdict(question, formulas[name], truth, True, "equivalent: SymPy simplifies the difference to 0")
        elif "numeric" in got:
            agree, tried = got["numeric"]
            if tried and agree == tried:
                why = "could not simplify the difference to 0 in time" if outcome.timed_out else \
                    "did not simplify the difference to 0"
                how = f"equal at {tried} random points (SymPy {why})"
                out[name] = Verdict(question, formulas[name], truth, True, how)
            elif tried:
                out[name] = Verdict(question, formulas[name], truth, False,
                                    f"differs from the derivative at {tried - agree} of {tried} random points")
            else:
                out[name] = Verdict(question, formulas[name], truth, None, "could not be evaluated near the point")
        else:
            why = "time budget ran out" if outcome.timed_out else (outcome.error or "SymPy failed")
            out[name] = Verdict(question, formulas[name], truth, None, f"not judged: {why} (--sympy-timeout)")
    return out


# ---- a class's answers ------------------------------------------------------------
def read_answers(path: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of an answers CSV (first column: the student's id)."""
    import csv

    import io

    from ..run.files import read_text

    try:
        # bounded, and '-' reads stdin (README, "Files and limits")
        text = read_text(path, f"--answers {path}")
    except UsageError as exc:
        if "not UTF-8" in exc.message:
            raise UsageError(f"--answers {path}: not a UTF-8 CSV file ({exc.message})") from None
        raise
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        header = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise UsageError(f"--answers {path}: not a UTF-8 CSV file ({exc})") from None
    if len(header) < 2:
        raise UsageError(f"--answers {path}: expected an id column and at least one answer column")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise UsageError(f"--answers {path}: the column {duplicates[0]!r} appears twice")
    return header, rows


def question_of(column: str, ev: Evaluation) -> str:
    """'d/dx' or 'x' -> 'x'; 'value' -> 'value'; anything else is an error."""
    name = column.strip()
    if name.lower() == "value":
        return "value"
    for prefix in ("d/d", "∂/∂"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name not in ev.inputs:
        raise UsageError(
            f"answers column {column!r} is not 'value', an input or d/dINPUT (inputs: {', '.join(ev.inputs)})"
        )
    return name


def grade(ev: Evaluation, header: list[str], rows: list[dict[str, str]], rtol: float, atol: float):
    """Per student: verdicts for every answer column, and a score."""
    from ..run.bindings import constant_value

    id_column, columns = header[0], header[1:]
    questions = {c: question_of(c, ev) for c in columns}
    seen: dict[str, str] = {}
    for column, q in questions.items():
        if q in seen:
            raise UsageError(f"answers columns {seen[q]!r} and {column!r} ask the same question")
        seen[q] = column
        if q != "value":
            _gradient_of(ev, q, f"answers column {column!r}")
    book = []
    for row in rows:
        verdicts = []
        for column in columns:
            q = questions[column]
            raw = (row.get(column) or "").strip()
            truth = ev.value if q == "value" else ev.gradient[q]
            if not raw:
                verdicts.append(Verdict(column, "", truth, False, "missing"))
                continue
            try:
                answer = constant_value(raw, f"{row.get(id_column)}: {column}")
            except Exception as exc:  # an unreadable answer is wrong, not a crash
                verdicts.append(Verdict(column, raw, truth, False, f"invalid: {getattr(exc, 'message', exc)}"))
                continue
            verdicts.append(Verdict(column, raw, truth, close(answer, truth, rtol, atol)))
        book.append((row.get(id_column, ""), verdicts))
    return id_column, columns, book
