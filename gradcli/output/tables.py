"""Rich renderables for people: the header, the node table, the gradient table.

Functions here return renderables and never print; `gradcli.cli.commands` owns the console.
Numeric columns are right-justified.  Large graphs are shown head and tail with a
row saying how many nodes were left out (``--nodes`` shows all).
"""

from __future__ import annotations

from typing import Any, Optional

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table as RichTable
from rich.text import Text

from ..oracles.checks import Check
from ..run.evaluate import Evaluation
from ..run.reports import EvalReport, Explained
from ..core.errors import one_line
from ..core.fmt import array, number, plural
from ..core.graph import CONST, INPUT, index_text

#: with more nodes than this, the node table shows the first and last NODE_EDGE rows
NODE_LIMIT = 60
NODE_EDGE = 20
#: with more inputs than this, the gradient table is cut likewise (--full shows all)
GRADIENT_LIMIT = 60

_STATUS = {"ok": "✓", "fail": "✗", "kink": "~ not differentiable here", "skipped": "skipped"}
_STATUS_STYLE = {"ok": "green", "fail": "bold red", "kink": "yellow", "skipped": "dim"}


class Table(RichTable):
    """A rich table that never cuts a cell to fit: numbers are shown whole or not squeezed.

    Rich squeezes a table that is wider than the console by shortening cells with "…",
    which turns 1.926038125 into 1.926….  A number shown must be the number computed,
    so when any column would get narrower than its longest word, the table is shown
    stacked instead: one block per row, one "header  value" line per cell.  The title
    is printed as its own line, so it carries no trailing spaces.
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        title, self.title = self.title, None
        saved = [(c.width, c.min_width) for c in self.columns], self.pad_edge
        try:
            if title:
                line = title.copy() if isinstance(title, Text) else Text(str(title))
                line.stylize("table.title")
                yield line
            if self.columns and not self._fit(console, options):
                self.pad_edge = False  # two more columns of room before giving up on the grid
                if not self._fit(console, options):
                    self.pad_edge = saved[1]
                    yield from self._stacked(options.max_width)
                    return
            yield from list(super().__rich_console__(console, options))
        finally:
            self.title = title
            for column, (width, min_width) in zip(self.columns, saved[0]):
                column.width, column.min_width = width, min_width
            self.pad_edge = saved[1]

    def _fit(self, console: Console, options: ConsoleOptions) -> bool:
        """Make every column at least as wide as its longest word, or say it cannot be done.

        Rich shrinks the widest columns first, below their longest word; instead, when the
        natural widths do not fit, each column gets its minimum, and the room left is
        shared out fairly from the column that wants least: a short formula or number is
        shown whole on one line, and the long prose of a note column is what wraps.
        """
        wide = options.update_width(10**6)
        minima, maxima = [], []
        for k, column in enumerate(self.columns):
            pad = self._get_padding_width(k)
            sizes = [Measurement.get(console, wide, cell) for cell in [column.header, *column.cells]]
            minima.append(max((m.minimum for m in sizes), default=1) + pad)
            maxima.append(max((m.maximum for m in sizes), default=1) + pad)
        room = options.max_width - self._extra_width
        if sum(maxima) <= room:
            return True
        if sum(minima) > room:
            return False
        spare = room - sum(minima)
        want = [hi - lo for lo, hi in zip(minima, maxima)]
        widths = list(minima)
        order = sorted(range(len(want)), key=lambda k: want[k])
        for left, k in zip(range(len(order), 0, -1), order):
            give = min(want[k], spare // left)
            widths[k] += give
            spare -= give
        for k, column in enumerate(self.columns):
            column.width = widths[k] - self._get_padding_width(k)
        return True

    def _stacked(self, width: int) -> RenderResult:
        """One block per row: the first cell, then "header  value" per other column."""
        headers = [_plain(c.header) for c in self.columns]
        cells = [list(c.cells) for c in self.columns]
        rows = max((len(c) for c in cells), default=0)
        label_width = max((len(h) for h in headers[1:]), default=0)
        for r in range(rows):
            row = [_plain(col[r]) if r < len(col) else "" for col in cells]
            first = f"{headers[0]} {row[0]}" if headers[0] == "id" else row[0]
            block = Text(first or "·", style="bold")
            for header, value in zip(headers[1:], row[1:]):
                if not value:
                    continue
                lines = value.splitlines() or [""]
                if 2 + label_width + 2 + max(len(v) for v in lines) <= width:
                    block.append("\n  " + header.ljust(label_width) + "  " + lines[0])
                    for more in lines[1:]:
                        block.append("\n" + " " * (4 + label_width) + more)
                else:
                    block.append("\n  " + header)
                    for more in lines:
                        for piece in _wrap_at_commas(more, width - 4):
                            block.append("\n    " + piece)
            block.overflow = "fold"  # a word wider than the screen wraps; it is never cut
            yield block
            if r + 1 < rows:
                yield Text("")


def _wrap_at_commas(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` (where it can), broken after ", " so no number is split."""
    lines: list[str] = []
    line = ""
    for piece in text.split(", "):
        if line and len(line) + 2 + len(piece) > width:
            lines.append(line + ",")
            line = " " + piece
        else:
            line = f"{line}, {piece}" if line else piece
    return [*lines, line]


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell or "")


