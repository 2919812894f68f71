"""Pictures of the computational graph: text, Graphviz DOT, Mermaid, SVG and PNG.

Every picture shows each node once (shared nodes included) with its definition,
forward value and adjoint, marks the inputs and the output, and labels every edge
``arg -> node`` with its local derivative ∂node/∂arg, written in terms of the nodes'
labels and evaluated at the point::

    ∂e/∂c = d = 3

The edges and their partials come from `gradcli.teach.edges`; this module only draws.

Everything is a loop over the node list (no recursion), so a graph of 10^5 nodes
still gives text, DOT and Mermaid.  SVG and PNG are drawn by Graphviz's ``dot``
program, which must be installed.  Nothing here prints.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

from ..core.errors import UsageError
from ..core.fmt import array as _array_text
from ..core.fmt import columns, number, pad_to, plural, shorten
from ..core.graph import CONST, INPUT
from .edges import Edge, _bar, edge_partials

#: formats `render` knows
FORMATS = ("text", "dot", "mermaid", "svg", "png")
#: above this many nodes a picture carries a note that it is large
LARGE = 200
#: seconds Graphviz may take for svg/png
DOT_TIMEOUT = 120.0
#: longest value text inside a node of a picture
VALUE_WIDTH = 60
#: how many users of a node the text picture lists after "→"
USES_SHOWN = 8

_INSTALL_HINT = (
    "Graphviz's dot program is needed for --format {fmt}; install it "
    "(apt-get install graphviz, brew install graphviz, or https://graphviz.org/download/) "
    "or use --format dot or --format mermaid and render that elsewhere"
)


# ---- what each node shows -------------------------------------------------------------
class _NodeView(NamedTuple):
    id: int
    label: str
    head: str  # "c = a + b", "a", "1"
    value: str
    adjoint: str  # "c̄ = 3", or ""
    tags: tuple  # ("input",), ("output",), ("const",)
    live: bool


def _value_text(x: object, digits: int, width: int = VALUE_WIDTH, array_digits: Optional[int] = None) -> str:
    """A value as shown in a picture: numbers are never cut; a long array shows fewer elements."""
    if x is None:
        return ""
    if getattr(x, "shape", ()) != ():
        each = min(digits, 4) if array_digits is None else array_digits
        text = _array_text(x, each, edge=2)
        if len(text) > width:
            text = _array_text(x, each, edge=1)
        return text
    return number(x, digits)


def _views(ev, digits: int, array_digits: Optional[int] = None) -> list[_NodeView]:
    graph = ev.graph
    live = ev.tape.live
    out = []
    for node in graph.nodes:
        i = node.id
        label = graph.label(i)
        tags: tuple = ()
        if node.op == INPUT:
            tags += ("input",)
        elif node.op == CONST:
            tags += ("const",)
        if i == graph.output:
            tags += ("output",)
        head = label if node.op in (INPUT, CONST) else f"{label} = {graph.definition(i)}"
        shape = node.shape
        value = _value_text(ev.values[i] if ev.values else None, digits, array_digits=array_digits)
        if shape != () and ev.values:
            value += f"  (shape {'×'.join(map(str, shape))})"
        adjoint = ""
        if ev.adjoints and live[i]:
            adjoint = f"{_bar(label)} = {_value_text(ev.adjoints[i], digits, array_digits=array_digits)}"
        out.append(_NodeView(i, label, head, value, adjoint, tags, live[i]))
    return out


def _context_edges(ev) -> list[tuple[int, int]]:
    """Edges no derivative flows along (from constants and constant subexpressions)."""
    graph, live = ev.graph, ev.tape.live
    pairs = []
    for node in graph.nodes:
        seen: set[int] = set()
        for a in node.args:
            if not live[a] and a not in seen:
                seen.add(a)
                pairs.append((a, node.id))
    return pairs


def _source_line(ev, limit: int = 80) -> str:
    text = "; ".join(line.strip() for line in ev.source.strip().splitlines() if line.strip())
    return shorten(text, limit)


def _large_note(n: int) -> str:
    return (f"note: {n} nodes -- a large picture; --format dot or mermaid with a viewer that "
            "can zoom may read better" if n > LARGE else "")


# ---- text -----------------------------------------------------------------------------
def to_text(ev, digits: int = 6, array_digits: Optional[int] = None) -> str:
    """One line per node in evaluation order, its incoming edges beneath it."""
    graph = ev.graph
    views = _views(ev, digits, array_digits)
    edges = edge_partials(ev)
    incoming: dict[int, list] = {}
    for e in edges:
        incoming.setdefault(e.target, []).append((e.source, e.label(digits)))
    for a, i in _context_edges(ev):
        incoming.setdefault(i, []).append((a, "constant"))
    users: dict[int, list[str]] = {}
    for node in graph.nodes:
        seen: set[int] = set()
        for a in node.args:
            if a not in seen:
                seen.add(a)
                users.setdefault(a, []).append(graph.label(node.id))

    n = len(views)
    out_label = graph.label(graph.output)
    lines = [f"program  {_source_line(ev)}",
             f"output   {out_label}   ({plural(n, 'node')}, {plural(len(edges), 'derivative edge')}; "
             f"adjoint {_bar('v')} = ∂{out_label}/∂v; ← an argument with ∂node/∂arg)"]
    if not ev.adjoints:
        lines.append(f"(no adjoints: the output {out_label} is not a scalar; give --seed-output)")
    note = _large_note(n)
    if note:
        lines.append(note)
    lines.append("")

    tag_w = max((len(" ".join(v.tags)) for v in views), default=0)
    heads = [f"{v.head} = {v.value}" if v.value and "const" not in v.tags else v.head for v in views]
    head_w = min(max((columns(h) for h in heads), default=0), 48)
    adj_w = min(max((columns(v.adjoint) for v in views), default=0), 40)
    indent = " " * (tag_w + 6)
    for v, head in zip(views, heads):
        line = f"  {pad_to(' '.join(v.tags), tag_w)}  {pad_to(head, head_w)}"
        if v.adjoint:
            line += f"   {pad_to(v.adjoint, adj_w)}"
        used = users.get(v.id)
        if used:
            shown = ", ".join(used[:USES_SHOWN])
            if len(used) > USES_SHOWN:
                shown += f", … ({len(used) - USES_SHOWN} more)"
            if not v.adjoint:
                line += "   " + " " * adj_w
            line += f"   → {shown}"
        lines.append(line.rstrip())
        args = incoming.get(v.id, [])
        if args:
            arg_w = max(columns(graph.label(a)) for a, _ in args)
            for a, text in args:
                lines.append(f"{indent}← {pad_to(graph.label(a), arg_w)}   {text}")
    return "\n".join(lines) + "\n"


# ---- Graphviz DOT ---------------------------------------------------------------------
def _dot_quote(text: str) -> str:
    """A DOT double-quoted string; lines centred (\\n)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "\\n".join(escaped.split("\n")) + '"'


