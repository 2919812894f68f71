"""Forward mode by hand: the tangent sweep in evaluation order ("start with 1 at b").

Each pass seeds one input with tangent 1 and the others with 0; every node's tangent
then follows from its arguments' tangents and the local partials on its edges,
``ċ = ∂c/∂a · ȧ + ∂c/∂b · ḃ = 1 · 0 + 1 · 1 = 1``.  The partials are the edges' own
(`gradcli.teach.edges`, from the op rows) and the tangents are the engine's
(`Evaluation.tangents`), so the text is the computation.

Programs with vectors and matrices take one pass per seeded *element*
(``Ẇ = E₀₁``: 1 at W[0,1]) and write each node's tangent as the JVP in matrix form,
``v̇ = Ẇ x + W ẋ  (3×2 · 2 + 3×2 · 2 → 3)``: the tangent rules of `gradcli.core.rules`
(evaluated against the op rows' ``jvp`` in ``tests/test_rules.py``), with the engine's
dual-number tangents (`gradcli.run.evaluate.tangent_pass`) as the numbers.
"""

from __future__ import annotations

import re
import weakref
from operator import itemgetter
from typing import Optional

from ..core.errors import UsageError
from ..core.fmt import columns, number, number_formatter, pad_to
from ..core.graph import CONST, INPUT
from ..run.evaluate import Evaluation
from .edges import edge_partials, edge_rows, is_number
from .forward_arrays import PASS_LIMIT, array_steps, array_steps_latex, array_steps_text, dot, tex_dot, tex_name


def has_arrays(ev: Evaluation) -> bool:
    """Does any node hold a vector or matrix (then the passes are per element, in matrix form)?"""
    shapes = ev.graph.shapes
    return shapes.count(()) + shapes.count(None) != len(shapes)  # type: ignore[arg-type]


#: an evaluation -> the steps `check_forward_steps` built, for the next `forward_steps` to take
_CHECKED: "weakref.WeakKeyDictionary[Evaluation, tuple[object, list[dict]]]" = weakref.WeakKeyDictionary()


def check_forward_steps(ev: Evaluation) -> None:
    """Refuse what `forward_steps` cannot explain, before anything is printed.  On a program
    with arrays the steps it built are kept for the next `forward_steps` on `ev`, so they are
    built once; a scalar program's steps are written straight from the edges (`forward_steps_text`),
    so only what they need is checked."""
    if not has_arrays(ev):
        _check_scalar(ev)
        return
    _CHECKED[ev] = (ev.tangents, forward_steps(ev))


def _check_scalar(ev: Evaluation) -> None:
    """What `_build_forward_steps` refuses on a program of scalars: an evaluation not in
    forward mode.  A program no input reaches took no pass, and its steps are none (as a
    program of arrays' are)."""
    if ev.mode != "forward":
        raise UsageError("forward-mode steps need --mode forward (a tangent pass per input)")


def forward_steps(ev: Evaluation) -> list[dict]:
    """One pass per seeded input: its seed, then each node's tangent as a sum over its edges.

    On a program with arrays: the first `PASS_LIMIT` passes (one per seeded element), each
    node's tangent as its matrix-form JVP (see `array_steps`).  The caller owns the list."""
    kept = _CHECKED.pop(ev, None)
    if kept is not None and kept[0] is ev.tangents:
        return kept[1]
    return _build_forward_steps(ev)


def _build_forward_steps(ev: Evaluation) -> list[dict]:
    if ev.mode != "forward":
        raise UsageError("forward-mode steps need --mode forward (a tangent pass per input)")
    if has_arrays(ev):
        return array_steps(ev)
    _check_scalar(ev)
    graph = ev.graph
    incoming: dict[int, list] = {}
    for e in edge_partials(ev):
        incoming.setdefault(e.target, []).append(e)
    passes = []
    for seed, tangents in ev.tangents.items():
        nodes = []
        for node in graph.nodes:
            i = node.id
            if node.op in (INPUT, CONST) or i not in incoming:
                continue
            terms = [{"from": e.source_label, "partial": e.symbolic, "partial_value": e.value,
                      "tangent": float(tangents[e.source])} for e in incoming[i]]
            nodes.append({"node": graph.label(i), "id": i, "terms": terms, "tangent": float(tangents[i])})
        seeds = {name: (1.0 if name == seed else 0.0) for name in ev.inputs}
        passes.append({"seed": seed, "seeds": seeds, "nodes": nodes,
                       "derivative": float(tangents[graph.output])})
    return passes