def add_row(table: Table, *cells, style: Optional[str] = None) -> None:
    """A row whose text cells are plain text, never rich markup ('[inf, 0.5]' stays)."""
    table.add_row(*[Text(c) if isinstance(c, str) else c for c in cells], style=style)


class Style:
    """How tables are drawn: rounded boxes on a terminal, plain ASCII elsewhere."""

    def __init__(self, terminal: bool, digits: Optional[int] = None, full: bool = False) -> None:
        self.box = box.ROUNDED if terminal else box.ASCII
        #: significant digits of numbers, and of array elements (fewer by default, all when asked)
        self.digits = 10 if digits is None else digits
        self.array_digits = 6 if digits is None else digits
        #: digits of a local Jacobian's entries (4 by default: a matrix of them stays narrow)
        self.jacobian_digits = 4 if digits is None else digits
        #: show whole arrays instead of their first and last elements
        self.full = full

    def num(self, x: object) -> str:
        if x is None:
            return ""
        shape = getattr(x, "shape", ())
        if shape != ():
            text = array(x, self.array_digits, full=self.full, lines=len(shape) >= 3)
            return text.replace("], [", "],\n [") if len(shape) == 2 else text
        return number(x, self.digits)


def evaluation(report: EvalReport, style: Style,
               show_nodes: Optional[bool] = None, full: bool = False) -> RenderableType:
    """Everything `gradcli eval` shows on a terminal, top to bottom."""
    ev, checks, explained = report.evaluation, report.checks, report.explained
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
    for key in explained.shown():
        parts += [Text(""), by_lines(EXPLAINED_VIEWS[key](ev, explained, style))]
    formulas = formula_lines(ev, checks)
    if formulas is not None:
        parts += [Text(""), formulas]
    verdict = verdict_lines(checks)
    if verdict is not None:
        parts += [Text(""), verdict]
    return Group(*parts)


def by_lines(view: RenderableType) -> RenderableType:
    """A long Text as one Text per line.  Rendering a single Text re-partitions its
    remaining string at every line break (quadratic: 10^5 lines of --steps took minutes);
    line by line it is linear, and the output is the same."""
    if isinstance(view, Text) and view.plain.count("\n") > 64:
        lines = view.split("\n", allow_blank=True)
        for line in lines:
            line.no_wrap, line.overflow = view.no_wrap, view.overflow
        return Group(*lines)
    return view


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
    origins = {name: ev.bindings[name].origin for name in ev.inputs if name in ev.bindings}
    if "program" in origins.values():  # say where each value came from
        mine = [n for n, o in origins.items() if o == "program"]
        given = [n for n, o in origins.items() if o != "program"]
        text.append("\npoint    ", style="dim")
        text.append(f"{', '.join(mine)} from the program's #: lines")
        if given:
            text.append(f"; {', '.join(given)} given here")
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
            op = f"{node.op} ({'C' if node.op == 'onehot' else 'axis'} {node.param})"
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
    for name in getattr(ev, "data", {}):  # integer inputs (indices, labels): data, no gradient
        shape = [_shape_text(getattr(ev.env[name], "shape", ()))] if tensors else []
        row = [name, *shape, style.num(ev.env[name]), "data (integer)"]
        for check in checks:
            row += ["—", ""] + ([""] if check.name == "fd" else [])
        if checks:
            row.append("not perturbed")
        add_row(table, *row, style="dim")
    return table


