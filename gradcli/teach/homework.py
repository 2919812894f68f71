"""Judging a student's answers: numbers and formulas, for inputs and for any named step.

* A number (``--expect b=8``, ``--expect-value 15``) is right when it is within the
  tolerance of the true value: ``|answer - truth| <= atol + rtol·|truth|``, by
  default rtol 1e-4 and atol 1e-8 (five significant digits, or an exact fraction).
  ``--expect NAME=…`` asks for ∂out/∂NAME, where NAME is an input *or any named step*
  of the program (``dz`` of logistic regression, the δ of a layer); ``--expect-value
  NAME=…`` asks for a step's forward value.  Arrays are judged element by element and
  the wrong elements are listed.
* A formula (``--expect-formula "x=exp(x^2)*(1+2*x^2)"``) is parsed by gradcli's own
  parser, never by SymPy's.  It may use the program's step names (``b=d+c`` on
  ``c = a+b; d = b+1; e = c*d``) and array operations (``W=outer(u*h*(1-h), x)``).
  It is evaluated with the steps' values at the point (element by element) and at
  several random points near it, and, under the time budget, SymPy is asked to
  simplify the difference to 0 after the steps' definitions (built from our graph)
  are substituted.  The verdict says which.
* A wrong gradient gets a diagnosis when a common mistake explains it
  (`gradcli.teach.mistakes`).

A class's CSV of answers is `gradcli.teach.gradebook`.
"""

from __future__ import annotations

import math
import random
import re
from typing import Optional

from ..core.errors import GradcliError, UsageError
from ..run.evaluate import Evaluation
from . import mistakes as mistakes_mod

#: default tolerance for a student's number
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-8
#: random points near the given one where a formula must also agree
FORMULA_POINTS = 6
#: how closely a formula, evaluated in floating point, must match the engine
FORMULA_RTOL = 1e-7
FORMULA_ATOL = 1e-10
#: wrong elements listed per answer
MAX_ELEMENTS = 8

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


class Verdict:
    """One answer, judged."""

    __slots__ = ("question", "answer", "truth", "ok", "how", "status", "elements", "diagnosis")

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


def close(answer: object, truth: object, rtol: float, atol: float) -> bool:
    """Numbers (or arrays of the same shape) within tolerance of the truth."""
    if getattr(answer, "shape", ()) != getattr(truth, "shape", ()):
        return False
    if getattr(truth, "shape", ()):
        import numpy as np

        aa, tt = np.asarray(answer, dtype=float), np.asarray(truth, dtype=float)
        with np.errstate(invalid="ignore"):
            ok = (np.abs(aa - tt) <= atol + rtol * np.abs(tt)) | (aa == tt) | (np.isnan(aa) & np.isnan(tt))
        return bool(np.all(ok))
    a, t = float(answer), float(truth)  # type: ignore[arg-type]
    if math.isinf(t) or math.isnan(t):
        return a == t or (math.isnan(a) and math.isnan(t))
    return abs(a - t) <= atol + rtol * abs(t)


def wrong_elements(answer: object, truth: object, rtol: float, atol: float) -> list[tuple[tuple, float, float]]:
    """(index, answer, truth) of each element of an array answer outside the tolerance."""
    import numpy as np

    found = []
    a, t = np.asarray(answer, dtype=float), np.asarray(truth, dtype=float)
    for index in np.ndindex(*t.shape):
        if not close(float(a[index]), float(t[index]), rtol, atol):
            found.append((tuple(int(k) for k in index), float(a[index]), float(t[index])))
    return found


def step_names(ev: Evaluation) -> dict[str, int]:
    """Every name a student may use: the inputs, the assigned steps, and the names
    gradcli gives unnamed steps (``c``, ``d``, ``e`` of ``(a+b)*(b+1)``)."""
    names = dict(ev.graph.names)
    for node in ev.graph.nodes:
        if node.name is not None:
            names.setdefault(node.name, node.id)
    return names


def gradient_of(ev: Evaluation, name: str, what: str) -> object:
    """The true ∂out/∂name for an input or a named step, or a UsageError saying why not."""
    return ev.adjoints[adjoint_node(ev, name, what)]


