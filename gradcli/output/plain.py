"""The default `gradcli eval` view of a scalar program, written without rich.

Importing rich's console and table costs more than everything else a plain evaluation
does, so the commonest views -- the header, the node table (cut to its head and tail above
60 nodes, as rich's is) and the gradient table of a scalar program in reverse or forward
mode, with the explanations that are plain text (``--steps``, ``--paths``), printed to a
pipe or a file (ASCII boxes, no colours) -- are drawn here directly.  `evaluation_text`
returns the same text rich draws (`gradcli.output.tables.evaluation` on the console of
`gradcli.cli.printing.make_console`), byte for byte, or None whenever anything is outside
that case: a terminal (rounded boxes, colours), forced colours, arrays, checks, the
explanations drawn as tables (``--edges``, ``--exact``, ``--latex``), a cut gradient table, a
table wider than the console, a character that is not one column wide, a tab, a control
character or a space other than " " in the tables or the header.  Then rich draws it, as
before.  The header's long lines are wrapped as rich wraps a text (`_rich_lines`); the
explanations are wrapped by `gradcli.output.terminal.wrap_text`, as rich's view of them
(`gradcli.output.tables.Hanging`) does.  tests/test_plain_tables.py holds the two renderers
to the same bytes.
"""

from __future__ import annotations

import os
import re
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


#: the explanations written here: plain text, in `Explained.ORDER`
_TEXT_VIEWS = ("steps", "forward_steps", "paths")
#: rows at each end of a cut node table (`gradcli.output.tables.NODE_EDGE`)
NODE_EDGE = 20


def evaluation_text(report: Any, digits: Optional[int], show_nodes: Optional[bool], full: bool,
                    terminal: bool, width: Optional[int]) -> Optional[str]:
    """The default view of `report` as rich would print it on a non-terminal console `width`
    columns wide (no trailing newline), or None when rich must draw it."""
    ev = report.evaluation
    shown = report.explained.shown()
    forward = ev.mode == "forward"
    if terminal or width is None or report.checks or any(key not in _TEXT_VIEWS for key in shown) \
            or (not forward and not ev.adjoints) or (forward and not ev.tangents):
        return None
    if not ev.tape.scalar or any(os.environ.get(name) for name in _RICH_FORCING):
        return None
    graph = ev.graph
    n = len(graph.nodes)
    if not full and len(ev.gradient) > GRADIENT_LIMIT:
        return None
    digits = 10 if digits is None else digits

    def num(x: object) -> str:
        return "" if x is None else number(x, digits)

    header = _header(ev, num)
    lines = []
    if show_nodes is not False:
        rows = _node_rows(ev, num, None if show_nodes else NODE_LIMIT)
        if rows is None:
            return None
        if forward:
            derivs = [f"tangent ∂node/∂{name}" for name in list(ev.tangents)[:4]]
        else:
            derivs = [f"adjoint ∂{ev.output_name}/∂node"]
        table = _table(f"Computational graph: {n} nodes in evaluation order",
                       ["id", "name", "op", "inputs", "value", *derivs], "rlllr" + "r" * len(derivs), rows, width)
        if table is None:
            return None
        lines += ["", *table]
    rows = [[name, num(ev.env[name]), num(g)] for name, g in ev.gradient.items()]
    table = _table(f"Gradient of {ev.output_name}", ["input", "value", f"∂{ev.output_name}/∂input"], "lrr",
                   rows, width)
    if table is None:
        return None
    lines += ["", *table]
    if forward:
        lines += ["", *_passes_note(ev)]
    if any(_cells(line) > width for line in lines):
        return None
    text = "\n".join(lines)
    if "\t" in text or _UNSAFE.search(text) or not _one_column_each(text):  # rich expands tabs
        return None
    head = _rich_lines(header, width)
    if head is None:
        return None
    parts = [head, text]
    if shown:
        from .terminal import tidy, visible, wrap_text

        for key in shown:  # each as `gradcli.output.tables.Hanging` prints it, on the console that tidies
            parts += ["", tidy(visible(wrap_text(_explanation(key, ev, digits, full), width)))]
    return "\n".join(parts)


