"""Judging a student's answers: numbers and formulas, for inputs and for any named step.

One request, one path: `Request` (the answers, the rules for numbers, the data inputs)
is built by ``gradcli check``, by class gradebooks, by Gradescope output and by
`gradcli.judge` alike, and `judge` turns it into verdicts.

* A number (``--expect b=8``, ``--expect-value 15``) is judged by `gradcli.teach.answers`:
  within the tolerance, or right to the significant digits written (at least 3).
  ``--expect NAME=…`` asks for ∂out/∂NAME, where NAME is an input *or any named step*
  of the program (``dz`` of logistic regression, the δ of a layer); ``--expect-value
  NAME=…`` asks for a step's forward value.  Arrays are judged element by element and
  the wrong elements are listed.
* A formula (``--expect-formula "x=exp(x^2)*(1+2*x^2)"``) is parsed by gradcli's own
  parser, never by SymPy's.  It may use the program's step names (``b=d+c`` on
  ``c = a+b; d = b+1; e = c*d``), the adjoint names ``gradcli diff`` prints (``dz1``
  for ∂out/∂z1, of steps between the question and the output) and array operations
  (``W=outer(dz, x)``).  It is evaluated at the point and at other points chosen by
  `gradcli.teach.points` (data inputs keep their kind; every kink is crossed), and
  compared there with the engine's adjoint: numeric identity testing, in milliseconds.
  With ``prove`` seconds, SymPy is also asked to simplify the difference to 0 — an
  extra that can only confirm a formula, never the only way to be right.
* A wrong answer gets a diagnosis when a common mistake explains it
  (`gradcli.teach.mistakes`), at the point or at the point where a formula failed.

A class's CSV of answers is `gradcli.teach.gradebook`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from ..core.errors import GradcliError, MathError, ParseError, UsageError
from ..run.evaluate import Evaluation
from . import answers as answers_mod
from . import mistakes as mistakes_mod
from . import points as points_mod
from .answers import DEFAULT_ATOL, DEFAULT_MIN_DIGITS, DEFAULT_RTOL, Rules

__all__ = ["Answer", "Request", "Rules", "Verdict", "judge", "DEFAULT_RTOL", "DEFAULT_ATOL", "DEFAULT_MIN_DIGITS"]

#: how closely a formula, evaluated in floating point, must match the engine (relative;
#: the absolute part scales with the size of the derivative)
FORMULA_RTOL = 1e-6
FORMULA_ATOL = 1e-9
#: at most this many more points for a formula with kinks of its own (`_own_kink_points`)
OWN_KINK_POINTS = 12
#: sides (the program's and the formula's, per element) up to which every combination is tried
FEW_SIDES = 16
#: a formula with more nodes than this is tried at the chosen points only (each more point
#: evaluates it about a hundred times; homework formulas have tens of nodes)
MAX_OWN_KINK_NODES = 5_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


@dataclass
class Answer:
    """A student's number or array, with the text it was written as (None: handed over
    as a float, whose digits are those of its repr)."""

    value: Any
    text: Optional[str] = None


@dataclass
class Request:
    """Everything one student's answers need to be judged."""

    #: ∂out/∂NAME answers
    expect: dict[str, Answer] = field(default_factory=dict)
    #: forward values: step name (None for the output) -> answer
    values: dict[Optional[str], Answer] = field(default_factory=dict)
    #: NAME -> formula text for ∂out/∂NAME
    formulas: dict[str, str] = field(default_factory=dict)
    rules: Rules = field(default_factory=Rules)
    #: inputs that are data (besides the program's ``#: data`` lines)
    data: tuple[str, ...] = ()
    #: seconds SymPy may spend proving formulas equal (0: not asked)
    prove: float = 0.0
    #: find the right formula text for --reveal
    reveal: bool = False


