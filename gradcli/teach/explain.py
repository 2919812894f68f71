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
from ..core.fmt import columns, number, number_formatter, pad_to
from ..core.graph import CONST, INPUT
from ..core.ops import OPS
from .edges import Edge, _bar, as_edge, contribution, edge_partials, edge_rows, is_number

#: --paths lists at most this many paths per input
MAX_PATHS = 64


_num = number
#: the bar of a label (a name for the loops that call it for every line)
_bar_of = _bar


def _edges_by_target(edges: list[Edge]) -> dict[int, list[Edge]]:
    grouped: dict[int, list[Edge]] = {}
    for e in edges:
        grouped.setdefault(e.target, []).append(e)
    return grouped


def steps(ev: Evaluation, edges: Optional[list[Edge]] = None) -> list[dict]:
    """The backward sweep as data: one step per node, one contribution per live argument.

    An array edge's contribution carries its matrix rule (``W̄ += v̄ xᵀ``, from
    `gradcli.core.rules` via the edge), the shapes it multiplies, and its value --
    the engine's own VJP of that edge.  ``delta`` marks a layer's error signal.
    `edges`: `edge_partials(ev)`, if the caller has them.
    """
    graph, adj = ev.graph, ev.adjoints
    grouped = _edges_by_target(edge_partials(ev) if edges is None else edges)
    deltas = error_signals(ev)
    out: list[dict] = []
    for node in reversed(graph.nodes):
        edges = grouped.get(node.id)
        if not edges:
            continue
        contributions = []
        for e in edges:
            upstream = adj[node.id]
            if e.tensor is not None:
                t = e.tensor
                entry = {"to": e.source_label, "from": e.target_label, "upstream": upstream, "kind": e.kind,
                         "lhs": t.lhs, "rule": t.text, "latex": f"{t.latex_lhs} \\mathrel{{+}}= {t.latex}",
                         "shapes": t.shapes, "note": t.note, "product": contribution(ev, e)}
                if e.source in deltas:
                    entry["delta"] = True
                contributions.append(entry)
                continue
            product = None if e.value is None or not isinstance(upstream, float) else upstream * e.value
            contributions.append({"to": e.source_label, "from": e.target_label, "upstream": upstream,
                                  "partial": e.symbolic, "partial_value": e.value, "product": product,
                                  "kind": e.kind})
        out.append({"node": graph.label(node.id), "expr": graph.definition(node.id), "id": node.id,
                    "contributions": contributions})
    return out


#: products whose output a pre-activation is (an affine layer: W x, W x + b)
_PRODUCTS = {"matmul", "dot"}


def error_signals(ev: Evaluation) -> set[int]:
    """Pre-activations: nodes that are an affine layer (``W@x``, ``W@x + b``) and whose
    only use is an elementwise nonlinearity (σ, tanh, relu...).  Their adjoint is the
    lecture's error signal δ."""
    graph, live, ops = ev.graph, ev.tape.live, ev.graph.ops
    uses: dict[int, list[int]] = {}
    affine = [False] * len(ops)
    for i, op_name in enumerate(ops):  # evaluation order: arguments are decided first
        args = graph.args(i)
        if live[i]:
            for a in set(args):
                uses.setdefault(a, []).append(i)
        if op_name in _PRODUCTS:
            affine[i] = True
        elif op_name in ("add", "sub"):
            affine[i] = any(affine[a] for a in args)
    found = set()
    for i, users in uses.items():
        if not affine[i] or len(users) != 1 or not graph.nodes[i].shape:
            continue
        user = graph.nodes[users[0]]
        op = OPS[user.op]
        if op.partials is not None and len(user.args) == 1 and user.op != "neg":
            found.add(i)
    return found


def _array_num(x: object, digits: int, full: bool, indent: int = 0, array_digits: Optional[int] = None) -> str:
    """An array, compact (first and last elements) unless `full`; a matrix one row a line.
    Its elements get `array_digits` significant digits (by default `digits`, at most 6)."""
    from ..core.fmt import array

    if getattr(x, "shape", ()) == ():
        return _num(float(x), digits)  # type: ignore[arg-type]
    text = array(x, min(digits, 6) if array_digits is None else array_digits, full=full)
    if len(getattr(x, "shape", ())) == 2:
        text = text.replace("], [", "],\n" + " " * (indent + 1) + "[")
    return text


