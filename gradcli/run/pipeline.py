"""One pipeline: a typed request (`gradcli.run.requests`) in, a typed report
(`gradcli.run.reports`) out, for the command line and the API alike.

Each command's work is here once: parse and bind (`gradcli.run.evaluate.prepare`), the
passes its mode asks for, the checks against the oracles, the explanations, the
Jacobian or Hessian, the judging of answers, the exported script, the descent.  The
command line (`gradcli.cli`) reads its arguments into a request and renders the report;
the API (`gradcli.api`) reads Python values into the same request and wraps the report.

An evaluation runs in two steps, `differentiate` then `finish` (and a matrix in two,
`matrix_evaluation` then `matrix`), so the command line can print the evaluation's
warnings before a check or an explanation fails; `evaluate` runs both.

This module composes `gradcli.oracles` and `gradcli.teach`, so it sits above them
(tests/test_layers.py), though it lives with the requests and reports it connects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.errors import UsageError
from .reports import DiffReport, EvalReport, Explained, ExportReport, JudgeReport, MatrixReport
from .requests import (
    REVERSE_ONLY, Checks, DescendRequest, DiffRequest, EvaluateRequest, PlotRequest, Explain, ExportRequest, JudgeRequest, MatrixRequest,
    Point,
)

if TYPE_CHECKING:  # pragma: no cover
    from .descend import Descent
    from .evaluate import Evaluation


def prepared(point: Point) -> "Evaluation":
    """Parsed, lowered and bound, not yet evaluated (errors here are exit 2)."""
    from .evaluate import prepare

    try:
        return prepare(point.source, point.bindings, point.output, point.wrt)
    except UsageError as exc:
        if point.hints and exc.message.startswith("missing value"):  # why the program's point did not help
            raise UsageError(f"{exc.message}; {point.hints[0]}") from None
        raise


# ---- eval --------------------------------------------------------------------------------------
def evaluate(request: EvaluateRequest) -> EvalReport:
    """``gradcli eval``: values, one derivative pass, the checks and the explanations."""
    return finish(differentiate(request), request)


def differentiate(request: EvaluateRequest) -> "Evaluation":
    """The forward and the backward (or tangent) passes, as the mode and the seeds say."""
    from .evaluate import run, run_forward

    request.validated()
    ev = prepared(request.point)
    if request.resolved_mode == "forward":
        if request.seed is not None:
            from .evaluate import parse_seed

            ev.wrt = [parse_seed(ev, request.seed)[0]]
        return run_forward(ev, request.seed)
    seed = request.seed_output
    if isinstance(seed, str):
        from .bindings import constant_value

        seed = constant_value(seed, "--seed-output")
    return run(ev, seed)


def finish(ev: "Evaluation", request: EvaluateRequest) -> EvalReport:
    """The checks and the explanations of an evaluation `differentiate` ran."""
    checks = gradient_checks(ev, request.checks)
    return EvalReport(evaluation=ev, checks=checks, explained=explain(ev, request.explain,
                                                                      request.checks.sympy_timeout))


def gradient_checks(ev: "Evaluation", checks: Checks) -> list:
    """The gradient checked by each oracle asked for (sympy first, then fd)."""
    if not checks.kinds:
        return []
    if not ev.has_gradient:
        raise UsageError("checks need a scalar output (or a cotangent, --seed-output); for a vector output "
                         "use 'gradcli jacobian'")
    found = []
    if "sympy" in checks.kinds:
        from ..oracles.sympy_check import sympy_check

        found.append(sympy_check(ev, checks.rtol, checks.atol, checks.sympy_timeout))
    if "fd" in checks.kinds:
        from ..oracles.checks import finite_differences

        found.append(finite_differences(ev, checks.rtol, checks.atol))
    return found


def explain(ev: "Evaluation", asked: Explain, sympy_timeout: float) -> Explained:
    """The explanations asked for (steps, paths, edges, jacobians, exact, latex)."""
    steps, paths, edges, jacobians = asked.steps, asked.paths, asked.edges or asked.jacobians, asked.jacobians
    done = Explained()
    if steps and ev.mode == "forward" and not (paths or edges or jacobians):
        from ..teach.forward import check_forward_steps

        check_forward_steps(ev)  # refuses what it cannot explain, before anything is printed (kept for the text)
        done.forward_steps = True
    elif steps or paths or edges:
        if not ev.adjoints:
            raise UsageError(REVERSE_ONLY)  # a vector output (the flags alone: gradcli.cli.conflicts)
        done.steps, done.paths, done.edges, done.jacobians = steps, paths, edges, jacobians
    if asked.exact or asked.latex:
        if not ev.scalar_output:
            raise UsageError("--exact and --latex need a scalar output")
        from ..oracles.exact import run_exact

        if asked.exact:
            done.exact = run_exact(ev, sympy_timeout)
        if asked.latex:
            _latex(ev, done, steps, 10 if asked.digits is None else asked.digits, sympy_timeout)
    return done


def _latex(ev: "Evaluation", done: Explained, steps: bool, places: int, sympy_timeout: float) -> None:
    from ..oracles.exact import run_latex
    from ..teach.explain import paths_latex, steps_latex

    done.latex = run_latex(ev, sympy_timeout)
    if not ev.tape.scalar:  # arrays, either mode: the chains of local Jacobians
        done.latex.update(paths_latex(ev))
    if not ev.adjoints:  # forward mode: the tangent passes, written out
        if done.forward_steps:
            from ..teach.forward import forward_steps_latex

            done.latex_steps = forward_steps_latex(ev, places)
    elif steps or not ev.tape.scalar:  # reverse mode: the sweep (on arrays, the matrix rules always)
        done.latex_steps = steps_latex(ev, places)


# ---- jacobian, hessian -------------------------------------------------------------------------
def matrix_evaluation(request: MatrixRequest) -> "Evaluation":
    """The evaluation a Jacobian or Hessian is taken at, its size checked before any pass."""
    from .derivatives import check_matrix_size
    from .evaluate import run

    request.validated()
    ev = prepared(request.point)
    if request.kind == "hessian" and ev.graph.nodes[ev.graph.output].shape != ():
        shape = ev.graph.nodes[ev.graph.output].shape
        raise UsageError(f"the Hessian needs a scalar output; {ev.output_name} has shape {shape}")
    check_matrix_size(ev, request.kind)  # a size that cannot fit is refused at once
    return run(ev)


def matrix(ev: "Evaluation", request: MatrixRequest) -> MatrixReport:
    """The matrix (a Jacobian in `request.mode`, both modes compared with "both"), checked."""
    from ..core.fmt import plural
    from ..oracles.matrix_checks import check_matrix
    from .derivatives import hessian, jacobian, largest_difference

    if request.kind == "hessian":
        found = hessian(ev)
    else:
        found = jacobian(ev, "reverse" if request.mode == "both" else request.mode)
    if request.mode == "both":
        other = jacobian(ev, "forward")
        gap = largest_difference(found.data, other.data)
        found.notes.append(f"reverse mode: {plural(found.passes, 'backward pass')}; forward mode: "
                           f"{plural(other.passes, 'tangent pass')}; largest difference {gap:.3g}")
        found.mode = "both"
        found.agreement = gap  # type: ignore[attr-defined]
    for kind in request.checks.kinds:
        found.checks.append(check_matrix(ev, found, kind, request.checks.rtol, request.checks.atol,
                                         request.checks.sympy_timeout))
    return MatrixReport(evaluation=ev, matrix=found)


# ---- check -------------------------------------------------------------------------------------
def homework_request(request: JudgeRequest) -> Any:
    """The answers and rules as `gradcli.teach.homework` takes them."""
    from ..teach import homework
    from ..teach.answers import Rules

    judging = homework.Request(rules=Rules.of(request.rtol, request.atol, request.min_digits),
                               data=tuple(request.data), prove=request.sympy_timeout if request.prove else 0.0,
                               reveal=request.reveal)
    judging.expect = {name: homework.Answer(*answer) for name, answer in request.expect.items()}
    judging.values = {name: homework.Answer(*answer) for name, answer in request.values.items()}
    judging.formulas = dict(request.formulas)
    return judging


def judge(ev: "Evaluation", request: JudgeRequest) -> JudgeReport:
    """One student's answers at the evaluation `evaluated` ran, judged."""
    from ..teach import homework

    judging = homework_request(request)
    return JudgeReport(evaluation=ev, verdicts=homework.judge(ev, judging), rules=judging.rules,
                       reveal=request.reveal)