_DOT_STYLE = {
    "input": 'shape=box, style="rounded,filled,bold", fillcolor="#dbeafe", color="#1d4ed8"',
    "output": 'shape=box, style="rounded,filled,bold", fillcolor="#fde68a", color="#b45309", peripheries=2',
    "const": 'shape=box, style="rounded,dashed", color="#9ca3af", fontcolor="#6b7280"',
    "dead": 'shape=box, style="rounded,dashed", color="#9ca3af"',
    "op": 'shape=box, style="rounded"',
}


def _node_lines(v: _NodeView) -> list[str]:
    """A node's label: head (with its tags), value, adjoint."""
    tag = ", ".join(t for t in v.tags if t != "const")
    lines = [f"{v.head} ({tag})" if tag else v.head]
    if "const" not in v.tags and v.value:
        lines.append(f"value {v.value}")
    if v.adjoint:
        lines.append(v.adjoint)
    return lines


def _style_key(v: _NodeView) -> str:
    if "output" in v.tags:
        return "output"
    if "input" in v.tags:
        return "input"
    if "const" in v.tags:
        return "const"
    return "op" if v.live else "dead"


def to_dot(ev, digits: int = 6, array_digits: Optional[int] = None) -> str:
    """Graphviz source: inputs blue, the output gold with a double border, constants dashed."""
    graph = ev.graph
    views = _views(ev, digits, array_digits)
    title = f"{_source_line(ev)}   (output {graph.label(graph.output)})"
    out = ["digraph gradcli {"]
    note = _large_note(len(views))
    if note:
        out.append(f"  // {note}")
    out += [
        f"  graph [rankdir=LR, labelloc=t, fontname=Helvetica, label={_dot_quote(title)}];",
        "  node [fontname=Helvetica, fontsize=11];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    lines = {v.id: f"n{v.id} [label={_dot_quote(chr(10).join(_node_lines(v)))}, {_DOT_STYLE[_style_key(v)]}];"
             for v in views}
    out += _dot_clusters(graph, lines)
    for e in edge_partials(ev):
        style = ', style=dashed, color="#6b7280"' if e.kind == "structural" else ""
        out.append(f"  n{e.source} -> n{e.target} [label={_dot_quote(e.label(digits))}{style}];")
    for a, i in _context_edges(ev):
        out.append(f'  n{a} -> n{i} [style=dashed, color="#9ca3af", arrowhead=empty];')
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_clusters(graph, lines: dict[int, str]) -> list[str]:
    """The node lines, those made by an inlined function call inside a ``cluster`` per
    call (nested as the calls were), labelled ``cell#2``; a loop, not recursion."""
    calls = graph.calls
    members: list[list[int]] = [[] for _ in calls]
    top: list[int] = []
    for node in graph.nodes:
        (members[node.call] if node.call >= 0 else top).append(node.id)
    children: list[list[int]] = [[] for _ in calls]
    roots: list[int] = []
    for c, (_, parent, _) in enumerate(calls):
        (children[parent] if parent >= 0 else roots).append(c)
    shown = [bool(m) for m in members]
    for c in range(len(calls) - 1, -1, -1):  # a call comes after its parent: children first
        parent = calls[c][1]
        if shown[c] and parent >= 0:
            shown[parent] = True
    out = [f"  {lines[i]}" for i in top]
    stack: list[tuple[int, int]] = [(c, 1) for c in reversed(roots)]
    while stack:
        c, depth = stack.pop()
        pad = "  " * depth
        if c < 0:  # the end of cluster ~c
            out.append(f"{pad}}}")
            continue
        if not shown[c]:
            continue
        out.append(f"{pad}subgraph cluster_{c} {{")
        out.append(f"{pad}  label={_dot_quote(calls[c][0])}; style=rounded; color=\"#9ca3af\";")
        out += [f"{pad}  {lines[i]}" for i in members[c]]
        stack.append((-1 - c, depth))
        stack += [(k, depth + 1) for k in reversed(children[c])]
    return out


