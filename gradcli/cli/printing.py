"""Printing: stdout and stderr, the rich console, warnings, CSV and JSON text, files or stdout.

No click import here: the fast path prints through these too.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

from ..core.errors import UsageError, one_line


def echo(text: str = "", err: bool = False, nl: bool = True, escape: bool = True) -> None:
    """Write `text` to stdout or stderr; control characters from user text are shown escaped.

    A message on stderr that cannot be written (stderr closed, disk full) is dropped: the
    exit status still tells.
    """
    from ..output.terminal import visible

    stream = sys.stderr if err else sys.stdout
    text = (visible(text) if escape else text) + ("\n" if nl else "")
    if not err:
        for start in range(0, len(text), 1 << 16):  # a short write into a closed pipe must not pass silently
            stream.write(text[start:start + (1 << 16)])
        stream.flush()
        return
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        echo(f"gradcli: warning: {one_line(warning)}", err=True)


def table_width(err: bool = False) -> tuple[bool, Optional[int]]:
    """Whether the stream is a terminal, and the width its console draws at (None: rich asks the terminal)."""
    import os

    terminal = (sys.stderr if err else sys.stdout).isatty()
    return terminal, terminal_columns(os.environ.get("COLUMNS")) or (None if terminal else 120)


def make_console(err: bool = False):
    import os

    from ..output.terminal import console

    out = sys.stderr if err else sys.stdout
    width = table_width(err)[1]
    return console(out, width=width, no_color=bool(os.environ.get("NO_COLOR")) or None)


#: tables are drawn at least this wide, whatever COLUMNS says (narrower is unreadable)
MIN_COLUMNS = 20


def terminal_columns(value: Optional[str]) -> Optional[int]:
    """The width COLUMNS asks for: None when unset or not a positive whole number (with a
    warning), and at least MIN_COLUMNS."""
    if value is None or not value.strip():
        return None
    try:
        columns = int(value)
    except ValueError:
        columns = 0
    if columns <= 0:
        warn([f"COLUMNS={value!r} is not a positive whole number; it is ignored"])
        return None
    return max(columns, MIN_COLUMNS)


def echo_json(text: str) -> None:
    """A JSON document on stdout with DEL, C1 and bidi characters from user text as \\u escapes."""
    from ..output.terminal import json_visible

    echo(json_visible(text), escape=False)


def csv_text(rows: list[list[str]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_csv(rows: list[list[str]], fmt: str) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
    writer.writerows(rows)
    echo(buf.getvalue(), nl=False)


def write_or_print(data: Any, out_file: Optional[str], what: str,
                    inputs: list[tuple[str, Optional[str]]], option: str = "-o") -> None:
    """A picture or document to `out_file` (given as `option`), or to stdout (binary refused
    on a terminal)."""
    from .files import refuse_overwrite, write_output

    if out_file is not None and out_file != "-":
        refuse_overwrite(option, out_file, inputs)  # never onto an input file
        write_output(out_file, data, option)  # atomic: a full disk keeps the old file
        echo(f"gradcli: wrote {what} to {one_line(out_file)}", err=True)
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            raise UsageError("a picture is binary: write it to a file with -o FILE")
        write_output("-", data, "-o")
    else:
        echo(data, nl=not data.endswith("\n"))


def output_kind(fmt: Optional[str], out_file: Optional[str], allowed: tuple[str, ...],
                option: str = "-o") -> str:
    """The format to write: `fmt`, else from the extension of `out_file` (given as `option`;
    only -o goes with a --format that could name it instead), else the first allowed."""
    if fmt is None and out_file not in (None, "-"):
        ext = out_file.rsplit(".", 1)[-1].lower() if "." in out_file else ""
        if ext not in allowed:
            endings = ", ".join(f".{a}" for a in allowed if a not in ("text", "table"))
            if option != "-o":
                raise UsageError(f"{option} {out_file}: give a file ending in {endings}")
            raise UsageError(f"-o {out_file}: give --format ({', '.join(allowed)}) or a file ending in {endings}")
        return ext
    return fmt or allowed[0]