def evaluated(point: Point) -> "Evaluation":
    """Values and, for a scalar output, the gradient."""
    from .evaluate import run

    return run(prepared(point))


# ---- export, descend ---------------------------------------------------------------------------
def export(ev: "Evaluation", request: ExportRequest) -> ExportReport:
    """The program at the evaluation `evaluated` ran, as a NumPy, PyTorch or JAX script."""
    from ..teach import export as scripts

    request.validated()
    script = scripts.to_numpy(ev) if request.target == "numpy" else scripts.to_framework(ev, request.target)
    return ExportReport(evaluation=ev, script=script)


def descend(request: DescendRequest) -> "Descent":
    """Gradient descent from the point's values (`gradcli.run.descend`)."""
    from .descend import descend as run_descent

    request.validated()
    point = request.point
    return run_descent(point.source, point.bindings, lr=request.lr, steps=request.updates, wrt=point.wrt,
                       momentum=request.momentum, tol=request.tol, every=request.every, output=point.output,
                       data=request.examples, batch=request.batch, seed=request.shuffle_seed)


# ---- diff --------------------------------------------------------------------------------------
def diff(request: DiffRequest) -> DiffReport:
    """Derivatives as formulas: matrix formulas when the point gives an input a shape (or an
    op needs arrays), else scalar formulas within the SymPy time budget."""
    from ..language.lower import lower
    from ..language.parser import parse

    graph = lower(parse(request.source), request.output)
    from ..teach.derive import refuse_no_point_free

    refuse_no_point_free(graph)
    report = DiffReport(source=request.source, output=graph.label(graph.output), steps=request.steps,
                        latex=request.latex)
    shaped = None if request.shapes is None else _shapes_from(graph, request.shapes)
    if shaped is not None:
        from ..teach import derive_arrays

        report.arrays, report.shapes_from = derive_arrays.derive_arrays(graph, request.wrt), shaped
        return report
    from ..teach import derive

    report.formulas = derive.derive_within(graph, request.wrt, request.sympy_timeout, request.steps,
                                           request.latex, request.expand)  # one deadline for all
    return report


