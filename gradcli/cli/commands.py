"""The command line: ``gradcli eval PROGRAM NAME=VALUE ...``.

This is the only module that prints or exits.  Every `GradcliError` becomes its
one-line message on stderr and its exit status (README, "Exit codes"); click's own
usage errors are shortened to one line too.  Heavy imports (rich, SymPy) happen
inside the branches that need them, so ``gradcli eval ... --json`` starts fast.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence, Union

import click

from .._version import __version__
from .app import (
    PipeClosed, echo, finish, install_signal_handlers, prepare_streams, report_failure, running_as_program,
    _console, _finish_matrix, _format, _one_stdin, run_check,
    _prepare, _warn,
)
from ..core.errors import ExitStatus, UsageError
from ..core.fmt import a_format, plural, tex_name

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
        known = {opt for p in self.params for opt in getattr(p, "opts", [])}
        # "--x" with a binding x=2 is x negated twice, not an unknown option
        bound = {a.split("=", 1)[0] for a in args if "=" in a and not a.startswith("-")}
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
            elif previous not in takes_value and a not in ctx.help_option_names and (
                    _looks_like_program(a, self) or (a.startswith("--") and a[2:] in bound and a not in known)):
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
    if arg.startswith("--"):  # ---x, --x^2, --(a+b): not an option's spelling, so a program
        from .app import looks_like_long_option

        return arg != "--" and not looks_like_long_option(arg)
    if not arg.startswith("-") or arg == "-":
        return False
    if len(arg) == 2 and arg[1].isalpha():
        known = {opt for p in command.params for opt in getattr(p, "opts", [])}
        return arg not in known  # "-x" is a program unless it is an option
    return not (arg[1].isalpha() and arg[2:].replace("_", "").replace(".", "").replace("/", "").isalnum())


class GradcliGroup(click.Group):
    """Maps errors to one line on stderr and the documented exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # click would turn it into exit 0; the README says 141, silently
            raise PipeClosed() from None

    def main(self, args: Optional[Sequence[str]] = None, prog_name: Optional[str] = None,
             complete_var: Optional[str] = None, standalone_mode: bool = True, **extra: Any) -> Any:
        from ..oracles import budget

        budget.new_command()
        try:
            prepare_streams()
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoSuchOption as exc:
            hint = f" Did you mean {', '.join(exc.possibilities)}?" if exc.possibilities else ""
            _usage_exit(f"no such option: {exc.option_name}.{hint}", exc.ctx)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `gradcli`: usage, not an error
            echo(exc.ctx.get_help())
            sys.exit(finish(int(ExitStatus.OK)))
        except click.ClickException as exc:
            _usage_exit(exc.format_message(), getattr(exc, "ctx", None))
        except click.exceptions.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt) and not running_as_program():
                raise exc.__context__ from None  # Ctrl-C in a test run stops the run, not one command
            echo("gradcli: aborted", err=True)
            sys.exit(130)
        except BaseException as exc:  # noqa: B036 - every other failure has one mapping, in app
            if isinstance(exc, SystemExit):
                if exc.code in (0, None):  # --help, --version: their text must reach the reader
                    sys.exit(finish(0))
                raise
            if isinstance(exc, KeyboardInterrupt) and not running_as_program():
                raise
            sys.exit(finish(report_failure(exc)))
        finally:
            budget.end_command()
        sys.exit(finish(rv if isinstance(rv, int) else 0))


def _usage_exit(message: str, ctx: Optional[click.Context]) -> None:
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = message[0].lower() + message[1:] if message else message
    echo(f"gradcli: error: {message}{where}", err=True)
    sys.exit(int(ExitStatus.BAD_INPUT))


