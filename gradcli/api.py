"""gradcli as a library: a small, typed face for autograders, notebooks and scripts.

Every function here builds the very request the command line builds
(`gradcli.run.requests`) and runs it through the one pipeline (`gradcli.run.pipeline`),
so the two can never disagree: `Result.to_json()` is, byte for byte, what
``gradcli eval … --json`` prints (tests/test_api_parity.py runs every command-line
example of the README and the docs both ways).

>>> import gradcli
>>> r = gradcli.evaluate("(a+b)*(b+1)", a=3, b=2)
>>> r.value, r.gradient
(15.0, {'a': 3.0, 'b': 8.0})
>>> r.adjoint("c"), r.value_of("d")
(3.0, 3.0)

Values may be numbers, constant expressions in gradcli's language (``"1/3"``,
``"pi/4"``), nested lists, or NumPy arrays.  Errors are the typed exceptions the
command line maps to exit codes (`ParseError`, `UsageError`, `ShapeError`,
`MathError`, all `GradcliError`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence, Union

from .core.errors import UsageError
from .run.requests import seconds as _timeout
from .run.requests import tolerance as _tolerance

if TYPE_CHECKING:  # pragma: no cover - names for the type checker only
    import numpy as np

    from .oracles.checks import Check
    from .run.bindings import Binding
    from .run.descend import Descent as _Descent
    from .run.reports import EvalReport, JudgeReport, MatrixReport
    from .run.requests import Point

#: what a value may be given as
BindingValue = Union[int, float, str, Sequence[Any], "np.ndarray"]
#: what a value comes back as: a float for a scalar, a float64 array otherwise
Value = Union[float, "np.ndarray"]

__all__ = [
    "evaluate", "jacobian", "hessian", "judge", "export", "descend", "diff", "plot",
    "Result", "NodeInfo", "CheckEntry", "DerivativeMatrix", "Verdict", "Judgement", "Descent", "Derivation",
    "Sampled",
]


# ---- bindings ----------------------------------------------------------------------------
def _binding(name: str, raw: object) -> "Binding":
    """One Python value as a `Binding`, validated as the command line validates it."""
    from .run.bindings import Binding, _check_name, _finite, constant_value, json_array

    where = f"binding {name}"
    _check_name(name, "binding")
    if isinstance(raw, bool):
        raise UsageError(f"{where}: True/False is not a number")
    if isinstance(raw, str):
        return Binding(name, constant_value(raw, where), raw.strip(), "python")
    if isinstance(raw, (int, float)):
        value = _finite(raw, where)
        return Binding(name, value, repr(raw) if isinstance(raw, float) else str(raw), "python")
    if hasattr(raw, "tolist") and not isinstance(raw, (list, tuple)):  # NumPy arrays and scalars
        raw = raw.tolist()
        if isinstance(raw, (int, float)):
            return _binding(name, raw)
    if isinstance(raw, (list, tuple)):
        nested = json.loads(json.dumps(raw, default=_no_json(where)))  # tuples -> lists, checked
        return Binding(name, json_array(nested, where), json.dumps(nested), "python")
    raise UsageError(f"{where}: expected a number, a list of numbers, an array or an expression string, "
                     f"got {type(raw).__name__}")


def _no_json(where: str):  # type: ignore[no-untyped-def]
    def fail(obj: object) -> object:
        raise UsageError(f"{where}: {type(obj).__name__} is not a number")

    return fail


def _mapping(x: object, where: str) -> dict[str, Any]:
    """A mapping from names (strings) to values, or a `UsageError` saying what was given."""
    if x is None:
        return {}
    if not isinstance(x, Mapping):
        raise UsageError(f"{where} must be a mapping from names to values (a dict), got {type(x).__name__}")
    for key in x:
        if not isinstance(key, str):
            raise UsageError(f"{where}: names must be strings, got {type(key).__name__} {key!r}")
    return dict(x)


def _text(x: object, where: str) -> str:
    if not isinstance(x, str):
        raise UsageError(f"{where} must be a string, got {type(x).__name__}")
    return x


def _count(x: object, where: str, low: int, high: int) -> int:
    """A whole number in [low, high] (digits, heights)."""
    if isinstance(x, bool) or not isinstance(x, int) or not low <= x <= high:
        raise UsageError(f"{where} must be a whole number from {low} to {high}, got {x!r}")
    return x


def _real(x: object, where: str) -> float:
    """A real number as a float (lr, momentum, a training example): not a string, None or a list."""
    import numbers

    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise UsageError(f"{where} must be a number, got {x!r}")
    return float(x)


def _column(x: object, name: str) -> Iterable[object]:
    """A column of training data: a sequence or a 1-D array of numbers."""
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise UsageError(f"examples[{name!r}] must be a sequence of numbers, got {type(x).__name__}")
    return x


def _bindings(bindings: Optional[Mapping[str, object]], values: Mapping[str, object]) -> dict[str, "Binding"]:
    both: dict[str, object] = _mapping(bindings, "bindings")
    for name, raw in values.items():
        if name in both:
            raise UsageError(f"{name} is bound twice (in bindings and as a keyword)")
        both[name] = raw
    return {name: _binding(name, raw) for name, raw in both.items()}


def _wrt(wrt: Union[None, str, Iterable[str]]) -> Optional[list[str]]:
    if wrt is None:
        return None
    if isinstance(wrt, str):
        names = wrt.split(",")
    elif isinstance(wrt, Iterable):
        names = [_text(n, "each name in wrt") for n in wrt]
    else:
        raise UsageError(f"wrt must be a name, 'a,b' or a list of names, got {type(wrt).__name__}")
    return [n.strip() for n in names if n.strip()] or None


def _plain(x: object) -> Value:
    """Engine values as the API hands them out: floats and float64 arrays."""
    if getattr(x, "shape", ()):
        import numpy as np

        return np.array(x, dtype=float)
    return float(x)  # type: ignore[arg-type]


# ---- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeInfo:
    """One node of the computational graph, in evaluation order."""

    id: int
    #: the name shown in tables (a user's name, or an automatic letter; "" for a constant)
    name: str
    op: str
    #: the nodes it reads, by id
    inputs: tuple[int, ...]
    #: its definition in terms of other labels (``a + b``)
    expr: str
    value: Value
    #: ∂output/∂node; None where no input reaches the node, or when nothing was differentiated
    adjoint: Optional[Value]
    shape: tuple[int, ...]


@dataclass(frozen=True)
class CheckEntry:
    """One input's gradient, checked by one oracle."""

    estimate: Optional[Value]
    error: Optional[float]
    #: True agreed, False disagreed, None not judged (skipped, or a kink)
    ok: Optional[bool]
    #: "ok", "fail", "kink" or "skipped"
    status: str
    note: str = ""
    #: extra facts from the oracle (SymPy's formula and exact value, ...)
    detail: Mapping[str, Any] = field(default_factory=dict)


