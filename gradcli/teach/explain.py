"""Explaining backpropagation: the backward sweep step by step, paths, and edges.

* `steps_text` -- the reverse sweep as the lecture writes it: nodes in reverse
  evaluation order, each "downstream += upstream × local":
  ``c̄ += ē · ∂e/∂c = 1 · d = 1 · 3 = 3``; where a node feeds several others its
  contributions are listed and summed: ``b̄ = 5 + 3 = 8``.
* `paths_text` -- the chain rule as a sum over all paths from an input to the output:
  ``∂e/∂b = 1·(b + 1) + 1·(a + b) = 3 + 5 = 8`` (for small graphs; a clear message
  when there are too many paths).
* `steps_json`, `paths_json`, `steps_latex` -- the same as data and LaTeX.

The local derivatives come from `gradcli.teach.edges.edge_partials`, i.e. from the op
rows themselves; the adjoints shown are the engine's.  The edge table itself is
drawn by `gradcli.output.tables`.
"""

from __future__ import annotations

import re
from typing import Optional

from ..run.evaluate import Evaluation
from ..core.fmt import number
from ..core.graph import CONST, INPUT
from .edges import Edge, _bar, edge_partials, is_number

#: --paths lists at most this many paths per input
MAX_PATHS = 64


def _num(x: object, digits: int) -> str:
    return number(x, digits)


def _edges_by_target(ev: Evaluation) -> dict[int, list[Edge]]:
    grouped: dict[int, list[Edge]] = {}
    for e in edge_partials(ev):
        grouped.setdefault(e.target, []).append(e)
    return grouped


def steps(ev: Evaluation) -> list[dict]:
    """The backward sweep as data: one step per node, one contribution per live argument."""
    graph, adj = ev.graph, ev.adjoints
    grouped = _edges_by_target(ev)
    out: list[dict] = []
    for node in reversed(graph.nodes):
        edges = grouped.get(node.id)
        if not edges:
            continue
        contributions = []
        for e in edges:
            upstream = adj[node.id]
            product = None if e.value is None or not isinstance(upstream, float) else upstream * e.value
            contributions.append({"to": e.source_label, "from": e.target_label, "upstream": upstream,
                                  "partial": e.symbolic, "partial_value": e.value, "product": product,
                                  "kind": e.kind})
        out.append({"node": graph.label(node.id), "expr": graph.definition(node.id), "id": node.id,
                    "contributions": contributions})
    return out


def steps_text(ev: Evaluation, digits: int = 10) -> str:
    if not ev.adjoints:
        return "--steps needs a reverse-mode gradient (a scalar output, or --seed-output)."
    graph = ev.graph
    out = ev.output_name
    seed = ev.adjoints[graph.output]
    lines = [f"Backward pass, in reverse evaluation order, starting from {_bar(out)} = {_num(seed, digits)}:"]
    received: dict[str, list[str]] = {}
    width = 0
    data = steps(ev)
    for step in data:
        width = max(width, len(f"{step['node']} = {step['expr']}"))
    width = min(width, 40)
    for k, step in enumerate(data, 1):
        head = f"{k:>3}. {step['node'] + ' = ' + step['expr']:<{width}}   "
        for j, c in enumerate(step["contributions"]):
            prefix = head if j == 0 else " " * len(head)
            down, up = _bar(c["to"]), _bar(c["from"])
            name = f"∂{c['from']}/∂{c['to']}"
            if c["kind"] == "vjp":
                lines.append(f"{prefix}{down} += vector-Jacobian product of {up} through {step['expr']}")
                received.setdefault(c["to"], []).append("vjp")
                continue
            if c["product"] is None:
                lines.append(f"{prefix}{down} += {up} ∘ {name} = {up} ∘ ({c['partial']})  (elementwise)")
                received.setdefault(c["to"], []).append("…")
                continue
            upstream = _num(c["upstream"], digits)
            value = _num(c["partial_value"], digits)
            product = _num(c["product"], digits)
            symbolic = c["partial"]
            if symbolic == value or is_number(symbolic):
                lines.append(f"{prefix}{down} += {up} · {name} = {upstream} · {value} = {product}")
            else:
                lines.append(
                    f"{prefix}{down} += {up} · {name} = {upstream} · {symbolic} = {upstream} · {value} = {product}"
                )
            received.setdefault(c["to"], []).append(product)
    sums = [(name, parts) for name, parts in received.items() if len(parts) > 1]
    if sums:
        lines.append("Nodes that feed several others add up their contributions:")
        for name, parts in sums:
            total = _adjoint_of(ev, name)
            joined = " + ".join(p if not p.startswith("-") else f"({p})" for p in reversed(parts))
            lines.append(f"     {_bar(name)} = {joined} = {_num(total, digits)}")
    grads = ", ".join(f"∂{out}/∂{name} = {_bar(name)} = {_num(g, digits)}" for name, g in ev.gradient.items())
    lines.append(f"Gradient: {grads}")
    return "\n".join(lines)


