"""The click group: one-line usage errors, programs that start with '-', and the failure mapping.

Every command module registers itself on `main` (`gradcli.cli.commands` imports them all).
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

import click

from .._version import __version__
from ..core.errors import ExitStatus
from .failures import (
    EXIT_CODES_EPILOG, PipeClosed, finish, install_signal_handlers, prepare_streams, report_failure,
    running_as_program,
)
from .printing import echo


_PROTECT = "\x00gradcli-arg-"


class GradcliCommand(click.Command):
    """A command whose options are refused together as `gradcli.cli.conflicts` says, in one
    place: after click has read them (and deprecated spellings are folded into the options
    they now are, `gradcli.cli.options.resolve_aliases`), before the command runs."""

    def invoke(self, ctx: click.Context) -> Any:
        from .conflicts import refuse_conflicts
        from .options import resolve_aliases
        from .printing import warn

        given = {name for name in ctx.params
                 if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE}
        warn(resolve_aliases(self.name or "", ctx.params, given))  # deprecated spellings: a line each, on stderr
        refuse_conflicts(self.name or "", ctx.params)
        return super().invoke(ctx)


class ProgramCommand(GradcliCommand):
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
        from .program import looks_like_long_option

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


    def _main_shell_completion(self, ctx_args: Any, prog_name: str, complete_var: Optional[str] = None) -> None:
        """click's completion protocol, its environment checked first: an instruction set by
        hand (``_GRADCLI_COMPLETE=junk``, or ``bash_complete`` outside the shell's script,
        without COMP_WORDS and COMP_CWORD) is one line and exit 2, not click's silent exit 1
        or a KeyError."""
        import os

        from click.shell_completion import get_completion_class

        var = complete_var or f"_{prog_name.replace('-', '_').replace('.', '_')}_COMPLETE".upper()
        instruction = os.environ.get(var)
        if instruction:
            shell, _, kind = instruction.partition("_")
            if get_completion_class(shell) is None or kind not in ("source", "complete"):
                _usage_exit(f"{var}={instruction!r}: expected bash_source, zsh_source or fish_source "
                            "(the completion script's set-up)", None)
            words, cword = os.environ.get("COMP_WORDS"), os.environ.get("COMP_CWORD")
            if kind == "complete" and (words is None or cword is None
                                       or (shell != "fish" and not cword.strip().isdigit())):
                _usage_exit(f"{var}={instruction}: only the completion script asks this (it sets COMP_WORDS and "
                            f"COMP_CWORD); to set completion up, use {shell}_source", None)
        super()._main_shell_completion(ctx_args, prog_name, complete_var)


def _usage_exit(message: str, ctx: Optional[click.Context]) -> None:
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = message[0].lower() + message[1:] if message else message
    echo(f"gradcli: error: {message}{where}", err=True)
    sys.exit(int(ExitStatus.BAD_INPUT))


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


PROGRAM_COMMAND = dict(cls=ProgramCommand, context_settings={"ignore_unknown_options": True})


def run_cli() -> None:
    """The click command line (`gradcli.cli.main.run` tries a faster path first)."""
    install_signal_handlers()  # the program's own: never on import, nor under CliRunner
    main()
