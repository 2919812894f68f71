"""The click parameter types of gradcli's options: numbers, files, NAME=VALUE pairs, shapes, seeds.

Validation of an option's own text lives in its type's ``convert``.  A malformed value is
a gradcli `UsageError` with the same one line the command would give (``--expect 'b':
write NAME=VALUE, e.g. --expect b=8``), not click's longer "Invalid value" text.
`type_of` maps the type names of `gradcli.cli.options` to these objects.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import click

from ..core.errors import UsageError


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


class NameValue(click.ParamType):
    """``NAME=TEXT`` (``--expect b=8``, ``--expect-formula x=2*x``): the pair (NAME, TEXT).

    The text is read later (a number, a formula), where the program is known; here only
    the form is checked.  `optional_name`: ``[NAME=]VALUE`` (``--expect-value``), where
    text that does not start with a name and '=' is all value, and NAME is None.
    """

    name = "name=value"

    def __init__(self, option: str, form: str, example: str, *, optional_name: bool = False,
                 text_required: bool = False) -> None:
        self.option, self.form, self.example = option, form, example
        self.optional_name, self.text_required = optional_name, text_required

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, tuple):  # a default, or converted already
            return value
        name, eq, text = value.partition("=")
        if self.optional_name:
            if eq and re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", name.strip()):
                return name.strip(), text
            return None, value
        if not eq or not name.strip() or (self.text_required and not text.strip()):
            raise UsageError(f"{self.option} {value!r}: write {self.form}, e.g. {self.example}")
        return name.strip(), (text.strip() if self.text_required else text)


class Shape(click.ParamType):
    """``--shape W=3x2`` or ``x=2``: the pair (NAME, (rows, cols)) with the text as written."""

    name = "shape"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, tuple):
            return value
        name, _, dims = value.partition("=")
        if not re.fullmatch(r"[^\W\d]\w*", name.strip()) or not re.fullmatch(r"\d+([x×]\d+){0,3}", dims.strip()):
            raise UsageError(f"--shape {value}: write NAME=ROWSxCOLS or NAME=LENGTH (up to 4 sizes), "
                             "e.g. W=3x2, x=2 or X=2x3x4x4")
        size = tuple(int(n) for n in re.split(r"[x×]", dims.strip()))
        if 0 in size:
            raise UsageError(f"--shape {value}: sizes start at 1")
        return name.strip(), size, dims.strip()


class SeedInput(click.ParamType):
    """``--seed W`` or ``--seed 'W[0,1]'`` (eval, forward mode): an input's name, or one element.

    The form is checked here; whether NAME is an input, and the element inside its shape,
    once the program is read (`gradcli.run.evaluate.parse_seed`).
    """

    name = "seed"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        from ..run.evaluate import _SEED

        if _SEED.fullmatch(value) is None:
            raise UsageError(f"--seed {value}: write an input's name, or one element of it such as W[0,1]")
        return value


def type_of(kind: Any, formats: tuple[str, ...] = ()) -> Any:
    """The click type for a type name of `gradcli.cli.options` (a tuple: those choices;
    ``format``: the command's `formats`)."""
    if isinstance(kind, tuple):
        return click.Choice(list(kind))
    made: Optional[Any] = {
        "file": FileName,
        "seconds": lambda: SECONDS,
        "tolerance": lambda: TOLERANCE,
        "float": lambda: float,
        "digits": lambda: click.IntRange(1, 17),
        "positive": lambda: click.IntRange(1, None),
        "updates": lambda: click.IntRange(0, 10_000_000),
        "shuffle-seed": lambda: click.IntRange(0),
        "format": lambda: click.Choice(list(formats)),
        "shape": Shape,
        "seed": SeedInput,
        "expect": lambda: NameValue("--expect", "NAME=VALUE", "--expect b=8"),
        "expect-value": lambda: NameValue("--expect-value", "[NAME=]VALUE", "--expect-value 12",
                                          optional_name=True),
        "expect-formula": lambda: NameValue("--expect-formula", "NAME=EXPRESSION", "x=2*x", text_required=True),
    }.get(kind)
    if made is None:
        raise KeyError(f"no parameter type {kind!r}")  # a typo in options.py: a bug, found by the tests
    return made()
