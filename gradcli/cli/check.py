"""``gradcli check``: one student's answers, or a class's gradebook."""

from __future__ import annotations

from typing import Any, Optional

from ..core.errors import ExitStatus, UsageError
from .group import PROGRAM_COMMAND, main
from .options import declare
from .printing import make_console, warn, echo
from .program import ProgramOptions, input_files, one_stdin, read_point
from ..run.requests import JudgeRequest


class CheckOptions(ProgramOptions):
    """Everything ``gradcli check`` was asked: one field per option (`gradcli.cli.options`)."""

    expects: tuple[tuple[str, str], ...] = ()  # (NAME, VALUE): gradcli.cli.paramtypes.NameValue
    expect_values: tuple[tuple[Optional[str], str], ...] = ()
    formulas: tuple[tuple[str, str], ...] = ()
    answers: Optional[str] = None
    out_file: Optional[str] = None
    strict: bool = False
    fmt: str = "text"
    reveal: bool = False
    rtol: Optional[float] = None
    atol: Optional[float] = None
    min_digits: Optional[int] = None
    data: tuple[str, ...] = ()
    prove: bool = False
    sympy_timeout: float = 10.0
    as_json: bool = False


@main.command("check", **PROGRAM_COMMAND)  # type: ignore[arg-type]
@declare("check")
def check_command(**params: Any) -> int:
    """Check a student's answers for PROGRAM at NAME=VALUE.

    \b
    gradcli check "(a+b)*(b+1)" a=3 b=2 --expect a=3 --expect b=8
    gradcli check "c = a+b; d = b+1; e = c*d" a=3 b=2 --expect-formula "b=d+c"
    gradcli check -f samples/layer.grad --vars samples/layer.json --expect "z=[0.0705011,-0.0457568,0.106955]"
    gradcli check -f hw3.grad x=1 --answers answers.csv --out grades.csv

    Exit 0 when every answer is right, 1 otherwise.  With --answers: exit 0 once
    the gradebook is written (--strict: 1 when any answer is not right).
    """
    from ..run import pipeline
    from .files import refuse_overwrite

    r = CheckOptions(**params)
    refuse_overwrite("--out", r.out_file, input_files(r.args, r.program_file, r.vars_files, **{"--answers": r.answers}))
    one_stdin(r.args, r.program_file, r.vars_files, answers=r.answers)
    request = JudgeRequest(point=read_point(r.args, r.program_file, r.vars_files, r.output, r.wrt),
                           rtol=r.rtol, atol=r.atol, min_digits=r.min_digits, data=tuple(r.data), prove=r.prove,
                           reveal=r.reveal, sympy_timeout=r.sympy_timeout)
    ev = pipeline.evaluated(request.point)
    warn(ev.warnings)
    if r.answers is not None:  # the options that do not go with it: gradcli.cli.conflicts
        return _grade_class(ev, r.answers, r.out_file, pipeline.homework_request(request), r.as_json, r.strict,
                            r.fmt)
    if not (r.expects or r.formulas or r.expect_values):
        raise UsageError("nothing to check: give --expect NAME=VALUE, --expect-value, --expect-formula or --answers")
    _read_answers(ev.output_name, request, r)
    report = pipeline.judge(ev, request)
    if r.as_json:
        from ..output.documents import dumps, verdicts_json

        from ..output.terminal import json_visible

        echo(json_visible(dumps(verdicts_json(ev, report.verdicts, report.reveal, report.rules))), escape=False)
    else:
        from ..output.tables import Style, verdict_view

        console = make_console()
        console.print(verdict_view(ev, report.verdicts, Style(console.is_terminal), report.reveal, report.rules))
    return int(ExitStatus.OK if report.ok else ExitStatus.CHECK_FAILED)


def _read_answers(output_name: str, request: JudgeRequest, r: CheckOptions) -> None:
    """The command line's answers (pairs, from `gradcli.cli.paramtypes.NameValue`) into the
    request, with the text each was written as."""
    from ..run.bindings import constant_value

    request.expect, request.values, request.formulas = {}, {}, {}
    for name, text in r.expects:
        if name in request.expect:
            raise UsageError(f"--expect {name} is given twice")
        request.expect[name] = (constant_value(text, f"--expect {name}"), text.strip())
    for key, text in r.expect_values:
        where = f"--expect-value {key}" if key else "--expect-value"
        if key == output_name:
            key = None
        if key in request.values:
            raise UsageError(f"{where} is given twice")
        request.values[key] = (constant_value(text, where), text.strip())
    for name, text in r.formulas:
        if name in request.formulas:
            raise UsageError(f"--expect-formula {name} is given twice")
        request.formulas[name] = text


def _grade_class(ev, answers: str, out_file: Optional[str], request, as_json: bool, strict: bool,
                 fmt: str) -> int:
    from ..output import documents
    from ..teach import gradebook

    from .files import write_output

    reveal = request.reveal
    sheet = gradebook.read_answers(answers)
    if fmt == "gradescope":  # one student's submission: the id is ignored
        sheet = gradebook.one_submission(sheet)
    book = gradebook.grade(ev, sheet, request)
    for problem in book.problems:
        echo(f"gradcli: warning: {answers}: {problem}", err=True)
    if fmt == "gradescope":
        if len(book.students) != 1:
            raise UsageError(f"--format gradescope writes one submission's results.json: {answers} has "
                             f"{len(book.students)} students (give one row)")
        text = documents.dumps(documents.gradescope_json(book))
    else:
        text = documents.gradebook_csv(book, reveal)
    if out_file and out_file != "-":
        write_output(out_file, text, "--out")
    if as_json:
        from ..output.terminal import json_visible

        echo(json_visible(documents.dumps(documents.gradebook_json(ev, book, reveal, request.rules))), escape=False)
    elif not out_file or out_file == "-":
        echo(text, nl=False)
    if not as_json:
        from ..output.tables import Style, gradebook_summary

        to_stdout = bool(out_file) and out_file != "-"
        console = make_console(err=not to_stdout)
        console.print(gradebook_summary(book, Style(console.is_terminal), out_file if to_stdout else None))
    if strict and not book.all_right:
        return int(ExitStatus.CHECK_FAILED)
    return int(ExitStatus.OK)
