"""``gradcli diff``: derivatives as formulas, scalar or matrix, without numbers."""

from __future__ import annotations

from typing import Any

from ..core.errors import ExitStatus
from ..core.fmt import tex_name
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import echo_json, echo
from .program import ProgramOptions, names_of, one_stdin, program_and_bindings, program_point


class DiffOptions(ProgramOptions):
    """Everything ``gradcli diff`` was asked: one field per option (`gradcli.cli.options`)."""

    shapes: tuple[tuple[str, tuple[int, ...], str], ...] = ()  # gradcli.cli.paramtypes.Shape
    steps: bool = False
    expand: bool = False
    latex: bool = False
    as_json: bool = False
    sympy_timeout: float = 10.0


@main.command("diff", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("diff")
def diff_command(**params: Any) -> int:
    """Derivatives of PROGRAM as formulas: no numbers needed.

    The reverse sweep runs in symbols over the program's own graph ("downstream =
    upstream × local", summed where a node feeds several others); each formula is
    written in gradcli's language, so gradcli reads it back.  Inputs are scalars,
    unless the program's point (its #: lines, NAME=VALUE, --vars) or --shape gives them
    shapes: then the derivatives are matrix formulas (only the shapes of values are used).

    \b
    gradcli diff "(a+b)*(b+1)"
    gradcli diff "f = (x+y)*max(y,z)" --steps
    gradcli diff -f samples/tiny_net.grad --wrt w11
    gradcli diff -f samples/tiny_net.grad --wrt w11 --expand
    gradcli diff -f samples/layer.grad
    gradcli diff "dot(u, sigmoid(W@x + b))" --vars samples/layer.json
    gradcli diff "sum(sigmoid(W@x))" --shape W=3x2 --shape x=2
    """
    from ..run import bindings as binding_mod
    from ..run import pipeline
    from ..run.requests import DiffRequest

    r = DiffOptions(**params)
    one_stdin(r.args, r.program_file, r.vars_files)
    source, rest = program_and_bindings(r.args, r.program_file)
    point, default_output, problems = program_point(source, r.program_file)
    shapes = None
    if rest or r.vars_files or point or r.shapes:  # a point: its values give the inputs their shapes
        shapes = {**point, **binding_mod.collect([a for a in rest if not a.startswith("#")], r.vars_files),
                  **_shape_options(r.shapes)}
    report = pipeline.diff(DiffRequest(source=source, shapes=shapes, output=r.output or (
        default_output if point else None), wrt=names_of(r.wrt), steps=r.steps, expand=r.expand, latex=r.latex,
        sympy_timeout=r.sympy_timeout))
    if r.as_json:
        from ..output.documents import diff_json, dumps_indented

        echo_json(dumps_indented(diff_json(report)))
    elif report.arrays is not None:
        _show_arrays(report)
    else:
        _show_formulas(report)
    return int(ExitStatus.OK)


def _show_formulas(report: Any) -> None:
    written, out = report.formulas, report.output
    if written.steps is not None:
        echo(written.steps)
        echo()
    if written.where:
        echo("where (the program's steps):")
        for line in written.where:
            echo(f"  {line}")
        echo()
    for name, formula in written.formulas.items():
        echo(f"∂{out}/∂{name} = {formula}")
    if written.latex is not None:
        echo()
        for name, tex in written.latex.items():
            echo(f"\\frac{{\\partial {tex_name(out)}}}{{\\partial {tex_name(name)}}} = {tex}")


def _shape_options(shapes: tuple[tuple[str, tuple[int, ...], str], ...]) -> dict:
    """``--shape W=3x2`` (read by `gradcli.cli.paramtypes.Shape`): a Binding of zeros of that
    shape per option (only shapes are used)."""
    import numpy as np

    from ..run.bindings import Binding

    return {name: Binding(name, np.zeros(size), dims, "--shape") for name, size, dims in shapes}


def _show_arrays(report: Any) -> None:
    from ..teach import derive_arrays as da

    d = report.arrays
    if report.steps:
        echo("\n".join(da.steps_text(d)))
        echo()
    echo("\n".join(da.text(d, report.shapes_from)))
    if report.latex:
        echo()
        for name, tex in da.latex(d).items():
            echo(f"\\frac{{\\partial {tex_name(d.output)}}}{{\\partial {tex_name(name)}}} = {tex}")