class Verdict:
    """One answer, judged."""

    __slots__ = ("question", "answer", "truth", "ok", "how", "status", "elements", "diagnosis", "rule", "note")

    def __init__(self, question: str, answer: object, truth: object, ok: Optional[bool], how: str = "",
                 status: str = "") -> None:
        #: "value", "value NAME" (a step's value), NAME (∂out/∂NAME), or "formula NAME"
        self.question = question
        self.answer = answer
        self.truth = truth
        #: True right, False wrong, None could not be judged
        self.ok = ok
        #: how it was judged, or why not
        self.how = how
        #: "right", "wrong", "missing", "invalid" or "unjudged"
        self.status = status or ("right" if ok else "unjudged" if ok is None else "wrong")
        #: wrong elements of an array answer: (index, answer, truth)
        self.elements: list[tuple[tuple, float, float]] = []
        #: the common mistake that explains a wrong answer (`gradcli.teach.mistakes.Mistake`)
        self.diagnosis: Optional[mistakes_mod.Mistake] = None
        #: the rule that judged it: "tolerance", "digits", "points", "sympy", or "" (not right)
        self.rule = ""
        #: a note on a near miss ("close: right to 2 significant digits only"), or ""
        self.note = ""


def judge(ev: Evaluation, request: Request) -> list[Verdict]:
    """Every answer of `request`, judged on the evaluated program `ev`."""
    verdicts: list[Verdict] = []
    for name, answer in request.values.items():
        truth = value_of(ev, name, f"--expect-value {name}" if name else "--expect-value")
        question = "value" if name is None or name == ev.output_name else f"value {name}"
        verdicts.append(judge_number(question, answer, truth, request.rules))
    for name, answer in request.expect.items():
        node = adjoint_node(ev, name, f"--expect {name}")
        verdicts.append(judge_number(name, answer, ev.adjoints[node], request.rules, mistakes_mod.mistakes(ev, node)))
    verdicts += judge_formulas(ev, request)
    return verdicts


def step_names(ev: Evaluation) -> dict[str, int]:
    """Every name a student may use: the inputs, the assigned steps, and the names
    gradcli gives unnamed steps (``c``, ``d``, ``e`` of ``(a+b)*(b+1)``)."""
    names = dict(ev.graph.names)
    for node in ev.graph.nodes:
        if node.name is not None:
            names.setdefault(node.name, node.id)
    return names


def adjoint_node(ev: Evaluation, name: str, what: str) -> int:
    """The node whose adjoint answers ∂out/∂name."""
    if not ev.has_gradient:
        raise UsageError(f"{what}: the output {ev.output_name} is not a scalar, so it has no gradient "
                         "(check its Jacobian with 'gradcli jacobian')")
    names = step_names(ev)
    if name not in names:
        raise UsageError(f"{what}: {name!r} is not an input or a step of the program "
                         f"(inputs: {', '.join(ev.inputs)}; steps: {', '.join(_steps(ev, names))})")
    if name in ev.data:
        raise UsageError(f"{what}: {name} is data ({ev.data[name]}): it has no gradient to check")
    if name in ev.inputs and name not in ev.gradient:
        raise UsageError(f"{what}: {name} is left out by --wrt")
    node = names[name]
    if not ev.tape.live[node]:
        raise UsageError(f"{what}: the step {name} depends on no input, so gradcli does not differentiate it")
    return node


def value_of(ev: Evaluation, name: Optional[str], what: str) -> object:
    """The forward value of a step (the output when `name` is None)."""
    if name is None:
        return ev.value
    names = step_names(ev)
    if name not in names:
        raise UsageError(f"{what}: {name!r} is not an input or a step of the program "
                         f"(steps: {', '.join(_steps(ev, names))})")
    return ev.values[names[name]]


def _steps(ev: Evaluation, names: dict[str, int]) -> list[str]:
    return [n for n in names if n not in ev.inputs]


def _as_answer(answer: object) -> Answer:
    return answer if isinstance(answer, Answer) else Answer(answer, None)


def judge_number(question: str, answer: object, truth: object, rules: Rules, candidates=None) -> Verdict:
    """One number or array against the truth; arrays element by element; a diagnosis
    from `candidates` (common mistakes) when the answer is wrong."""
    given = _as_answer(answer)
    value = given.value
    shape = getattr(truth, "shape", ())
    written = answers_mod.digits_of(value, given.text)
    if getattr(value, "shape", ()) != shape:
        v = Verdict(question, value, truth, False, f"expected shape {shape}, got {getattr(value, 'shape', ())}")
    else:
        judged = answers_mod.judge_value(value, truth, rules, written)
        v = Verdict(question, value, truth, judged.ok)
        v.rule, v.note = judged.rule, judged.note
        if shape and not v.ok:
            v.elements = judged.wrong or []
            n = 1
            for d in shape:
                n *= d
            v.how = f"{len(v.elements)} of {n} elements wrong"
        if v.note:
            v.how = f"{v.how}; {v.note}" if v.how else v.note
        if v.rule == "digits":
            v.how = "right to the significant digits written"
    if not v.ok and candidates:
        v.diagnosis = diagnose(candidates, value, truth, rules, written)
    return v