class FusedLoss:
    """Softmax followed by cross-entropy, ``-log(softmax(z)[k])`` or the prelude's
    ``cross_entropy(z, k)`` (``-log_softmax(z)[k]``): the lecture's fused step z̄ = p − y."""

    __slots__ = ("top", "logits", "label", "nodes", "internal", "probs", "onehot")

    def __init__(self, top: int, logits: int, label: int, nodes: list[int], internal: bool, probs, onehot) -> None:
        self.top, self.logits, self.label, self.nodes = top, logits, label, nodes
        self.internal, self.probs, self.onehot = internal, probs, onehot


def fused_losses(ev: Evaluation) -> list[FusedLoss]:
    """Every softmax → cross-entropy chain whose inner nodes feed nothing else.

    `internal` marks a chain made by a prelude call (its nodes are the call's, ``cross_entropy#1.a``):
    the explanation shows the fused step alone there, since those names are not the user's."""
    graph, live, ops = ev.graph, ev.tape.live, ev.graph.ops
    if "neg" not in ops or ("softmax" not in ops and "log_softmax" not in ops):  # every chain has both
        return []  # (before importing NumPy: a scalar program's steps never need it)
    import numpy as np

    uses = [0] * len(ops)
    for i in range(len(ops)):
        if live[i]:
            for a in set(graph.args(i)):
                uses[a] += 1

    def single(i: int, op: str) -> bool:
        return ops[i] == op and uses[i] == 1

    def class_index(i: int) -> Optional[int]:
        param = graph.nodes[i].param
        if isinstance(param, tuple) and len(param) == 1 and isinstance(param[0], int):
            return param[0]
        return None

    found = []
    for node in graph.nodes:
        if ops[node.id] != "neg" or not live[node.id]:
            continue
        b = node.args[0]
        chain: list[int] = []
        if single(b, "index") and single(graph.nodes[b].args[0], "log_softmax"):
            soft = graph.nodes[b].args[0]
            chain, pick = [node.id, b, soft], b
        elif single(b, "log") and single(graph.nodes[b].args[0], "index") \
                and single(graph.nodes[graph.nodes[b].args[0]].args[0], "softmax"):
            pick = graph.nodes[b].args[0]
            soft = graph.nodes[pick].args[0]
            chain = [node.id, b, pick, soft]
        else:
            continue
        z = graph.nodes[soft].args[0]
        k = class_index(pick)
        values = np.asarray(ev.values[z], dtype=float)
        if k is None or values.ndim != 1 or not -values.size <= k < values.size:
            continue
        shifted = np.exp(values - values.max())
        probs = shifted / shifted.sum()
        onehot = np.zeros_like(probs)
        onehot[k] = 1.0
        internal = all("#" in graph.label(i) for i in chain[1:])
        found.append(FusedLoss(node.id, z, k % values.size, chain, internal, probs, onehot))
    return found


def _batchnorm_notes(ev: Evaluation) -> list[dict]:
    from .batchnorm import batchnorm_notes

    return batchnorm_notes(ev)


