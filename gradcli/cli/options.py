"""The options the commands share, and the click parameter types they use."""

from __future__ import annotations

import click


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
