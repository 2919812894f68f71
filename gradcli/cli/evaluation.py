"""What ``gradcli eval`` does, without the command-line parsing: no click import here.

`gradcli.cli.eval` parses the arguments with click and calls `run_eval`; `gradcli.cli.main`
calls it directly for the simplest command lines (so a plain ``gradcli eval PROGRAM a=1
--json`` in a shell loop never pays for importing click).  `run_eval` reads the options
into the typed request the API builds too (`gradcli.run.requests.EvaluateRequest`), runs it
through `gradcli.run.pipeline` and renders the report.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

from ..core.errors import ExitStatus
from ..run.requests import Checks, EvaluateRequest, Explain
from .printing import make_console, table_width, warn, write_csv, echo
from .program import ProgramOptions, output_format, one_stdin, program_and_bindings, read_point

if TYPE_CHECKING:  # pragma: no cover
    from ..run.reports import EvalReport


class EvalOptions(ProgramOptions):
    """Everything ``gradcli eval`` was asked: one field per option (`gradcli.cli.options`)."""

    check: tuple[str, ...] = ()
    rtol: Optional[float] = None
    atol: Optional[float] = None
    sympy_timeout: float = 10.0
    as_json: bool = False
    fmt: Optional[str] = None
    full: bool = False
    digits: Optional[int] = None
    show_nodes: Optional[bool] = None
    seed_output: Optional[str] = None
    mode: Optional[str] = None
    seed_input: Optional[str] = None
    steps: bool = False
    paths: bool = False
    edges: bool = False
    jacobians: bool = False
    exact: bool = False
    latex: bool = False
    points_file: Optional[str] = None


def eval_request(r: EvalOptions) -> EvaluateRequest:
    """The typed request the options ask for (the API builds the same, `gradcli.api.evaluate`)."""
    return EvaluateRequest(
        point=read_point(r.args, r.program_file, r.vars_files, r.output, r.wrt),
        mode=r.mode, seed=r.seed_input, seed_output=r.seed_output,
        checks=Checks.of(r.check, r.rtol, r.atol, r.sympy_timeout),
        explain=Explain(steps=r.steps, paths=r.paths, edges=r.edges, jacobians=r.jacobians, exact=r.exact,
                        latex=r.latex, digits=r.digits))


def run_eval(r: EvalOptions) -> int:
    """``gradcli eval``: the exit status."""
    fmt = output_format(r.as_json, r.fmt)
    if r.points_file is not None:  # the flags it refuses: gradcli.cli.conflicts
        return _batch(r, r.points_file, fmt)
    from ..run import pipeline  # after --points, which never needs it

    request = eval_request(r)
    ev = pipeline.differentiate(request)
    warn(ev.warnings)
    report = pipeline.finish(ev, request)
    _emit(report, fmt, r.show_nodes, r.full, r.digits)
    return int(ExitStatus.CHECK_FAILED if report.failed else ExitStatus.OK)


def _emit(report: "EvalReport", fmt: str, show_nodes: Optional[bool], full: bool, digits: Optional[int]) -> None:
    ev = report.evaluation
    if fmt == "json":
        from ..output.documents import write_json

        write_json(report, lambda text: echo(text, nl=False, escape=False), with_nodes=show_nodes is not False)
    elif fmt in ("csv", "tsv"):
        from ..output.documents import csv_rows

        if not ev.has_gradient and ev.mode != "forward":
            shape = ev.graph.nodes[ev.graph.output].shape
            warn([f"no gradient columns: the output has shape {shape}, so its derivative is a Jacobian; "
                   "use 'gradcli jacobian', or --seed-output for one vector-Jacobian product"])
        write_csv(csv_rows(report), fmt)
    else:
        from ..output.plain import evaluation_text

        text = evaluation_text(report, digits, show_nodes, full, *table_width())  # no rich import
        if text is not None:
            echo(text, escape=False)
            return
        from ..output.tables import Style, evaluation

        console = make_console()
        # uncropped: tables fit the width and text wraps, but LaTeX lines are printed whole
        console.print(evaluation(report, Style(console.is_terminal, digits), show_nodes, full), crop=False)


def _batch(r: EvalOptions, points_file: str, fmt: str) -> int:
    """``--points``: values and gradients at every row, in one vectorized pass."""
    _single_threaded_blas()
    from ..run import batch
    from ..run import bindings as binding_mod

    one_stdin(r.args, r.program_file, r.vars_files, points=points_file)
    source, binding_args = program_and_bindings(r.args, r.program_file)
    fixed = binding_mod.collect(binding_args, r.vars_files)
    names, data, lines = batch.read_points_lines(points_file)
    for name in names:
        if name in fixed:
            warn([f"{name}={fixed[name].text} is ignored: the --points column {name} gives its values"])
    wrt_names = [w.strip() for w in r.wrt.split(",") if w.strip()] if r.wrt else None
    n = data.shape[0]
    progress = None
    bar = None
    if n > 5 * batch.CHUNK and sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True, console=make_console(err=True))
        task = bar.add_task("evaluating", total=n)
        bar.start()

        def progress(done: int) -> None:
            bar.advance(task, done)

    try:
        result = batch.evaluate_points(source, names, data, fixed, r.output, wrt_names, progress, lines)
    finally:
        if bar is not None:
            bar.stop()
    warn(result.warnings)
    out = sys.stdout
    if fmt == "json":
        batch.write_json_lines(result, out)
    elif fmt in ("csv", "tsv"):
        batch.write_csv(result, out, fmt)
    else:
        batch.write_csv(result, out, "csv")
    failed = int(result.failed.sum())
    if failed:
        echo(f"gradcli: math error: {failed} of {n} rows are undefined or not finite (written as nan); "
             f"first: {result.first_error}",
                   err=True)
        return int(ExitStatus.MATH_ERROR)
    return int(ExitStatus.OK)


def _single_threaded_blas() -> None:
    """``--points`` evaluates a scalar program elementwise: NumPy's BLAS is never called,
    but its import starts a thread per core that spins for a while, more CPU time than the
    import itself (worst on a busy machine).  One thread unless the user chose a number;
    set only before NumPy's import (the one time it counts), so a process that has NumPy
    already (a test's, a notebook's) keeps its environment as it is."""
    import os

    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
