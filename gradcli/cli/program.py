"""The program and its point: from an argument, a file or stdin, with its bindings and size limit.

Every command that takes PROGRAM [NAME=VALUE]... reads it here; no click import (the fast
path reads programs too).
"""

from __future__ import annotations

from typing import Optional

from ..core.errors import UsageError
from ..run.requests import Record
from .printing import warn


class ProgramOptions(Record):
    """The options of every command that reads a program at a point: the program (text or
    ``-f FILE``), the ``NAME=VALUE`` arguments and ``--vars`` files, ``--output`` and ``--wrt``.
    Each command's record extends it with its own (`gradcli.cli.options` declares them all)."""

    args: tuple[str, ...]
    program_file: Optional[str] = None
    vars_files: tuple[str, ...] = ()
    output: Optional[str] = None
    wrt: Optional[str] = None


def output_format(as_json: bool, fmt: Optional[str]) -> str:
    """The output format: --json is --format json (the two disagreeing: gradcli.cli.conflicts)."""
    return "json" if as_json else fmt or "table"


def one_stdin(args, program_file, vars_files, **more: Optional[str]) -> None:
    """Refuse two inputs that both read stdin ('-'): the program, --vars files, --answers, --points."""
    readers = []
    if program_file == "-" or (program_file is None and args and args[0] == "-"):
        readers.append("the program" if program_file is None else "-f")
    readers += ["--vars" for v in vars_files if v == "-"]
    readers += [f"--{option}" for option, path in more.items() if path == "-"]
    if len(readers) > 1:
        raise UsageError(f"{' and '.join(readers)} cannot both read stdin ('-'): put one of them in a file")


def input_files(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
            **more: Optional[str]) -> list[tuple[str, Optional[str]]]:
    """The files a command reads, as (option, path) pairs, for `refuse_overwrite`."""
    found: list[tuple[str, Optional[str]]] = [("-f", program_file)]
    found += [("--vars", v) for v in vars_files]
    found += [(option, path) for option, path in more.items()]
    return found


def read_point(args, program_file, vars_files, output, wrt):  # type: ignore[no-untyped-def]
    """The program and its bound values (`gradcli.run.requests.Point`) from the arguments,
    a file or stdin, the --vars files and the program's own ``#:`` lines."""
    from ..run import bindings as binding_mod
    from ..run.requests import Point

    one_stdin(args, program_file, vars_files)
    source, binding_args = program_and_bindings(args, program_file)
    for a in binding_args:
        if a.startswith("--"):
            raise UsageError(unknown_option(a))
    point, default_output, problems = program_point(source, program_file)
    bound = {**point, **binding_mod.collect(binding_args, vars_files)}  # the command line wins
    return Point(source=source, bindings=bound, output=output or default_output, wrt=names_of(wrt),
                 hints=tuple(problems))


def names_of(wrt: Optional[str]) -> Optional[list[str]]:
    """``--wrt A,B`` as a list of names (None: every input)."""
    return [w.strip() for w in wrt.split(",") if w.strip()] if wrt else None


def prepare_evaluation(args, program_file, vars_files, output, wrt):  # type: ignore[no-untyped-def]
    """The evaluation the arguments ask for, parsed and bound, not yet run."""
    from ..run.pipeline import prepared

    return prepared(read_point(args, program_file, vars_files, output, wrt))


def program_point(source: str, program_file: Optional[str]):
    """The point (and output) a program file states in its ``#:`` lines (README, "Programs
    that carry their point"); none for a program given on the command line."""
    import os

    from ..run import bindings as binding_mod

    if program_file is None or "#:" not in source:
        return {}, None, []
    folder = os.path.dirname(os.path.abspath(program_file)) if program_file != "-" else "."
    return binding_mod.program_point(source, folder)


def looks_like_long_option(arg: str) -> bool:
    """``--name`` or ``--name=value``: an option's spelling.  ``---x`` and ``--x^2`` are not (no
    option starts with three dashes or holds ``^``): they are programs, chains of negations."""
    import re

    return arg.startswith("--") and arg != "--" and re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", arg, re.S) is not None


def unknown_option(arg: str) -> str:
    """'no such option' with a suggestion, or the reason an option was not read."""
    import difflib

    import click  # only on this error path, which only the click command line reaches

    ctx = click.get_current_context(silent=True)
    name = arg.split("=")[0]
    known = [o for p in ctx.command.params for o in getattr(p, "opts", []) if o.startswith("--")] if ctx else []
    if name in known:
        return f"{name} comes after '--', where options are no longer read: put it before '--'"
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"no such option: {name}{hint}"