def steps_text(ev: Evaluation, digits: int = 10, full: bool = False, array_digits: Optional[int] = None) -> str:
    if not ev.adjoints:
        return "--steps needs a reverse-mode gradient (a scalar output, or --seed-output)."
    graph = ev.graph
    out = ev.output_name
    seed = ev.adjoints[graph.output]
    lines = [f"Backward pass, in reverse evaluation order, starting from {_bar(out)} = {_num(seed, digits)}:"]
    fused = fused_losses(ev)
    rows = edge_rows(ev)  # the edges as tuples: the scalar writer reads each once
    received: dict[str, "str | list[str]"]
    if not fused and all(row[7] is None for row in rows):  # no array edge (no tensor rule)
        received = _scalar_steps_lines(ev, rows, digits, lines)
    else:
        received = dict(_steps_lines(ev, list(map(as_edge, rows)), fused, digits, full, lines, array_digits))
    # a str is one contribution (the scalar writer's shortcut), a list several
    sums = [(name, parts) for name, parts in received.items() if not isinstance(parts, str) and len(parts) > 1]
    if sums:
        lines.append("Nodes that feed several others add up their contributions:")
        ids: dict[str, int] = {}  # each summed label's first node: one pass, not one search per sum
        wanted = {name for name, _ in sums}
        names_of, label = graph.names_of, graph.label
        for i in range(len(graph)):
            name = names_of[i]
            if name is None:
                name = label(i)
            if name in wanted and name not in ids:
                ids[name] = i
                if len(ids) == len(wanted):
                    break
        num = number_formatter(digits)
        for name, parts in sums:
            total = ev.adjoints[ids[name]] if name in ids else None
            if len(parts) == 2:  # the commonest sum, written without a generator
                a, b = parts
                joined = f"{b if b[:1] != '-' else f'({b})'} + {a if a[:1] != '-' else f'({a})'}"
            else:
                joined = " + ".join(p if not p.startswith("-") else f"({p})" for p in reversed(parts))
            head = f"     {_bar_of(name)} = {joined} = "
            shown = num(total) if isinstance(total, float) else _array_num(total, digits, full, columns(head),
                                                                           array_digits)
            lines.append(head + shown)
    for note in _batchnorm_notes(ev):  # CS231n's compact formula for the same adjoint
        lines.append(f"{note['call']}: batch normalisation's backward pass in one formula (CS231n), from the same "
                     f"adjoint of its result:")
        lines.append(f"     {note['formula']}")
        lines.append(f"     {note['parameters']}")
        head = f"     the contribution to {_bar(note['x'])} = "
        lines.append(head + _array_num(note["value"], digits, full, columns(head), array_digits))
    if all(isinstance(g, float) for g in ev.gradient.values()):
        grads = ", ".join(f"∂{out}/∂{name} = {_bar(name)} = {_num(g, digits)}" for name, g in ev.gradient.items())
        lines.append(f"Gradient: {grads}")
    else:
        lines.append("Gradient:")
        for name, g in ev.gradient.items():
            head = f"  ∂{out}/∂{name} = {_bar(name)} = "
            lines.append(head + (_num(g, digits) if isinstance(g, float)
                                 else _array_num(g, digits, full, columns(head), array_digits)))
    return "\n".join(lines)


