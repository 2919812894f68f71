"""Forward mode by hand on vectors and matrices: each node's tangent as a matrix-form JVP.

A pass seeds one *element* of one input (``Ẇ = E₀₁``: 1 at W[0,1], every other tangent
0) and carries the tangents through the graph in evaluation order; each node's line is
its tangent rule with the shapes it multiplies, then the engine's tangent::

    v̇ = Ẇ x + W ẋ  (3×2 · 2 + 3×2 · 2 → 3)
      = Ẇ x   (ẋ = 0 in this pass)
      = [0.1, 0, 0]

Structural ops take their rule from `gradcli.core.rules` (``TANGENTS``, ``JOINS``);
elementwise ops write ``ḣ = σ'(z) ∘ ż`` with the partial from the op row, as the
reverse steps do.  The numbers are the engine's own dual-number tangents
(`gradcli.run.evaluate.tangent_pass`); ``tests/test_forward_steps.py`` also evaluates
every printed rule at the point and compares it with them.  Nodes the seeded element
does not reach keep tangent 0 and are left out.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ..core.errors import UsageError
from ..core.fmt import columns, number
from ..core.graph import CONST, INPUT
from ..core.ops import OPS
from ..run.evaluate import Evaluation
from ..core.formula.scalar import Scalar, add, words
from .edges import _simple, _symbolic_partials, prime_names

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


#: passes shown in full (scalar programs: one per input; arrays: one per element)
PASS_LIMIT = 8


def dot(label: str) -> str:
    """The lecture's tangent notation: ḃ for b (one precomposed character where one exists)."""
    import unicodedata

    return unicodedata.normalize("NFC", label + "\u0307")


def tex_name(label: str) -> str:
    from ..core.fmt import tex_name as _tex_name

    return _tex_name(label)


def tex_dot(label: str) -> str:
    return rf"\dot{{{tex_name(label)}}}"


class NodeRule(NamedTuple):
    """One node's tangent rule: the terms (one per live argument), how to print them."""

    node: int
    #: the live arguments' node ids, in the order of the terms (a join: all of them)
    args: tuple
    #: argument position k -> is that argument live (reached by some input)
    live: tuple
    names: dict
    tex: dict
    note: str
    #: an elementwise op (terms ``p_k ∘ ṫ_k``; an argument used twice, x*x, is one term with
    #: the partials added), else a structural one (its rule from `gradcli.core.rules`)
    elementwise: bool
    #: the node is a scalar: ``·`` for ``∘``
    scalar: bool
    #: elementwise ops: each argument's constant partial +1 or -1 (``v̇ + ḃ``, ``−ẋ``), else 0
    units: tuple


def node_rules(ev: Evaluation) -> dict[int, NodeRule]:
    """The tangent rule of every live node that is not an input or a constant."""
    graph, live = ev.graph, ev.tape.live
    found = {}
    for node in graph.nodes:
        if node.op in (INPUT, CONST) or not live[node.id]:
            continue
        op = OPS[node.op]
        labels = [graph.label(a) for a in node.args]
        target = graph.label(node.id)
        names = {"out": target, "n": "n", "k": "0", "axes": ""}
        tex = {"out": tex_name(target), "n": "n", "k": "0", "axes": ""}
        for k, label in enumerate(labels):
            names[f"t{k}"], tex[f"t{k}"] = dot(label), tex_dot(label)
            if k < 2:
                names[f"x{k}"], tex[f"x{k}"] = label, tex_name(label)
        first: dict[int, int] = {}
        for k, a in enumerate(node.args):
            first.setdefault(a, k)
        arg_live = tuple(live[a] and first[a] == k for k, a in enumerate(node.args))
        note = ""
        units: tuple = ()
        scalar = node.shape == ()
        if op.partials is None:
            if node.op not in _structural_ops():
                raise UsageError(f"--mode forward --steps has no tangent rule for {node.op}")
            # a join keeps every argument (a dead one's tangent is written 0)
            arg_live = tuple(live[a] for a in node.args)
            note = _structural_note(node, labels, target, graph.nodes[node.args[0]].shape)
        else:
            try:
                syms = _symbolic_partials(ev, node, op)
            except Exception:  # a partial the text builder cannot follow: name it, do not fail
                syms = [words(f"{node.op}'") for _ in node.args]
            merged: dict[int, Scalar] = {}
            for k, a in enumerate(node.args):
                merged[a] = syms[k] if a not in merged else add(merged[a], syms[k])
            unit_list = []
            for k, a in enumerate(node.args):
                sym = merged[a]
                unit_list.append(sym.num if sym.num in (1.0, -1.0) else 0.0)
                if not arg_live[k] or sym.num in (1.0, -1.0):
                    continue
                if len(node.args) == 1 and node.op != "neg":  # an elementwise function: σ'(z)
                    prime, tex_prime = prime_names(node.op)
                    names["p0"] = f"{prime}({labels[0]})"
                    tex["p0"] = f"{tex_prime}({tex_name(labels[0])})"
                    note = f"{names['p0']} = {sym.text.replace('*', ' ∘ ' if not scalar else ' · ')}"
                else:
                    names[f"p{k}"] = sym.text if _simple(sym.text) else f"({sym.text})"
                    tex[f"p{k}"] = names[f"p{k}"].replace("*", r" \cdot ").replace("#", r"\#")
            units = tuple(unit_list)
            spread = [f"{dot(labels[k])} is broadcast from {_shape(graph.nodes[a].shape)} to {_shape(node.shape)}"
                      for k, a in enumerate(node.args) if arg_live[k] and graph.nodes[a].shape != node.shape]
            note = "; ".join(([note] if note else []) + spread)
        found[node.id] = NodeRule(node.id, tuple(a for a, ok in zip(node.args, arg_live) if ok), arg_live, names,
                                  tex, note, op.partials is not None, scalar, units)
    return found