class Result:
    """One evaluation: values, adjoints and gradient, plus any checks run on it."""

    def __init__(self, report: "EvalReport") -> None:
        self._ev = report.evaluation
        self._checks: list["Check"] = list(report.checks)

    def _report(self) -> "EvalReport":
        from .run.reports import EvalReport

        return EvalReport(evaluation=self._ev, checks=list(self._checks))

    def __repr__(self) -> str:
        return f"<gradcli.Result {self.output} = {self.value!r}, gradient {self.gradient!r}>"

    @property
    def program(self) -> str:
        return self._ev.source

    @property
    def output(self) -> str:
        """The output's name."""
        return self._ev.output_name

    @property
    def inputs(self) -> list[str]:
        """Input names, in order of first use."""
        return list(self._ev.inputs)

    @property
    def value(self) -> Value:
        """The output's value."""
        return _plain(self._ev.value)

    @property
    def gradient(self) -> dict[str, Value]:
        """∂output/∂input for each input (those named by ``wrt``); empty for a non-scalar output."""
        return {name: _plain(g) for name, g in self._ev.gradient.items()}

    @property
    def warnings(self) -> list[str]:
        """What the command line prints as ``gradcli: warning: …`` (kinks, unused values, …)."""
        return list(self._ev.warnings)

    def _node(self, name: str) -> int:
        graph = self._ev.graph
        if name in graph.names:
            return graph.names[name]
        for node in graph.nodes:  # automatic labels (c, d, …) as shown in the tables
            if graph.label(node.id) == name:
                return node.id
        known = ", ".join(graph.label(n.id) for n in graph.nodes if graph.label(n.id))
        raise UsageError(f"{name!r} is not a step of the program (steps: {known})")

    def value_of(self, name: str) -> Value:
        """The forward value of a named step or input."""
        return _plain(self._ev.values[self._node(name)])

    def adjoint(self, name: str) -> Value:
        """∂output/∂step for a named step or input (its adjoint)."""
        i = self._node(name)
        ev = self._ev
        if not ev.adjoints:
            raise UsageError("no adjoints: the output is not a scalar, or forward mode was used")
        if not ev.tape.live[i]:
            return 0.0 if not getattr(ev.values[i], "shape", ()) else _plain(ev.values[i]) * 0.0
        return _plain(ev.adjoints[i])

    @property
    def nodes(self) -> list[NodeInfo]:
        """Every node, in evaluation order."""
        ev = self._ev
        graph, live = ev.graph, ev.tape.live
        out = []
        for node in graph.nodes:
            i = node.id
            adjoint = _plain(ev.adjoints[i]) if ev.adjoints and live[i] else None
            expr = str(node.name) if node.op == "input" else graph.definition(i)
            out.append(NodeInfo(i, node.name or "", node.op, tuple(node.args), expr,
                                _plain(ev.values[i]), adjoint, tuple(node.shape)))
        return out

    def check(self, *kinds: str, rtol: Optional[float] = None, atol: Optional[float] = None,
              sympy_timeout: float = 10.0) -> dict[str, dict[str, CheckEntry]]:
        """Check the gradient against ``"fd"`` (finite differences) and/or ``"sympy"``.

        Returns ``{kind: {input: CheckEntry}}``; the checks also join `to_json`.
        """
        from .run.pipeline import gradient_checks
        from .run.requests import Checks

        asked = Checks.of(kinds or ("fd",), rtol, atol, sympy_timeout)
        report: dict[str, dict[str, CheckEntry]] = {}
        for kind, check in zip(asked.kinds, gradient_checks(self._ev, asked)):
            self._checks = [c for c in self._checks if c.name != check.name] + [check]
            report[kind] = {
                name: CheckEntry(None if r.estimate is None else _plain(r.estimate), r.error, r.ok,
                                 r.status, r.note, dict(r.detail))
                for name, r in check.results.items()
            }
        return report

    @property
    def ok(self) -> bool:
        """No check run so far has failed."""
        return not any(c.failed for c in self._checks)

    def to_dict(self) -> dict[str, Any]:
        """The command line's JSON document as a dict (schema in the README)."""
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """Exactly what ``gradcli eval … --json`` prints (without the final newline): the same
        writer (`gradcli.output.documents.write_json`), its pieces joined."""
        from .output.documents import write_json

        pieces: list[str] = []
        write_json(self._report(), pieces.append)
        return "".join(pieces)[:-1]

    # ---- display in notebooks and rich consoles ----
    def svg(self, digits: int = 6) -> Optional[str]:
        """The graph drawn by Graphviz as SVG text, or None when Graphviz is not installed."""
        from .teach.pictures import graphviz, render

        digits = _count(digits, "digits", 1, 17)
        if graphviz() is None:
            return None
        picture = render(self._ev, "svg", digits)
        return picture if isinstance(picture, str) else picture.decode("utf-8")

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the node table, the gradient table and the graph."""
        from .output.html import evaluation_html

        try:
            svg = self.svg()
        except Exception:  # noqa: BLE001 - a picture that fails must not hide the numbers
            svg = None
        return evaluation_html(self._report(), svg=svg)

    def stepper(self, digits: int = 6) -> str:
        """The interactive backprop page (``gradcli graph --format html``) as HTML text.

        In Jupyter: ``from IPython.display import HTML; HTML(r.stepper())``, or `show`.
        """
        from .output.stepper import page
        from .teach.explain import steps_text

        digits = _count(digits, "digits", 1, 17)
        return page(self._ev, digits, steps_text(self._ev, digits, array_digits=digits) if self._ev.adjoints else None)

    def show(self, height: int = 720) -> None:
        """Display the interactive page inline in a notebook (needs IPython).

        The page goes in an ``<iframe srcdoc>``, so its ids, styles and keys stay its own.
        """
        import importlib
        from html import escape

        height = _count(height, "height", 100, 100_000)
        ipython: Any = importlib.import_module("IPython.display")  # only in a notebook
        ipython.display(ipython.HTML(f'<iframe srcdoc="{escape(self.stepper(), quote=True)}" title="backprop, step by step" '
                     f'style="width:100%;height:{int(height)}px;border:0"></iframe>'))

    def __rich__(self) -> Any:
        """What ``gradcli eval`` shows, for ``rich.print(result)``."""
        from .output.tables import Style, evaluation

        return evaluation(self._report(), Style(terminal=True))


class DerivativeMatrix:
    """A Jacobian or Hessian with its row and column labels."""

    def __init__(self, report: "MatrixReport") -> None:
        self._ev = report.evaluation
        self._matrix = report.matrix

    def __repr__(self) -> str:
        return f"<gradcli.DerivativeMatrix {self.kind} {self.data.shape[0]}×{self.data.shape[1]}>"

    @property
    def kind(self) -> str:
        """"jacobian" or "hessian"."""
        return str(self._matrix.kind)

    @property
    def data(self) -> "np.ndarray":
        import numpy as np

        return np.array(self._matrix.data, dtype=float)

    @property
    def rows(self) -> list[str]:
        """Row labels: output elements (Jacobian) or input elements (Hessian)."""
        return list(self._matrix.rows)

    @property
    def columns(self) -> list[str]:
        """Column labels: input elements."""
        return list(self._matrix.columns)

    @property
    def mode(self) -> str:
        return str(self._matrix.mode)

    @property
    def passes(self) -> int:
        """How many forward or backward passes it took."""
        return int(self._matrix.passes)

    def __getitem__(self, key: tuple[str, str]) -> float:
        """``J["y[0]", "x[1]"]``: one entry by its labels (a `UsageError` for an unknown label)."""
        if not (isinstance(key, tuple) and len(key) == 2):
            raise UsageError(f"index a {self.kind} by two labels, J[row, column], e.g. "
                             f"J[{self.rows[0]!r}, {self.columns[0]!r}]; got {key!r}")
        row, col = key
        if row not in self.rows:
            raise UsageError(f"{row!r} is not a row of the {self.kind} (rows: {', '.join(self.rows)})")
        if col not in self.columns:
            raise UsageError(f"{col!r} is not a column of the {self.kind} (columns: {', '.join(self.columns)})")
        return float(self._matrix.data[self.rows.index(row)][self.columns.index(col)])

    @property
    def ok(self) -> bool:
        """No check run so far has failed."""
        return not any(c.status == "fail" for c in self._matrix.checks)

    def check(self, *kinds: str, rtol: Optional[float] = None, atol: Optional[float] = None,
              sympy_timeout: float = 10.0) -> "DerivativeMatrix":
        """Check every entry against ``"fd"`` (finite differences) and/or ``"sympy"``, as
        ``--check`` does; the checks join `to_json`.  Returns the matrix itself."""
        from .oracles.matrix_checks import check_matrix
        from .run.requests import Checks

        asked = Checks.of(kinds or ("fd",), rtol, atol, sympy_timeout)
        for kind in asked.kinds:
            self._matrix.checks.append(check_matrix(self._ev, self._matrix, kind, asked.rtol, asked.atol,
                                                    asked.sympy_timeout))
        return self

    def to_json(self) -> str:
        """Exactly what ``gradcli jacobian|hessian … --json`` prints (without the final newline)."""
        from .output.documents import dumps, matrix_json

        return dumps(matrix_json(self._ev, self._matrix))


@dataclass(frozen=True)
class Verdict:
    """One answer, judged."""

    #: "value", a name (its gradient ∂out/∂name), or "formula NAME"
    question: str
    answer: object
    #: True right, False wrong, None could not be judged
    ok: Optional[bool]
    #: how it was judged, or why not
    note: str
    #: the right answer (shown to students only if you choose to)
    truth: object
    #: the rule that found it right: "tolerance", "digits", "points" or "sympy" ("" when not right)
    rule: str = ""
    #: the common mistake that explains a wrong answer, by class ("transposed", "relu-mask", ...), or None
    mistake: Optional[str] = None
    #: that mistake in one line, in the program's own names ("" when none)
    diagnosis: str = ""
    #: "right", "wrong", "missing", "invalid" or "unjudged"
    status: str = ""


class Judgement:
    """A student's answers, judged against the program."""

    def __init__(self, report: "JudgeReport") -> None:
        self._ev = report.evaluation
        self._verdicts = verdicts = report.verdicts
        self._rules = rules = report.rules
        self.rtol = rules.rtol
        self.atol = rules.atol
        self.verdicts = [
            Verdict(v.question, _answer(v.answer), v.ok, v.how, _answer(v.truth), v.rule,
                    v.diagnosis.kind if v.diagnosis is not None else None,
                    v.diagnosis.message if v.diagnosis is not None else "", v.status)
            for v in verdicts
        ]

    def __repr__(self) -> str:
        right = sum(1 for v in self.verdicts if v.ok)
        return f"<gradcli.Judgement {right}/{len(self.verdicts)} right>"

    @property
    def ok(self) -> bool:
        """Every answer is right."""
        return all(v.ok for v in self.verdicts)

    @property
    def score(self) -> int:
        return sum(1 for v in self.verdicts if v.ok)

    def to_json(self, reveal: bool = False) -> str:
        """Exactly what ``gradcli check … --json`` prints (without the final newline)."""
        from .output.documents import dumps, verdicts_json

        return dumps(verdicts_json(self._ev, self._verdicts, reveal, self._rules))