def diagnose(candidates, answer: object, truth: object, rules: Rules,
             written: Optional[list] = None) -> Optional[mistakes_mod.Mistake]:
    """The common mistake whose number the answer is, by the same rule as a right answer
    (however few its digits: a diagnosis only needs to tell the mistakes apart)."""
    loose = Rules(max(rules.rtol, DEFAULT_RTOL), max(rules.atol, DEFAULT_ATOL), False, 1)
    return mistakes_mod.diagnose(candidates, answer, truth,
                                 lambda a, t: answers_mod.matches(a, t, loose, written if a is answer else None))


def parse_formula(text: str):
    """A student's formula as a graph, by gradcli's own parser; GradcliError if unreadable."""
    from ..language.lower import lower
    from ..language.parser import parse

    return lower(parse(text))


class _Context:
    """What every formula of one request shares: the points it is tested at (chosen
    once), and the adjoints there (computed once per point)."""

    def __init__(self, ev: Evaluation, data: tuple[str, ...]) -> None:
        self.ev = ev
        declared = tuple(points_mod.declared_data(ev.source)) + tuple(data)
        unknown = [n for n in declared if n not in ev.inputs]
        if unknown:
            raise UsageError(f"--data {unknown[0]}: not an input of the program (inputs: {', '.join(ev.inputs)})")
        self.kinds = points_mod.input_kinds(ev.env, declared, integers=tuple(ev.data))
        self._points: Optional[list[points_mod.Point]] = None
        self._spare: Optional[list[points_mod.Point]] = None
        self._adjoints: dict[int, list] = {}
        self._printed: Optional[tuple[dict[str, int], dict[str, int]]] = None
        self.names = step_names(ev)

    def printed_names(self) -> tuple[dict[str, int], dict[str, int]]:
        """The step and adjoint names `gradcli diff` prints (``hidden_1_a``, ``dz1``),
        each to its node."""
        if self._printed is None:
            from .derive_arrays import printed_names

            graph = self.ev.graph
            labels = {graph.label(n.id): n.id for n in graph.nodes}
            steps, adjoints = printed_names(graph)
            self._printed = ({n: labels[lab] for lab, n in steps.items() if lab in labels},
                             {n: labels[lab] for lab, n in adjoints.items() if lab in labels})
        return self._printed

    @property
    def points(self) -> list[points_mod.Point]:
        if self._points is None:
            self._points = points_mod.choose(self.ev, self.kinds)
        return self._points

    @property
    def spare(self) -> list[points_mod.Point]:
        """More points, for formulas with kinks of their own (drawn when one first asks)."""
        if self._spare is None:
            self._spare = points_mod.spare(self.ev, self.kinds)
        return self._spare

    def point(self, k: int) -> points_mod.Point:
        """Point k: the chosen points, then the spare ones."""
        chosen = self.points
        return chosen[k] if k < len(chosen) else self.spare[k - len(chosen)]

    def adjoints(self, k: int) -> Optional[list]:
        if k not in self._adjoints:
            import numpy as np

            try:
                with np.errstate(all="ignore"):
                    self._adjoints[k] = self.ev.tape.backward(self.point(k).values)
            except (GradcliError, ArithmeticError, ValueError):
                self._adjoints[k] = []
        return self._adjoints[k] or None


def formula_context(ev: Evaluation, data: tuple[str, ...] = ()) -> _Context:
    """The points one evaluation's formulas are tested at (chosen when first needed)."""
    return _Context(ev, data)