def _adjoint_of(ev: Evaluation, label: str) -> object:
    for node in ev.graph.nodes:
        if ev.graph.label(node.id) == label:
            return ev.adjoints[node.id]
    return None


def steps_json(ev: Evaluation) -> list[dict]:
    from ..core.fmt import json_value

    data = steps(ev)
    for step in data:
        for c in step["contributions"]:
            for key in ("upstream", "partial_value", "product"):
                if c[key] is not None:
                    c[key] = json_value(c[key])
    return data


def steps_latex(ev: Evaluation, digits: int = 10) -> str:
    """The backward sweep as a LaTeX ``align*`` environment, for a homework write-up."""
    from ..oracles.exact import _tex_name

    def bar(label: str) -> str:
        return f"\\bar{{{_tex_name(label)}}}"

    rows = []
    for step in steps(ev):
        for c in step["contributions"]:
            if c["product"] is None:
                continue
            partial = f"\\frac{{\\partial {_tex_name(c['from'])}}}{{\\partial {_tex_name(c['to'])}}}"
            sym = c["partial"].replace("*", " \\cdot ")
            up = _num(c["upstream"], digits)
            rows.append(
                f"{bar(c['to'])} &\\mathrel{{+}}= {bar(c['from'])} \\cdot {partial} = {up} \\cdot {sym}"
                f" = {_num(c['product'], digits)}"
            )
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


# ---- paths ----------------------------------------------------------------------------
#: path counts saturate here: a lattice can have 2^15000 paths, and big integers that
#: size cost time to add and cannot even be printed
COUNT_CAP = 10**15
#: a path longer than this is not written out factor by factor (a 10^4-node chain)
MAX_PATH_EDGES = 60


def paths(ev: Evaluation, name: str) -> tuple[int, list[list[Edge]]]:
    """How many paths lead from input `name` to the output (saturating at `COUNT_CAP`),
    and, when there are at most `MAX_PATHS`, the paths themselves."""
    return _paths(ev, name, _outgoing(ev))


def _outgoing(ev: Evaluation) -> dict[int, list[Edge]]:
    outgoing: dict[int, list[Edge]] = {}
    for e in edge_partials(ev):
        outgoing.setdefault(e.source, []).append(e)
    return outgoing


def _paths(ev: Evaluation, name: str, outgoing: dict[int, list[Edge]]) -> tuple[int, list[list[Edge]]]:
    graph = ev.graph
    start = graph.names[name]
    # count paths to the output from every node, in reverse order (no recursion)
    count = [0] * len(graph.nodes)
    count[graph.output] = 1
    for node in reversed(graph.nodes):
        n = count[node.id]
        for e in outgoing.get(node.id, []):
            n += count[e.target]
        count[node.id] = n if n < COUNT_CAP else COUNT_CAP
    total = count[start]
    if total > MAX_PATHS:
        return total, []
    found: list[list[Edge]] = []
    # each stack entry shares its prefix with its parent (a linked list): no quadratic copying
    stack: list[tuple[int, Optional[tuple]]] = [(start, None)]
    while stack:
        at, link = stack.pop()
        if at == graph.output:
            path: list[Edge] = []
            while link is not None:
                link, edge = link
                path.append(edge)
            path.reverse()
            found.append(path)
            continue
        for e in reversed(outgoing.get(at, [])):
            if count[e.target]:
                stack.append((e.target, (link, e)))
    return total, found


def _count_text(total: int) -> str:
    return f"more than {COUNT_CAP:.0e}".replace("e+", "e") if total >= COUNT_CAP else str(total)