def _answer(x: object) -> object:
    return _plain(x) if isinstance(x, (int, float)) or hasattr(x, "shape") else x


# ---- the functions ---------------------------------------------------------------------------
def _point(program: str, bindings: Optional[Mapping[str, object]], values: Mapping[str, object],
           output: Optional[str], wrt: Union[None, str, Iterable[str]]) -> "Point":
    """The program and its point, as the command line reads them (`gradcli.run.requests.Point`)."""
    from .run.requests import Point

    if not isinstance(program, str):
        raise UsageError(f"the program must be a string, got {type(program).__name__}")
    if output is not None:
        _text(output, "output")
    return Point(source=program, bindings=_bindings(bindings, values), output=output, wrt=_wrt(wrt))


def evaluate(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
             output: Optional[str] = None, wrt: Union[None, str, Iterable[str]] = None,
             mode: str = "reverse", seed: Optional[str] = None,
             seed_output: Optional[BindingValue] = None, **values: BindingValue) -> Result:
    """Run `program` at a point: ``gradcli eval``.

    Give the point as keywords (``a=3, b=2``) or as a mapping (``{"a": 3}``; needed
    for inputs called ``output``, ``wrt``, ``mode``, ``seed`` or ``seed_output``).
    ``mode="forward"`` runs tangent passes (``seed`` picks one input, or one element
    ``"W[0,1]"``); ``seed_output`` differentiates a non-scalar output along that cotangent.
    """
    from .run import pipeline
    from .run.requests import EvaluateRequest

    point = _point(program, bindings, values, output, wrt)
    cotangent = None if seed_output is None else _binding("seed_output", seed_output).value
    request = EvaluateRequest(point=point, mode=mode, seed=seed, seed_output=cotangent)
    return Result(pipeline.evaluate(request))