def _structural_note(node, labels: list, target: str, arg_shape: tuple) -> str:
    """What a structural rule's letters stand for: n for a mean, the output for inv and solve."""
    if node.op in ("mean", "var", "std"):
        n = 1
        for d in (arg_shape if node.param is None else (arg_shape[node.param],)):
            n *= d
        return f"n = {n}"
    if node.op == "inv":
        return f"{target} = {labels[0]}⁻¹"
    if node.op == "solve":
        return f"{target} solves {labels[0]} {target} = {labels[1]}"
    return ""


def _structural_ops() -> set:
    from ..core import rules

    return set(rules.TANGENTS) | set(rules.JOINS)


def _shape(shape: tuple) -> str:
    from ..core.rules import shape_text

    return shape_text(shape)


def terms(ev: Evaluation, rule: NodeRule, live: Optional[tuple] = None) -> list:
    """The rule's terms; with `live`, only the arguments live there (this pass's non-zero tangents)."""
    from ..core import rules

    node = ev.graph.nodes[rule.node]
    live = rule.live if live is None else live
    if rule.elementwise:
        return rules.elementwise_terms(rule.units, live, rule.scalar)
    shapes = tuple(ev.graph.nodes[a].shape for a in node.args)
    found = rules.tangent_terms(node.op, shapes, node.param, live)
    assert found is not None, node.op  # node_rules refuses ops without a tangent rule
    return found


def environment(ev: Evaluation, rule: NodeRule, tangents: Optional[list] = None) -> dict:
    """The values the rule reads at the point (ones of the right shapes without `tangents`,
    enough for the shapes note)."""
    import numpy as np

    from ..backends.arrays import ARRAY
    from ..core import rules
    from ..core.engine import safe_partials

    graph = ev.graph
    node = graph.nodes[rule.node]
    op = OPS[node.op]
    if tangents is None:
        xs = [np.ones(graph.nodes[a].shape) for a in node.args]
        out = np.ones(node.shape)
        ts = [np.ones(graph.nodes[a].shape) for a in node.args]
        partials = [np.ones(node.shape) for _ in node.args] if rule.elementwise else None
    else:
        xs = [np.asarray(ev.values[a], dtype=float) for a in node.args]
        out = np.asarray(ev.values[node.id], dtype=float)
        ts = [np.asarray(tangents[a], dtype=float) for a in node.args]
        partials = None
        if rule.elementwise:
            with np.errstate(all="ignore"):
                local = safe_partials(ARRAY, 0 if op.variadic else len(xs), op.partials, xs, out)
            partials = [np.broadcast_to(np.asarray(p, dtype=float), out.shape) for p in local]
            for k, a in enumerate(node.args):  # x*x: the argument's partials add up (its first position)
                j = node.args.index(a)
                if j != k:
                    partials[j] = partials[j] + partials[k]
    with np.errstate(all="ignore"):
        return rules.tangent_environment(node.op, xs, out, ts, node.param, partials)


