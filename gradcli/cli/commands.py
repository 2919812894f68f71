"""The command line: ``gradcli eval PROGRAM NAME=VALUE ...``.

This is the only module that prints or exits.  Every `GradcliError` becomes its
one-line message on stderr and its exit status (README, "Exit codes"); click's own
usage errors are shortened to one line too.  Heavy imports (rich, SymPy) happen
inside the branches that need them, so ``gradcli eval ... --json`` starts fast.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

import click

from .._version import __version__
from .app import (
    report_failure,
    _console, _finish_matrix, _format, _grade_class,
    _prepare, _warn,
)
from ..core.errors import ExitStatus, UsageError

_PROTECT = "\x00gradcli-arg-"


class ProgramCommand(click.Command):
    """A command whose first argument is a program that may start with '-'.

    ``gradcli eval "-x^2" x=1`` must not read ``-x^2`` as options.  Arguments that
    start with '-' but cannot be an option (``-x^2``, ``-2*x``, ``-exp(x)``) are
    set aside before click parses and put back afterwards.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {
            opt for p in self.params if isinstance(p, click.Option) and not p.is_flag for opt in p.opts
        }
        protected: dict[str, str] = {}
        new_args = []
        after_dashdash = False
        previous = ""
        for a in args:
            if a == "--" and not after_dashdash:
                after_dashdash = True
                new_args.append(a)
                previous = a
                continue
            if after_dashdash:
                if previous == "--" and a.startswith("-"):
                    # the program right after '--' is never an option, even "--x"
                    key = f"{_PROTECT}{len(protected)}"
                    protected[key] = "\x00" + a
                    a = key
            elif previous not in takes_value and _looks_like_program(a, self):
                key = f"{_PROTECT}{len(protected)}"
                protected[key] = a
                a = key
            new_args.append(a)
            previous = a
        rest = super().parse_args(ctx, new_args)
        if protected and "args" in ctx.params:
            ctx.params["args"] = tuple(protected.get(a, a) for a in ctx.params["args"])
        return rest


def _looks_like_program(arg: str, command: click.Command) -> bool:
    if not arg.startswith("-") or arg == "-" or arg.startswith("--"):
        return False
    if len(arg) == 2 and arg[1].isalpha():
        known = {opt for p in command.params for opt in getattr(p, "opts", [])}
        return arg not in known  # "-x" is a program unless it is an option
    return not (arg[1].isalpha() and arg[2:].replace("_", "").replace(".", "").replace("/", "").isalnum())


