"""Results as HTML fragments, for notebooks (Jupyter's ``_repr_html_``).

The same facts as the terminal tables (`gradcli.output.tables`): the program and its
output, the node table, the gradient table, and the graph as SVG when Graphviz is
installed.  Every piece of user text is escaped; nothing here prints.
"""

from __future__ import annotations

from html import escape
from typing import Optional

from ..core.fmt import array, number
from ..core.graph import CONST, INPUT
from ..run.reports import EvalReport

#: nodes shown before the table says how many more there are
NODE_LIMIT = 200

_STYLE = (
    "<style>.gradcli table{border-collapse:collapse;margin:.4em 0}"
    ".gradcli th,.gradcli td{padding:.15em .6em;border-bottom:1px solid #8884;font-family:monospace}"
    ".gradcli td.num{text-align:right}.gradcli caption{text-align:left;font-weight:bold}</style>"
)


def _num(x: object, digits: int) -> str:
    if getattr(x, "shape", ()):
        return escape(array(x, digits))
    return escape(number(x, digits))  # type: ignore[arg-type]


def _table(caption: str, head: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    out = [f"<table><caption>{escape(caption)}</caption><thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)
        ) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def evaluation_html(report: EvalReport, digits: int = 10, svg: Optional[str] = None) -> str:
    """The whole result as one ``<div class="gradcli">`` (values already computed)."""
    ev, checks = report.evaluation, report.checks
    graph, values, adjoints, live = ev.graph, ev.values, ev.adjoints, ev.tape.live
    parts = [_STYLE, '<div class="gradcli">',
             f"<p><b>{escape(ev.output_name)} = {_num(ev.value, digits)}</b>"
             f"<br><code>{escape(ev.source.strip())}</code></p>"]
    out = f"∂{ev.output_name}/∂node"
    rows = []
    for node in graph.nodes[:NODE_LIMIT]:
        i = node.id
        if node.op == INPUT:
            expr = ""
        elif node.op == CONST:
            expr = escape(node.text or "")
        else:
            expr = escape(graph.definition(i))
        adjoint = _num(adjoints[i], digits) if adjoints and live[i] else "—"
        rows.append([str(i), escape(node.name or ""), escape(node.op), expr, _num(values[i], digits), adjoint])
    parts.append(_table(f"Computational graph: {len(graph.nodes)} nodes in evaluation order",
                        ["id", "name", "op", "definition", "value", f"adjoint {out}"], rows, {0, 4, 5}))
    if len(graph.nodes) > NODE_LIMIT:
        parts.append(f"<p>… and {len(graph.nodes) - NODE_LIMIT} more nodes</p>")
    if ev.has_gradient:
        head = ["input", "value", f"∂{ev.output_name}/∂input"] + [c.name for c in checks]
        grows = []
        for name, g in ev.gradient.items():
            row = [escape(name), _num(ev.env[name], digits), _num(g, digits)]
            for c in checks:
                r = c.results.get(name)
                row.append("" if r is None else escape(r.status))
            grows.append(row)
        parts.append(_table(f"Gradient of {ev.output_name}", head, grows, {1, 2}))
    if ev.warnings:
        parts.append("<ul>" + "".join(f"<li>warning: {escape(w)}</li>" for w in ev.warnings) + "</ul>")
    if svg:
        start = svg.find("<svg")
        parts.append(svg[start:] if start >= 0 else "")
    parts.append("</div>")
    return "".join(parts)