def rule_value(ev: Evaluation, rule: NodeRule, tangents: list):
    """The printed rule evaluated at the point with this pass's tangents (for the tests)."""
    from ..core import rules

    return rules.tangent_value(rules.total_of(terms(ev, rule)), environment(ev, rule, tangents))


# ---- the passes ------------------------------------------------------------------------------
def seeds(ev: Evaluation) -> list[tuple[str, Optional[tuple]]]:
    """Every pass forward mode ran: (input, element) in order (a scalar input: element None)."""
    from ..core.elements import elements

    out = []
    for name in ev.wrt:
        out += [(name, index) for _, index in elements(name, ev.env[name])]
    return out


def seed_label(name: str, index: Optional[tuple]) -> str:
    return name if index is None else f"{name}[{','.join(map(str, index))}]"


def _unit(index: tuple) -> str:
    """E₀₁ (a matrix with 1 at [0, 1]), e₂ (a vector with 1 at [2])."""
    sep = "," if any(i > 9 for i in index) else ""
    sub = sep.join(str(i).translate(_SUBSCRIPT) for i in index)
    return ("e" if len(index) == 1 else "E") + sub


def _reached(ev: Evaluation, start: int) -> list[bool]:
    reached = [False] * len(ev.graph.nodes)
    reached[start] = True
    for node in ev.graph.nodes:
        if not reached[node.id] and any(reached[a] for a in node.args):
            reached[node.id] = True
    return reached


def array_steps(ev: Evaluation) -> list[dict]:
    """The first `PASS_LIMIT` passes (or the ``--seed NAME[i,j]`` one) as data: the seed,
    then each node the seed reaches, with its rule, shapes, and the engine's tangent."""
    from ..backends.dual import tangent
    from ..core import rules
    from ..run.evaluate import tangent_pass

    graph = ev.graph
    rules_by_node = node_rules(ev)
    every = seeds(ev)
    if ev.seed_index is not None:
        chosen = [k for k, s in enumerate(every) if s == (ev.wrt[0], ev.seed_index)]
    else:
        chosen = list(range(min(len(every), PASS_LIMIT)))
    shapes = {i: rules.tangent_shapes(terms(ev, r), environment(ev, r)) for i, r in rules_by_node.items()}
    passes = []
    for k in chosen:
        name, index = every[k]
        tangents = [tangent(v) for v in tangent_pass(ev, name, index)]
        reached = _reached(ev, graph.names[name])
        nodes = []
        for i, r in rules_by_node.items():
            if not reached[i]:
                continue
            whole = rules.total_of(terms(ev, r))
            entry = {"node": graph.label(i), "id": i, "shape": list(graph.nodes[i].shape),
                     "rule": whole.text(r.names), "latex": whole.text(r.tex, latex=True),
                     "shapes": shapes[i], "note": r.note}
            here = tuple(ok and reached[a] for ok, a in zip(r.live, graph.nodes[i].args))
            if here != r.live:
                zero = [graph.label(a) for ok, a in zip(r.live, graph.nodes[i].args) if ok and not reached[a]]
                entry["active"] = rules.total_of(terms(ev, r, here)).text(r.names)
                entry["active_latex"] = rules.total_of(terms(ev, r, here)).text(r.tex, latex=True)
                entry["zero"] = list(dict.fromkeys(zero))
            entry["tangent"] = tangents[i]
            nodes.append(entry)
        seed_values = {n: tangents[graph.names[n]] for n in ev.inputs}
        passes.append({"seed": seed_label(name, index), "input": name,
                       "index": None if index is None else list(index), "pass": k + 1, "passes": len(every),
                       "seeds": seed_values, "nodes": nodes, "derivative": tangents[graph.output]})
    return passes


def _value(x: object, digits: int, full: bool, indent: int, array_digits: Optional[int] = None) -> str:
    from .explain import _array_num

    return _array_num(x, digits, full, indent, array_digits)