def program_and_bindings(args: tuple[str, ...], program_file: Optional[str]) -> tuple[str, list[str]]:
    """The program text (from the first argument, a file, or stdin) and the bindings."""
    rest = list(args)
    if rest and rest[0].startswith("\x00"):  # written after '--': a program, whatever it looks like
        rest[0] = rest[0][1:]
    elif rest and looks_like_long_option(rest[0]) and not any(a.startswith(rest[0][2:] + "=") for a in rest[1:]):
        raise UsageError(unknown_option(rest[0]))  # (but "--x" with a binding x=2 is x negated twice)
    if rest and rest[0] == "--":
        rest.pop(0)
    if program_file is not None:
        return read_program(program_file), [a for a in rest if a != "--"]
    if not rest:
        raise UsageError("no program given: gradcli eval \"(a+b)*(b+1)\" a=3 b=2 (or -f FILE, or - for stdin)")
    first = rest.pop(0)
    rest = [a for a in rest if a != "--"]
    if first == "-":
        return read_program("-"), rest
    return _program_text(first, "the program"), rest


#: programs larger than this are refused at once (GRADCLI_MAX_PROGRAM_BYTES overrides):
#: each node costs 300 to 550 bytes at peak (10^6 nodes: ``x+x+…`` 330 MiB, a chain of
#: statements ``x1 = sin(x0)`` 378 MiB, or 539 MiB when the fast lane cannot take it), so the
#: densest program (``x+x+…``, two bytes a node) of 28 MB takes about 4.4 GB: no more than
#: 24 MB took at 420 bytes a node
MAX_PROGRAM_BYTES = 28_000_000


def _size_limit() -> int:
    """The program size limit: GRADCLI_MAX_PROGRAM_BYTES if it is a positive whole number of
    bytes (``1e9`` is fine), else the default, with a warning saying the value was ignored."""
    import math
    import os

    raw = os.environ.get("GRADCLI_MAX_PROGRAM_BYTES")
    if raw is None or not raw.strip():
        return MAX_PROGRAM_BYTES
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 1 and number == int(number)):
        warn([f"GRADCLI_MAX_PROGRAM_BYTES={raw!r} is not a positive whole number of bytes; "
               f"using the default, {MAX_PROGRAM_BYTES}"])
        return MAX_PROGRAM_BYTES
    return int(number)


def _check_size(where: str, size: int, limit: int) -> None:
    """Refuse a program of `size` bytes over the limit, before any work is done on it."""
    if size > limit:
        raise UsageError(_too_large(where, f"{size / 1e6:.1f} MB", limit))


def _too_large(where: str, size: str, limit: int) -> str:
    return (f"{where} is {size}; gradcli takes programs up to {limit / 1e6:.1f} MB "
            "(set GRADCLI_MAX_PROGRAM_BYTES to allow more, and expect 300 to 550 bytes of memory per node)")


def _program_text(text: str, where: str, limit: Optional[int] = None) -> str:
    """`text`, unless it is over the size limit (UTF-8 bytes; at most 4 per character,
    so short texts are not encoded just to be measured)."""
    if len(text) * 4 > (limit := limit or _size_limit()):
        _check_size(where, len(text.encode("utf-8", "surrogatepass")), limit)
    if not text.isascii():
        import re

        bad = re.search("[\ud800-\udfff]", text)  # a byte that is not UTF-8, escaped by Python
        if bad is not None:
            from ..core.errors import ParseError

            byte = ord(bad.group()) - 0xDC00 if ord(bad.group()) >= 0xDC80 else None
            shown = f" (byte 0x{byte:02x})" if byte is not None and byte < 0x100 else ""
            raise ParseError(f"{where} is not UTF-8 text{shown}", text.replace(bad.group(), "?"), bad.start())
    return text


def read_program(path: str) -> str:
    """The program in `path` ('-': stdin), read no further than one byte past the size limit."""
    from ..run.files import read_bytes

    where = "stdin" if path == "-" else path
    limit = _size_limit()
    try:
        data = read_bytes(path, limit, f"cannot read {path}" if path != "-" else "stdin")
    except UsageError as exc:
        if " is over " in exc.message:  # stopped at the limit: the same message as for an argument
            raise UsageError(_too_large(where, f"over {limit / 1e6:.1f} MB", limit)) from None
        raise
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where} is not UTF-8 text (byte {exc.start})") from None
    return text.lstrip("\ufeff")
