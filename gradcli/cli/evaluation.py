"""What ``gradcli eval`` does, without the command-line parsing: no click import here.

`gradcli.cli.eval` parses the arguments with click and calls `run_eval`; `gradcli.cli.main`
calls it directly for the simplest command lines (so a plain ``gradcli eval PROGRAM a=1
--json`` in a shell loop never pays for importing click).
"""

from __future__ import annotations

import sys
from typing import Optional

from ..core.errors import ExitStatus, UsageError
from .printing import make_console, warn, write_csv, echo
from .program import output_format, one_stdin, prepare_evaluation, program_and_bindings
from .records import Record


class EvalRequest(Record):
    """Everything ``gradcli eval`` was asked: one field per option (`gradcli.cli.options`)."""

    args: tuple[str, ...]
    program_file: Optional[str] = None
    vars_files: tuple[str, ...] = ()
    output: Optional[str] = None
    wrt: Optional[str] = None
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


def run_eval(r: EvalRequest) -> int:
    """``gradcli eval``: the exit status."""
    fmt = output_format(r.as_json, r.fmt)
    if r.points_file is not None:  # the flags it refuses: gradcli.cli.conflicts
        return _batch(r, r.points_file, fmt)
    ev = prepare_evaluation(r.args, r.program_file, r.vars_files, r.output, r.wrt)
    _differentiate(ev, r)
    warn(ev.warnings)
    checks = []
    if ev.has_gradient:
        checks = _gradient_checks(ev, r.check, r.rtol, r.atol, r.sympy_timeout)
    elif r.check:
        raise UsageError("checks need a scalar output (or --seed-output); for a vector output use 'gradcli jacobian'")
    _explain(ev, r)
    _emit(ev, checks, fmt, r.show_nodes, r.full, r.digits)
    failed = any(c.failed for c in checks)
    return int(ExitStatus.CHECK_FAILED if failed else ExitStatus.OK)


def _differentiate(ev, r: EvalRequest) -> None:
    """The forward and the backward (or tangent) passes, as --mode, --seed and --seed-output say."""
    from ..run.evaluate import run, run_forward

    mode = r.mode or ("forward" if r.seed_input is not None else "reverse")  # --seed: a tangent pass
    if mode == "forward":
        if r.seed_input is not None:
            from ..run.evaluate import parse_seed

            ev.wrt = [parse_seed(ev, r.seed_input)[0]]
        run_forward(ev, r.seed_input)
    else:
        seed = None
        if r.seed_output is not None:
            from ..run.bindings import constant_value

            seed = constant_value(r.seed_output, "--seed-output")
        run(ev, seed)


def _explain(ev, r: EvalRequest) -> None:
    """The explanations asked for (--steps, --paths, --edges, --jacobians, --exact, --latex), into `ev`."""
    steps, paths, edges, jacobians = r.steps, r.paths, r.edges or r.jacobians, r.jacobians
    if steps and ev.mode == "forward" and not (paths or edges or jacobians):
        from ..teach.forward import forward_steps

        forward_steps(ev)  # refuses what it cannot explain, before anything is printed
        ev.extras["forward_steps"] = True
    elif steps or paths or edges:
        if not ev.adjoints:
            from .conflicts import REVERSE_ONLY  # (on the error path: the fast path never loads the table)

            raise UsageError(REVERSE_ONLY)  # a vector output (the flags alone: gradcli.cli.conflicts)
        for flag, key in ((steps, "steps"), (paths, "paths"), (edges, "edges"), (jacobians, "jacobians")):
            if flag:
                ev.extras[key] = True
    if r.exact or r.latex:
        if not ev.scalar_output:
            raise UsageError("--exact and --latex need a scalar output")
        from ..oracles.exact import run_exact, run_latex

        if r.exact:
            ev.extras["exact"] = run_exact(ev, r.sympy_timeout)
        if r.latex:
            ev.extras["latex"] = run_latex(ev, r.sympy_timeout)
            from ..teach.explain import paths_latex, steps_latex

            places = 10 if r.digits is None else r.digits
            if not ev.tape.scalar:  # arrays, either mode: the chains of local Jacobians
                ev.extras["latex"].update(paths_latex(ev))
            if not ev.adjoints:  # forward mode: the tangent passes, written out
                if "forward_steps" in ev.extras:
                    from ..teach.forward import forward_steps_latex

                    ev.extras["latex_steps"] = forward_steps_latex(ev, places)
            elif steps or not ev.tape.scalar:  # reverse mode: the sweep (on arrays, the matrix rules always)
                ev.extras["latex_steps"] = steps_latex(ev, places)


def check_kinds(check: tuple[str, ...]) -> set[str]:
    return {"sympy", "fd"} if "all" in check else set(check)


def _gradient_checks(ev, check, rtol, atol, sympy_timeout) -> list:
    checks = []
    kinds = check_kinds(check)
    if "sympy" in kinds:
        from ..oracles.sympy_check import sympy_check

        checks.append(sympy_check(ev, rtol, atol, sympy_timeout))
    if "fd" in kinds:
        from ..oracles.checks import finite_differences

        checks.append(finite_differences(ev, rtol, atol))
    return checks


def _emit(ev, checks, fmt: str, show_nodes: Optional[bool], full: bool, digits: Optional[int]) -> None:
    if fmt == "json":
        from ..output.documents import write_json

        write_json(ev, checks, lambda text: echo(text, nl=False, escape=False), with_nodes=show_nodes is not False)
    elif fmt in ("csv", "tsv"):
        from ..output.documents import csv_rows

        if not ev.has_gradient and ev.mode != "forward":
            shape = ev.graph.nodes[ev.graph.output].shape
            warn([f"no gradient columns: the output has shape {shape}, so its derivative is a Jacobian; "
                   "use 'gradcli jacobian', or --seed-output for one vector-Jacobian product"])
        write_csv(csv_rows(ev, checks), fmt)
    else:
        from ..output.tables import Style, evaluation

        console = make_console()
        # uncropped: tables fit the width and text wraps, but LaTeX lines are printed whole
        console.print(evaluation(ev, checks, Style(console.is_terminal, digits), show_nodes, full), crop=False)


def _batch(r: EvalRequest, points_file: str, fmt: str) -> int:
    """``--points``: values and gradients at every row, in one vectorized pass."""
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