class GradcliGroup(click.Group):
    """Maps errors to one line on stderr and the documented exit status."""

    def main(self, args: Optional[Sequence[str]] = None, prog_name: Optional[str] = None,
             complete_var: Optional[str] = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoSuchOption as exc:
            hint = f" Did you mean {', '.join(exc.possibilities)}?" if exc.possibilities else ""
            _usage_exit(f"no such option: {exc.option_name}.{hint}", exc.ctx)
        except click.ClickException as exc:
            _usage_exit(exc.format_message(), getattr(exc, "ctx", None))
        except click.exceptions.Abort:
            click.echo("gradcli: aborted", err=True)
            sys.exit(130)
        except BaseException as exc:  # noqa: B036 - every other failure has one mapping, in app
            if isinstance(exc, SystemExit):
                raise
            sys.exit(report_failure(exc))
        sys.exit(rv if isinstance(rv, int) else 0)


def _usage_exit(message: str, ctx: Optional[click.Context]) -> None:
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = message[0].lower() + message[1:] if message else message
    click.echo(f"gradcli: error: {message}{where}", err=True)
    sys.exit(int(ExitStatus.BAD_INPUT))


EXIT_CODES_EPILOG = """\b
Exit codes:
  0  success (warnings, kinks and skipped checks included)
  1  a check failed
  2  bad usage or input (options, bindings, parse and shape errors, files)
  3  math error (a value outside an operation's domain, an overflow)
  4  internal error: a bug in gradcli (GRADCLI_DEBUG=1 shows the traceback)

\b
The language: 'gradcli functions' lists every function and operator.
Each command has examples: 'gradcli COMMAND --help'."""


# This group is the whole command line as one click object: tools that read click
# commands (click-man, sphinx-click) take it as ``gradcli.cli.commands:main``.  The
# console script, ``gradcli.cli.main:run``, tries a click-free fast path first.
@click.group(cls=GradcliGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES_EPILOG)
@click.version_option(__version__, prog_name="gradcli")
def main() -> None:
    """gradcli: gradients of small programs by reverse-mode automatic differentiation.

    \b
    gradcli eval "(a+b)*(b+1)" a=3 b=2
    gradcli eval "c = a + b; d = b + 1; e = c * d" a=3 b=2 --check all
    """


class Number(click.FloatRange):
    """A float in a range, and never NaN (which a plain FloatRange lets through)."""

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


SECONDS = Number(min=0.1, max=3600)
TOLERANCE = Number(min=0)


class FileName(click.Path):
    """A file name, '-' for stdin or stdout: shells complete it as a file.

    The command checks the file itself (gradcli's own one-line messages, and a
    name with a NUL byte is bad input, not a crash in ``os.stat``), so conversion
    keeps the text as given.
    """

    def __init__(self) -> None:
        super().__init__(dir_okay=False, allow_dash=True)

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        return value


#: the usage line's name for the arguments: ``gradcli eval [OPTIONS] PROGRAM [NAME=VALUE]...``
PROGRAM_ARGUMENTS = "PROGRAM [NAME=VALUE]..."


def program_options(f):
    """The program and its inputs: PROGRAM NAME=VALUE..., -f, --vars, --output, --wrt."""
    for decorator in reversed([
        click.argument("args", nargs=-1, metavar=PROGRAM_ARGUMENTS),
        click.option("-f", "--file", "program_file", metavar="FILE", type=FileName(),
                     help="Read the program from FILE ('-' for stdin); all arguments are then bindings."),
        click.option("--vars", "vars_files", metavar="FILE.json", type=FileName(), multiple=True,
                     help="Input values from a JSON object; NAME=VALUE arguments override them."),
        click.option("--output", "output", metavar="NAME",
                     help="Differentiate this named step instead of the last statement."),
        click.option("--wrt", metavar="A,B", help="Only these inputs (comma-separated)."),
    ]):
        f = decorator(f)
    return f


def check_options(f):
    for decorator in reversed([
        click.option("--check", "check", type=click.Choice(["sympy", "fd", "all"]), multiple=True,
                     help="Check against SymPy, finite differences, or both (exit 1 on disagreement)."),
        click.option("--rtol", type=TOLERANCE, help="Relative tolerance of checks (defaults: sympy 1e-9, fd 1e-6)."),
        click.option("--atol", type=TOLERANCE, help="Absolute tolerance of checks (defaults: sympy 1e-12, fd 1e-8)."),
        click.option("--sympy-timeout", type=SECONDS, default=10.0, show_default=True,
                     metavar="SECONDS", help="Time budget of the SymPy check."),
    ]):
        f = decorator(f)
    return f


def output_options(formats: tuple[str, ...]):
    def apply(f):
        for decorator in reversed([
            click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
            click.option("--format", "fmt", type=click.Choice(list(formats)), default=None,
                         help="Output format (default: table)."),
            click.option("--full", is_flag=True, help="Show whole arrays and every row."),
            click.option("--digits", type=click.IntRange(1, 17), default=10, show_default=True,
                         help="Significant digits in tables."),
        ]):
            f = decorator(f)
        return f

    return apply


_PROGRAM_COMMAND = dict(cls=ProgramCommand, context_settings={"ignore_unknown_options": True})


@main.command("eval", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@check_options
@output_options(("table", "json", "csv", "tsv"))
@click.option("--nodes/--no-nodes", "show_nodes", default=None,
              help="Show every node (default: all up to 60, else head and tail), or none.")
@click.option("--seed-output", metavar="VALUE",
              help="Cotangent of a non-scalar output, e.g. [1,0,0]: gives a vector-Jacobian product.")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse", show_default=True,
              help="Reverse: one backward pass; forward: one tangent pass per input.")
@click.option("--seed", "seed_input", metavar="NAME",
              help="Forward mode: a single tangent pass started with 1 at input NAME.")
@click.option("--steps", is_flag=True, help="Explain the backward pass step by step.")
@click.option("--paths", is_flag=True, help="Explain each gradient as a sum over paths (small graphs).")
@click.option("--edges", is_flag=True, help="Show the local derivative on every edge.")
@click.option("--exact", is_flag=True,
              help="Also compute with exact numbers (rationals, surds, π) via SymPy: a=1/3 stays 1/3.")
@click.option("--latex", is_flag=True, help="Also print the derivatives as LaTeX.")
@click.option("--points", "points_file", metavar="FILE.csv", type=FileName(),
              help="Evaluate at every row of a CSV (header: input names; '-' for stdin) in one vectorized "
                   "pass; prints a CSV (or JSON lines) of values and gradients.")
def eval_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                 output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                 rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                 fmt: Optional[str], full: bool, digits: int, show_nodes: Optional[bool],
                 seed_output: Optional[str], mode: str, seed_input: Optional[str],
                 steps: bool, paths: bool, edges: bool, exact: bool, latex: bool,
                 points_file: Optional[str]) -> int:
    """Evaluate PROGRAM at NAME=VALUE and backpropagate.

    PROGRAM is an expression such as "(a+b)*(b+1)" or statements such as
    "c = a + b; d = b + 1; e = c * d" ('-' reads it from stdin).  Prints every
    node's value and adjoint and every input's gradient.

    \b
    gradcli eval "(a+b)*(b+1)" a=3 b=2
    gradcli eval "(a+b)*(b+1)" a=3 b=2 --check all --json
    gradcli eval -f samples/lecture_e.grad a=3 b=2 --steps --paths
    gradcli eval "x*exp(x^2)" x=1/3 --exact --latex
    gradcli eval "x*y + sin(x)" x=1 y=2 --mode forward --seed y
    gradcli eval "(a+b)*(b+1)" --points points.csv > gradients.csv
    """
    from .app import run_eval

    return run_eval(
        args, program_file=program_file, vars_files=vars_files, output=output, wrt=wrt, check=check,
        rtol=rtol, atol=atol, sympy_timeout=sympy_timeout, fmt=_format(as_json, fmt), full=full,
        digits=digits, show_nodes=show_nodes, seed_output=seed_output, mode=mode, seed_input=seed_input,
        steps=steps, paths=paths, edges=edges, exact=exact, latex=latex, points_file=points_file,
    )