def forward_steps_text(ev: Evaluation, digits: int = 10, full: bool = False,
                       array_digits: Optional[int] = None) -> str:
    """The tangent sweeps as text, one line per node (array programs: see `array_steps_text`).

    Written straight from the edges (as tuples, `edge_rows`) and the engine's tangents, as
    `forward_steps` has them, each thing made once: every tangent and every partial's value as
    text, in bulk, before the lines; a node's dotted label when it is written, then reused where
    the node is an argument; a partial's factor once per distinct text; a node of one argument
    (most of a chain) in one f-string, without the sums' pieces."""
    if has_arrays(ev):
        return array_steps_text(ev, digits, full, array_digits)
    _check_scalar(ev)
    graph = ev.graph
    out = graph.label(graph.output)
    num = number_formatter(digits)
    edges = edge_rows(ev)
    width = max(map(columns, map(_TARGET_LABEL, edges)), default=1)  # terminal columns (变量 takes 4)
    values = list(map(num, map(_VALUE, edges)))  # each partial as a number, for every pass
    after = list(map(_TARGET, edges))  # the next edge's node: where a node's terms end
    after.append(-1)
    del after[0]
    inputs = list(dict.fromkeys(ev.inputs))
    passes = list(ev.tangents.items())
    dotted: list = [None] * len(graph.ops)  # node id -> its dotted label, once written
    padded: list = [None] * len(graph.ops)  # node id -> its dotted label padded to `width` columns
    factors: dict[str, str] = {}  # a partial's text -> it as a factor (`_factor`)
    dots = _DOTTED
    lines: list[str] = []
    append = lines.append
    for k, (seed, tangents) in enumerate(passes[:PASS_LIMIT], 1):
        others = ", ".join(f"{_dot(n)} = 0" for n in inputs if n != seed)
        append(f"Forward pass {k} of {len(passes)}: start with {_dot(seed)} = 1" + (f", {others}" if others else "")
               + ":")
        shown = list(map(num, map(float, tangents)))  # node id -> its tangent as text
        summing = False  # inside a node with several arguments
        d = names_text = symbolic_text = numeric_text = ""
        for (source_id, target, source, node, partial, _, _, _), v, next_target in zip(edges, values, after):
            t = shown[source_id]
            ds = dotted[source_id]
            if ds is None:
                ds = dotted[source_id] = _dot(source)
            if "(" in partial:  # a call such as cos(x) (each its own text): neither bare nor a number
                f = f"({partial})"
            else:
                known = factors.get(partial)
                if known is None:
                    known = factors[partial] = _factor(partial)
                f = known
            if not summing:
                d = padded[target]
                if d is None:
                    d = dotted[target]
                    if d is None:  # `_dot` written out for an ASCII label whose last character's dot is known
                        last = dots.get(node[-1:]) if node.isascii() else None
                        d = dotted[target] = node[:-1] + last if last is not None else _dot(node)
                    d = padded[target] = pad_to(d, width)
                if next_target != target:  # one argument (a chain's commonest node)
                    if f == v:
                        append(f"  {d} = ∂{node}/∂{source} · {ds} = {v} · {t} = {shown[target]}")
                    else:
                        append(f"  {d} = ∂{node}/∂{source} · {ds} = {f} · {t} = {v} · {t} = "
                               f"{shown[target]}")
                    continue
                summing = True  # the first term of a sum
                names_text, symbolic_text, numeric_text = f"∂{node}/∂{source} · {ds}", f"{f} · {t}", f"{v} · {t}"
                continue
            names_text += f" + ∂{node}/∂{source} · {ds}"
            symbolic_text += f" + {f} · {t}"
            numeric_text += f" + {v} · {t}"
            if next_target == target:
                continue
            summing = False  # the sum's last term
            if symbolic_text != numeric_text:
                append(f"  {d} = {names_text} = {symbolic_text} = {numeric_text} = {shown[target]}")
            else:
                append(f"  {d} = {names_text} = {numeric_text} = {shown[target]}")
        append(f"  so ∂{out}/∂{seed} = {_dot(out)} = {num(float(tangents[graph.output]))}")
    if len(passes) > PASS_LIMIT:
        append(f"({len(passes) - PASS_LIMIT} more passes not shown; --seed NAME shows one)")
    append(f"Forward mode took {len(passes)} pass{'es' if len(passes) != 1 else ''}, one per input; "
           "reverse mode gets every input's derivative in one backward pass.")
    return "\n".join(lines)


#: an edge -> its node, its node's label, its partial's value
_TARGET, _TARGET_LABEL, _VALUE = itemgetter(1), itemgetter(3), itemgetter(5)


def _dot(label: str) -> str:
    """`dot`: an ASCII label takes its last character's composed dot from a table (NFC composes
    the dot with that character only), anything else is normalised."""
    if label.isascii() and label:
        last = _DOTTED.get(label[-1])
        if last is None:
            last = _DOTTED[label[-1]] = dot(label[-1])
        return label[:-1] + last
    return dot(label)


#: an ASCII character with the dot above, composed (``x`` -> ``ẋ``)
_DOTTED: dict[str, str] = {}


def forward_steps_latex(ev: Evaluation, digits: int = 10) -> str:
    """The tangent sweeps as LaTeX: one ``align*`` per pass shown, a comment naming its seed."""
    if has_arrays(ev):
        return array_steps_latex(ev, digits)

    blocks = []
    data = forward_steps(ev)
    for k, p in enumerate(data[:PASS_LIMIT], 1):
        rows = [f"{tex_dot(name)} &= {number(v, digits)}" for name, v in p["seeds"].items()]
        for n in p["nodes"]:
            names = " + ".join(rf"\frac{{\partial {tex_name(n['node'])}}}{{\partial {tex_name(t['from'])}}}"
                               rf"\,{tex_dot(t['from'])}" for t in n["terms"])
            numeric = " + ".join(f"{number(t['partial_value'], digits)} \\cdot {number(t['tangent'], digits)}"
                                 for t in n["terms"])
            rows.append(f"{tex_dot(n['node'])} &= {names} = {numeric} = {number(n['tangent'], digits)}")
        blocks.append(f"% Forward pass {k} of {len(data)}: seed {p['seed']}\n"
                      "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    return "\n".join(blocks)


#: a factor that needs no brackets: letters, digits (any script's, as `str.isalnum`), "_" and "."
_BARE = re.compile(r"[\w.]*")


def _factor(text: str) -> str:
    return text if _BARE.fullmatch(text) or is_number(text) else f"({text})"