def judge_formulas(ev: Evaluation, request: Request) -> list[Verdict]:
    """Each ``NAME -> formula text`` against ∂out/∂NAME: at the point and at chosen
    points (and, with ``request.prove``, by SymPy)."""
    formulas = request.formulas
    if not formulas:
        return []
    targets = {name: adjoint_node(ev, name, f"--expect-formula {name}") for name in formulas}
    context = _Context(ev, request.data)
    verdicts: dict[str, Verdict] = {}
    graphs = {}
    for name, text in formulas.items():
        v, graph = judge_formula(context, name, targets[name], text, request.rules)
        verdicts[name] = v
        if graph is not None:
            graphs[name] = graph
    if graphs and request.prove > 0:
        proved = _symbolic(ev, {n: targets[n] for n in graphs}, graphs, request.prove)
        for name in graphs:
            _finish(verdicts[name], proved.get(name), bool(proved[""]))
    if request.reveal:
        _formula_truths(ev, [verdicts[n] for n in formulas if not isinstance(verdicts[n].truth, str)], targets,
                        max(request.prove, 5.0))
    return [verdicts[name] for name in formulas]


def _formula_truths(ev: Evaluation, verdicts: list[Verdict], targets: dict[str, int], seconds: float) -> None:
    """The right formula, in gradcli's syntax, for --reveal: a scalar program's in its
    inputs, an array program's as `gradcli diff` writes the step (``outer(dz1, x)``),
    under the time budget."""
    if not verdicts:
        return
    from ..oracles import budget
    from . import derive

    graph = ev.graph
    labels = {v.question: graph.label(targets[v.question.split(" ", 1)[1]]) for v in verdicts
              if v.question.startswith("formula ")}
    arrays = any(n.shape not in ((), None) for n in graph.nodes)

    def job(send: budget.Send) -> None:
        if arrays:
            from . import derive_arrays

            da = derive_arrays.derive_arrays(graph)
            lines = dict(da.adjoints)
            by_adjoint = {name: label for label, name in da.adjoint_names.items()}
            for question, label in labels.items():
                # the sweep's own line, over the adjoint names of later steps: outer(dz1, x);
                # a line that only names another adjoint (db = dz) is that adjoint's line
                formula = lines.get(label)
                seen = {label}
                while formula is not None and formula.kind == "name" and by_adjoint.get(formula.value) in lines \
                        and by_adjoint[formula.value] not in seen:
                    seen.add(by_adjoint[formula.value])
                    formula = lines[by_adjoint[formula.value]]
                if formula is None:
                    formula = derive_arrays.in_steps(da, label)
                if formula is not None:
                    send((question, formula.text()))
            return
        d = derive.derive(graph)
        for question, label in labels.items():
            if label in d.in_inputs:
                send((question, _in_our_language(d.in_inputs[label])))

    for question, text in budget.run(job, seconds).messages:
        for v in verdicts:
            if v.question == question and isinstance(question, str):
                v.truth = text


def _downstream(ev: Evaluation, node: int) -> list[bool]:
    """The nodes that depend on `node` (itself excluded): their adjoints come before
    it in the backward sweep, so a formula for ∂out/∂node may use them."""
    reach = ev.graph.reached_from(node)
    reach[node] = False
    return reach


def _bind_names(context: _Context, node: int, graph) -> tuple[dict[str, tuple[str, int]], str]:
    """How each name of a formula is bound: ("value", node) for an input or step,
    ("adjoint", node) for ``dNAME``; or a reason the formula cannot be judged."""
    ev, names = context.ev, context.names
    binding: dict[str, tuple[str, int]] = {}
    unknown: list[str] = []
    circular: list[str] = []
    later: Optional[list[bool]] = None
    printed, adjoint_names = context.printed_names()
    for i in graph.inputs:
        name = str(graph.nodes[i].name)
        if name in names or name in printed:
            binding[name] = ("value", names[name] if name in names else printed[name])
            continue
        target = adjoint_names.get(name)
        if target is None and name.startswith("d") and len(name) > 1:
            target = names.get(name[1:])
        if target is None or not ev.tape.live[target]:
            unknown.append(name)
            continue
        if later is None:
            later = _downstream(ev, node)
        if not later[target]:
            circular.append(name)
            continue
        binding[name] = ("adjoint", target)
    if unknown:
        return binding, f"uses names the program does not have: {', '.join(unknown)}"
    if circular:
        return binding, (f"uses {', '.join(circular)}, which the backward sweep computes from this answer "
                         "itself (only adjoints of steps between it and the output may be used)")
    return binding, ""