def _matrix(kind: str, point: "Point", mode: str) -> DerivativeMatrix:
    from .run import pipeline
    from .run.requests import MatrixRequest

    request = MatrixRequest(point=point, kind=kind, mode=mode)
    return DerivativeMatrix(pipeline.matrix(pipeline.matrix_evaluation(request), request))


def jacobian(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
             output: Optional[str] = None, wrt: Union[None, str, Iterable[str]] = None,
             mode: str = "reverse", **values: BindingValue) -> DerivativeMatrix:
    """The full Jacobian of the output: ``gradcli jacobian`` (``mode`` "reverse", "forward",
    or "both": both, compared).  `DerivativeMatrix.check` checks it, as ``--check``."""
    return _matrix("jacobian", _point(program, bindings, values, output, wrt), mode)


def hessian(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
            output: Optional[str] = None, wrt: Union[None, str, Iterable[str]] = None,
            **values: BindingValue) -> DerivativeMatrix:
    """The Hessian of a scalar output, forward-over-reverse: ``gradcli hessian``."""
    return _matrix("hessian", _point(program, bindings, values, output, wrt), "reverse")


def judge(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
          expect: Optional[Mapping[str, BindingValue]] = None,
          expect_value: Optional[BindingValue] = None,
          expect_formula: Optional[Mapping[str, str]] = None,
          output: Optional[str] = None, wrt: Union[None, str, Iterable[str]] = None,
          rtol: Optional[float] = None, atol: Optional[float] = None,
          min_digits: Optional[int] = None, data: Iterable[str] = (), prove: bool = False,
          reveal: bool = False, sympy_timeout: float = 10.0, **values: BindingValue) -> Judgement:
    """Judge a student's answers: ``gradcli check``, by the same path and rules.

    ``expect`` maps names (inputs or steps) to their gradient ∂out/∂name, ``expect_value``
    is the output's value (or a mapping from step names to their values, as
    ``--expect-value NAME=VALUE``), ``expect_formula`` maps names to a formula for the gradient
    (in gradcli's language).  A number is right within ``rtol``/``atol`` or, when neither
    is given, to the significant digits written (at least ``min_digits``, default 3; a
    float's digits are those of its repr; a string such as ``"1.200"`` keeps its own).
    ``data`` names inputs that are data (labels, masks), which formula tests never move
    off their kind.  ``prove`` also asks SymPy to prove right formulas equal within
    ``sympy_timeout`` seconds; ``reveal`` finds the right formula's text.
    """
    from .run import pipeline
    from .run.bindings import constant_value
    from .run.requests import JudgeRequest

    request = JudgeRequest(point=_point(program, bindings, values, output, wrt),
                           rtol=_tolerance(rtol, "rtol"), atol=_tolerance(atol, "atol"),
                           min_digits=None if min_digits is None else _count(min_digits, "min_digits", 1, 17),
                           sympy_timeout=_timeout(sympy_timeout), prove=bool(prove), reveal=bool(reveal),
                           data=tuple(str(d) for d in ([data] if isinstance(data, str) else data)))
    expect = _mapping(expect, "expect")
    expect_formula = _mapping(expect_formula, "expect_formula")
    for name, formula in expect_formula.items():
        _text(formula, f"expect_formula[{name!r}]")
    if not (expect or expect_formula or expect_value is not None):
        raise UsageError("nothing to judge: give expect, expect_value or expect_formula")
    ev = pipeline.evaluated(request.point)

    def answer(name: str, v: object) -> tuple[object, Optional[str]]:
        if isinstance(v, str):  # the text as written keeps its digits ("1.200")
            return constant_value(v, name), v.strip()
        return _binding(name, v).value, None

    request.expect = {name: answer(name, v) for name, v in expect.items()}
    request.values = {}
    if isinstance(expect_value, Mapping):
        for name, v in expect_value.items():
            key = None if name is None or name == ev.output_name else str(name)
            request.values[key] = answer(f"expect_value {name}", v)
    elif expect_value is not None:
        request.values = {None: answer("expect_value", expect_value)}
    request.formulas = dict(expect_formula)
    return Judgement(pipeline.judge(ev, request))


