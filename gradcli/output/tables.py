"""Rich renderables for people: the header, the node table, the gradient table.

Functions here return renderables and never print; `gradcli.cli.commands` owns the console.
Numeric columns are right-justified.  Large graphs are shown head and tail with a
row saying how many nodes were left out (``--nodes`` shows all).
"""

from __future__ import annotations

from typing import Optional

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..oracles.checks import Check
from ..run.evaluate import Evaluation
from ..core.fmt import array, number
from ..core.graph import CONST, INPUT, index_text

#: with more nodes than this, the node table shows the first and last NODE_EDGE rows
NODE_LIMIT = 60
NODE_EDGE = 20
#: with more inputs than this, the gradient table is cut likewise (--full shows all)
GRADIENT_LIMIT = 60

_STATUS = {"ok": "✓", "fail": "✗", "kink": "~ not differentiable here", "skipped": "skipped"}
_STATUS_STYLE = {"ok": "green", "fail": "bold red", "kink": "yellow", "skipped": "dim"}


def add_row(table: Table, *cells, style: Optional[str] = None) -> None:
    """A row whose text cells are plain text, never rich markup ('[inf, 0.5]' stays)."""
    table.add_row(*[Text(c) if isinstance(c, str) else c for c in cells], style=style)


class Style:
    """How tables are drawn: rounded boxes on a terminal, plain ASCII elsewhere."""

    def __init__(self, terminal: bool, digits: int = 10, full: bool = False) -> None:
        self.box = box.ROUNDED if terminal else box.ASCII
        self.digits = digits
        #: show whole arrays instead of their first and last elements
        self.full = full

    def num(self, x: object) -> str:
        if x is None:
            return ""
        shape = getattr(x, "shape", ())
        if shape != ():
            text = array(x, min(self.digits, 6), full=self.full)
            return text.replace("], [", "],\n [") if len(shape) == 2 else text
        return number(x, self.digits)


def evaluation(ev: Evaluation, checks: list[Check], style: Style,
               show_nodes: Optional[bool] = None, full: bool = False) -> RenderableType:
    """Everything `gradcli eval` shows on a terminal, top to bottom."""
    parts: list[RenderableType] = [header(ev, style)]
    style.full = style.full or full
    if show_nodes is not False:
        limit = None if show_nodes else NODE_LIMIT
        parts += [Text(""), node_table(ev, style, limit)]
    if ev.mode == "forward":
        parts += [Text(""), gradient_table(ev, checks, style, None if full else GRADIENT_LIMIT),
                  Text(""), passes_note(ev)]
    elif ev.adjoints:
        parts += [Text(""), gradient_table(ev, checks, style, None if full else GRADIENT_LIMIT)]
    else:
        shape = ev.graph.nodes[ev.graph.output].shape
        parts += [Text(""), Text(
            f"The output has shape {shape}: its derivative is a Jacobian. Use 'gradcli jacobian' "
            "for all of it, or --seed-output for one vector-Jacobian product.", style="yellow")]
    for key in ("steps", "paths", "edges", "exact", "latex", "latex_steps"):
        if key in ev.extras:
            parts += [Text(""), EXTRA_VIEWS[key](ev, style)]
    formulas = formula_lines(ev, checks)
    if formulas is not None:
        parts += [Text(""), formulas]
    verdict = verdict_lines(checks)
    if verdict is not None:
        parts += [Text(""), verdict]
    return Group(*parts)


def header(ev: Evaluation, style: Style) -> RenderableType:
    text = Text()
    from ..language.parser import statement_texts

    source = "; ".join(statement_texts(ev.source, limit=200))
    if len(source) > 200:
        source = source[:199] + "…"
    text.append("program  ", style="dim")
    text.append(source + "\n")
    text.append("output   ", style="dim")
    text.append(f"{ev.output_name} = ", style="bold")
    text.append(style.num(ev.value), style="bold cyan")
    shape = ev.graph.nodes[ev.graph.output].shape
    if shape:
        text.append(f"   shape {shape}", style="dim")
    return text