def _formula_env(binding: dict[str, tuple[str, int]], values: list, adjoints: Optional[list]) -> dict:
    """A formula's names bound at one point: step values, and adjoints for ``dNAME``."""
    return {name: (values[i] if kind == "value" else adjoints[i])  # type: ignore[index]
            for name, (kind, i) in binding.items()}


def _formula_close(got: object, truth: object, rules: Rules) -> bool:
    """A formula's value equals the engine's, to floating-point accuracy (or to the
    tolerance the grader gave)."""
    import numpy as np

    if getattr(got, "shape", ()) != getattr(truth, "shape", ()):
        return False
    g, t = np.asarray(got, dtype=float), np.asarray(truth, dtype=float)
    if rules.explicit:
        rtol, atol = rules.rtol, rules.atol
    else:
        finite = t[np.isfinite(t)]
        scale = float(np.max(np.abs(finite))) if finite.size else 0.0
        rtol, atol = FORMULA_RTOL, FORMULA_ATOL * max(scale, 1.0)
    with np.errstate(invalid="ignore"):
        # an infinite truth is matched only by itself: rtol·inf would let every number near it
        ok = np.where(np.isfinite(t), np.abs(g - t) <= atol + rtol * np.abs(t), False) | (g == t)
    return bool(np.all(ok))


def judge_formula(context: _Context, name: str, node: int, text: str, rules: Rules,
                  candidates=None) -> tuple[Verdict, Any]:
    """(verdict, graph): the formula evaluated at the point and at the chosen points.
    `graph` is None when nothing more can be learned (unreadable, or wrong)."""
    ev = context.ev
    question = f"formula {name}"
    truth = ev.adjoints[node]
    try:
        graph = parse_formula(text)
    except GradcliError as exc:  # a student's formula that does not parse is a wrong answer, not a crash
        where = ""
        if isinstance(exc, ParseError):  # where, as a parse error of a program says it
            line, column = exc.line_col
            where = f" at line {line}, column {column}" if "\n" in exc.source else f" at column {column}"
        return Verdict(question, text, truth, False, f"does not parse{where}: {exc.message}", "invalid"), None
    binding, why = _bind_names(context, node, graph)
    if why:
        return Verdict(question, text, truth, False, why, "invalid"), None
    env = _formula_env(binding, ev.values, ev.adjoints)
    try:
        value = formula_value(graph, env)
    except GradcliError as exc:
        if not isinstance(exc, MathError) or (_finite(truth) and not ev.kinks):
            return _unevaluable(question, text, truth, graph, exc, env), None
        value = None  # 1/(2*sqrt(x)) at x = 0, where the derivative is infinite too: the other points judge
    if candidates is None:
        candidates = mistakes_mod.mistakes(ev, node)
    # why the point itself cannot judge the formula, if it cannot
    aside = ""
    if not _finite(truth) and (value is None or not _formula_close(value, truth, rules)):
        aside = "a singularity, where the derivative is not finite"
    elif value is None:
        aside = "on a kink, where gradcli's convention decides the derivative"
    elif not _formula_close(value, truth, rules) and ev.kinks:
        # the point is on a kink: the derivative there is a convention (relu'(0) = 0), so
        # the other points judge the formula
        aside = "on a kink, where gradcli's convention decides the derivative"
    elif not _formula_close(value, truth, rules):
        v = judge_number(question, value, truth, rules, None)
        v.answer, v.ok, v.status, v.rule, v.note = text, False, "wrong", "", ""
        v.how = "differs from the derivative at the point" + (f": {v.how}" if v.how and "elements" in v.how else "")
        v.diagnosis = diagnose(candidates, value, truth, rules)
        return v, None
    agree: list[set] = []
    disagree: list[tuple[int, object, set]] = []
    tried: list[int] = []

    def compare(k: int) -> None:
        adjoints = context.adjoints(k)
        if adjoints is None:
            return
        there = adjoints[node]
        if not _finite(there):
            return
        point = context.point(k)
        try:
            import numpy as np

            with np.errstate(all="ignore"):
                got = formula_value(graph, _formula_env(binding, point.values, adjoints))
        except GradcliError:
            return
        tried.append(k)
        if _formula_close(got, there, rules):
            agree.append(point.sides)
        else:
            disagree.append((k, got, point.sides))

    for k in range(len(context.points)):
        compare(k)
    if not disagree:  # abs, relu, comparisons of the formula's own: each of their sides tried too
        for k in _own_kink_points(context, graph, binding, tried):
            compare(k)
    kinks = points_mod.kink_nodes(ev.graph, ev.tape.live)
    if disagree:
        return _wrong_elsewhere(context, question, text, truth, node, len(tried), agree, disagree, rules,
                                aside), None
    crossed = _crossed_words(ev, kinks, agree)
    if aside and len(tried) < 3:
        return Verdict(question, text, truth, None, f"the point is {aside}, and too few other points could be "
                       "evaluated to judge the formula", "unjudged"), None
    where = (f"at {{tried}} points around it (the point itself is {aside})" if aside
             else "at the point and at {tried} other points")
    v = Verdict(question, text, truth, True, f"equal to the derivative {where.format(tried=len(tried))}" + crossed)
    v.rule = "points"
    return v, graph