def _steps_lines(ev: Evaluation, edges: list[Edge], fused: list["FusedLoss"], digits: int, full: bool,
                 lines: list[str], array_digits: Optional[int] = None) -> dict[str, list[str]]:
    """The numbered steps, appended to `lines`; each label's contributions, as written."""
    graph = ev.graph
    received: dict[str, list[str]] = {}
    width = 0
    data = steps(ev, edges)
    hidden = {i for f in fused if f.internal for i in f.nodes[1:]}  # a prelude call's insides
    by_top = {f.top: f for f in fused}
    by_last = {f.nodes[-1]: f for f in fused if not f.internal}
    data = [step for step in data if step["id"] not in hidden]
    for step in data:
        f = by_top.get(step["id"])
        expr = _fused_call(ev, f) if f is not None and f.internal else step["expr"]
        width = max(width, columns(f"{step['node']} = {expr}"))
    width = min(width, 40)
    first_step: dict[int, int] = {}
    for k, step in enumerate(data, 1):
        f = by_top.get(step["id"])
        if f is not None:
            first_step[f.top] = k
        if f is not None and f.internal:
            head = f"{k:>3}. {pad_to(step['node'] + ' = ' + _fused_call(ev, f), width)}   "
            lines += _fused_lines(ev, f, head, digits, full, array_digits)
            received.setdefault(graph.label(f.logits), []).append(f"(step {k})")
            continue
        head = f"{k:>3}. {pad_to(step['node'] + ' = ' + step['expr'], width)}   "
        for j, c in enumerate(step["contributions"]):
            prefix = head if j == 0 else " " * columns(head)
            down, up = _bar_of(c["to"]), _bar_of(c["from"])
            name = f"∂{c['from']}/∂{c['to']}"
            if "rule" in c:
                if c.get("delta"):
                    rule = f"δ = {c['lhs']} = {c['rule']}"
                else:
                    rule = f"{c['lhs']} += {c['rule']}"
                lines.append(f"{prefix}{rule}  ({c['shapes']})" + (f"   {c['note']}" if c["note"] else ""))
                pad = " " * (columns(head) + 3)
                value = _array_num(c["product"], digits, full, len(pad) + 2, array_digits)
                tail = f"   δ: the error signal of the layer {c['to']}" if c.get("delta") else ""
                lines.append(f"{pad}= {value}{tail}")
                twice = sum(1 for d in step["contributions"] if d["to"] == c["to"]) > 1
                received.setdefault(c["to"], []).append(f"(step {k}: {c['rule']})" if twice else f"(step {k})")
                continue
            if c["product"] is None:
                lines.append(f"{prefix}{down} += {up} ∘ {name} = {up} ∘ ({c['partial']})  (elementwise)")
                received.setdefault(c["to"], []).append("…")
                continue
            upstream = _num(c["upstream"], digits)
            value = _num(c["partial_value"], digits)
            product = _num(c["product"], digits)
            symbolic = c["partial"]
            if _top_level_sum(symbolic):  # 1 · ((y > z) + 0.5*(y == z)), not 1 · (y > z) + …
                symbolic = f"({symbolic})"
            if symbolic == value or is_number(symbolic):
                lines.append(f"{prefix}{down} += {up} · {name} = {upstream} · {value} = {product}")
            else:
                lines.append(
                    f"{prefix}{down} += {up} · {name} = {upstream} · {symbolic} = {upstream} · {value} = {product}"
                )
            received.setdefault(c["to"], []).append(product)
        f = by_last.get(step["id"])
        if f is not None:  # a softmax → cross-entropy the user wrote out: the fused step after it
            head = f"     steps {first_step.get(f.top, k)}–{k} together:   "
            lines += _fused_lines(ev, f, head, digits, full, array_digits)
    return received


def _scalar_steps_lines(ev: Evaluation, edges: list[tuple], digits: int,
                        lines: list[str]) -> dict[str, "str | list[str]"]:
    """`_steps_lines` for a program of scalars (no array edge, no fused loss), straight from
    the edges (`Edge` objects or `edge_rows`' tuples of their fields): no step data, each value
    formatted once (`number_formatter`).  A label with a single contribution maps to its text,
    not to a list of one (most labels of a long chain)."""
    graph, adj = ev.graph, ev.adjoints
    num = number_formatter(digits)
    bar = _bar_of
    append = lines.append
    # the steps: runs of edges into one node (edge_partials lists them node by node), last node first
    runs: list[tuple[int, int]] = []
    hi = len(edges)
    while hi:
        lo = hi - 1
        target = edges[lo][1]
        while lo and edges[lo - 1][1] == target:
            lo -= 1
        runs.append((lo, hi))
        hi = lo
    definition = graph.definition
    heads = [f"{edges[lo][3]} = {definition(edges[lo][1])}" for lo, _ in runs]  # target label = its definition
    spans = list(map(columns, heads))  # terminal columns (变量 takes 4, a bar none)
    width = min(max(spans, default=0), 40)
    received: dict[str, "str | list[str]"] = {}
    get = received.get
    for k, ((lo, hi), text, span) in enumerate(zip(runs, heads, spans), 1):
        prefix = f"{k:>3}. {text}{' ' * (width - span)}   "  # padded to `width` terminal columns
        _, target, _, target_label, _, _, _, _ = edges[lo]
        upstream = adj[target]
        scaled = isinstance(upstream, float)
        up = bar(target_label)
        upstream_text = None
        for j in range(lo, hi):
            _, _, to, _, symbolic, value, _, _ = edges[j]
            if j == lo + 1:  # the next contributions: under the first, in terminal columns
                prefix = " " * (len(prefix) - len(text) + span)
            if value is None or not scaled:
                append(f"{prefix}{bar(to)} += {up} ∘ ∂{target_label}/∂{to} = {up} ∘ ({symbolic})  (elementwise)")
                shown = "…"
            else:
                shown = num(upstream * value)
                if upstream_text is None:
                    upstream_text = num(upstream)
                value_text = num(value)
                if (" + " in symbolic or " - " in symbolic) and _top_level_sum(symbolic):
                    symbolic = f"({symbolic})"  # 1 · ((y > z) + 0.5*(y == z)), not 1 · (y > z) + …
                if symbolic == value_text or is_number(symbolic):
                    append(f"{prefix}{bar(to)} += {up} · ∂{target_label}/∂{to} = {upstream_text} · {value_text} = "
                           f"{shown}")
                else:
                    append(f"{prefix}{bar(to)} += {up} · ∂{target_label}/∂{to} = {upstream_text} · {symbolic} = "
                           f"{upstream_text} · {value_text} = {shown}")
            parts = get(to)
            if parts is None:
                received[to] = shown  # a label's one contribution is its text, a list from the second
            elif isinstance(parts, str):
                received[to] = [parts, shown]
            else:
                parts.append(shown)
    return received