def export(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
           output: Optional[str] = None, wrt: Union[None, str, Iterable[str]] = None,
           to: str = "numpy", **values: BindingValue) -> str:
    """The program at its point as a Python script: ``gradcli export`` (``to`` "numpy",
    "torch" or "jax"); exactly the text ``gradcli export`` prints."""
    from .run import pipeline
    from .run.requests import ExportRequest

    request = ExportRequest(point=_point(program, bindings, values, output, wrt), target=to)
    return pipeline.export(pipeline.evaluated(request.point), request).script


class Descent:
    """A gradient descent: the shown steps and the final parameters."""

    def __init__(self, run: "_Descent") -> None:
        self._run = run

    def __repr__(self) -> str:
        return f"<gradcli.Descent {self._run.steps_taken} steps, stopped: {self._run.stopped}>"

    @property
    def final(self) -> dict[str, Value]:
        """The parameters after the last update."""
        return {name: _plain(v) for name, v in self._run.final.items()}

    @property
    def losses(self) -> list[tuple[int, float]]:
        """(step, loss) of each shown step."""
        return [(r.step, float(r.loss)) for r in self._run.records]

    @property
    def stopped(self) -> str:
        """Why it stopped: "steps" (all updates done) or "tolerance"."""
        return str(self._run.stopped)

    def to_json(self) -> str:
        """Exactly what ``gradcli descend … --json`` prints (without the final newline)."""
        from .output.documents import descent_json, dumps_indented

        return dumps_indented(descent_json(self._run))


