"""``gradcli descend``: gradient descent on a program's output, with the same engine."""

from __future__ import annotations

from typing import Any, Optional

from ..core.errors import ExitStatus, UsageError
from ..core.fmt import a_format
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import make_console, csv_text, echo_json, output_kind, write_or_print, echo
from .program import ProgramOptions, names_of, one_stdin, output_format, program_and_bindings
from ..run.requests import DescendRequest, Point


class DescendOptions(ProgramOptions):
    """Everything ``gradcli descend`` was asked: one field per option (`gradcli.cli.options`)."""

    lr: float = 0.1
    updates: int = 50
    momentum: float = 0.0
    tol: float = 0.0
    every: int = 1
    examples_file: Optional[str] = None
    batch: Optional[int] = None
    shuffle_seed: int = 0
    fmt: str = "table"
    as_json: bool = False
    plot_file: Optional[str] = None


@main.command("descend", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("descend")
def descend_command(**params: Any) -> int:
    """Gradient descent on PROGRAM's output: θ ← θ − lr·∇output, with the same engine.

    \b
    gradcli descend "(x-1)^2 + 10*(y-x^2)^2" x=-1 y=2 --lr 0.01 --updates 200 --every 20
    gradcli descend "(w*x - y)^2" w=0 --examples data.csv --batch 8 --lr 0.05
    gradcli descend -f loss.grad --vars start.json --momentum 0.9 --plot loss.png
    """
    from ..run import pipeline
    from ..run.descend import Diverged

    r = DescendOptions(**params)
    fmt = output_format(r.as_json, r.fmt)
    plot_inputs = [("-f", r.program_file), ("--examples", r.examples_file), *(("--vars", v) for v in r.vars_files)]
    if r.plot_file:  # before the run, as every output: a picture that cannot be written is refused first
        _plot_target(r.plot_file, plot_inputs)
    request = descend_request(r)
    source, start = request.point.source, request.point.bindings
    try:
        run_ = pipeline.descend(request)
    except Diverged as exc:  # the rows reached tell where it went wrong: print them, then the error
        if exc.partial.records:
            _show_descent(exc.partial, fmt)
        raise
    if r.plot_file:  # drawn first: a picture that cannot be drawn is an error before anything is printed
        _plot_descent(run_, source, start, r.output, r.plot_file, plot_inputs)
    _show_descent(run_, fmt)
    return int(ExitStatus.OK)


def descend_request(r: DescendOptions) -> DescendRequest:
    """The typed request the options ask for (the API builds the same, `gradcli.api.descend`)."""
    from ..run import batch as batch_mod
    from ..run import bindings as binding_mod

    one_stdin(r.args, r.program_file, r.vars_files, examples=r.examples_file)
    source, rest = program_and_bindings(r.args, r.program_file)
    start = binding_mod.collect(rest, r.vars_files)
    examples = batch_mod.read_points(r.examples_file, "--examples") if r.examples_file else None
    return DescendRequest(point=Point(source=source, bindings=start, output=r.output, wrt=names_of(r.wrt)),
                          lr=r.lr, updates=r.updates, momentum=r.momentum, tol=r.tol, every=r.every,
                          examples=examples, batch=r.batch, shuffle_seed=r.shuffle_seed)


def _show_descent(run_: Any, fmt: str) -> None:
    from ..core.fmt import number

    if fmt == "json":
        from ..output.documents import descent_json, dumps_indented

        echo_json(dumps_indented(descent_json(run_)))
        return
    rows = [["step", run_.output, "|gradient|", *run_.wrt]]
    for r in run_.records:
        rows.append([str(r.step), repr(r.loss), repr(r.grad_norm),
                     *(number(r.params[n], 10) if fmt == "table" else _cell(r.params[n]) for n in run_.wrt)])
    if fmt == "csv":
        echo(csv_text(rows), nl=False)
        return
    from rich.table import Table

    from ..output.tables import Style

    console = make_console()
    why = {"tolerance": "stopped at --tol", "diverged": "diverged"}.get(run_.stopped, "all --updates")
    count = f"{run_.steps_taken} step{'' if run_.steps_taken == 1 else 's'}"
    table = Table(title=f"Gradient descent on {run_.output}: {count} ({why})",
                  title_justify="left", box=Style(console.is_terminal).box)
    for k, head in enumerate(rows[0]):
        table.add_column(head, justify="right" if k < 3 else "left")
    for row in rows[1:]:
        table.add_row(row[0], number(float(row[1]), 10), number(float(row[2]), 4), *row[3:])
    console.print(table)


def _cell(x: Any) -> str:
    import json

    return json.dumps(x.tolist()) if hasattr(x, "tolist") and bool(getattr(x, "shape", ())) else repr(float(x))


def _plot_target(plot_file: str, inputs: list[tuple[str, Optional[str]]]) -> str:
    """The picture's format for --plot FILE; a UsageError for stdout (the table goes there),
    another extension, a folder or an input file."""
    import os

    from .files import refuse_overwrite

    if plot_file == "-":
        raise UsageError("--plot -: the steps are printed on stdout; write the picture to a file "
                         "(--plot loss.png or loss.svg)")
    kind = output_kind(None, plot_file, ("png", "svg"), "--plot")
    if os.path.isdir(plot_file):
        raise UsageError(f"--plot {plot_file}: is a folder, not a file")
    refuse_overwrite("--plot", plot_file, inputs)
    return kind


def _plot_descent(run_: Any, source: str, start: Any, output: Optional[str], plot_file: str,
                  inputs: list[tuple[str, Optional[str]]]) -> None:
    from ..output import plots

    kind = _plot_target(plot_file, inputs)
    losses = run_.losses or [(r.step, r.loss) for r in run_.records]  # every step, not only the shown rows
    scalars = [n for n in run_.wrt if not getattr(run_.final[n], "shape", ())]
    if len(run_.wrt) == 2 and len(scalars) == 2:
        from ..run import sample

        path = [(float(p[scalars[0]]), float(p[scalars[1]])) for p in run_.history]  # type: ignore[arg-type]
        xs, ys = [p[0] for p in path], [p[1] for p in path]

        def span(values: list[float]) -> tuple[float, float]:
            lo, hi = min(values), max(values)
            pad = max(0.25 * (hi - lo), 0.5)
            return lo - pad, hi + pad

        (x0, x1), (y0, y1) = span(xs), span(ys)
        fixed = {k: v for k, v in start.items() if k not in scalars}
        fld = sample.field(source, sample.Range(scalars[0], x0, x1, None), sample.Range(scalars[1], y0, y1, None),
                           fixed, output)
        data = plots.figure_field(fld, kind, path)
    else:
        data = plots.figure_descent(losses, run_.output, kind)
    write_or_print(data, plot_file, a_format(kind, "plot"), inputs, "--plot")