def _fused_call(ev: Evaluation, f: FusedLoss) -> str:
    return f"cross_entropy({ev.graph.label(f.logits)}, {f.label})"


def _fused_lines(ev: Evaluation, f: FusedLoss, head: str, digits: int, full: bool,
                 array_digits: Optional[int] = None) -> list[str]:
    """``z̄ += L̄ · (p − y)``: softmax with cross-entropy as one step (the lecture's result)."""
    graph = ev.graph
    z, top = graph.label(f.logits), graph.label(f.top)
    upstream = ev.adjoints[f.top]
    product = float(upstream) * (f.probs - f.onehot)  # type: ignore[arg-type]
    rule = (f"{_bar(z)} += {_bar(top)} · (p − y)   p = softmax({z}), y = one-hot of class {f.label}: "
            "softmax with cross-entropy, fused")
    pad = " " * (columns(head) + 3)
    return [head + rule, f"{pad}= {_array_num(product, digits, full, len(pad) + 2, array_digits)}"]


def steps_json(ev: Evaluation) -> list[dict]:
    from ..core.fmt import json_value

    data = steps(ev)
    for step in data:
        for c in step["contributions"]:
            for key in ("upstream", "partial_value", "product"):
                if c.get(key) is not None:
                    c[key] = json_value(c[key])
    return data


def steps_latex(ev: Evaluation, digits: int = 10) -> str:
    """The backward sweep as a LaTeX ``align*`` environment, for a homework write-up."""
    from ..core.fmt import tex_bar, tex_name

    def bar(label: str) -> str:
        return tex_bar(label)

    rows = []
    for step in steps(ev):
        for c in step["contributions"]:
            if "rule" in c:
                if c.get("delta"):
                    rows.append(r"\delta = " + c["latex"].replace(r" \mathrel{+}= ", " &= ", 1))
                else:
                    rows.append(c["latex"].replace(r" \mathrel{+}= ", r" &\mathrel{+}= ", 1))
                continue
            if c["product"] is None:
                continue
            partial = f"\\frac{{\\partial {tex_name(c['from'])}}}{{\\partial {tex_name(c['to'])}}}"
            sym = _tex_factor(c["partial"]).replace("*", " \\cdot ")
            up = _tex_factor(_num(c["upstream"], digits))
            rows.append(
                f"{bar(c['to'])} &\\mathrel{{+}}= {bar(c['from'])} \\cdot {partial} = {up} \\cdot {sym}"
                f" = {_num(c['product'], digits)}"
            )
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def _tex_factor(text: str) -> str:
    """A factor of a LaTeX product: ``1 \\cdot (-1)``, not ``1 \\cdot -1``; a sum in parentheses."""
    return f"({text})" if text.startswith("-") or _top_level_sum(text) else text