def adjoint_node(ev: Evaluation, name: str, what: str) -> int:
    """The node whose adjoint answers ∂out/∂name."""
    if not ev.has_gradient:
        raise UsageError(f"{what}: the output {ev.output_name} is not a scalar, so it has no gradient "
                         "(check its Jacobian with 'gradcli jacobian')")
    names = step_names(ev)
    if name not in names:
        raise UsageError(f"{what}: {name!r} is not an input or a step of the program "
                         f"(inputs: {', '.join(ev.inputs)}; steps: {', '.join(_steps(ev, names))})")
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


def judge_number(question: str, answer: object, truth: object, rtol: float, atol: float,
                 candidates=None) -> Verdict:
    """One number or array against the truth; arrays element by element; a diagnosis
    from `candidates` (common mistakes) when the answer is wrong."""
    shape = getattr(truth, "shape", ())
    if getattr(answer, "shape", ()) != shape:
        v = Verdict(question, answer, truth, False, f"expected shape {shape}, got {getattr(answer, 'shape', ())}")
    else:
        v = Verdict(question, answer, truth, close(answer, truth, rtol, atol))
        if shape and not v.ok:
            v.elements = wrong_elements(answer, truth, rtol, atol)
            n = 1
            for d in shape:
                n *= d
            v.how = f"{len(v.elements)} of {n} elements wrong"
    if not v.ok and candidates:
        v.diagnosis = mistakes_mod.diagnose(candidates, answer, truth, lambda a, t: close(a, t, rtol, atol))
    return v


def judge_numbers(ev: Evaluation, expected: dict[str, object], expected_values: object,
                  rtol: float, atol: float) -> list[Verdict]:
    """``--expect-value`` answers (a dict from step name, None for the output, to the
    answer; or just the output's value, or None) and ``--expect`` answers."""
    if not isinstance(expected_values, dict):
        expected_values = {} if expected_values is None else {None: expected_values}
    verdicts = []
    for name, answer in expected_values.items():
        truth = value_of(ev, name, f"--expect-value {name}" if name else "--expect-value")
        question = "value" if name is None or name == ev.output_name else f"value {name}"
        verdicts.append(judge_number(question, answer, truth, rtol, atol))
    for name, answer in expected.items():
        node = adjoint_node(ev, name, f"--expect {name}")
        verdicts.append(judge_number(name, answer, ev.adjoints[node], rtol, atol, mistakes_mod.mistakes(ev, node)))
    return verdicts


def parse_formula(text: str):
    """A student's formula as a graph, by gradcli's own parser; GradcliError if unreadable."""
    from ..language.lower import lower
    from ..language.parser import parse

    return lower(parse(text))