def _own_kink_points(context: _Context, graph, binding: dict[str, tuple[str, int]], tried: list[int]) -> list[int]:
    """Spare points (`_Context.point` indices) where a formula with kinks of its own
    (``2*abs(x)`` for the derivative of ``x^2``) takes a side of them that no point tried
    took, or, when the program and the formula have few sides in all (scalars), a
    combination of its sides and the program's (``x > z`` for ∂/∂x of ``max(x, max(y,
    z))``).  A formula of adjoint names (``dz * (z > 0)``) is left to the chosen points:
    its sides would need a backward sweep at every candidate."""
    import numpy as np

    from ..core.engine import Tape
    from ..core.shapes import infer_shapes
    from ..run.evaluate import find_kinks

    live = [True] * len(graph.nodes)
    own = points_mod.kink_nodes(graph, live)
    if not own or len(graph.nodes) > MAX_OWN_KINK_NODES or any(kind == "adjoint" for kind, _ in binding.values()):
        return []
    ev = context.ev
    infer_shapes(graph, _formula_env(binding, ev.values, None))  # the inputs' shapes are the same at every point
    tape = Tape(graph)

    def formula_sides(values: list) -> Optional[set]:
        env = _formula_env(binding, values, None)
        try:
            with np.errstate(all="ignore"):
                formula_values = tape.forward(env)
            if find_kinks(graph, formula_values, live):
                return None  # on its own kink (abs at 0): on no side, so none is seen there
        except (GradcliError, ArithmeticError, ValueError):
            return None
        return {("formula", *s) for s in points_mod.sides(graph, formula_values, own)}

    seen: set = set()
    patterns: set[frozenset] = set()
    given = points_mod.sides(ev.graph, ev.values, points_mod.kink_nodes(ev.graph, ev.tape.live))
    for values, sides in [(ev.values, given)] + [(context.point(k).values, context.point(k).sides) for k in tried]:
        mine = formula_sides(values)
        if mine is not None:
            seen |= mine
            patterns.add(frozenset(sides | mine))
    found: list[int] = []
    first = len(context.points)
    for j, p in enumerate(context.spare):
        if len(found) >= OWN_KINK_POINTS:
            break
        mine = formula_sides(p.values)
        if mine is None:
            continue
        pattern = frozenset(p.sides | mine)
        if mine - seen or (len(pattern) <= FEW_SIDES and pattern not in patterns):
            seen |= mine
            patterns.add(pattern)
            found.append(first + j)
    return found


def _finite(x: object) -> bool:
    import numpy as np

    return bool(np.all(np.isfinite(np.asarray(x, dtype=float))))


def _crossed_words(ev: Evaluation, kinks: list[int], agree: list[set]) -> str:
    """`` on both sides of relu(w*x)``: the kinks whose every side was tried."""
    if not kinks or not agree:
        return ""
    names = []
    for i in kinks:
        seen = {s for point in agree for (j, _, s) in point if j == i}
        if len(seen) >= 2:
            names.append(_kink_name(ev, i))
    if not names:
        return ""
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    return f", on every side of {shown}"