@main.command("jacobian", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@check_options
@output_options(("table", "json", "csv", "tsv"))
@click.option("--mode", type=click.Choice(["reverse", "forward", "both"]), default="reverse", show_default=True,
              help="Reverse: one backward pass per output element; forward: one tangent pass per input "
                   "element; both: compute both and compare.")
def jacobian_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                     output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                     rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                     fmt: Optional[str], full: bool, digits: int, mode: str) -> int:
    """The Jacobian of PROGRAM's output with respect to its inputs.

    Rows are output elements (y[0], y[1], ...), columns input elements (x[0], W[0,1],
    ...), inputs in --wrt order, each flattened row-major.

    \b
    gradcli jacobian "softmax(z)" z=[1,2,3]
    gradcli jacobian "softmax(z)" z=[1,2,3] --mode both --check all
    gradcli jacobian "[x*y, x+y]" x=1 y=2 --wrt y,x --json
    """
    from ..run.derivatives import jacobian
    from ..run.evaluate import run

    fmt = _format(as_json, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    run(ev)
    _warn(ev.warnings)
    matrix = jacobian(ev, "reverse" if mode == "both" else mode)
    if mode == "both":
        import numpy as np

        other = jacobian(ev, "forward")
        gap = float(np.max(np.abs(matrix.data - other.data))) if matrix.data.size else 0.0
        matrix.notes.append(
            f"reverse mode: {matrix.passes} backward pass(es); forward mode: {other.passes} tangent pass(es); "
            f"largest difference {gap:.3g}"
        )
        matrix.mode = "both"
        matrix.agreement = gap  # type: ignore[attr-defined]
    return _finish_matrix(ev, matrix, check, rtol, atol, sympy_timeout, fmt, full, digits)


@main.command("hessian", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@check_options
@output_options(("table", "json", "csv", "tsv"))
def hessian_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                    output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                    rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                    fmt: Optional[str], full: bool, digits: int) -> int:
    """Second derivatives of PROGRAM's scalar output (forward-over-reverse).

    Computed by differentiating the gradient with dual numbers, not by finite
    differences; symmetric to rounding.

    \b
    gradcli hessian "x^2*y + sin(x*y)" x=1 y=2
    gradcli hessian "x^2*y + sin(x*y)" x=1 y=2 --check all --json
    gradcli hessian "sum(log(1 + exp(-w*x)))" w=[0.5,-1] x=[1,2] --format csv
    """
    from ..run.derivatives import hessian
    from ..run.evaluate import run

    fmt = _format(as_json, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    if ev.graph.nodes[ev.graph.output].shape != ():
        shape = ev.graph.nodes[ev.graph.output].shape
        raise UsageError(f"the Hessian needs a scalar output; {ev.output_name} has shape {shape}")
    run(ev)
    _warn(ev.warnings)
    matrix = hessian(ev)
    return _finish_matrix(ev, matrix, check, rtol, atol, sympy_timeout, fmt, full, digits)


@main.command("check", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@click.option("--expect", "expects", metavar="NAME=VALUE", multiple=True,
              help="A student's ∂out/∂NAME (a number, a constant expression such as 1/3, or an array).")
@click.option("--expect-value", metavar="VALUE", help="A student's value of the output.")
@click.option("--expect-formula", "formulas", metavar="NAME=EXPR", multiple=True,
              help="A student's formula for ∂out/∂NAME, judged equivalent with SymPy.")
@click.option("--answers", metavar="FILE.csv", type=FileName(),
              help="A class's answers: an id column, then columns NAME or d/dNAME (gradients) or value.")
@click.option("--out", "out_file", metavar="FILE.csv", type=FileName(), help="With --answers: write the gradebook here.")
@click.option("--reveal", is_flag=True, help="Show the right answers.")
@click.option("--rtol", type=TOLERANCE, default=None, help="Relative tolerance for numbers (default 1e-4).")
@click.option("--atol", type=TOLERANCE, default=None, help="Absolute tolerance for numbers (default 1e-8).")
@click.option("--sympy-timeout", type=SECONDS, default=10.0, show_default=True,
              metavar="SECONDS", help="Time budget for judging formulas.")
@click.option("--json", "as_json", is_flag=True, help="Verdicts as JSON.")
def check_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                  output: Optional[str], wrt: Optional[str], expects: tuple[str, ...],
                  expect_value: Optional[str], formulas: tuple[str, ...], answers: Optional[str],
                  out_file: Optional[str], reveal: bool, rtol: Optional[float], atol: Optional[float],
                  sympy_timeout: float, as_json: bool) -> int:
    """Check a student's answers for PROGRAM at NAME=VALUE.

    \b
    gradcli check "(a+b)*(b+1)" a=3 b=2 --expect a=3 --expect b=8
    gradcli check "x*exp(x^2)" x=0.5 --expect-formula "x=exp(x^2)*(1+2*x^2)"
    gradcli check -f hw3.grad x=1 --answers answers.csv --out grades.csv

    Exit 0 when every answer is right, 1 otherwise.
    """
    from ..teach import homework
    from ..run.bindings import constant_value
    from ..run.evaluate import run

    ev = _prepare(args, program_file, vars_files, output, wrt)
    run(ev)
    _warn(ev.warnings)
    rtol = homework.DEFAULT_RTOL if rtol is None else rtol
    atol = homework.DEFAULT_ATOL if atol is None else atol
    if answers is not None:
        if expects or formulas or expect_value is not None:
            raise UsageError("--answers grades a whole class: leave out --expect, --expect-value and --expect-formula")
        return _grade_class(ev, answers, out_file, rtol, atol, as_json)
    if not (expects or formulas or expect_value is not None):
        raise UsageError("nothing to check: give --expect NAME=VALUE, --expect-value, --expect-formula or --answers")
    expected = {}
    for item in expects:
        name, eq, text = item.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--expect {item!r}: write NAME=VALUE, e.g. --expect b=8")
        if name.strip() in expected:
            raise UsageError(f"--expect {name.strip()} is given twice")
        expected[name.strip()] = constant_value(text, f"--expect {name.strip()}")
    value = None if expect_value is None else constant_value(expect_value, "--expect-value")
    parsed_formulas = {}
    for item in formulas:
        name, eq, text = item.partition("=")
        if not eq or not name.strip() or not text.strip():
            raise UsageError(f"--expect-formula {item!r}: write NAME=EXPRESSION, e.g. x=2*x")
        if name.strip() in parsed_formulas:
            raise UsageError(f"--expect-formula {name.strip()} is given twice")
        parsed_formulas[name.strip()] = text.strip()
    verdicts = homework.judge_numbers(ev, expected, value, rtol, atol)
    verdicts += homework.judge_formulas(ev, parsed_formulas, sympy_timeout)
    if as_json:
        from ..output.documents import dumps, verdicts_json

        click.echo(dumps(verdicts_json(ev, verdicts, reveal, rtol, atol)))
    else:
        from ..output.tables import Style, verdict_view

        console = _console()
        console.print(verdict_view(ev, verdicts, Style(console.is_terminal), reveal, rtol, atol))
    return int(ExitStatus.OK if all(v.ok for v in verdicts) else ExitStatus.CHECK_FAILED)


@main.command("graph", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "mermaid", "svg", "png"]), default="text",
              show_default=True, help="text draws in the terminal; dot and mermaid are text for Graphviz and "
                                       "Markdown; svg and png need Graphviz's dot program.")