def _expand(ev: Evaluation, text: str, limit: int = 300, defs: Optional[dict] = None) -> str:
    """Write a local derivative in terms of the inputs: intermediate labels are replaced
    by their definitions (repeatedly, while the text stays short): d -> (b + 1)."""
    if defs is None:
        defs = _definitions(ev)
    if not defs:
        return text

    def sub(m: re.Match) -> str:
        d = defs.get(m.group(0))
        if d is None:
            return m.group(0)
        whole = m.string
        enclosed = m.start() > 0 and whole[m.start() - 1] == "(" and m.end() < len(whole) and whole[m.end()] == ")"
        simple = re.fullmatch(r"[\w.]+(\(.*\))?|-?[\w.]+", d) is not None
        return d if simple or enclosed else f"({d})"

    for _ in range(len(defs)):
        expanded = re.sub(r"[^\W\d]\w*", sub, text)
        if expanded == text or len(expanded) > limit:
            break
        text = expanded
    return text


def _definitions(ev: Evaluation) -> dict[str, str]:
    graph = ev.graph
    return {
        graph.label(n.id): graph.definition(n.id)
        for n in graph.nodes
        if n.op not in (INPUT, CONST) and n.name is not None and n.name not in ev.inputs
    }


def _route(path: list[Edge], name: str) -> list[str]:
    """The node labels along a path (just the input when the output is the input)."""
    return [path[0].source_label] + [e.target_label for e in path] if path else [name]


def paths_text(ev: Evaluation, digits: int = 10) -> str:
    out = ev.output_name
    lines = ["The chain rule as a sum over paths (each path: the product of its local derivatives):"]
    outgoing = _outgoing(ev)
    defs = _definitions(ev)
    for name in ev.wrt:
        total, found = _paths(ev, name, outgoing)
        g = ev.gradient.get(name)
        if total == 0:
            lines.append(f"  ∂{out}/∂{name} = 0 (no path from {name} to {out})")
            continue
        if not found:
            lines.append(f"  ∂{out}/∂{name}: {_count_text(total)} paths are too many to list (the limit is "
                         f"{MAX_PATHS}); their sum is {_num(g, digits)}")
            continue
        if found == [[]]:
            lines.append(f"  ∂{out}/∂{name} = 1 (the output is the input {name} itself: one path with no edges)")
            continue
        if any(e.value is None for p in found for e in p):
            lines.append(f"  ∂{out}/∂{name}: {len(found)} path(s) through array operations; "
                         "see --steps for the vector-Jacobian products")
            continue
        longest = max(len(p) for p in found)
        if longest > MAX_PATH_EDGES:
            lines.append(f"  ∂{out}/∂{name}: {len(found)} path(s), the longest with {longest} edges, too long to "
                         f"write out (the limit is {MAX_PATH_EDGES} edges); their sum is {_num(g, digits)}")
            continue
        symbolic, numeric, values = [], [], []
        for p in found:
            factors = [_expand(ev, e.symbolic, defs=defs) for e in p]
            symbolic.append("·".join(f if _atomic(f) else f"({f})" for f in factors) or "1")
            values.append(_product(p))
            numeric.append(_num(values[-1], digits))
        route = " + ".join(symbolic)
        nums = " + ".join(n if not n.startswith("-") else f"({n})" for n in numeric)
        total_text = "" if len(found) == 1 else f" = {_num(g, digits)}"
        lines.append(f"  ∂{out}/∂{name} = {route} = {nums}{total_text}")
        for p in found:
            lines.append("      path " + " → ".join(_route(p, name)))
    return "\n".join(lines)


def _atomic(text: str) -> bool:
    return re.fullmatch(r"-?[\w.]+|\(.*\)|\w+\(.*\)", text) is not None


def paths_json(ev: Evaluation) -> dict:
    """Per input: ``count`` (saturating at `COUNT_CAP`, with ``capped``) and, when at most
    `MAX_PATHS`, each path's nodes, factors and value."""
    result = {}
    outgoing = _outgoing(ev)
    for name in ev.wrt:
        total, found = _paths(ev, name, outgoing)
        result[name] = {
            "count": total,
            "capped": total >= COUNT_CAP,
            "paths": [
                {"nodes": _route(p, name),
                 "factors": [e.symbolic for e in p],
                 "value": None if any(e.value is None for e in p) else _product(p)}
                for p in found
            ],
        }
    return result


def _product(p: list[Edge]) -> float:
    v = 1.0
    for e in p:
        v *= e.value  # type: ignore[operator]
    return v


__all__ = ["steps_text", "steps_json", "steps_latex", "paths_text", "paths_json"]
