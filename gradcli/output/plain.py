"""The default `gradcli eval` view of a small scalar program, written without rich.

Importing rich's console and table costs more than everything else a plain evaluation
does, so the commonest view -- the header, the node table and the gradient table of a
scalar program in reverse mode, without checks or explanations, printed to a pipe or a
file (ASCII boxes, no colours) -- is drawn here directly.  `evaluation_text` returns the
same text rich draws (`gradcli.output.tables.evaluation` on the console of
`gradcli.cli.printing.make_console`), byte for byte, or None whenever anything is
outside that case: a terminal (rounded boxes, colours), forced colours, arrays, forward
mode, checks, explanations, a cut table, a table or line wider than the console, a
character that is not one column wide, a tab, or a control character.  Then rich draws it, as
before.  tests/test_plain_tables.py holds the two renderers to the same bytes.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ..core.fmt import number
from ..core.graph import CONST, INPUT
from .terminal import _UNSAFE, _cells

#: the node and gradient tables are drawn here only up to these sizes (`gradcli.output.tables`
#: cuts larger ones with a "… more" row)
NODE_LIMIT = 60
GRADIENT_LIMIT = 60
#: environment variables with which rich writes colours or terminal codes even to a pipe
_RICH_FORCING = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def evaluation_text(report: Any, digits: Optional[int], show_nodes: Optional[bool], full: bool,
                    terminal: bool, width: Optional[int]) -> Optional[str]:
    """The default view of `report` as rich would print it on a non-terminal console `width`
    columns wide (no trailing newline), or None when rich must draw it."""
    ev = report.evaluation
    if terminal or width is None or report.checks or report.explained.shown() or ev.mode == "forward" \
            or not ev.adjoints:
        return None
    if not ev.tape.scalar or any(os.environ.get(name) for name in _RICH_FORCING):
        return None
    graph = ev.graph
    n = len(graph.nodes)
    if (show_nodes is None and n > NODE_LIMIT) or (not full and len(ev.gradient) > GRADIENT_LIMIT):
        return None
    digits = 10 if digits is None else digits

    def num(x: object) -> str:
        return "" if x is None else number(x, digits)

    lines = _header(ev, num)
    if show_nodes is not False:
        out = ev.output_name
        rows = []
        live, values, adjoints = ev.tape.live, ev.values, ev.adjoints
        for node in graph.nodes:
            i = node.id
            inputs = "" if node.op in (INPUT, CONST) else ", ".join(graph.label(a) for a in node.args)
            op = node.op
            if node.op == "index" or (node.param is not None and node.op not in (INPUT, CONST)):
                return None  # shown with its parameter by the rich table
            rows.append([str(i), "" if node.op == CONST else (node.name or ""), op, inputs, num(values[i]),
                         num(adjoints[i]) if live[i] else "—"])
        table = _table(f"Computational graph: {n} nodes in evaluation order",
                       ["id", "name", "op", "inputs", "value", f"adjoint ∂{out}/∂node"], "rlllrr", rows, width)
        if table is None:
            return None
        lines += ["", *table]
    rows = [[name, num(ev.env[name]), num(g)] for name, g in ev.gradient.items()]
    table = _table(f"Gradient of {ev.output_name}", ["input", "value", f"∂{ev.output_name}/∂input"], "lrr",
                   rows, width)
    if table is None:
        return None
    lines += ["", *table]
    if any(_cells(line) > width for line in lines):
        return None
    text = "\n".join(lines)
    if "\t" in text or _UNSAFE.search(text) or not _one_column_each(text):  # rich expands tabs
        return None
    return text


def _header(ev: Any, num: Any) -> list[str]:
    """`gradcli.output.tables.header` as lines of text."""
    from ..language.parser import statement_texts

    source = "; ".join(statement_texts(ev.source, limit=200))
    if len(source) > 200:
        source = source[:199] + "…"
    lines = [f"program  {source}", f"output   {ev.output_name} = {num(ev.value)}"]
    origins = {name: ev.bindings[name].origin for name in ev.inputs if name in ev.bindings}
    if "program" in origins.values():
        mine = [n for n, o in origins.items() if o == "program"]
        given = [n for n, o in origins.items() if o != "program"]
        line = f"point    {', '.join(mine)} from the program's #: lines"
        if given:
            line += f"; {', '.join(given)} given here"
        lines.append(line)
    return lines


def _table(title: str, headers: list[str], align: str, rows: list[list[str]], width: int) -> Optional[list[str]]:
    """A rich ASCII-box table (`rich.box.ASCII`, padding one space, header separator) whose
    columns all take their natural width, or None when it is wider than `width`."""
    widths = [max([_cells(h)] + [_cells(r[k]) for r in rows]) for k, h in enumerate(headers)]
    total = sum(widths) + 3 * len(widths) + 1
    if total > width or _cells(title) > width or any("\n" in c for r in rows for c in r):
        return None

    def line(cells: list[str]) -> str:
        parts = []
        for cell, w, a in zip(cells, widths, align):
            pad = " " * (w - _cells(cell))
            parts.append(f" {pad}{cell} " if a == "r" else f" {cell}{pad} ")
        return ("|" + "|".join(parts) + "|").rstrip(" ")

    edge = "+" + "-" * (total - 2) + "+"
    return [title, edge, line(headers), "|" + "+".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in rows), edge]


def _one_column_each(text: str) -> bool:
    """Whether every character takes exactly one terminal column (no wide or combining
    characters, where rich's measure and ours might part)."""
    if text.isascii():
        return True
    return all(_cells(c) == 1 for c in set(text) if c >= "\x80")