def node_table(ev: Evaluation, style: Style, limit: Optional[int] = NODE_LIMIT) -> Table:
    """One row per DAG node in evaluation order: id, name, op, inputs, value, adjoint."""
    graph, values, adjoints, live = ev.graph, ev.values, ev.adjoints, ev.tape.live
    out = ev.output_name
    table = Table(
        title=f"Computational graph: {len(graph.nodes)} nodes in evaluation order",
        title_justify="left", box=style.box, show_edge=True,
    )
    tensors = not ev.tape.scalar
    table.add_column("id", justify="right", style="dim")
    table.add_column("name", style="bold")
    table.add_column("op")
    table.add_column("inputs")
    if tensors:
        table.add_column("shape", justify="right")
    table.add_column("value", justify="right")
    if ev.mode == "forward":
        for name in list(ev.tangents)[:4]:
            table.add_column(f"tangent ∂node/∂{name}", justify="right")
    else:
        table.add_column(f"adjoint ∂{out}/∂node", justify="right")
    n = len(graph.nodes)
    shown = range(n)
    if limit is not None and n > limit:
        shown = [*range(NODE_EDGE), -1, *range(n - NODE_EDGE, n)]  # type: ignore[assignment]
    for i in shown:
        if i < 0:
            add_row(table, "…", f"{n - 2 * NODE_EDGE} more nodes (--nodes shows all)")
            continue
        node = graph.nodes[i]
        name = "" if node.op == CONST else (node.name or "")
        if node.op == INPUT:
            inputs = ""
        elif node.op == CONST:
            inputs = ""
        else:
            inputs = ", ".join(graph.label(a) for a in node.args)
        if ev.mode == "forward":
            derivs = [style.num(t[i]) if live[i] else "—" for t in list(ev.tangents.values())[:4]]
        else:
            derivs = [style.num(adjoints[i]) if live[i] and adjoints else "—"]
        row_style = "bold" if i == graph.output else None
        shape = [_shape_text(node.shape)] if tensors else []
        op = node.op
        if node.op == "index":
            op = f"index [{index_text(node.param)}]"  # type: ignore[arg-type]
        elif node.param is not None and node.op not in (INPUT, CONST):
            op = f"{node.op} (axis {node.param})"
        add_row(table, str(i), name, op, inputs, *shape, style.num(values[i]), *derivs, style=row_style)
    return table