# ---- paths --------------------------------------------------------------------------
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
    return "more than 1e15" if total >= COUNT_CAP else str(total)


def _route(path: list[Edge], name: str) -> list[str]:
    """The node labels along a path (just the input when the output is the input)."""
    return [path[0].source_label] + [e.target_label for e in path] if path else [name]


def _definitions(ev: Evaluation) -> dict[str, str]:
    graph = ev.graph
    return {
        graph.label(n.id): graph.definition(n.id)
        for n in graph.nodes
        if n.op not in (INPUT, CONST) and n.name is not None and n.name not in ev.inputs
    }


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


#: a chain of Jacobians is multiplied out only when each has at most this many entries
MAX_CHAIN_ENTRIES = 1_000_000


def jacobian_chain(ev: Evaluation, path: list[Edge]) -> dict:
    """One path through array operations as a product of local Jacobians, output first:
    ``∂s/∂h · ∂h/∂z · ∂z/∂b = uᵀ · diag(σ'(z)) · I``, with shapes and the product's value
    (from each edge's own VJP rows, `gradcli.teach.edges.local_jacobian`)."""
    import numpy as np

    from .edges import local_jacobian

    chain = list(reversed(path))
    names = [e.name for e in chain]
    formulas, latex, shapes = [], [], []
    for e in chain:
        if e.tensor is not None:
            formulas.append(e.tensor.jacobian or e.name)
            latex.append(e.tensor.latex_jacobian or _tex_partial(e))
            shapes.append(e.tensor.jacobian_shape)
        else:
            formulas.append(e.symbolic if not is_number(e.symbolic) else _num(e.value, 10))
            latex.append(e.symbolic.replace("*", r" \cdot "))
            shapes.append((1, 1))
    value = None
    if all(r * c <= MAX_CHAIN_ENTRIES for r, c in shapes):
        product = None
        for e in chain:
            j = local_jacobian(ev, e) if e.tensor is not None else np.array([[e.value]])
            product = j if product is None else product @ j
        value = product
    rows, cols = shapes[0][0], shapes[-1][1]
    return {"names": names, "factors": formulas, "latex": latex, "shapes": shapes,
            "shape": (rows, cols), "value": value}


def _tex_partial(e: Edge) -> str:
    from ..core.fmt import tex_name

    return f"\\frac{{\\partial {tex_name(e.target_label)}}}{{\\partial {tex_name(e.source_label)}}}"


def _as_input(ev: Evaluation, name: str, value):
    """A 1×n row of a scalar output's path, in the input's shape."""
    import numpy as np

    shape = getattr(ev.env[name], "shape", ())
    if value.shape[0] == 1 and value.size == int(np.prod(shape)):
        return value.reshape(shape) if shape else float(value.reshape(()))
    return value


def _chain_lines(ev: Evaluation, name: str, found: list[list[Edge]], digits: int, full: bool,
                 array_digits: Optional[int] = None) -> list[str]:
    from .edges import Edge  # noqa: F401
    from ..core.rules import shape_text

    out = ev.output_name
    lines = []
    g = ev.gradient.get(name)
    fused = [f for f in fused_losses(ev) if f.internal]
    for p in found:
        c = jacobian_chain(ev, p)
        route = [p[0].source_label] + [e.target_label for e in p]
        for f in fused:  # a prelude cross_entropy: its insides are one factor, (p − y)ᵀ
            c, route = _fuse_chain(ev, f, p, c, route)
        factors = " · ".join(f if _atomic(f) or " " not in f or (f.endswith("ᵀ") and _atomic(f[:-1])) else f"({f})"
                             for f in c["factors"])
        shapes = " · ".join(shape_text(s) for s in c["shapes"]) + " → " + shape_text(c["shape"])
        head = f"  ∂{out}/∂{name} = " if len(found) == 1 else "      "
        pad = " " * max(columns(head) - 2, 8)
        lines.append(f"{head}{' · '.join(c['names'])}")
        lines.append(f"{pad}= {factors}   ({shapes})")
        short = _simplified(c["factors"], c["shapes"])
        if short is not None:
            lines.append(f"{pad}= {short}")
        if c["value"] is None:
            lines.append(f"{pad}= (too large to multiply out here; the limit is {MAX_CHAIN_ENTRIES} entries a matrix)")
        else:
            value = _as_input(ev, name, c["value"])
            reread = ""
            if getattr(value, "ndim", 0) == 2 and c["shape"][0] == 1:
                reread = f"   (the 1×{c['shape'][1]} row read in the shape of {name})"
            text = _array_num(value, digits, full, len(pad) + 2, array_digits)
            lines.append(f"{pad}= {text}" + (reread if "\n" not in text else "") )
            if reread and "\n" in text:
                lines.append(f"{pad} {reread.strip()}")
        lines.append("      path " + " → ".join(route))
    if len(found) > 1:
        head = f"  ∂{out}/∂{name} = the sum of these {len(found)} paths = "
        lines.insert(0, f"  ∂{out}/∂{name}: {len(found)} paths")
        lines.append(head + (_num(g, digits) if isinstance(g, float)
                             else _array_num(g, digits, full, columns(head), array_digits)))
    return lines


