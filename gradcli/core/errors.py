"""Typed errors, each carrying the exit status the CLI turns it into.

One place (`gradcli.cli.commands`) maps these to a single line on stderr and an exit code;
nothing else in the package prints or exits.
"""

from __future__ import annotations

from enum import IntEnum

from .fmt import char_columns, columns


class ExitStatus(IntEnum):
    """The documented exit codes (README, "Exit codes")."""

    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    MATH_ERROR = 3
    INTERNAL_ERROR = 4


class GradcliError(Exception):
    """Base class: a message for the user and the exit status it maps to."""

    exit_status = ExitStatus.BAD_INPUT
    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def render(self) -> str:
        """The text written to stderr (one line, except parse errors' caret)."""
        return f"gradcli: {self.kind}: {one_line(self.message)}"


class UsageError(GradcliError):
    """Bad command-line usage: options, bindings, files."""


class ParseError(GradcliError):
    """The program text is not in the language; points at the line and column."""

    kind = "parse error"

    def __init__(self, message: str, source: str, pos: int) -> None:
        super().__init__(message)
        self.source = source
        self.pos = max(0, min(pos, len(source)))

    @property
    def line_col(self) -> tuple[int, int]:
        """1-based line and column of the error position."""
        line = self.source.count("\n", 0, self.pos) + 1
        start = self.source.rfind("\n", 0, self.pos) + 1
        return line, self.pos - start + 1

    def render(self) -> str:
        line, col = self.line_col
        start = self.source.rfind("\n", 0, self.pos) + 1
        end = self.source.find("\n", self.pos)
        text = self.source[start : end if end >= 0 else len(self.source)]
        if text.endswith("\r") and self.pos != start + len(text) - 1:  # a CRLF line: its \r is no character
            text = text[:-1]
        shown, caret_col = _window(text, col - 1, 100)
        where = f"line {line}, column {col}" if "\n" in self.source else f"column {col}"
        return (
            f"gradcli: {self.kind} at {where}: {one_line(self.message)}\n"
            f"  {shown}\n"
            f"  {' ' * _caret_indent(shown, caret_col)}^"
        )


class ShapeError(GradcliError):
    """Operands whose shapes do not fit the operation."""

    kind = "shape error"


class MathError(GradcliError):
    """A value outside an operation's domain, or a non-finite result."""

    exit_status = ExitStatus.MATH_ERROR
    kind = "math error"


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters shown escaped (user text
    quoted in a message must not split it over lines)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


def _window(text: str, col: int, width: int) -> tuple[str, int]:
    """Cut a long source line to `width` characters around `col`; printable only."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) <= width:
        return text, col
    start = max(0, min(col - width // 2, len(text) - width))
    shown = text[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(text) else ""
    return prefix + shown + suffix, col - start + len(prefix)


def _caret_indent(shown: str, col: int) -> int:
    """Terminal columns before the caret under `shown[col]`; a combining mark has no column
    of its own, so the caret goes under the letter it sits on."""
    if 0 < col < len(shown) and shown[col] >= "\x80" and char_columns(shown[col]) == 0:
        return columns(shown[: col - 1])
    return columns(shown[:col])
