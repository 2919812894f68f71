"""Forward evaluation and reverse-mode backpropagation over a `Graph`.

`Tape` compiles a graph once into flat per-node instructions for a backend (each
node's forward function and the partials of the arguments an input reaches).  Then

* `Tape.forward` is a loop in evaluation order filling ``values[i]``;
* `Tape.backward` is the reverse walk: it seeds ``adjoint[output] = 1`` and, for
  each node from last to first, adds ``adjoint[node] * ∂node/∂arg`` to each argument's
  adjoint (``+=``, so fan-out sums), exactly the sweep of the lecture notes;
* `Tape.jvp` is the forward-mode twin: one tangent pass seeded at one input.

Neither walk recurses, so a chain 10^6 deep is as easy as a wide sum.  Domain errors
(``log(-1)``) and overflow surface as `MathError` naming the node, its operation and
its input values.  An *infinite derivative* (sqrt at 0) is not an error: the partial
is recomputed with IEEE semantics and the gradient reports inf, with a note.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from .backends import IEEE, SCALAR, ieee
from .errors import MathError
from .graph import CONST, INPUT, Graph
from .ops import OPS

_isfinite = math.isfinite


class Tape:
    """A graph compiled for evaluation on Python floats."""

    def __init__(self, graph: Graph, backend=SCALAR) -> None:
        self.graph = graph
        self.backend = backend
        nodes = graph.nodes
        self.n = len(nodes)
        self.live = graph.depends_on_input()
        #: forward instructions (i, f, args) for computed nodes
        self.code: list[tuple] = []
        #: backward instructions (i, kind, args, partials) for nodes an input reaches;
        #: kind is the arity, or 0 for variadic ops whose partials are one function;
        #: partials[k] is None when no input reaches argument k
        self.reverse_code: list[tuple] = []
        live = self.live
        for node in nodes:
            if node.op in (INPUT, CONST):
                continue
            op = OPS[node.op]
            self.code.append((node.id, getattr(backend, node.op), node.args))
            if not live[node.id]:
                continue
            if op.variadic:
                kind, parts = 0, op.partials
            else:
                kind = len(node.args)
                parts = tuple(p if live[a] else None for p, a in zip(op.partials, node.args))  # type: ignore[arg-type]
            self.reverse_code.append((node.id, kind, node.args, parts))
        self.reverse_code.reverse()

    # ---- forward --------------------------------------------------------------------
    def forward(self, env: dict[str, float]) -> list:
        """Values of every node, given input values by name."""
        graph = self.graph
        values: list = [None] * self.n
        for node in graph.nodes:
            if node.op == INPUT:
                values[node.id] = env[node.name]  # type: ignore[index]
            elif node.op == CONST:
                values[node.id] = node.param
        i = -1
        try:
            for i, f, args in self.code:
                if len(args) == 2:
                    values[i] = f(values[args[0]], values[args[1]])
                elif len(args) == 1:
                    values[i] = f(values[args[0]])
                else:
                    values[i] = f(*[values[a] for a in args])
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            raise _math_error(graph, values, i, exc) from None
        if not all(map(_isfinite, values)):
            first = next(k for k, v in enumerate(values) if not _isfinite(v))
            raise _math_error(graph, values, first, None)
        return values

    # ---- reverse mode ---------------------------------------------------------------
    def backward(self, values: Sequence, seed: float = 1.0, output: Optional[int] = None) -> list:
        """Adjoints ∂output/∂node of every node (0 for nodes no input reaches)."""
        out = self.graph.output if output is None else output
        adjoint = [0.0] * self.n
        adjoint[out] = seed
        m = self.backend
        for i, kind, args, parts in self.reverse_code:
            if i > out:
                continue
            g = adjoint[i]
            try:
                if kind == 2:
                    a, b = args
                    pa, pb = parts
                    if pa is not None:
                        adjoint[a] += g * (pa if pa.__class__ is float else pa(m, values[a], values[b], values[i]))
                    if pb is not None:
                        adjoint[b] += g * (pb if pb.__class__ is float else pb(m, values[a], values[b], values[i]))
                elif kind == 1:
                    (pa,) = parts
                    a = args[0]
                    adjoint[a] += g * (pa if pa.__class__ is float else pa(m, values[a], values[i]))
                else:
                    for a, p in zip(args, parts(m, [values[a] for a in args], values[i])):
                        adjoint[a] += g * p
            except (ValueError, ZeroDivisionError, OverflowError):
                self._backward_ieee(i, kind, args, parts, values, adjoint, g)
        return adjoint

    def _backward_ieee(self, i, kind, args, parts, values, adjoint, g) -> None:
        """The same step with IEEE arithmetic: an infinite partial becomes inf, not an error."""
        local = local_partials(IEEE, kind, parts, [ieee(values[a]) for a in args], ieee(values[i]))
        for a, p in zip(args, local):
            if p is not None:
                adjoint[a] = float(adjoint[a] + ieee(g) * p)

    # ---- forward mode ---------------------------------------------------------------
    def jvp(self, values: Sequence, seeds: dict[int, float]) -> list:
        """Tangents ∂node/∂(seeded direction) of every node: one forward-mode pass."""
        tangent = [0.0] * self.n
        for k, t in seeds.items():
            tangent[k] = t
        m = self.backend
        for i, kind, args, parts in reversed(self.reverse_code):
            xs = [values[a] for a in args]
            try:
                local = local_partials(m, kind, parts, xs, values[i])
            except (ValueError, ZeroDivisionError, OverflowError):
                local = local_partials(IEEE, kind, parts, [ieee(x) for x in xs], ieee(values[i]))
            total = 0.0
            for a, p in zip(args, local):
                if p is not None and tangent[a]:
                    total = total + p * tangent[a]
            tangent[i] = float(total)
        return tangent


def local_partials(m, kind: int, parts, xs: list, out) -> list:
    """∂node/∂arg for each argument (None where no input reaches the argument)."""
    if not kind:
        return parts(m, xs, out)
    return [None if p is None else (p if p.__class__ is float else p(m, *xs, out)) for p in parts]


def _fmt(x: object) -> str:
    from .fmt import number

    return number(x)


def _math_error(graph: Graph, values: Sequence, i: int, exc: Optional[BaseException]) -> MathError:
    """A message naming node `i`, its operation and its input values."""
    node = graph.nodes[i]
    if node.op == INPUT:
        return MathError(f"input {node.name} = {_fmt(values[i])} is not a finite number")
    op = OPS[node.op]
    shown_args = ", ".join(
        f"{graph.label(a)} = {_fmt(values[a])}" if graph.nodes[a].op != CONST else graph.label(a)
        for a in node.args
    )
    if exc is None or isinstance(exc, OverflowError):
        result = values[i]
        why = "the result overflows a 64-bit float" if exc is not None or result != result or math.isinf(result) else "non-finite result"
        if exc is None and result != result:
            why = "the result is not a number (nan)"
        elif exc is None:
            why = f"the result overflows to {_fmt(result)}"
    else:
        why = op.domain or str(exc)
    return MathError(f"node {graph.label(i)} = {graph.definition(i)} ({op.name}) with {shown_args}: {why}")