def descend(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
            output: Optional[str] = None, wrt: Union[None, str, Iterable[str]] = None,
            lr: float = 0.1, updates: int = 50, momentum: float = 0.0, tol: float = 0.0, every: int = 1,
            examples: Optional[Mapping[str, Sequence[float]]] = None, batch: Optional[int] = None,
            shuffle_seed: int = 0, **values: BindingValue) -> Descent:
    """Gradient descent from the point: ``gradcli descend``.  ``examples`` maps input names to
    columns of training data (as ``--examples FILE.csv``): the loss is then their
    (minibatch) mean, shuffled by ``shuffle_seed``."""
    from .run import pipeline
    from .run.requests import DescendRequest

    data = None
    if examples is not None:
        import numpy as np

        columns = _mapping(examples, "examples")
        data = (list(columns), np.array([[_real(x, f"examples[{name!r}]") for x in _column(col, name)]
                                         for name, col in columns.items()], dtype=float).T)
    for name, x in (("updates", updates), ("every", every), ("shuffle_seed", shuffle_seed)):
        _count(x, name, 1 if name == "every" else 0, 10**9 if name != "updates" else 10_000_000)
    request = DescendRequest(point=_point(program, bindings, values, output, wrt), lr=_real(lr, "lr"),
                             updates=updates, momentum=_real(momentum, "momentum"), tol=_real(tol, "tol"),
                             every=every, examples=data, batch=batch,
                             shuffle_seed=shuffle_seed)
    return Descent(pipeline.descend(request))