def judge_formulas(ev: Evaluation, formulas: dict[str, str], seconds: float,
                   rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> list[Verdict]:
    """Each ``NAME -> formula text`` against ∂out/∂NAME: at the point, near it, and by SymPy."""
    if not formulas:
        return []
    targets = {name: adjoint_node(ev, name, f"--expect-formula {name}") for name in formulas}
    verdicts: dict[str, Verdict] = {}
    graphs = {}
    for name, text in formulas.items():
        v, graph = judge_formula_at_point(ev, name, targets[name], text, rtol, atol)
        verdicts[name] = v
        if graph is not None:
            graphs[name] = graph
    if graphs:
        proved = _symbolic(ev, {n: targets[n] for n in graphs}, graphs, seconds)
        for name in graphs:
            _finish(verdicts[name], proved.get(name), bool(proved[""]))
    _formula_truths(ev, [verdicts[n] for n in formulas if not isinstance(verdicts[n].truth, str)], targets,
                    seconds)
    return [verdicts[name] for name in formulas]


def _formula_truths(ev: Evaluation, verdicts: list[Verdict], targets: dict[str, int], seconds: float) -> None:
    """The right formula, in gradcli's syntax, for answers SymPy did not get to (wrong or
    unreadable ones), so that --reveal shows a formula, not only a number.  From the
    symbolic sweep of `gradcli diff`, under the time budget: a scalar program's in its
    inputs, an array program's as a matrix formula over the program's step names
    (``outer(u * h * (1 - h), x)``)."""
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
            for question, label in labels.items():
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


def judge_formula_at_point(ev: Evaluation, name: str, node: int, text: str, rtol: float, atol: float,
                           candidates=None):
    """(verdict, graph): the formula evaluated with the steps' values at the point and
    near it.  `graph` is None when nothing more can be learned (unreadable, or wrong)."""
    question = f"formula {name}"
    truth = ev.adjoints[node]
    try:
        graph = parse_formula(text)
    except GradcliError as exc:  # a student's formula that does not parse is a wrong answer, not a crash
        return Verdict(question, text, truth, False, f"does not parse: {exc.message}", "invalid"), None
    names = step_names(ev)
    unknown = [graph.nodes[i].name for i in graph.inputs if graph.nodes[i].name not in names]
    if unknown:
        return Verdict(question, text, truth, False,
                       f"uses names the program does not have: {', '.join(map(str, unknown))}", "invalid"), None
    try:
        value = formula_value(graph, {graph.nodes[i].name: ev.values[names[graph.nodes[i].name]]
                                      for i in graph.inputs})
    except GradcliError as exc:
        return Verdict(question, text, truth, False, f"cannot be evaluated at the point: {exc.message}"), None
    at_point = judge_number(question, value, truth, rtol, atol,
                            mistakes_mod.mistakes(ev, node) if candidates is None else candidates)
    at_point.answer = text
    if not at_point.ok:
        at_point.how = "differs from the derivative at the point" + (f": {at_point.how}" if at_point.how else "")
        return at_point, None
    agree, tried = _near_points(ev, node, graph, names)
    if tried and agree < tried:
        return Verdict(question, text, truth, False,
                       f"right at the point, but differs from the derivative at {tried - agree} of {tried} "
                       "random points near it"), None
    v = Verdict(question, text, truth, True, f"equal at the point and at {tried} random points near it")
    return v, graph


def formula_value(graph, env: dict) -> object:
    """A formula graph evaluated on floats/NumPy (shape and math errors are GradcliErrors)."""
    from ..core.engine import Tape
    from ..core.shapes import infer_shapes

    infer_shapes(graph, env)
    value = Tape(graph).forward(env)[graph.output]
    return float(value) if not getattr(value, "shape", ()) else value


def _near_points(ev: Evaluation, node: int, graph, names: dict[str, int]) -> tuple[int, int]:
    """At how many of FORMULA_POINTS random points near the given one the formula
    (with the steps' values there) equals the engine's adjoint there."""
    import numpy as np

    rng = random.Random(0)
    agree = tried = 0
    for _ in range(FORMULA_POINTS):
        env: dict = {}
        for name, value in ev.env.items():
            if getattr(value, "shape", ()):
                arr = np.asarray(value, dtype=float)
                noise = np.array([rng.random() for _ in range(arr.size)]).reshape(arr.shape)
                shift = np.array([rng.random() for _ in range(arr.size)]).reshape(arr.shape)
                env[name] = arr * (1 + 0.2 * (noise - 0.5)) + 0.1 * (shift - 0.5)
            else:
                env[name] = value * (1 + 0.2 * (rng.random() - 0.5)) + 0.1 * (rng.random() - 0.5)
        try:
            with np.errstate(all="ignore"):
                values = ev.tape.forward(env)
                truth = ev.tape.backward(values)[node]
                got = formula_value(graph, {graph.nodes[i].name: values[names[graph.nodes[i].name]]
                                            for i in graph.inputs})
        except GradcliError:
            continue
        if not np.all(np.isfinite(truth)):
            continue
        tried += 1
        if close(got, truth, FORMULA_RTOL, FORMULA_ATOL) or close(got, truth, 1e-6, 1e-9):
            agree += 1
    return agree, tried


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
    if not v.ok:
        return
    if proved:
        v.how = "equivalent: SymPy simplifies the difference to 0"
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