EXIT_CODES_EPILOG = """\b
Exit codes:
  0  success (warnings, kinks and skipped checks included)
  1  a check failed
  2  bad usage or input (options, bindings, parsing, shapes, files)
  3  a math failure (a value outside an operation's domain, an overflow)
  4  a bug in gradcli: please report it (GRADCLI_DEBUG=1 shows the traceback)

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
            click.option("--digits", type=click.IntRange(1, 17), default=None,
                         help="Significant digits in tables, array elements included "
                              "[default: 10; 6 for array elements]."),
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
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default=None,
              help="Reverse: one backward pass; forward: one tangent pass per input "
                   "[default: reverse; forward with --seed].")
@click.option("--seed", "seed_input", metavar="NAME",
              help="Forward mode: a single tangent pass started with 1 at input NAME (an array: one per "
                   "element; NAME[i,j] picks the pass --steps writes out).")
@click.option("--steps", is_flag=True, help="Explain the backward pass step by step.")
@click.option("--paths", is_flag=True, help="Explain each gradient as a sum over paths (small graphs).")
@click.option("--edges", is_flag=True, help="Show the local derivative on every edge (arrays: the local Jacobian's "
                                           "shape and structure).")
@click.option("--jacobians", is_flag=True,
              help="With arrays: also print each edge's local Jacobian matrix (up to 144 entries; --full: all).")
@click.option("--exact", is_flag=True,
              help="Also compute with exact numbers (rationals, surds, π) via SymPy: a=1/3 stays 1/3.")
@click.option("--latex", is_flag=True, help="Also print the derivatives as LaTeX.")
@click.option("--points", "points_file", metavar="FILE.csv", type=FileName(),
              help="Evaluate at every row of a CSV (header: input names; '-' for stdin) in one vectorized "
                   "pass; prints a CSV (or JSON lines) of values and gradients.")
def eval_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                 output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                 rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                 fmt: Optional[str], full: bool, digits: Optional[int], show_nodes: Optional[bool],
                 seed_output: Optional[str], mode: Optional[str], seed_input: Optional[str],
                 steps: bool, paths: bool, edges: bool, jacobians: bool, exact: bool, latex: bool,
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
        steps=steps, paths=paths, edges=edges, jacobians=jacobians, exact=exact, latex=latex,
        points_file=points_file,
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
                     fmt: Optional[str], full: bool, digits: Optional[int], mode: str) -> int:
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

    fmt = _format(as_json, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    check_matrix_size(ev, "jacobian")  # before the forward pass: a size that cannot fit is refused at once
    run(ev)
    _warn(ev.warnings)
    matrix = jacobian(ev, "reverse" if mode == "both" else mode)
    if mode == "both":
        from ..run.derivatives import largest_difference

        other = jacobian(ev, "forward")
        gap = largest_difference(matrix.data, other.data)
        matrix.notes.append(
            f"reverse mode: {plural(matrix.passes, 'backward pass')}; forward mode: {plural(other.passes, 'tangent pass')}; "
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
    from ..run.derivatives import check_matrix_size, hessian
    from ..run.evaluate import run

    fmt = _format(as_json, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    if ev.graph.nodes[ev.graph.output].shape != ():
        shape = ev.graph.nodes[ev.graph.output].shape
        raise UsageError(f"the Hessian needs a scalar output; {ev.output_name} has shape {shape}")
    check_matrix_size(ev, "hessian")
    run(ev)
    _warn(ev.warnings)
    matrix = hessian(ev)
    return _finish_matrix(ev, matrix, check, rtol, atol, sympy_timeout, fmt, full, digits)


@main.command("check", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@click.option("--expect", "expects", metavar="NAME=VALUE", multiple=True,
              help="A student's ∂out/∂NAME, for an input or any named step (a number, a constant "
                   "expression such as 1/3, or an array).")
@click.option("--expect-value", "expect_values", metavar="[NAME=]VALUE", multiple=True,
              help="A student's value of the output, or of the step NAME.")
@click.option("--expect-formula", "formulas", metavar="NAME=EXPR", multiple=True,
              help="A student's formula for ∂out/∂NAME; may use the program's step names and arrays.")
@click.option("--answers", metavar="FILE.csv", type=FileName(),
              help="A class's answers (CSV, TSV or ;): an id column, then columns NAME or d/dNAME "
                   "(gradients), value or value:NAME (values), formula:NAME (formulas); other columns are kept.")
@click.option("--out", "out_file", metavar="FILE.csv", type=FileName(),
              help="With --answers: write the gradebook here ('-' for stdout); never onto an input file.")
@click.option("--strict", is_flag=True, help="With --answers: exit 1 when any answer is not right.")
@click.option("--format", "fmt", type=click.Choice(["text", "gradescope"]), default="text", show_default=True,
              help="With --answers: the gradebook as CSV (text) or Gradescope's results.json.")
@click.option("--reveal", is_flag=True, help="Show the right answers (with --answers: a key row).")
@click.option("--rtol", type=TOLERANCE, default=None,
              help="Relative tolerance for numbers (default 1e-4). Given, the tolerance alone judges numbers.")
@click.option("--atol", type=TOLERANCE, default=None, help="Absolute tolerance for numbers (default 1e-8).")
@click.option("--min-digits", type=click.IntRange(1, 17), default=None, metavar="N",
              help="Fewest significant digits for a number to be right to the digits written (default 3).")
@click.option("--data", "data", metavar="NAME", multiple=True,
              help="An input that is data (a label, a target, a mask): formulas are never tested with it moved "
                   "off its kind. Also '#: data NAME ...' in the program.")
@click.option("--prove", is_flag=True,
              help="Also ask SymPy to prove each right formula equal, within --sympy-timeout (an extra: "
                   "formulas are judged by their values at chosen points).")
@click.option("--sympy-timeout", type=SECONDS, default=10.0, show_default=True,
              metavar="SECONDS", help="Time budget for --prove and for --reveal's formulas.")
@click.option("--json", "as_json", is_flag=True, help="Verdicts as JSON.")
def check_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                  output: Optional[str], wrt: Optional[str], expects: tuple[str, ...],
                  expect_values: tuple[str, ...], formulas: tuple[str, ...], answers: Optional[str],
                  out_file: Optional[str], strict: bool, fmt: str, reveal: bool, rtol: Optional[float],
                  atol: Optional[float], min_digits: Optional[int], data: tuple[str, ...], prove: bool,
                  sympy_timeout: float, as_json: bool) -> int:
    """Check a student's answers for PROGRAM at NAME=VALUE.

    \b
    gradcli check "(a+b)*(b+1)" a=3 b=2 --expect a=3 --expect b=8
    gradcli check "c = a+b; d = b+1; e = c*d" a=3 b=2 --expect-formula "b=d+c"
    gradcli check -f samples/layer.grad --vars samples/layer.json --expect "z=[0.0705011,-0.0457568,0.106955]"
    gradcli check -f hw3.grad x=1 --answers answers.csv --out grades.csv

    Exit 0 when every answer is right, 1 otherwise.  With --answers: exit 0 once
    the gradebook is written (--strict: 1 when any answer is not right).
    """
    from ..run.evaluate import run
    from .files import refuse_overwrite

    if out_file is not None and answers is None:
        raise UsageError("--out writes the gradebook of --answers: give --answers FILE.csv too")
    if out_file == "-" and as_json:
        raise UsageError("--out - and --json would both write to stdout: choose one")
    refuse_overwrite("--out", out_file, _inputs(args, program_file, vars_files, **{"--answers": answers}))
    _one_stdin(args, program_file, vars_files, answers=answers)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    run(ev)
    _warn(ev.warnings)
    from ..teach.answers import Rules

    return run_check(ev, expects, expect_values, formulas, answers, out_file, reveal,
                     Rules.of(rtol, atol, min_digits), sympy_timeout, as_json, strict, fmt, data, prove)


@main.command("graph", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "mermaid", "svg", "png", "html"]), default=None,
              help="text draws in the terminal; dot and mermaid are text for Graphviz and Markdown; svg and png "
                   "need Graphviz's dot program; html is a page that steps through backprop (up to 30,000 nodes) "
                   "[default: from the -o file's extension, else text].")
@click.option("-o", "--out", "out_file", metavar="FILE", type=FileName(),
              help="Write the picture to FILE ('-' for stdout).")
@click.option("--seed-output", metavar="VALUE", help="Cotangent of a non-scalar output (for the adjoints).")
@click.option("--digits", type=click.IntRange(1, 17), default=None,
              help="Significant digits in the picture, array elements included [default: 6; 4 for array elements].")
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
    refuse_overwrite("-o", out_file, _inputs(args, program_file, vars_files))
    ev = _prepare(args, program_file, vars_files, output, wrt)
    seed = None
    if seed_output is not None:
        from ..run.bindings import constant_value

        seed = constant_value(seed_output, "--seed-output")
    run(ev, seed)
    _warn(ev.warnings)
    if fmt == "html":
        from ..output.stepper import page
        from ..teach.explain import steps_text

        shown = 6 if digits is None else digits
        picture: Union[str, bytes] = page(ev, shown, steps_text(ev, shown) if ev.adjoints else None)
    else:
        picture = render(ev, fmt, digits)
    if isinstance(picture, str) and not picture.endswith("\n"):
        picture += "\n"
    if out_file is not None and out_file != "-":
        write_output(out_file, picture, "-o")
        echo(f"gradcli: wrote {a_format(fmt, 'picture')} to {out_file}", err=True)
    elif isinstance(picture, bytes):
        if sys.stdout.isatty():
            raise UsageError("a PNG is binary: write it to a file with -o FILE.png")
        write_output("-", picture, "-o")
    else:
        if fmt == "text":  # as wide as COLUMNS (or the terminal) says, continuation lines indented
            import os
            import shutil

            from ..output.terminal import wrap_text
            from .app import _columns

            width = _columns(os.environ.get("COLUMNS"))
            if width is None and sys.stdout.isatty():
                width = shutil.get_terminal_size().columns
            if width is not None:
                picture = wrap_text(picture, width)
        echo(picture.rstrip("\n"))
    return int(ExitStatus.OK)


def _inputs(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
            **more: Optional[str]) -> list[tuple[str, Optional[str]]]:
    """The files a command reads, as (option, path) pairs, for `refuse_overwrite`."""
    found: list[tuple[str, Optional[str]]] = [("-f", program_file)]
    found += [("--vars", v) for v in vars_files]
    found += [(option, path) for option, path in more.items()]
    return found


@main.command("diff", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@click.argument("args", nargs=-1, metavar="PROGRAM [NAME=VALUE]...")
@click.option("-f", "--file", "program_file", metavar="FILE", type=FileName(),
              help="Read the program from FILE ('-' for stdin).")
@click.option("--vars", "vars_files", metavar="FILE.json", type=FileName(), multiple=True,
              help="Shapes of the inputs from a JSON object (the values are not used).")
@click.option("--shape", "shapes", metavar="NAME=RxC", multiple=True,
              help="An input's shape without values: W=3x2, x=2 (inputs without a shape are scalars).")
@click.option("--output", "output", metavar="NAME", help="Differentiate this named step instead of the last.")
@click.option("--wrt", metavar="A,B", help="Only these inputs (comma-separated).")
@click.option("--steps", is_flag=True, help="Show the backward sweep in symbols, step by step.")
@click.option("--expand", is_flag=True,
              help="Write each derivative in the inputs only (by default a program with named steps gets "
                   "formulas in its step names, after the steps they use).")
@click.option("--latex", is_flag=True, help="Also give each derivative as LaTeX.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@click.option("--sympy-timeout", type=SECONDS, default=10.0, show_default=True, metavar="SECONDS",
              help="Time budget for simplifying the formulas.")
def diff_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                 shapes: tuple[str, ...], output: Optional[str], wrt: Optional[str], steps: bool, expand: bool,
                 latex: bool, as_json: bool, sympy_timeout: float) -> int:
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
    from ..language.lower import lower
    from ..language.parser import parse
    from ..teach import derive
    from .app import _one_stdin, _program_and_bindings, _program_point

    _one_stdin(args, program_file, vars_files)
    source, rest = _program_and_bindings(args, program_file)
    point, default_output, problems = _program_point(source, program_file)
    graph = lower(parse(source), output or (default_output if point else None))
    names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else None
    if rest or vars_files or point or shapes:
        shaped = _diff_shapes(graph, point, rest, vars_files, shapes)
        if shaped is not None:
            return _diff_arrays(graph, source, shaped, names, steps, latex, as_json)
    written = derive.derive_within(graph, names, sympy_timeout, steps, latex, expand)  # one deadline for all
    found, where = written.formulas, written.where
    out = graph.label(graph.output)
    if as_json:
        import json

        doc: dict[str, Any] = {"schema": 1, "program": source, "output": out, "gradient": found}
        if where:
            doc["where"] = where
        if written.steps is not None:
            doc["steps"] = written.steps.splitlines()
        if written.latex is not None:
            doc["latex"] = written.latex
        _echo_json(json.dumps(doc, indent=2, ensure_ascii=False))
        return int(ExitStatus.OK)
    if written.steps is not None:
        echo(written.steps)
        echo()
    if where:
        echo("where (the program's steps):")
        for line in where:
            echo(f"  {line}")
        echo()
    for name, formula in found.items():
        echo(f"∂{out}/∂{name} = {formula}")
    if written.latex is not None:
        echo()
        for name, tex in written.latex.items():
            echo(f"\\frac{{\\partial {tex_name(out)}}}{{\\partial {tex_name(name)}}} = {tex}")
    return int(ExitStatus.OK)


def _diff_shapes(graph: Any, point: dict, rest: list[str], vars_files: tuple[str, ...],
                 shapes: tuple[str, ...] = ()) -> Optional[str]:
    """Set the graph's shapes from the point; where they came from, or None when every node
    is a scalar (then the scalar derivation runs, as without a point)."""
    from ..core.ops import OPS
    from ..core.shapes import infer_shapes
    from ..run import bindings as binding_mod

    bound = {**point, **binding_mod.collect([a for a in rest if not a.startswith("#")], vars_files)}
    bound.update(_shape_options(shapes))
    env = {}
    for i in graph.inputs:
        name = graph.nodes[i].name
        env[name] = bound[name].value if name in bound else 0.0
    infer_shapes(graph, env)
    tensor = any(n.shape not in ((), None) for n in graph.nodes) or any(
        n.op not in ("input", "const") and not OPS[n.op].elementwise for n in graph.nodes)
    if not tensor:
        return None
    origins: list[str] = []
    missing = []
    for i in graph.inputs:
        b = bound.get(graph.nodes[i].name)
        if b is None:
            missing.append(graph.nodes[i].name)
            continue
        where = {"program": "the program's #: lines", "argument": "the command line"}.get(b.origin, b.origin)
        if where not in origins:
            origins.append(where)
    text = " and ".join(origins) or "nowhere"
    if missing:
        text += f" ({', '.join(missing)}: no value, so a scalar)"
    return text


def _shape_options(shapes: tuple[str, ...]) -> dict:
    """``--shape W=3x2``: a Binding of zeros of that shape per option (only shapes are used)."""
    import re

    import numpy as np

    from ..run.bindings import Binding

    found = {}
    for item in shapes:
        name, _, dims = item.partition("=")
        if not re.fullmatch(r"[^\W\d]\w*", name.strip()) or not re.fullmatch(r"\d+([x×]\d+)?", dims.strip()):
            raise UsageError(f"--shape {item}: write NAME=ROWSxCOLS or NAME=LENGTH, e.g. W=3x2 or x=2")
        size = tuple(int(n) for n in re.split(r"[x×]", dims.strip()))
        if 0 in size:
            raise UsageError(f"--shape {item}: sizes start at 1")
        found[name.strip()] = Binding(name.strip(), np.zeros(size), dims.strip(), "--shape")
    return found


def _diff_arrays(graph: Any, source: str, origin: str, names: Optional[list[str]], steps: bool, latex: bool,
                 as_json: bool) -> int:
    from ..teach import derive_arrays as da

    d = da.derive_arrays(graph, names)
    if as_json:
        import json

        doc: dict[str, Any] = {
            "schema": 1, "program": source, "output": d.output,
            "gradient": {n: f.text() for n, f in d.gradient.items()},
            "shapes": {n: list(s) for n, s in d.shapes.items()}, "shapes_from": origin,
            "where": da.where_lines(d), "adjoints": da.adjoint_lines(d),
            "adjoint_names": {d.names[label]: adj for label, adj in d.adjoint_names.items()},
            "notes": d.notes,
        }
        if steps:
            doc["steps"] = da.steps_text(d)
        if latex:
            doc["latex"] = da.latex(d)
        _echo_json(json.dumps(doc, indent=2, ensure_ascii=False))
        return int(ExitStatus.OK)
    if steps:
        echo("\n".join(da.steps_text(d)))
        echo()
    echo("\n".join(da.text(d, origin)))
    if latex:
        echo()
        for name, tex in da.latex(d).items():
            echo(f"\\frac{{\\partial {tex_name(d.output)}}}{{\\partial {tex_name(name)}}} = {tex}")
    return int(ExitStatus.OK)


def _write_or_print(data: Any, out_file: Optional[str], what: str) -> None:
    """A picture or document to `out_file`, or to stdout (binary refused on a terminal)."""
    from .files import refuse_overwrite, write_output

    if out_file is not None and out_file != "-":
        ctx = click.get_current_context(silent=True)
        params = ctx.params if ctx is not None else {}
        inputs = [("-f", params.get("program_file")), ("--points", params.get("points_file"))]
        inputs += [("--vars", v) for v in params.get("vars_files") or ()]
        refuse_overwrite("-o", out_file, inputs)  # never onto an input file
        write_output(out_file, data, "-o")  # atomic: a full disk keeps the old file
        echo(f"gradcli: wrote {what} to {out_file}", err=True)
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            raise UsageError("a picture is binary: write it to a file with -o FILE")
        write_output("-", data, "-o")
    else:
        echo(data, nl=not data.endswith("\n"))


def _picture_format(fmt: Optional[str], out_file: Optional[str], allowed: tuple[str, ...]) -> str:
    if fmt is None and out_file not in (None, "-"):
        ext = out_file.rsplit(".", 1)[-1].lower() if "." in out_file else ""
        if ext not in allowed:
            raise UsageError(f"-o {out_file}: give --format ({', '.join(allowed)}) or a file ending in "
                             + ", ".join(f".{a}" for a in allowed if a not in ("text", "table")))
        return ext
    return fmt or allowed[0]


@main.command("plot", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@click.argument("args", nargs=-1, metavar="PROGRAM NAME=LOW:HIGH[:POINTS]... [NAME=VALUE]...")
@click.option("-f", "--file", "program_file", metavar="FILE", type=FileName(),
              help="Read the program from FILE.")
@click.option("--vars", "vars_files", metavar="FILE.json", type=FileName(), multiple=True,
              help="Values of the other inputs.")
@click.option("--output", "output", metavar="NAME", help="Plot this named step instead of the last.")
@click.option("--format", "fmt", type=click.Choice(["text", "png", "svg", "csv"]), default=None,
              help="text (the terminal), png or svg (matplotlib), csv (the sampled data); "
                   "default: from -o's extension, else text.")
@click.option("--check", "check", type=click.Choice(["fd"]), help="Overlay finite differences (one input).")
@click.option("-o", "--out", "out_file", metavar="FILE", type=FileName(),
              help="Write the picture or data to FILE.")
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
    from ..run import sample
    from .app import _program_and_bindings

    source, rest = _program_and_bindings(args, program_file)
    ranges = [sample.parse_range(a) for a in rest if sample.is_range(a)]
    fixed = binding_mod.collect([a for a in rest if not sample.is_range(a)], vars_files)
    if not 1 <= len(ranges) <= 2:
        raise UsageError("give one range (NAME=LOW:HIGH) for a curve, or two for a gradient field")
    kind = _picture_format(fmt, out_file, ("text", "png", "svg", "csv"))
    if kind == "text" and out_file in (None, "-") and not sys.stdout.isatty() and fmt is None:
        kind = "csv"  # piped: the data, not a drawing
    if len(ranges) == 1:
        curve = sample.curve(source, ranges[0], fixed, output)
        if check == "fd":
            sample.with_finite_differences(curve, source, fixed, output)
        if kind == "csv":
            _write_or_print(_csv_text(plots.curve_rows(curve)), out_file, "the sampled data")
        elif kind == "text":
            _write_or_print(plots.text_curve(curve), out_file, "the plot")
        else:
            _write_or_print(plots.figure_curve(curve, kind), out_file, a_format(kind, "plot"))
    else:
        if check:
            raise UsageError("--check fd overlays a curve: give one range")
        fld = sample.field(source, ranges[0], ranges[1], fixed, output)
        if kind == "csv":
            _write_or_print(_csv_text(plots.field_rows(fld)), out_file, "the sampled data")
        elif kind == "text":
            raise UsageError("a gradient field is drawn as png or svg (-o field.png), or given as --format csv")
        else:
            _write_or_print(plots.figure_field(fld, kind), out_file, a_format(kind, "plot"))
    return int(ExitStatus.OK)


def _echo_json(text: str) -> None:
    """A JSON document on stdout with DEL, C1 and bidi characters from user text as \\u escapes."""
    from ..output.terminal import json_visible

    echo(json_visible(text), escape=False)


def _csv_text(rows: list[list[str]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@main.command("descend", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@click.argument("args", nargs=-1, metavar=PROGRAM_ARGUMENTS)
@click.option("-f", "--file", "program_file", metavar="FILE", type=FileName(),
              help="Read the program from FILE.")
@click.option("--vars", "vars_files", metavar="FILE.json", type=FileName(), multiple=True,
              help="Starting values from JSON.")
@click.option("--output", "output", metavar="NAME", help="Minimize this named step instead of the last.")
@click.option("--wrt", metavar="A,B", help="The parameters to update (default: every input that is not data).")
@click.option("--lr", type=float, default=0.1, show_default=True, help="Learning rate.")
@click.option("--steps", "steps", type=click.IntRange(0, 10_000_000), default=50, show_default=True,
              help="Most updates.")
@click.option("--momentum", type=float, default=0.0, show_default=True, help="Momentum μ (PyTorch's SGD rule).")
@click.option("--tol", type=float, default=0.0, show_default=True, help="Stop when the gradient norm is below this.")
@click.option("--every", type=click.IntRange(1, None), default=1, show_default=True, help="Show every N-th step (at most 100,000 steps are shown).")
@click.option("--points", "points_file", metavar="FILE.csv", type=FileName(),
              help="Training data: one example per row; the loss is the mean over a (mini)batch.")
@click.option("--batch", type=click.IntRange(1, None), help="Minibatch size (default: all rows).")
@click.option("--seed", "seed", type=click.IntRange(0), default=0, show_default=True, help="Seed for shuffling minibatches.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--plot", "plot_file", metavar="FILE", type=FileName(),
              help="Draw the loss curve (png or svg; with two scalar "
                   "parameters also the path over the contours).")
def descend_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                    output: Optional[str], wrt: Optional[str], lr: float, steps: int, momentum: float, tol: float,
                    every: int, points_file: Optional[str], batch: Optional[int], seed: int, fmt: str,
                    as_json: bool, plot_file: Optional[str]) -> int:
    """Gradient descent on PROGRAM's output: θ ← θ − lr·∇output, with the same engine.

    \b
    gradcli descend "(x-1)^2 + 10*(y-x^2)^2" x=-1 y=2 --lr 0.01 --steps 200 --every 20
    gradcli descend "(w*x - y)^2" w=0 --points data.csv --batch 8 --lr 0.05
    gradcli descend -f loss.grad --vars start.json --momentum 0.9 --plot loss.png
    """
    import math

    from ..run import batch as batch_mod
    from ..run import bindings as binding_mod
    from ..run.descend import Diverged, descend
    from .app import _program_and_bindings

    fmt = _format(as_json, fmt if fmt != "table" or not as_json else None)
    source, rest = _program_and_bindings(args, program_file)
    start = binding_mod.collect(rest, vars_files)
    data = batch_mod.read_points(points_file) if points_file else None
    if batch is not None and data is None:
        raise UsageError("--batch takes minibatches of --points data")
    if not math.isfinite(tol) or tol < 0 or not math.isfinite(momentum):
        raise UsageError("--tol must be a non-negative number and --momentum finite")
    names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else None
    try:
        run_ = descend(source, start, lr=lr, steps=steps, wrt=names, momentum=momentum, tol=tol, every=every,
                       output=output, data=data, batch=batch, seed=seed)
    except Diverged as exc:  # the rows reached tell where it went wrong: print them, then the error
        if exc.partial.records:
            _show_descent(exc.partial, fmt)
        raise
    if plot_file:  # drawn first: a picture that cannot be drawn is an error before anything is printed
        _plot_descent(run_, source, start, output, plot_file)
    _show_descent(run_, fmt)
    return int(ExitStatus.OK)


def _show_descent(run_: Any, fmt: str) -> None:
    from ..core.fmt import json_value, number

    if fmt == "json":
        import json

        doc = {"schema": 1, "output": run_.output, "wrt": run_.wrt, "stopped": run_.stopped,
               "steps": run_.steps_taken,
               "records": [{"step": r.step, "loss": json_value(r.loss), "grad_norm": json_value(r.grad_norm),
                            "params": {n: json_value(v) for n, v in r.params.items()}} for r in run_.records],
               "final": {n: json_value(v) for n, v in run_.final.items()}}
        _echo_json(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    rows = [["step", run_.output, "|gradient|", *run_.wrt]]
    for r in run_.records:
        rows.append([str(r.step), repr(r.loss), repr(r.grad_norm),
                     *(number(r.params[n], 10) if fmt == "table" else _cell(r.params[n]) for n in run_.wrt)])
    if fmt == "csv":
        echo(_csv_text(rows), nl=False)
        return
    from rich.table import Table

    from ..output.tables import Style

    console = _console()
    why = {"tolerance": "stopped at --tol", "diverged": "diverged"}.get(run_.stopped, "all --steps")
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


def _plot_descent(run_: Any, source: str, start: Any, output: Optional[str], plot_file: str) -> None:
    from ..output import plots

    kind = _picture_format(None, plot_file, ("png", "svg"))
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
    _write_or_print(data, plot_file, a_format(kind, "plot"))


@main.command("export", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@click.option("--to", "target", type=click.Choice(["numpy", "torch", "jax"]), default="numpy", show_default=True,
              help="numpy: backprop written out by hand; torch, jax: the forward pass, autograd for the rest.")
@click.option("-o", "--out", "out_file", metavar="FILE", type=FileName(), help="Write the script to FILE.")
def export_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                   output: Optional[str], wrt: Optional[str], target: str, out_file: Optional[str]) -> int:
    """Write PROGRAM at the point as a Python script: NumPy with backprop written out, or PyTorch/JAX.

    The NumPy script has one line per node for the forward pass and one line per
    adjoint for the backward pass (dW = np.outer(dz, x)), from the same rules the
    engine runs; it prints the value and gradient as JSON.

    \b
    gradcli export "(a+b)*(b+1)" a=3 b=2
    gradcli export -f samples/layer.grad --vars samples/layer.json -o layer_backprop.py
    gradcli export "sigmoid(w*x + b)" w=0.5 x=2 b=-1 --to torch
    """
    from ..run.evaluate import run
    from ..teach import export

    ev = run(_prepare(args, program_file, vars_files, output, wrt))
    _warn(ev.warnings)
    script = export.to_numpy(ev) if target == "numpy" else export.to_framework(ev, target)
    _write_or_print(script, out_file, a_format(target, "script"))
    return int(ExitStatus.OK)


@main.command("functions")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default=None,
              help="Output format (default: table); markdown is the README's reference table.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def functions_command(fmt: Optional[str], as_json: bool) -> int:
    """List every operator and function of the language, read from the op table itself.

    \b
    gradcli functions
    gradcli functions --format markdown
    """
    from .app import function_rows

    rows = function_rows()
    fmt = _format(as_json, fmt)
    if fmt == "json":
        import json

        _echo_json(json.dumps({"schema": 1, "functions": rows}, ensure_ascii=False, indent=2))
    elif fmt == "markdown":
        from ..output.documents import functions_markdown

        echo(functions_markdown(rows))
    else:
        from ..output.tables import Style, functions_table

        console = _console()
        console.print(functions_table(rows, Style(console.is_terminal)))
    return int(ExitStatus.OK)


def run_cli() -> None:
    """The click command line (`gradcli.cli.main.run` tries a faster path first)."""
    install_signal_handlers()  # the program's own: never on import, nor under CliRunner
    main()
