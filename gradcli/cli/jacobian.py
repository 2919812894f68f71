"""``gradcli jacobian`` and ``gradcli hessian``: matrices of derivatives, checked and printed."""

from __future__ import annotations

from typing import Any, Optional

from ..core.errors import ExitStatus, UsageError
from ..core.fmt import plural
from .evaluation import check_kinds
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import make_console, warn, write_csv, echo
from .program import output_format, prepare_evaluation
from .records import Record


class MatrixRequest(Record):
    """Everything ``gradcli jacobian`` or ``gradcli hessian`` was asked: one field per option."""

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
    mode: str = "reverse"  # jacobian only


@main.command("jacobian", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("jacobian")
def jacobian_command(**params: Any) -> int:
    """The Jacobian of PROGRAM's output with respect to its inputs.

    Rows are output elements (y[0], y[1], ...), columns input elements (x[0], W[0,1],
    ...), inputs in --wrt order, each flattened row-major.

    \b
    gradcli jacobian "softmax(z)" z=[1,2,3]
    gradcli jacobian "softmax(z)" z=[1,2,3] --mode both --check all
    gradcli jacobian "[x*y, x+y]" x=1 y=2 --wrt y,x --json
    """
    from ..run.derivatives import check_matrix_size, jacobian
    from ..run.evaluate import run

    r = MatrixRequest(**params)
    ev = prepare_evaluation(r.args, r.program_file, r.vars_files, r.output, r.wrt)
    check_matrix_size(ev, "jacobian")  # before the forward pass: a size that cannot fit is refused at once
    run(ev)
    warn(ev.warnings)
    matrix = jacobian(ev, "reverse" if r.mode == "both" else r.mode)
    if r.mode == "both":
        from ..run.derivatives import largest_difference

        other = jacobian(ev, "forward")
        gap = largest_difference(matrix.data, other.data)
        matrix.notes.append(
            f"reverse mode: {plural(matrix.passes, 'backward pass')}; forward mode: {plural(other.passes, 'tangent pass')}; "
            f"largest difference {gap:.3g}"
        )
        matrix.mode = "both"
        matrix.agreement = gap  # type: ignore[attr-defined]
    return _finish_matrix(ev, matrix, r)


@main.command("hessian", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("hessian")
def hessian_command(**params: Any) -> int:
    """Second derivatives of PROGRAM's scalar output (forward-over-reverse).

    Computed by differentiating the gradient with dual numbers, not by finite
    differences; symmetric to rounding.

    \b
    gradcli hessian "x^2*y + sin(x*y)" x=1 y=2
    gradcli hessian "x^2*y + sin(x*y)" x=1 y=2 --check all --json
    gradcli hessian "sum(log(1 + exp(-w*x)))" w=[0.5,-1] x=[1,2] --format csv
    """
    from ..run.derivatives import check_matrix_size, hessian
    from ..run.evaluate import run

    r = MatrixRequest(**params)
    ev = prepare_evaluation(r.args, r.program_file, r.vars_files, r.output, r.wrt)
    if ev.graph.nodes[ev.graph.output].shape != ():
        shape = ev.graph.nodes[ev.graph.output].shape
        raise UsageError(f"the Hessian needs a scalar output; {ev.output_name} has shape {shape}")
    check_matrix_size(ev, "hessian")
    run(ev)
    warn(ev.warnings)
    matrix = hessian(ev)
    return _finish_matrix(ev, matrix, r)


def _finish_matrix(ev, matrix, r: MatrixRequest) -> int:
    from ..oracles.matrix_checks import check_matrix

    kinds = check_kinds(r.check)
    for kind in ("sympy", "fd"):
        if kind in kinds:
            matrix.checks.append(check_matrix(ev, matrix, kind, r.rtol, r.atol, r.sympy_timeout))
    _emit_matrix(ev, matrix, output_format(r.as_json, r.fmt), r.full, r.digits)
    failed = any(c.status == "fail" for c in matrix.checks)
    return int(ExitStatus.CHECK_FAILED if failed else ExitStatus.OK)


def _emit_matrix(ev, matrix, fmt: str, full: bool, digits: Optional[int]) -> None:
    if fmt == "json":
        from ..output.documents import dumps, matrix_json

        echo(dumps(matrix_json(ev, matrix)), escape=False)
    elif fmt in ("csv", "tsv"):
        write_csv(_matrix_rows(matrix), fmt)
    else:
        from ..output.tables import Style, matrix_view

        console = make_console()
        console.print(matrix_view(ev, matrix, Style(console.is_terminal, digits, full)))


def _matrix_rows(matrix) -> list[list[str]]:
    rows = [["", *matrix.columns]]
    for label, row in zip(matrix.rows, matrix.data):
        rows.append([label, *(repr(float(v)) for v in row)])
    return rows