class Derivation:
    """Derivatives as formulas in gradcli's language (``gradcli diff``)."""

    def __init__(self, report: Any) -> None:
        self._report = report

    def __repr__(self) -> str:
        return f"<gradcli.Derivation of {self._report.output}: {', '.join(self.gradient)}>"

    @property
    def gradient(self) -> dict[str, str]:
        """∂output/∂input for each input, as a formula (matrix formulas for array inputs)."""
        report = self._report
        if report.arrays is not None:
            return {name: f.text() for name, f in report.arrays.gradient.items()}
        return dict(report.formulas.formulas)

    def to_json(self) -> str:
        """Exactly what ``gradcli diff … --json`` prints (without the final newline)."""
        from .output.documents import diff_json, dumps_indented

        return dumps_indented(diff_json(self._report))


def diff(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
         output: Optional[str] = None, wrt: Union[None, str, Iterable[str]] = None, steps: bool = False,
         expand: bool = False, latex: bool = False, sympy_timeout: float = 10.0,
         **values: BindingValue) -> Derivation:
    """Derivatives of `program` as formulas: ``gradcli diff``.  Values, when given, are used
    for their shapes only (an array input gets matrix formulas); none: every input a scalar."""
    from .run import pipeline
    from .run.requests import DiffRequest

    shapes = _bindings(bindings, values) if bindings or values else None
    if not isinstance(program, str):
        raise UsageError(f"the program must be a string, got {type(program).__name__}")
    request = DiffRequest(source=program, shapes=shapes, output=None if output is None else _text(output, "output"),
                          wrt=_wrt(wrt), steps=bool(steps), expand=bool(expand), latex=bool(latex),
                          sympy_timeout=_timeout(sympy_timeout))
    return Derivation(pipeline.diff(request))