def _shapes_from(graph: Any, bound: dict) -> Any:
    """Set the graph's shapes from the values `bound`; where they came from, or None when
    every node is a scalar (then the scalar derivation runs, as without a point)."""
    from ..core.ops import OPS
    from ..core.shapes import infer_shapes

    env = {}
    for i in graph.inputs:
        name = graph.nodes[i].name
        env[name] = bound[name].value if name in bound else 0.0
    infer_shapes(graph, env)
    tensor = any(n.shape not in ((), None) for n in graph.nodes) or any(
        n.op not in ("input", "const") and not OPS[n.op].elementwise for n in graph.nodes)
    if not tensor:
        return None
    origins: list[str] = []
    missing = []
    for i in graph.inputs:
        b = bound.get(graph.nodes[i].name)
        if b is None:
            missing.append(graph.nodes[i].name)
            continue
        where = {"program": "the program's #: lines", "argument": "the command line"}.get(b.origin, b.origin)
        if where not in origins:
            origins.append(where)
    text = " and ".join(origins) or "nowhere"
    if missing:
        text += f" ({', '.join(missing)}: no value, so a scalar)"
    return text


# ---- plot --------------------------------------------------------------------------------------
def sample(request: PlotRequest) -> Any:
    """The program sampled for ``gradcli plot``: a `gradcli.run.sample.Curve` (one range, with
    finite differences when asked) or a `gradcli.run.sample.Field` (two)."""
    from . import sample as sampling

    request.validated()
    point = request.point
    if len(request.ranges) == 1:
        curve = sampling.curve(point.source, request.ranges[0], point.bindings, point.output)
        if request.overlay == "fd":
            sampling.with_finite_differences(curve, point.source, point.bindings, point.output)
        return curve
    return sampling.field(point.source, request.ranges[0], request.ranges[1], point.bindings, point.output)
