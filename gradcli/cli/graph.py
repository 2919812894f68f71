"""``gradcli graph``: the DAG as the lecture slides draw it, in the terminal or as a file."""

from __future__ import annotations

import sys
from typing import Optional, Union


from ..core.errors import ExitStatus, UsageError, one_line
from ..core.fmt import a_format
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import warn, echo
from .program import input_files, prepare_evaluation


@main.command("graph", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("graph")
def graph_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                  output: Optional[str], wrt: Optional[str], fmt: Optional[str], out_file: Optional[str],
                  seed_output: Optional[str], digits: Optional[int]) -> int:
    """Draw PROGRAM's DAG like the lecture slides: values, adjoints, local derivatives.

    \b
    gradcli graph "(a+b)*(b+1)" a=3 b=2
    gradcli graph "(a+b)*(b+1)" a=3 b=2 --format dot -o lecture.dot
    gradcli graph "(a+b)*(b+1)" a=3 b=2 --format svg -o lecture.svg
    gradcli graph "(a+b)*(b+1)" a=3 b=2 --format html -o lecture.html
    """
    from ..run.evaluate import run
    from ..teach.pictures import render
    from .files import picture_format, refuse_overwrite, write_output

    fmt = picture_format(out_file, fmt)
    refuse_overwrite("-o", out_file, input_files(args, program_file, vars_files))
    ev = prepare_evaluation(args, program_file, vars_files, output, wrt)
    seed = None
    if seed_output is not None:
        from ..run.bindings import constant_value

        seed = constant_value(seed_output, "--seed-output")
    run(ev, seed)
    warn(ev.warnings)
    if fmt == "html":
        from ..output.stepper import page
        from ..teach.explain import steps_text

        shown = 6 if digits is None else digits
        picture: Union[str, bytes] = page(ev, shown, steps_text(ev, shown, array_digits=digits) if ev.adjoints else None)
    else:
        picture = render(ev, fmt, digits)
    if isinstance(picture, str) and not picture.endswith("\n"):
        picture += "\n"
    if out_file is not None and out_file != "-":
        write_output(out_file, picture, "-o")
        echo(f"gradcli: wrote {a_format(fmt, 'picture')} to {one_line(out_file)}", err=True)
    elif isinstance(picture, bytes):
        if sys.stdout.isatty():
            raise UsageError("a PNG is binary: write it to a file with -o FILE.png")
        write_output("-", picture, "-o")
    else:
        if fmt == "text":  # as wide as COLUMNS (or the terminal) says, continuation lines indented
            import os
            import shutil

            from ..output.terminal import wrap_text
            from .printing import terminal_columns

            width = terminal_columns(os.environ.get("COLUMNS"))
            if width is None and sys.stdout.isatty():
                width = shutil.get_terminal_size().columns
            if width is not None:
                picture = wrap_text(picture, width)
        echo(picture.rstrip("\n"))
    return int(ExitStatus.OK)