def _wrong_elsewhere(context: _Context, question: str, text: str, truth: object, node: int, tried: int,
                     agree: list[set], disagree: list[tuple[int, object, set]], rules: Rules,
                     aside: str = "") -> Verdict:
    """A formula right at the point (or `aside`: the point cannot judge it, being on a
    kink) but not at others: which kink it misses, and the mistake that explains its
    value where it fails."""
    ev = context.ev
    given = points_mod.sides(ev.graph, ev.values, points_mod.kink_nodes(ev.graph, ev.tape.live))
    kink = points_mod.differing_kink(set() if aside else given, agree, [d for _, _, d in disagree])
    if aside:  # nothing to say about the point itself
        counted = f"{len(disagree)} of {tried} points around the point (the point itself is {aside})"
    else:
        counted = f"{len(disagree)} of {tried} other points"
    if kink is not None:
        words = points_mod.side_words(ev.graph, kink[0], kink[1])
        how = (f"wrong where {words} (one side of {_kink_name(ev, kink[0])})" if aside else
               f"right at the point, but not where {words} (the other side of {_kink_name(ev, kink[0])})")
        how += f": it differs at {counted}"
    else:
        how = ("" if aside else "right at the point, but ") + f"differs from the derivative at {counted}"
    v = Verdict(question, text, truth, False, how)
    k, got, _ = disagree[0]
    there = copy.copy(ev)
    there.values = context.point(k).values
    there.adjoints = context.adjoints(k) or []
    there.env = context.point(k).env
    v.diagnosis = diagnose(mistakes_mod.mistakes(there, node), got, there.adjoints[node], rules)
    return v


def _kink_name(ev: Evaluation, node: int) -> str:
    """The kink in the program's terms: ``relu(w * x)``, ``b = max(y, z)``."""
    from ..core.graph import CONST, INPUT
    from ..core.ops import OPS

    graph = ev.graph
    n = graph.nodes[node]
    if n.op in OPS and OPS[n.op].kink_kind == "side" and graph.nodes[n.args[0]].op not in (INPUT, CONST):
        return f"{n.op}({graph.definition(n.args[0])})"
    return f"{graph.label(node)} = {graph.definition(node)}"


def _unevaluable(question: str, text: str, truth: object, graph, exc: GradcliError, env: dict) -> Verdict:
    """A formula that cannot be evaluated at the point (a shape that does not fit, a
    math error): wrong, said in the formula's own terms, with the transpose that fits."""
    from .formula_shapes import explain_shapes

    note = explain_shapes(text, graph, env)
    v = Verdict(question, text, truth, False,
                f"cannot be evaluated at the point: {exc.message if note is None else note.line}")
    if note is not None and note.transposed:  # the diagnosis line says it: the note need not repeat it
        v.diagnosis = mistakes_mod.Mistake("transposed", note.line, None)
        v.how = "cannot be evaluated at the point: the shapes do not fit"
    return v


def formula_value(graph, env: dict) -> object:
    """A formula graph evaluated on floats/NumPy (shape and math errors are GradcliErrors)."""
    from ..core.engine import Tape
    from ..core.shapes import infer_shapes

    infer_shapes(graph, env)
    value = Tape(graph).forward(env)[graph.output]
    return float(value) if not getattr(value, "shape", ()) else value


def _finish(v: Verdict, result: Optional[tuple], timed_out: bool) -> None:
    """Fold SymPy's result (proved equal?, its form of the truth, finished?) into a verdict."""
    if result is None:
        if v.ok:
            v.how += " (" + ("SymPy's time budget ran out (--sympy-timeout)" if timed_out
                             else "SymPy could not compare them") + ")"
        return
    proved, truth_text, finished = result
    if truth_text is not None and not getattr(v.truth, "shape", ()):
        v.truth = truth_text
    if proved:
        v.how = "equivalent: SymPy simplifies the difference to 0"
        v.rule = "sympy"
    elif finished:
        v.how += " (SymPy did not simplify the difference to 0)"
    else:
        v.how += " (SymPy could not simplify the difference to 0 in time)"


