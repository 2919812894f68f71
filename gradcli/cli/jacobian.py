"""``gradcli jacobian`` and ``gradcli hessian``: matrices of derivatives, checked and printed."""

from __future__ import annotations

from typing import Any, Optional

from ..core.errors import ExitStatus
from ..run.reports import MatrixReport
from ..run.requests import Checks, MatrixRequest
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import make_console, warn, write_csv, echo
from .program import ProgramOptions, output_format, read_point


class MatrixOptions(ProgramOptions):
    """Everything ``gradcli jacobian`` or ``gradcli hessian`` was asked: one field per option."""

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
    return _run_matrix("jacobian", MatrixOptions(**params))


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
    return _run_matrix("hessian", MatrixOptions(**params))


def matrix_request(kind: str, r: MatrixOptions) -> MatrixRequest:
    """The typed request the options ask for (the API builds the same, `gradcli.api.jacobian`)."""
    return MatrixRequest(point=read_point(r.args, r.program_file, r.vars_files, r.output, r.wrt), kind=kind,
                         mode=r.mode, checks=Checks.of(r.check, r.rtol, r.atol, r.sympy_timeout))


def _run_matrix(kind: str, r: MatrixOptions) -> int:
    from ..run import pipeline

    request = matrix_request(kind, r)
    ev = pipeline.matrix_evaluation(request)
    warn(ev.warnings)
    report = pipeline.matrix(ev, request)
    _emit_matrix(report, output_format(r.as_json, r.fmt), r.full, r.digits)
    return int(ExitStatus.CHECK_FAILED if report.failed else ExitStatus.OK)


def _emit_matrix(report: MatrixReport, fmt: str, full: bool, digits: Optional[int]) -> None:
    ev, matrix = report.evaluation, report.matrix
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
