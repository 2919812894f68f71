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

import weakref

from ..core.errors import UsageError
from ..core.fmt import number
from ..core.graph import CONST, INPUT
from ..run.evaluate import Evaluation
from .edges import edge_partials, is_number
from .forward_arrays import PASS_LIMIT, array_steps, array_steps_latex, array_steps_text, dot, tex_dot, tex_name


def has_arrays(ev: Evaluation) -> bool:
    """Does any node hold a vector or matrix (then the passes are per element, in matrix form)?"""
    return any(n.shape not in ((), None) for n in ev.graph.nodes)


#: an evaluation -> the steps `check_forward_steps` built, for the next `forward_steps` to take
_CHECKED: "weakref.WeakKeyDictionary[Evaluation, tuple[object, list[dict]]]" = weakref.WeakKeyDictionary()


def check_forward_steps(ev: Evaluation) -> None:
    """Refuse what `forward_steps` cannot explain, before anything is printed; the steps it
    built are kept for the next `forward_steps` on `ev`, so they are built once."""
    _CHECKED[ev] = (ev.tangents, forward_steps(ev))


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
    if not ev.tangents:
        raise UsageError("forward-mode steps need --mode forward (a tangent pass per input)")
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


def forward_steps_text(ev: Evaluation, digits: int = 10, full: bool = False) -> str:
    """The tangent sweeps as text, one line per node (array programs: see `array_steps_text`)."""
    if has_arrays(ev):
        return array_steps_text(ev, digits, full)
    graph = ev.graph
    out = graph.label(graph.output)
    lines = []
    data = forward_steps(ev)
    for k, p in enumerate(data[:PASS_LIMIT], 1):
        seed = p["seed"]
        others = ", ".join(f"{dot(n)} = 0" for n in p["seeds"] if n != seed)
        lines.append(f"Forward pass {k} of {len(data)}: start with {dot(seed)} = 1"
                     + (f", {others}" if others else "") + ":")
        width = max((len(n["node"]) for n in p["nodes"]), default=1)
        for n in p["nodes"]:
            names = " + ".join(f"∂{n['node']}/∂{t['from']} · {dot(t['from'])}" for t in n["terms"])
            symbolic = " + ".join(f"{_factor(t['partial'])} · {number(t['tangent'], digits)}" for t in n["terms"])
            numeric = " + ".join(f"{number(t['partial_value'], digits)} · {number(t['tangent'], digits)}"
                                 for t in n["terms"])
            chain = [f"{dot(n['node']):<{width}} = {names}"]
            if symbolic != numeric:
                chain.append(symbolic)
            chain.append(numeric)
            chain.append(number(n["tangent"], digits))
            lines.append("  " + " = ".join(chain))
        lines.append(f"  so ∂{out}/∂{seed} = {dot(out)} = {number(p['derivative'], digits)}")
    if len(data) > PASS_LIMIT:
        lines.append(f"({len(data) - PASS_LIMIT} more passes not shown; --seed NAME shows one)")
    lines.append(f"Forward mode took {len(data)} pass{'es' if len(data) != 1 else ''}, one per input; "
                 "reverse mode gets every input's derivative in one backward pass.")
    return "\n".join(lines)


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


def _factor(text: str) -> str:
    return text if is_number(text) or all(ch.isalnum() or ch in "_." for ch in text) else f"({text})"