def _fuse_chain(ev: Evaluation, f: "FusedLoss", p: list[Edge], c: dict, route: list[str]) -> tuple[dict, list[str]]:
    """The chain `c` of path `p` with the edges inside a prelude cross_entropy call made one
    factor, ``∂L/∂z = (p − y)ᵀ``, and the route without the call's inner nodes."""
    inside = set(f.nodes[1:])
    ends = inside | {f.top}
    hit = [k for k, e in enumerate(p) if e.target in ends and (e.source in inside or e.source == f.logits)]
    if not hit or hit != list(range(hit[0], hit[-1] + 1)):
        return c, route
    n = len(p)
    first, last = n - 1 - hit[-1], n - 1 - hit[0]  # the chain lists factors from the output side
    graph = ev.graph
    top, z = graph.label(f.top), graph.label(f.logits)
    c = dict(c)
    c["names"] = c["names"][:first] + [f"∂{top}/∂{z}"] + c["names"][last + 1:]
    c["factors"] = c["factors"][:first] + ["(p − y)ᵀ"] + c["factors"][last + 1:]
    c["shapes"] = c["shapes"][:first] + [(1, int(f.probs.size))] + c["shapes"][last + 1:]
    keep = [label for label in route if label not in {graph.label(i) for i in inside}]
    return c, keep


def _simplified(factors: list[str], shapes: list[tuple]) -> Optional[str]:
    """The lecture's shorthand for a chain: identities dropped, and a row times a
    diagonal folded into one row, ``uᵀ · diag(σ'(z)) · I`` -> ``(u ∘ σ'(z))ᵀ``."""
    kept = [(f, s) for f, s in zip(factors, shapes) if f != "I"]
    if not kept:
        return None
    first, shape = kept[0]
    row = re.fullmatch(r"([^\W\d]\w*)ᵀ", first)
    if row and shape[0] == 1:
        inner = [row.group(1)]
        rest = kept[1:]
        while rest and rest[0][0].startswith("diag(") and rest[0][0].endswith(")"):
            inner.append(rest[0][0][5:-1])
            rest = rest[1:]
        if len(inner) > 1:
            kept = [(f"({' ∘ '.join(inner)})ᵀ", (1, shape[1]))] + rest
    text = " · ".join(f if _atomic(f) or " " not in f or (f.endswith("ᵀ") and _atomic(f[:-1])) else f"({f})"
                      for f, _ in kept)
    original = " · ".join(f if _atomic(f) or " " not in f else f"({f})" for f in factors)
    return None if text == original else text


