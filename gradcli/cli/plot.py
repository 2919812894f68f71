"""``gradcli plot``: a function and its derivative over one input, or a gradient field over two."""

from __future__ import annotations

import sys
from typing import Optional


from ..core.errors import ExitStatus, UsageError
from ..core.fmt import a_format
from .group import PROGRAM_COMMAND, main
from .options import declare
from .files import refuse_overwrite
from .printing import csv_text, output_kind, write_or_print
from .program import input_files, one_stdin, program_and_bindings


@main.command("plot", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("plot")
def plot_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                 output: Optional[str], fmt: Optional[str], check: Optional[str], out_file: Optional[str]) -> int:
    """Plot PROGRAM over one input (with its derivative) or two (contours and gradient arrows).

    Ranges are NAME=LOW:HIGH or NAME=LOW:HIGH:POINTS (at most 100,000 points; a 2-D grid at most
    1,000,000, e.g. 1000×1000); other inputs take NAME=VALUE.

    \b
    gradcli plot "x*exp(-x^2)" x=-2:2
    gradcli plot "relu(x) + 0.1*x^2" x=-2:2:400 --check fd -o relu.png
    gradcli plot "(x-1)^2 + 10*(y-x^2)^2" x=-2:2 y=-1:3 -o field.svg
    gradcli plot "w*x + b" w=-1:1 b=0.5 x=2 --format csv
    """
    from ..output import plots
    from ..run import bindings as binding_mod
    from ..run import pipeline, sample
    from ..run.requests import PlotRequest, Point

    one_stdin(args, program_file, vars_files)
    source, rest = program_and_bindings(args, program_file)
    written_from = input_files(args, program_file, vars_files)
    ranges = [sample.parse_range(a) for a in rest if sample.is_range(a)]
    fixed = binding_mod.collect([a for a in rest if not sample.is_range(a)], vars_files)
    for r in ranges:  # a range overrides a --vars value, as any argument does, but not another argument
        if r.name in fixed and fixed[r.name].origin == "argument":
            raise UsageError(f"{r.name} is bound twice on the command line (a range and a value)")
    request = PlotRequest(point=Point(source=source, bindings=fixed, output=output), ranges=ranges,
                          overlay=check).validated()
    kind = output_kind(fmt, out_file, ("text", "png", "svg", "csv"))
    refuse_overwrite("-o", out_file, written_from)  # before the sampling, as every output
    if kind == "text" and out_file in (None, "-") and not sys.stdout.isatty() and fmt is None:
        kind = "csv"  # piped: the data, not a drawing
    sampled = pipeline.sample(request)
    if len(ranges) == 1:
        curve = sampled
        if kind == "csv":
            write_or_print(csv_text(plots.curve_rows(curve)), out_file, "the sampled data", written_from)
        elif kind == "text":
            write_or_print(plots.text_curve(curve), out_file, "the plot", written_from)
        else:
            write_or_print(plots.figure_curve(curve, kind), out_file, a_format(kind, "plot"), written_from)
    else:
        fld = sampled
        if kind == "csv":
            write_or_print(csv_text(plots.field_rows(fld)), out_file, "the sampled data", written_from)
        elif kind == "text":
            raise UsageError("a gradient field is drawn as png or svg (-o field.png), or given as --format csv")
        else:
            write_or_print(plots.figure_field(fld, kind), out_file, a_format(kind, "plot"), written_from)
    return int(ExitStatus.OK)