@click.option("-o", "--out", "out_file", metavar="FILE", type=FileName(), help="Write the picture to FILE.")
@click.option("--seed-output", metavar="VALUE", help="Cotangent of a non-scalar output (for the adjoints).")
@click.option("--digits", type=click.IntRange(1, 17), default=6, show_default=True,
              help="Significant digits in the picture.")
def graph_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                  output: Optional[str], wrt: Optional[str], fmt: str, out_file: Optional[str],
                  seed_output: Optional[str], digits: int) -> int:
    """Draw PROGRAM's DAG like the lecture slides: values, adjoints, local derivatives.

    \b
    gradcli graph "(a+b)*(b+1)" a=3 b=2
    gradcli graph "(a+b)*(b+1)" a=3 b=2 --format dot -o lecture.dot
    gradcli graph "(a+b)*(b+1)" a=3 b=2 --format svg -o lecture.svg
    """
    from ..run.evaluate import run
    from ..teach.pictures import render

    ev = _prepare(args, program_file, vars_files, output, wrt)
    seed = None
    if seed_output is not None:
        from ..run.bindings import constant_value

        seed = constant_value(seed_output, "--seed-output")
    run(ev, seed)
    _warn(ev.warnings)
    picture = render(ev, fmt, digits)
    if out_file is not None:
        try:
            if isinstance(picture, bytes):
                with open(out_file, "wb") as fh:
                    fh.write(picture)
            else:
                with open(out_file, "w", encoding="utf-8") as fh:
                    fh.write(picture if picture.endswith("\n") else picture + "\n")
        except OSError as exc:
            raise UsageError(f"-o {out_file}: {exc.strerror or exc}") from None
        click.echo(f"gradcli: wrote {fmt} picture to {out_file}", err=True)
    elif isinstance(picture, bytes):
        if sys.stdout.isatty():
            raise UsageError("a PNG is binary: write it to a file with -o FILE.png")
        sys.stdout.buffer.write(picture)
        sys.stdout.flush()
    else:
        click.echo(picture.rstrip("\n"))
    return int(ExitStatus.OK)


def run_cli() -> None:
    """The click command line (`gradcli.cli.main.run` tries a faster path first)."""
    main()