def passes_note(ev: Evaluation) -> Text:
    """How much work forward mode did, against what reverse mode needs."""
    from ..core.elements import size

    ops = ev.operations
    k = ev.passes
    total = sum(size(ev.env[name]) for name in ev.inputs)
    lines = [
        f"forward mode: {plural(k, 'tangent pass')} × {plural(ops, 'operation')} = {plural(k * ops, 'step')}",
        f"reverse mode: 1 backward pass × {plural(ops, 'operation')} = {plural(ops, 'step')}, "
        f"for all {plural(total, 'input value')} at once",
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
    statuses = [r.status for c in checks for r in c.results.values()]
    ran = sum(status != "skipped" for status in statuses)
    if statuses and not ran:  # a skipped check is not a pass
        return Group(Text(f"– not checked: 0 of {len(statuses)} checks ran (each was skipped)", style="bold yellow"),
                     tol)
    extra = []
    if ran < len(statuses):
        extra.append(f"{ran} of {len(statuses)} ran; {len(statuses) - ran} skipped")
    if "kink" in statuses:
        extra.append("some at points that are not differentiable")
    more = f" ({'; '.join(extra)})" if extra else ""
    passed = "all checks that ran passed" if ran < len(statuses) else "all checks passed"
    return Group(Text(f"✓ {passed}{more}", style="bold green"), tol)


#: a matrix view shows at most this many rows and columns unless --full
MATRIX_EDGE = 12


def matrix_view(ev: Evaluation, matrix, style: Style) -> RenderableType:
    """A Jacobian or Hessian as a labelled table, with how it was computed and checked."""
    parts: list[RenderableType] = [header(ev, style), Text("")]
    title = {"jacobian": f"Jacobian ∂{ev.output_name}/∂inputs", "hessian": f"Hessian of {ev.output_name}"}
    how = {
        "reverse": f"reverse mode: {plural(matrix.passes, 'backward pass')}, one per output element",
        "forward": f"forward mode: {plural(matrix.passes, 'tangent pass')}, one per input element",
        "both": "reverse and forward mode",
        "forward-over-reverse": f"forward-over-reverse: {plural(matrix.passes, 'dual-number pass')}, one per input element",
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


def verdict_view(ev: Evaluation, verdicts: list, style: Style, reveal: bool, rules) -> RenderableType:
    """The ✓/✗ table of `gradcli check`, then the wrong elements and diagnoses."""
    out = ev.output_name
    table = Table(title=Text(f"Answers for {out} = {style.num(ev.value)}"), title_justify="left", box=style.box)
    table.add_column("question", style="bold")
    table.add_column("answer", justify="right")
    table.add_column("")
    if reveal:
        table.add_column("right answer", justify="right")
    table.add_column("note")
    details: list[RenderableType] = []
    for v in verdicts:
        question = question_text(out, v.question)
        mark = Text("✓", style="green") if v.ok else (Text("?", style="yellow") if v.ok is None else Text("✗", style="bold red"))
        answer = one_line(v.answer) if isinstance(v.answer, str) else style.num(v.answer)  # no raw escapes
        row = [question, answer, mark]
        if reveal:
            row.append("" if v.truth is None else (v.truth if isinstance(v.truth, str) else style.num(v.truth)))
        row.append(one_line(v.how))
        add_row(table, *row)
        details += verdict_details(question, v, style, reveal)
    right = sum(1 for v in verdicts if v.ok)
    summary = Text(f"{right} of {len(verdicts)} right", style="bold green" if right == len(verdicts) else "bold red")
    numbers = any(not v.question.startswith("formula ") for v in verdicts)
    tol = [Text(f"numbers are right {rules.words}", style="dim")] if numbers else []
    hint = [] if reveal or right == len(verdicts) else [Text("(--reveal shows the right answers)", style="dim")]
    return Group(table, *details, Text(""), summary, *tol, *hint)


def question_text(out: str, question: str) -> str:
    """``∂e/∂b``, ``∂e/∂b (formula)``, ``e``, ``h (value)``."""
    if question == "value":
        return out
    if question.startswith("value "):
        return f"{question[6:]} (value)"
    if question.startswith("formula "):
        return f"∂{out}/∂{question[8:]} (formula)"
    return f"∂{out}/∂{question}"


def verdict_details(question: str, v, style: Style, reveal: bool) -> list[RenderableType]:
    """Under the table: each wrong element ("[1,0]: 0.14, expected 0.0915" with
    --reveal), and the diagnosis of a wrong answer."""
    lines: list[RenderableType] = []
    if v.elements:
        from ..core.fmt import number

        shown = v.elements[:8]
        for index, a, t in shown:
            where = "[" + ",".join(map(str, index)) + "]"
            text = f"  {question} {where}: {number(a, 6)}" + (f", expected {number(t, 6)}" if reveal else " is wrong")
            lines.append(Text(text))
        if len(v.elements) > len(shown):
            lines.append(Text(f"  … and {plural(len(v.elements) - len(shown), 'more wrong element', 'more wrong elements')}",
                                 style="dim"))
    if v.diagnosis is not None:
        extra = f" ({v.diagnosis.reveal})" if reveal and v.diagnosis.reveal else ""
        lines.append(Text(f"  {question}: {v.diagnosis.message}{extra}", style="yellow"))
    return lines


def gradebook_summary(book, style: Style, out_file) -> RenderableType:
    """Per question, how many answers were right, wrong, missing, invalid; the class
    average; where the gradebook went."""
    n = len(book.students)
    table = Table(title=Text(f"{n} student{'s' if n != 1 else ''}"), title_justify="left", box=style.box)
    table.add_column("question", style="bold")
    for status in ("right", "wrong", "missing", "invalid"):
        table.add_column(status, justify="right")
    for c in book.questions:
        counts = book.counts(c)
        add_row(table, c.title, *(str(counts[s]) for s in ("right", "wrong", "missing", "invalid")))
    parts: list[RenderableType] = [table]
    if book.average is not None:
        from ..core.fmt import number

        parts.append(Text(f"class average: {number(book.average, 4)} of {book.out_of} points "
                          f"({number(100 * book.average / max(book.out_of, 1), 3)}%)"))
    if book.problems:
        parts.append(Text(f"{len(book.problems)} row{'s' if len(book.problems) != 1 else ''} with problems "
                          "(see the warnings)", style="yellow"))
    if out_file:
        parts.append(Text(f"gradebook written to {one_line(out_file)}", style="dim"))
    return Group(*parts)


def exact_view(ev: Evaluation, explained: Explained, style: Style) -> RenderableType:
    result = explained.exact
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


def latex_view(ev: Evaluation, explained: Explained, style: Style) -> RenderableType:
    lines = explained.latex or {}
    text = Text("LaTeX\n", style="bold")
    for line in lines.values():  # type: ignore[attr-defined]
        text.append(line + "\n", style=None)
    text.rstrip()
    return whole_lines(text)


def whole_lines(text: Text) -> Text:
    """LaTeX is printed one formula a line, never wrapped: folding ``\\,\\mathrm`` at the
    screen's edge would split a command and break the TeX (the CLI prints uncropped)."""
    text.no_wrap = True
    text.overflow = "ignore"
    return text


class Hanging:
    """Explanation text wrapped to the console's width, continuation lines indented under
    their column (`gradcli.output.terminal.wrap_text`) instead of restarting at column 0."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.segment import Segment

        from ..output.terminal import wrap_text

        # one plain segment: already wrapped, so rich need not measure, divide or crop it
        # again (a Text of 10^5 lines took seconds; two segments a line took a second)
        yield Segment(wrap_text(self.text, options.max_width) + "\n")


def _steps_view(ev: Evaluation, style: Style) -> RenderableType:
    from ..teach.explain import steps_text

    return Hanging(steps_text(ev, style.digits, style.full, style.array_digits))


def _paths_view(ev: Evaluation, style: Style) -> RenderableType:
    from ..teach.explain import paths_text

    return Hanging(paths_text(ev, style.digits, style.full, style.array_digits))


def _edges_view(ev: Evaluation, style: Style, jacobians: bool = False) -> RenderableType:
    """Every edge's local derivative: symbolic in node labels, and its value."""
    from ..teach.edges import edge_partials, is_number

    table = Table(title=Text("Local derivatives on the edges"), title_justify="left", box=style.box)
    table.add_column("edge")
    table.add_column("local derivative", style="bold")
    table.add_column("symbolic")
    table.add_column("value", justify="right")
    edges = edge_partials(ev)
    if any(e.tensor is not None for e in edges):
        return _tensor_edges_view(ev, edges, style, jacobians)
    for e in edges:
        value = "" if e.value is None else number(e.value, style.digits)
        symbolic = value if is_number(e.symbolic) else e.symbolic
        add_row(table, f"{e.source_label} → {e.target_label}", e.name, symbolic, value)
    return table


def _tensor_edges_view(ev: Evaluation, edges: list, style: Style, jacobians: bool) -> RenderableType:
    """Array programs: each edge's local Jacobian, its shape and structure, and its rule."""
    from ..core.rules import shape_text
    from ..teach.edges import is_number

    table = Table(title=Text("Local Jacobians on the edges"), title_justify="left", box=style.box)
    table.add_column("edge")
    table.add_column("local Jacobian", style="bold")
    table.add_column("shape", justify="right")
    table.add_column("structure")
    table.add_column("adjoint rule")
    for e in edges:
        if e.tensor is None:
            value = number(e.value, style.digits) if e.value is not None else ""
            formula = value if is_number(e.symbolic) else f"{e.symbolic} = {value}"
            add_row(table, f"{e.source_label} → {e.target_label}", f"{e.name} = {formula}", "1×1", "scalar",
                    f"{_bar_of(e.source_label)} += {_bar_of(e.target_label)} · {e.name}")
            continue
        t = e.tensor
        formula = f"{e.name} = {t.jacobian}" if t.jacobian else e.name
        add_row(table, f"{e.source_label} → {e.target_label}", formula, shape_text(t.jacobian_shape),
                t.structure, f"{t.lhs} += {t.text}  ({t.shapes})")
    parts: list[RenderableType] = [table]
    notes = [f"{e.name}: {e.tensor.note}" for e in edges if e.tensor is not None and e.tensor.note]
    parts.append(Text("A local Jacobian has one row per element of the node and one column per element of "
                      "the argument,\nboth read row-major (W as a vector: W[0,0], W[0,1], …)."
                      + "".join("\n" + n for n in notes), style="dim"))
    if jacobians:
        parts += [Text(""), jacobians_view(ev, edges, style)]
    return Group(*parts)


def _bar_of(label: str) -> str:
    from ..teach.edges import _bar

    return _bar(label)


#: --jacobians prints a local Jacobian with at most this many entries
JACOBIAN_LIMIT = 144


def jacobians_view(ev: Evaluation, edges: list, style: Style) -> RenderableType:
    """The local Jacobian matrices themselves (computed from each op's own VJP), when small."""
    from ..core.rules import shape_text
    from ..teach.edges import local_jacobian

    lines = Text()
    for e in edges:
        if e.tensor is None:
            continue
        t = e.tensor
        rows, cols = t.jacobian_shape
        title = f"{e.name} = {t.jacobian}" if t.jacobian else e.name
        if rows * cols > JACOBIAN_LIMIT and not style.full:
            lines.append(f"{title}: {shape_text(t.jacobian_shape)} has {rows * cols} entries, more than "
                         f"{JACOBIAN_LIMIT}: not printed (--full prints it)\n", style="dim")
            continue
        j = local_jacobian(ev, e)
        cells = [[number(float(v), style.jacobian_digits) for v in row] for row in j]
        width = max((len(c) for row in cells for c in row), default=1)
        lines.append(f"{title}   ({shape_text(t.jacobian_shape)}, {t.structure})\n", style="bold")
        for row in cells:
            lines.append("  [" + " ".join(c.rjust(width) for c in row) + "]\n")
    lines.rstrip()
    return lines


#: one view per explanation of `gradcli.run.reports.Explained`
EXPLAINED_VIEWS = {
    "exact": exact_view,
    "latex": latex_view,
    "latex_steps": lambda ev, explained, style: whole_lines(Text(str(explained.latex_steps))),
    "steps": lambda ev, explained, style: _steps_view(ev, style),
    "paths": lambda ev, explained, style: _paths_view(ev, style),
    "edges": lambda ev, explained, style: _edges_view(ev, style, explained.jacobians),
    "forward_steps": lambda ev, explained, style: Hanging(_forward_steps_text(ev, style.digits, style.full,
                                                                              style.array_digits)),
}


def _forward_steps_text(ev: Evaluation, digits: int, full: bool = False, array_digits: Optional[int] = None) -> str:
    from ..teach.forward import forward_steps_text

    return forward_steps_text(ev, digits, full, array_digits)


def functions_table(rows: list[dict], style: Style) -> RenderableType:
    """`gradcli functions`: one row per operation of the language."""
    table = Table(box=style.box, title="Operations (from the op table)", title_justify="left")
    table.add_column("operation", no_wrap=True)
    table.add_column("meaning", ratio=3)
    table.add_column("where not differentiable", ratio=2)
    for row in rows:
        add_row(table, str(row["usage"]), str(row["meaning"]), str(row["kink"]))
    return table