def paths_text(ev: Evaluation, digits: int = 10, full: bool = False, array_digits: Optional[int] = None) -> str:
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
        longest = max(len(p) for p in found)
        if longest > MAX_PATH_EDGES:
            lines.append(f"  ∂{out}/∂{name}: {len(found)} path(s), the longest with {longest} edges, too long to "
                         f"write out (the limit is {MAX_PATH_EDGES} edges); their sum is {_num(g, digits)}")
            continue
        if any(e.tensor is not None for p in found for e in p):
            lines += _chain_lines(ev, name, found, digits, full, array_digits)
            continue
        symbolic, numeric, values = [], [], []
        for p in found:
            factors = [_expand(ev, e.symbolic, defs=defs) for e in p]
            symbolic.append("·".join(f if _atomic(f) else f"({f})" for f in factors) or "1")
            v = 1.0
            for e in p:
                v *= e.value  # type: ignore[operator]
            values.append(v)
            numeric.append(_num(v, digits))
        route = " + ".join(symbolic)
        nums = " + ".join(n if not n.startswith("-") else f"({n})" for n in numeric)
        total_text = "" if len(found) == 1 else f" = {_num(g, digits)}"
        lines.append(f"  ∂{out}/∂{name} = {route} = {nums}{total_text}")
        for p in found:
            lines.append("      path " + " → ".join([p[0].source_label] + [e.target_label for e in p]))
    return "\n".join(lines)


def _top_level_sum(text: str) -> bool:
    """`text` is a sum or difference outside any parentheses (``a + b``, not ``p*(1 - p)``)."""
    for sep in (" + ", " - "):
        k = text.find(sep)
        while k != -1:
            if text.count("(", 0, k) == text.count(")", 0, k):
                return True
            k = text.find(sep, k + 1)
    return False


def _atomic(text: str) -> bool:
    """A factor that needs no parentheses in a product: a name, a number, a call or one
    parenthesised whole (not ``(y > z) + 0.5*(y == z)``, which only starts and ends with them)."""
    if re.fullmatch(r"-?[\w.]+", text):
        return True
    match = re.match(r"\w*\(", text)
    if match is None or not text.endswith(")"):
        return False
    depth = 0
    for k in range(match.end() - 1, len(text)):
        depth += {"(": 1, ")": -1}.get(text[k], 0)
        if depth == 0:
            return k == len(text) - 1
    return False


def paths_json(ev: Evaluation) -> dict:
    """Per input: ``count`` (saturating at `COUNT_CAP`, then ``capped``) and, when at most
    `MAX_PATHS`, each path."""
    result = {}
    outgoing = _outgoing(ev)
    for name in ev.wrt:
        total, found = _paths(ev, name, outgoing)
        entries = []
        for p in found:
            nodes = _route(p, name)
            if any(e.tensor is not None for e in p):
                from ..core.fmt import json_value

                c = jacobian_chain(ev, p)
                entries.append({"nodes": nodes, "jacobians": c["names"], "factors": c["factors"],
                                "latex": c["latex"], "shapes": [list(s) for s in c["shapes"]],
                                "shape": list(c["shape"]),
                                "value": None if c["value"] is None else json_value(c["value"])})
            else:
                entries.append({"nodes": nodes, "factors": [e.symbolic for e in p],
                                "value": None if any(e.value is None for e in p) else _product(p)})
        result[name] = {"count": total, "capped": total >= COUNT_CAP, "paths": entries}
    return result


def paths_latex(ev: Evaluation) -> dict[str, str]:
    """For each array input: ``\\frac{∂s}{∂b} = u^\\top\\,\\operatorname{diag}(σ'(z))\\,I`` (the chains)."""
    from ..core.fmt import tex_name

    out = {}
    for name in ev.wrt:
        total, found = paths(ev, name)
        if not found or not any(e.tensor is not None for p in found for e in p):
            continue
        chains = [r"\,".join(f if " " not in f else rf"\left({f}\right)" for f in jacobian_chain(ev, p)["latex"])
                  for p in found]
        out[name] = (f"\\frac{{\\partial {tex_name(ev.output_name)}}}{{\\partial {tex_name(name)}}} = "
                     + " + ".join(chains))
    return out


def _product(p: list[Edge]) -> float:
    v = 1.0
    for e in p:
        v *= e.value  # type: ignore[operator]
    return v


__all__ = ["steps_text", "steps_json", "steps_latex", "paths_text", "paths_json", "paths_latex", "error_signals",
           "jacobian_chain"]