def _explanation(key: str, ev: Any, digits: int, full: bool) -> str:
    """The text of explanation `key` (one of `_TEXT_VIEWS`), as `gradcli.output.tables` has it."""
    if key == "forward_steps":
        from ..teach.forward import forward_steps_text

        return forward_steps_text(ev, digits, full)
    from ..teach import explain

    return explain.steps_text(ev, digits, full) if key == "steps" else explain.paths_text(ev, digits, full)


def _node_rows(ev: Any, num: Any, limit: Optional[int]) -> Optional[list[list[str]]]:
    """The node table's rows (`gradcli.output.tables.node_table`), head and tail with a
    "… more" row above `limit` nodes; None for a node rich shows with its parameter."""
    graph = ev.graph
    n = len(graph.nodes)
    live, values, adjoints = ev.tape.live, ev.values, ev.adjoints
    forward = ev.mode == "forward"
    tangents = list(ev.tangents.values())[:4] if forward else []
    shown: Any = range(n)
    if limit is not None and n > limit:
        shown = [*range(NODE_EDGE), -1, *range(n - NODE_EDGE, n)]
    rows = []
    for i in shown:
        if i < 0:
            rows.append(["…", f"{n - 2 * NODE_EDGE} more nodes (--nodes shows all)", "", "", "",
                         *[""] * (len(tangents) if forward else 1)])
            continue
        op = graph.ops[i]
        param = graph.params[i]
        if op == "index" or (param is not None and op not in (INPUT, CONST)):
            return None  # shown with its parameter by the rich table
        inputs = "" if op in (INPUT, CONST) else ", ".join(graph.label(a) for a in graph.args(i))
        if forward:
            derivs = [num(t[i]) if live[i] else "—" for t in tangents]
        else:
            derivs = [num(adjoints[i]) if live[i] else "—"]
        rows.append([str(i), "" if op == CONST else (graph.names_of[i] or ""), op, inputs, num(values[i]), *derivs])
    return rows


def _passes_note(ev: Any) -> list[str]:
    """`gradcli.output.tables.passes_note` as lines of text."""
    from ..core.elements import size
    from ..core.fmt import plural

    ops, k = ev.operations, ev.passes
    total = sum(size(ev.env[name]) for name in ev.inputs)
    return [f"forward mode: {plural(k, 'tangent pass')} × {plural(ops, 'operation')} = {plural(k * ops, 'step')}",
            f"reverse mode: 1 backward pass × {plural(ops, 'operation')} = {plural(ops, 'step')}, "
            f"for all {plural(total, 'input value')} at once"]


#: a word as rich divides a line (`rich._wrap.words`): the word and the spaces after it
_WORD = re.compile(r"\s*\S+\s*")


def _rich_lines(lines: list[str], width: int) -> Optional[str]:
    """`lines` as rich wraps a text `width` columns wide (`rich.text.Text.wrap`, folding words
    longer than a line) and the console tidies it, or None for what is not plain one-column
    text with " " its only space (where rich's measure and ours might part)."""
    text = "\n".join(lines)
    if "\t" in text or _UNSAFE.search(text) or not _one_column_each(text) or _OTHER_SPACE.search(text):
        return None
    out = []
    for line in lines:
        if len(line) <= width:
            out.append(line.rstrip(" "))
            continue
        breaks: list[int] = []
        offset = 0
        for match in _WORD.finditer(line):  # rich's `divide_line`, where a character is a column
            start, word = match.start(), match.group()
            length = len(word.rstrip())
            if width - offset >= length:
                offset += len(word)
            elif length > width:  # folded: the word's pieces each start a line
                pieces = [word[k:k + width] for k in range(0, len(word), width)]
                for piece in pieces[:-1]:
                    if start:
                        breaks.append(start)
                    start += len(piece)
                if start:
                    breaks.append(start)
                offset = len(pieces[-1])
            elif offset and start:
                breaks.append(start)
                offset = len(word)
        for a, b in zip([0, *breaks], [*breaks, len(line)]):
            piece = line[a:b]
            if len(piece) > width:  # `Text.rstrip_end`, then `Text.truncate`
                piece = piece[:len(piece) - min(len(piece) - len(piece.rstrip()), len(piece) - width)][:width]
            out.append(piece.rstrip(" "))
    return "\n".join(out)


#: whitespace other than a space or a newline (rich's ``\s`` and our " " would part)
_OTHER_SPACE = re.compile(r"[^\S \n]")


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