# ---- Mermaid --------------------------------------------------------------------------
def _mermaid_text(text: str) -> str:
    """Text inside a Mermaid "quoted" label: entity codes for the characters it reads."""
    for ch, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(ch, code)
    return text


_MERMAID_SHAPE = {"input": ('(["', '"])'), "output": ('[["', '"]]'), "const": ('("', '")')}


def to_mermaid(ev, digits: int = 6, array_digits: Optional[int] = None) -> str:
    """``flowchart LR`` text; nodes n0, n1, …; classes input/output/const for colours."""
    views = _views(ev, digits, array_digits)
    out = ["flowchart LR"]
    note = _large_note(len(views))
    if note:
        out.append(f"  %% {note}")
    classes: dict[str, list[str]] = {"input": [], "output": [], "const": []}
    for v in views:
        key = _style_key(v)
        left, right = _MERMAID_SHAPE.get(key, ('["', '"]'))
        label = "<br/>".join(_mermaid_text(line) for line in _node_lines(v))
        out.append(f"  n{v.id}{left}{label}{right}")
        if key in classes:
            classes[key].append(f"n{v.id}")
        elif key == "dead":
            classes["const"].append(f"n{v.id}")
    for e in edge_partials(ev):
        arrow = "-.->" if e.kind == "structural" else "-->"
        out.append(f'  n{e.source} {arrow}|"{_mermaid_text(e.label(digits))}"| n{e.target}')
    for a, i in _context_edges(ev):
        out.append(f"  n{a} -.-> n{i}")
    out += [
        "  classDef input fill:#dbeafe,stroke:#1d4ed8,stroke-width:2px",
        "  classDef output fill:#fde68a,stroke:#b45309,stroke-width:3px",
        "  classDef const fill:#f3f4f6,stroke:#9ca3af,stroke-dasharray:3 3,color:#6b7280",
    ]
    for key, ids in classes.items():
        if ids:
            out.append(f"  class {','.join(ids)} {key}")
    return "\n".join(out) + "\n"


# ---- images through Graphviz ------------------------------------------------------------
def graphviz() -> Optional[str]:
    """The path of Graphviz's ``dot`` program, or None."""
    import shutil

    return shutil.which("dot")


def to_image(ev, fmt: str, digits: int = 6, array_digits: Optional[int] = None) -> Union[str, bytes]:
    """SVG text or PNG bytes drawn by Graphviz from `to_dot`."""
    return draw(to_dot(ev, digits, array_digits), fmt, len(ev.graph))


def draw(source: str, fmt: str, nodes: int) -> Union[str, bytes]:
    """Graphviz's drawing of DOT `source`: SVG text or PNG bytes."""
    import subprocess

    dot = graphviz()
    if dot is None:
        raise UsageError(_INSTALL_HINT.format(fmt=fmt))
    try:
        done = subprocess.run([dot, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"Graphviz took over {DOT_TIMEOUT:g} s to draw {nodes} nodes; "
            "use --format dot or --format text"
        ) from None
    except OSError as exc:
        raise UsageError(f"could not run Graphviz ({dot}): {exc.strerror or exc}") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"Graphviz failed to draw the graph: {why[0] if why else f'exit {done.returncode}'}")
    return done.stdout.decode("utf-8") if fmt == "svg" else done.stdout


def render(ev, fmt: str, digits: Optional[int] = None) -> Union[str, bytes]:
    """The picture of an evaluated graph: str for text/dot/mermaid/svg, bytes for png.

    `digits` None: 6 significant digits, 4 for array elements; a number: that many for all.
    """
    array_digits = digits
    digits = 6 if digits is None else digits
    if fmt == "text":
        return to_text(ev, digits, array_digits)
    if fmt == "dot":
        return to_dot(ev, digits, array_digits)
    if fmt == "mermaid":
        return to_mermaid(ev, digits, array_digits)
    if fmt in ("svg", "png"):
        return to_image(ev, fmt, digits, array_digits)
    raise UsageError(f"unknown picture format {fmt!r} (choose from {', '.join(FORMATS)})")


__all__ = ["Edge", "FORMATS", "edge_partials", "graphviz", "render", "to_dot", "to_image",
           "to_mermaid", "to_text"]