class Sampled:
    """A program sampled over one range (a curve: value and derivative) or two (a gradient field)."""

    def __init__(self, sampled: Any) -> None:
        self._sampled = sampled

    def __repr__(self) -> str:
        return f"<gradcli.Sampled {type(self._sampled).__name__.lower()} of {self._sampled.output}>"

    def rows(self) -> list[list[str]]:
        """The header and one row per sample, as ``gradcli plot --format csv`` writes them."""
        from .output import plots

        sampled = self._sampled
        return plots.curve_rows(sampled) if hasattr(sampled, "slope") else plots.field_rows(sampled)

    def to_csv(self) -> str:
        """Exactly what ``gradcli plot … --format csv`` prints."""
        import csv
        import io

        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(self.rows())
        return buf.getvalue()


def plot(program: str, bindings: Optional[Mapping[str, BindingValue]] = None, /, *,
         ranges: Mapping[str, Union[str, Sequence[float]]], output: Optional[str] = None,
         check: Optional[str] = None, **values: BindingValue) -> Sampled:
    """Sample `program` as ``gradcli plot`` does: `ranges` maps one input (a curve) or two (a
    gradient field) to ``"LOW:HIGH[:POINTS]"`` or ``(low, high[, points])``; the other inputs
    take their values.  ``check="fd"`` adds finite differences to a curve."""
    from .run import pipeline
    from .run.requests import PlotRequest
    from .run.sample import parse_range

    spans = []
    for name, span in _mapping(ranges, "ranges").items():
        if not isinstance(span, str):
            if not isinstance(span, (list, tuple)) or not 2 <= len(span) <= 3:
                raise UsageError(f"range {name}: give (low, high) or (low, high, points), got {span!r}")
            span = ":".join(repr(float(v)) if k < 2 else str(v) for k, v in enumerate(span))
        spans.append(parse_range(f"{name}={span}"))
    point = _point(program, bindings, values, output, None)
    return Sampled(pipeline.sample(PlotRequest(point=point, ranges=spans, overlay=check)))