def array_steps_text(ev: Evaluation, digits: int = 10, full: bool = False, array_digits: Optional[int] = None) -> str:
    out = ev.output_name
    every = seeds(ev)
    data = array_steps(ev)
    lines = ["Forward mode: one tangent pass per input element, each node's tangent in matrix form.",
             "(Nodes the seeded element does not reach keep tangent 0 and are left out.)"]
    for p in data:
        start = []
        for n in ev.inputs:
            if n in ev.data:  # integer data: no tangent at all
                continue
            if n != p["input"]:
                start.append(f"{dot(n)} = 0")
            elif p["index"] is None:
                start.insert(0, f"{dot(n)} = 1")
            else:
                start.insert(0, f"{dot(n)} = {_unit(tuple(p['index']))} (1 at {p['seed']})")
        lines.append(f"Forward pass {p['pass']} of {p['passes']}: start with {', '.join(start)}:")
        for n in p["nodes"]:
            head = f"  {dot(n['node'])} = "
            pad = " " * (columns(head) - 2)
            lines.append(f"{head}{n['rule']}  ({n['shapes']})" + (f"   {n['note']}" if n["note"] else ""))
            if "active" in n:
                zero = ", ".join(f"{dot(z)}" for z in n["zero"])
                lines.append(f"{pad}= {n['active']}   ({zero} = 0 in this pass)")
            lines.append(f"{pad}= {_value(n['tangent'], digits, full, len(pad) + 2, array_digits)}")
        lines.append(f"  so ∂{out}/∂{p['seed']} = {dot(out)} = "
                     f"{_value(p['derivative'], digits, full, 0, array_digits)}")
    if ev.seed_index is None and len(every) > len(data):
        name, index = every[len(data)]
        lines.append(f"({len(every) - len(data)} more passes not shown; --seed NAME[i,j] shows one, "
                     f"e.g. --seed '{seed_label(name, index)}')")
    one = ev.wrt[0] if len(ev.wrt) == 1 and len(getattr(ev.env[ev.wrt[0]], "shape", ())) else None
    lines.append(f"Forward mode took {ev.passes} pass{'es' if ev.passes != 1 else ''}, "
                 + (f"one per element of {one}" if one else "one per input element")
                 + "; reverse mode gets every input's derivative in one backward pass.")
    return "\n".join(lines)


def array_steps_json(ev: Evaluation) -> list[dict]:
    from ..core.fmt import json_value

    data = array_steps(ev)
    for p in data:
        p["derivative"] = json_value(p["derivative"])
        p["seeds"] = {n: json_value(v) for n, v in p["seeds"].items()}
        for n in p["nodes"]:
            n["tangent"] = json_value(n["tangent"])
    return data


#: LaTeX writes out arrays with at most this many entries (a bmatrix); larger ones by shape
LATEX_ENTRIES = 64


def _tex_value(x: object, digits: int) -> str:
    import numpy as np

    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        return number(float(a), digits)
    if a.size > LATEX_ENTRIES or a.ndim > 2:
        return rf"\text{{({_shape(a.shape)} array)}}"
    rows = a.reshape(-1, 1) if a.ndim == 1 else a  # a vector is a column
    body = r" \\ ".join(" & ".join(number(float(v), digits) for v in row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def array_steps_latex(ev: Evaluation, digits: int = 10) -> str:
    """The passes as LaTeX: per pass a comment naming the seed and an ``align*`` of the rules."""
    blocks = []
    out = ev.output_name
    for p in array_steps(ev):
        rows = []
        for n in ev.inputs:
            if n == p["input"] and p["index"] is not None:
                sub = ",".join(map(str, p["index"]))
                rows.append(f"{tex_dot(n)} &= {'e' if len(p['index']) == 1 else 'E'}_{{{sub}}}")
            else:
                rows.append(f"{tex_dot(n)} &= {1 if n == p['input'] else 0}")
        for n in p["nodes"]:
            row = f"{tex_dot(n['node'])} &= {n['latex']}"
            if "active" in n:
                row += f" = {n['active_latex']}"
            rows.append(row + f" = {_tex_value(n['tangent'], digits)}")
        rows.append(rf"\frac{{\partial {tex_name(out)}}}{{\partial {tex_name(p['input'])}"
                    + (f"_{{{','.join(map(str, p['index']))}}}" if p["index"] is not None else "")
                    + f"}} &= {tex_dot(out)} = {_tex_value(p['derivative'], digits)}")
        blocks.append(f"% Forward pass {p['pass']} of {p['passes']}: seed {p['seed']}\n"
                      "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    return "\n".join(blocks)


__all__ = ["array_steps", "array_steps_text", "array_steps_json", "array_steps_latex", "node_rules", "rule_value",
           "seeds", "tex_dot", "tex_name"]