def gradient_table(ev: Evaluation, checks: list[Check], style: Style,
                   limit: Optional[int] = GRADIENT_LIMIT) -> Table:
    """One row per input: value, ∂out/∂input, and each check's estimate and verdict."""
    out = ev.output_name
    table = Table(title=Text(f"Gradient of {out}"), title_justify="left", box=style.box)
    tensors = any(getattr(ev.env[name], "shape", ()) for name in ev.wrt)
    table.add_column("input", style="bold")
    if tensors:
        table.add_column("shape", justify="right")
    table.add_column("value", justify="right")
    table.add_column(f"∂{out}/∂input", justify="right", style="bold")
    names = {"sympy": "SymPy", "fd": "finite diff."}
    for check in checks:
        table.add_column(names.get(check.name, check.name), justify="right")
        table.add_column("|Δ|", justify="right")
        if check.name == "fd":
            table.add_column("step h", justify="right")
    if checks:
        table.add_column("check")
    items = list(ev.gradient.items())
    cut = limit is not None and len(items) > limit
    if cut:
        items = items[: limit // 2] + [("", None)] + items[-(limit // 2):]  # type: ignore[operator]
    for name, g in items:
        if g is None:
            add_row(table, "…", f"{len(ev.gradient) - 2 * (limit // 2)} more (--full shows all)")  # type: ignore[operator]
            continue
        shape = [_shape_text(getattr(ev.env[name], "shape", ()))] if tensors else []
        row: list = [name, *shape, style.num(ev.env[name]), style.num(g)]
        statuses = []
        for check in checks:
            r = check.results.get(name)
            if r is None or r.estimate is None:
                row += ["—", ""]
            else:
                row += [style.num(r.estimate), number(r.error, 2) if r.error is not None else ""]
            if check.name == "fd":
                step = r.detail.get("step") if r is not None else None
                row.append(number(step, 2) if step is not None else ("per element" if tensors else ""))
            statuses.append("skipped" if r is None else r.status)
        if checks:
            row.append(_verdict_cell(statuses))
        add_row(table, *row)
    return table


def passes_note(ev: Evaluation) -> Text:
    """How much work forward mode did, against what reverse mode needs."""
    from ..core.elements import size

    ops = ev.operations
    k = ev.passes
    total = sum(size(ev.env[name]) for name in ev.inputs)
    lines = [
        f"forward mode: {k} tangent pass{'es' if k != 1 else ''} × {ops} operations = {k * ops} steps",
        f"reverse mode: 1 backward pass × {ops} operations = {ops} steps, for all {total} input values at once",
    ]
    return Text("\n".join(lines), style="dim")


def _shape_text(shape: tuple) -> str:
    return "scalar" if not shape else "×".join(map(str, shape))


def _verdict_cell(statuses: list[str]) -> Text:
    for status in ("fail", "kink", "ok", "skipped"):
        if status in statuses:
            return Text(_STATUS[status], style=_STATUS_STYLE[status])
    return Text("")


def formula_lines(ev: Evaluation, checks: list[Check]) -> Optional[RenderableType]:
    """SymPy's derivative of the output for each input, and any check notes."""
    lines = Text()
    for check in checks:
        if check.name == "sympy":
            for name, r in check.results.items():
                formula = r.detail.get("formula")
                if formula:
                    lines.append(f"SymPy  ∂{ev.output_name}/∂{name} = {formula}\n")
        for name, r in check.results.items():
            if r.note and r.status != "skipped":
                lines.append(f"{check.name}: ∂{ev.output_name}/∂{name}: {r.note}\n", style="yellow")
            elif r.status == "skipped" and r.note not in ("too large", ""):
                lines.append(f"{check.name}: ∂{ev.output_name}/∂{name} skipped: {r.note}\n", style="dim")
        if check.note:
            lines.append(f"{check.name}: {check.note}\n", style="dim")
    if not lines.plain:
        return None
    lines.rstrip()
    return lines


def verdict_lines(checks: list[Check]) -> Optional[RenderableType]:
    if not checks:
        return None
    failed = [(c.name, n) for c in checks for n in c.failed]
    tol = Text("tolerances: " + "; ".join(f"{c.name} rtol {c.rtol:g}, atol {c.atol:g}" for c in checks),
               style="dim")
    if failed:
        which = ", ".join(f"∂/∂{name} ({check})" for check, name in failed)
        return Group(Text(f"✗ check failed: {which}", style="bold red"), tol)
    kinks = any(r.status == "kink" for c in checks for r in c.results.values())
    skipped = any(r.status == "skipped" for c in checks for r in c.results.values())
    extra = []
    if kinks:
        extra.append("some at points that are not differentiable")
    if skipped:
        extra.append("some skipped")
    more = f" ({'; '.join(extra)})" if extra else ""
    return Group(Text(f"✓ all checks passed{more}", style="bold green"), tol)


#: a matrix view shows at most this many rows and columns unless --full
MATRIX_EDGE = 12


def matrix_view(ev: Evaluation, matrix, style: Style) -> RenderableType:
    """A Jacobian or Hessian as a labelled table, with how it was computed and checked."""
    parts: list[RenderableType] = [header(ev, style), Text("")]
    title = {"jacobian": f"Jacobian ∂{ev.output_name}/∂inputs", "hessian": f"Hessian of {ev.output_name}"}
    how = {
        "reverse": f"reverse mode: {matrix.passes} backward pass(es), one per output element",
        "forward": f"forward mode: {matrix.passes} tangent pass(es), one per input element",
        "both": "reverse and forward mode",
        "forward-over-reverse": f"forward-over-reverse: {matrix.passes} dual-number pass(es), one per input element",
    }[matrix.mode]
    table = Table(title=Text(title[matrix.kind]), title_justify="left", box=style.box)
    rows, cols = list(range(len(matrix.rows))), list(range(len(matrix.columns)))
    if not style.full:
        rows = _edge(rows)
        cols = _edge(cols)
    table.add_column("", style="bold")
    for j in cols:
        table.add_column("…" if j < 0 else matrix.columns[j], justify="right")
    for i in rows:
        if i < 0:
            add_row(table, "…", *["…" for _ in cols])
            continue
        add_row(table, matrix.rows[i], *["…" if j < 0 else style.num(float(matrix.data[i, j])) for j in cols])
    parts.append(table)
    notes = Text(how + "\n", style="dim")
    if matrix.kind == "hessian" and matrix.data.size:
        from ..run.derivatives import largest_difference

        notes.append(f"symmetric to {largest_difference(matrix.data, matrix.data.T):.2g}\n", style="dim")
    for note in matrix.notes:
        notes.append(note + "\n", style="dim")
    for c in matrix.checks:
        mark = {"ok": "✓", "fail": "✗", "kink": "~", "skipped": "–"}[c.status]
        err = "" if c.max_error is None else f", largest |Δ| {c.max_error:.2g}"
        label = {"fd": "finite differences", "sympy": "SymPy"}[c.name]
        line = f"{mark} {label}: {c.status}{err}"
        if c.note:
            line += f" ({c.note})"
        notes.append(line + f"   [rtol {c.rtol:g}, atol {c.atol:g}]\n",
                     style=_STATUS_STYLE.get(c.status, ""))
    if notes.plain:
        notes.rstrip()
        parts += [Text(""), notes]
    return Group(*parts)


def _edge(items: list[int]) -> list[int]:
    if len(items) <= MATRIX_EDGE:
        return items
    half = MATRIX_EDGE // 2
    return items[:half] + [-1] + items[-half:]


def verdict_view(ev: Evaluation, verdicts: list, style: Style, reveal: bool, rtol: float,
                 atol: float) -> RenderableType:
    """The ✓/✗ table of `gradcli check`."""
    out = ev.output_name
    table = Table(title=Text(f"Answers for {out} = {style.num(ev.value)}"), title_justify="left", box=style.box)
    table.add_column("question", style="bold")
    table.add_column("answer", justify="right")
    table.add_column("")
    if reveal:
        table.add_column("right answer", justify="right")
    table.add_column("note")
    for v in verdicts:
        if v.question == "value":
            question = f"{out}"
        elif v.question.startswith("formula "):
            question = f"∂{out}/∂{v.question[8:]} (formula)"
        else:
            question = f"∂{out}/∂{v.question}"
        mark = Text("✓", style="green") if v.ok else (Text("?", style="yellow") if v.ok is None else Text("✗", style="bold red"))
        answer = v.answer if isinstance(v.answer, str) else style.num(v.answer)
        row = [question, answer, mark]
        if reveal:
            row.append("" if v.truth is None else (v.truth if isinstance(v.truth, str) else style.num(v.truth)))
        row.append(v.how)
        add_row(table, *row)
    right = sum(1 for v in verdicts if v.ok)
    summary = Text(f"{right} of {len(verdicts)} right", style="bold green" if right == len(verdicts) else "bold red")
    tol = Text(f"numbers are right within rtol {rtol:g}, atol {atol:g}", style="dim")
    hint = [] if reveal or right == len(verdicts) else [Text("(--reveal shows the right answers)", style="dim")]
    return Group(table, Text(""), summary, tol, *hint)


def gradebook_summary(columns: list[str], book: list, style: Style, out_file) -> RenderableType:
    """Per question, how many students got it right; where the gradebook went."""
    table = Table(title=Text(f"{len(book)} student{'s' if len(book) != 1 else ''}"), title_justify="left",
                  box=style.box)
    table.add_column("question", style="bold")
    table.add_column("right", justify="right")
    table.add_column("wrong", justify="right")
    for k, column in enumerate(columns):
        right = sum(1 for _, vs in book if vs[k].ok)
        add_row(table, column, str(right), str(len(book) - right))
    parts: list[RenderableType] = [table]
    if out_file:
        parts.append(Text(f"gradebook written to {out_file}", style="dim"))
    return Group(*parts)


def exact_view(ev: Evaluation, style: Style) -> RenderableType:
    result = ev.extras["exact"]
    table = Table(title=Text("Exact arithmetic"), title_justify="left", box=style.box)
    table.add_column("", style="bold")
    table.add_column("exact")
    table.add_column("decimal", justify="right")
    graph = ev.graph
    for i, (text, decimal) in result.values.items():  # type: ignore[attr-defined]
        add_row(table, graph.label(i), text, decimal)
    for name, (text, decimal) in result.gradient.items():  # type: ignore[attr-defined]
        add_row(table, f"∂{ev.output_name}/∂{name}", text, decimal)
    parts: list[RenderableType] = [table]
    if result.note:  # type: ignore[attr-defined]
        parts.append(Text(result.note, style="yellow"))  # type: ignore[attr-defined]
    return Group(*parts)


def latex_view(ev: Evaluation, style: Style) -> RenderableType:
    lines = ev.extras["latex"]
    text = Text("LaTeX\n", style="bold")
    for line in lines.values():  # type: ignore[attr-defined]
        text.append(line + "\n", style=None)
    text.rstrip()
    return text


def _steps_view(ev: Evaluation, style: Style) -> RenderableType:
    from ..teach.explain import steps_text

    return Text(steps_text(ev, style.digits))


def _paths_view(ev: Evaluation, style: Style) -> RenderableType:
    from ..teach.explain import paths_text

    return Text(paths_text(ev, style.digits))


def _edges_view(ev: Evaluation, style: Style) -> RenderableType:
    """Every edge's local derivative: symbolic in node labels, and its value."""
    from ..teach.edges import edge_partials, is_number

    table = Table(title=Text("Local derivatives on the edges"), title_justify="left", box=style.box)
    table.add_column("edge")
    table.add_column("local derivative", style="bold")
    table.add_column("symbolic")
    table.add_column("value", justify="right")
    for e in edge_partials(ev):
        value = "" if e.value is None else number(e.value, style.digits)
        symbolic = value if is_number(e.symbolic) else e.symbolic
        add_row(table, f"{e.source_label} → {e.target_label}", e.name, symbolic, value)
    return table


EXTRA_VIEWS = {
    "exact": exact_view,
    "latex": latex_view,
    "latex_steps": lambda ev, style: Text(str(ev.extras["latex_steps"])),
    "steps": _steps_view,
    "paths": _paths_view,
    "edges": _edges_view,
}
