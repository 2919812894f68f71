"""``gradcli functions``: every operator and function of the language, from the op table."""

from __future__ import annotations

from typing import Optional


from ..core.errors import ExitStatus
from .group import GradcliCommand, main
from .options import declare
from .printing import make_console, echo_json, echo
from .program import output_format


@main.command("functions", cls=GradcliCommand)
@declare("functions")
def functions_command(fmt: Optional[str], as_json: bool) -> int:
    """List every operator and function of the language, read from the op table itself.

    \b
    gradcli functions
    gradcli functions --format markdown
    """
    rows = function_rows()
    fmt = output_format(as_json, fmt)
    if fmt == "json":
        import json

        echo_json(json.dumps({"schema": 1, "functions": rows}, ensure_ascii=False, indent=2))
    elif fmt == "markdown":
        from ..output.documents import functions_markdown

        echo(functions_markdown(rows))
    else:
        from ..output.tables import Style, functions_table

        console = make_console()
        console.print(functions_table(rows, Style(console.is_terminal)))
    return int(ExitStatus.OK)


def function_rows() -> list[dict]:
    """The operations of the language (`gradcli.core.ops.catalogue`), then the prelude's
    definitions when the language has a prelude."""
    from ..core.ops import catalogue

    rows = catalogue()
    try:
        from ..language import prelude  # type: ignore[attr-defined]
    except ImportError:
        return rows
    rows.extend(prelude_rows(getattr(prelude, "PRELUDE", None)))
    return rows


def prelude_rows(prelude: object) -> list[dict]:
    """Rows for the prelude's defs, whatever their container (text, or name -> text)."""
    if not prelude:
        return []
    if isinstance(prelude, str):
        lines = [line.strip() for line in prelude.splitlines()]
        defs = [line[4:] for line in lines if line.startswith("def ")]
    else:
        items = prelude.items() if isinstance(prelude, dict) else prelude
        defs = [str(v if not str(v).startswith("def ") else str(v)[4:]) for _, v in items]  # type: ignore[attr-defined, misc]
    rows = []
    for text in defs:
        head, _, body = text.partition("=")
        name = head.split("(")[0].strip()
        arity = head.count(",") + 1 if "(" in head and head.split("(", 1)[1].strip(" )") else 0
        rows.append({"name": name, "usage": head.strip(), "arity": arity,
                     "meaning": f"prelude: {body.strip()}", "kink": ""})
    return rows