def _symbolic(ev: Evaluation, targets: dict[str, int], graphs: dict, seconds: float) -> dict:
    """Under the budget: for each formula, (proved equal?, SymPy's ∂out/∂NAME as text).

    The program's SymPy expressions are built from our graph; the student's formula is
    built from its own graph with each step name replaced by that step's expression,
    so ``d + c`` becomes ``(b + 1) + (a + b)``.  ∂out/∂step is found by cutting the
    graph at the step (a fresh symbol in its place), differentiating, and putting the
    step's expression back.
    """
    import sympy  # noqa: F401  (imported before the budget's fork)

    from ..oracles import budget

    program = ev.graph
    names = step_names(ev)

    def job(send: budget.Send) -> None:
        import numpy as np
        import sympy as sp

        from ..backends.sympy import input_symbols, to_sympy

        symbols = input_symbols(program, ev.env)
        exprs = to_sympy(program, symbols)
        for name, node in targets.items():
            truth = _sympy_adjoint(program, symbols, exprs, node)
            graph = graphs[name]
            if any(graph.nodes[i].name not in names for i in graph.inputs):
                continue  # adjoint names (dz1): the points judged it; SymPy has no expression for them
            student = to_sympy(graph, {graph.nodes[i].name: exprs[names[graph.nodes[i].name]]
                                       for i in graph.inputs})[graph.output]
            t_items = list(np.ravel(truth)) if isinstance(truth, np.ndarray) else [truth]
            s_items = list(np.ravel(student)) if isinstance(student, np.ndarray) else [student]
            text = None if isinstance(truth, np.ndarray) else _in_our_language(truth)
            send((name, False, text, False))  # the truth's text first, in case the proof runs out of time
            proved = len(t_items) == len(s_items) and all(
                sp.simplify(t - s) == 0 for t, s in zip(t_items, s_items))
            send((name, proved, text, True))

    outcome = budget.run(job, seconds)
    found: dict = {"": outcome.timed_out}
    for name, proved, text, finished in outcome.messages:
        found[name] = (proved, text, finished)
    return found


def _sympy_adjoint(program, symbols: dict, exprs: list, node: int):
    """SymPy's ∂out/∂(node), an object array for an array node."""
    import numpy as np
    import sympy as sp

    from ..core.graph import INPUT

    out = program.output
    if program.nodes[node].op == INPUT:
        cut, fresh = exprs, symbols[program.nodes[node].name]
    else:
        shape = program.nodes[node].shape
        if shape:
            fresh = np.empty(shape, dtype=object)
            for index in np.ndindex(*shape):
                fresh[index] = sp.Symbol(f"_cut_{'_'.join(map(str, index))}", real=True)
        else:
            fresh = sp.Symbol("_cut", real=True)
        cut = _to_sympy_cut(program, symbols, node, fresh)
    f = cut[out]
    back = {}
    if cut is not exprs:
        if isinstance(fresh, np.ndarray):
            for index in np.ndindex(*fresh.shape):
                back[fresh[index]] = exprs[node][index]
        else:
            back[fresh] = exprs[node]
    if isinstance(fresh, np.ndarray):
        d = np.empty(fresh.shape, dtype=object)
        for index in np.ndindex(*fresh.shape):
            d[index] = sp.diff(f, fresh[index]).xreplace(back) if back else sp.diff(f, fresh[index])
        return d
    d = sp.diff(f, fresh)
    return d.xreplace(back) if back else d


def _to_sympy_cut(program, symbols: dict, node: int, fresh) -> list:
    """`to_sympy` with node `node` replaced by `fresh` (a loop, as to_sympy)."""
    from ..backends.sympy import exact_constant, sympy_backend
    from ..core.graph import CONST, INPUT

    m = sympy_backend()
    exprs: list = [None] * len(program.nodes)
    for n in program.nodes:
        if n.id == node:
            exprs[n.id] = fresh
        elif n.op == INPUT:
            exprs[n.id] = symbols[n.name]
        elif n.op == CONST:
            exprs[n.id] = exact_constant(n.text)
        else:
            f = getattr(m, n.op)
            args = [exprs[a] for a in n.args]
            exprs[n.id] = f(*args) if n.param is None else f(*args, n.param)
    return exprs


def _in_our_language(expr: object) -> str:
    """A SymPy derivative written in gradcli's own syntax (``x^2``, ``(x > 0)``), as the
    answer a student could have typed; SymPy's text where ours cannot say it."""
    from .derive import to_gradcli

    try:
        return to_gradcli(expr, pieces=True)  # a branch as where(c, a, b), as gradcli diff writes it
    except UsageError:
        return str(expr)
