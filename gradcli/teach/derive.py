"""Derivatives without a point: the reverse sweep done in symbols, as the notes do by hand.

For e = (a+b)(b+1) the sweep reads ``ē = 1``, ``c̄ = ē·∂e/∂c = d``, ``d̄ = c``,
``ā = c̄ = b + 1``, ``b̄ = c̄ + d̄ = (b + 1) + (a + b)``, simplified to ``a + 2*b + 1``.

Each local partial is the op row's own partial (`gradcli.core.ops`), called on the
SymPy backend with the nodes' labels as symbols, so the formulas are the ones the
engine computes with; adjoints accumulate in reverse evaluation order (a loop, no
recursion), and each is then written in the inputs by substituting the nodes'
definitions.  Formulas are printed in gradcli's own language (`to_gradcli`), which
gradcli parses back: kinks use its conventions (relu' is ``(x > 0)``, a tie in
``max`` splits evenly), never SymPy's ``Heaviside``.

Scalar programs only; SymPy is imported only here.
"""

from __future__ import annotations

import re

from typing import Any, Optional

from ..backends.sympy import exact_constant, exact_rational, sympy_backend
from ..core.errors import GradcliError, MathError, UsageError
from ..core.fmt import columns
from ..core.graph import CONST, INPUT, Graph
from ..core.ops import OPS
from .edges import _bar

#: graphs larger than this are not derived symbolically
NODE_LIMIT = 400


class Contribution:
    """``to̅ += from̅ · ∂from/∂to``, in node labels."""

    __slots__ = ("to", "source", "partial", "term")

    def __init__(self, to: str, source: str, partial: Any, term: Any) -> None:
        self.to, self.source, self.partial, self.term = to, source, partial, term


class Derivation:
    """The symbolic sweep: per node its contributions, its adjoint in labels and in inputs."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        #: (node label, definition, contributions it sends), in reverse evaluation order
        self.steps: list[tuple[str, str, list[Contribution]]] = []
        #: label -> adjoint in node labels / in the inputs
        self.in_labels: dict[str, Any] = {}
        self.in_inputs: dict[str, Any] = {}
        #: input -> the simplified derivative (filled by `simplify`)
        self.simplified: dict[str, Any] = {}
        self.wrt: list[str] = []
        #: input -> its derivative in the program's own named steps (``(o - t)*v1*h1*(1 - h1)*x1``)
        self.in_steps: dict[str, Any] = {}
        #: the named steps, in evaluation order: (name, definition in inputs and earlier steps)
        self.step_definitions: list[tuple[str, Any]] = []
        #: each named step's definition as the program writes it (``h1 = sigmoid(a1)``)
        self.step_texts: dict[str, str] = {}
        #: input -> the simplified derivative in the steps (filled by `simplify`)
        self.steps_simplified: dict[str, Any] = {}


#: ops whose derivative has no point-free formula: windows (a correlation, a routing of whole
#: arrays) and integer data (rows and columns picked by the values of idx and y)
NO_POINT_FREE = {"conv2d": "its adjoint is a correlation or a routing of whole arrays",
                 "conv1d": "its adjoint is a correlation or a routing of whole arrays",
                 "maxpool2d": "its adjoint is a correlation or a routing of whole arrays",
                 "avgpool2d": "its adjoint is a correlation or a routing of whole arrays",
                 "gather": "its derivative picks rows by the values of integer data",
                 "pick": "its derivative picks columns by the values of integer data",
                 "onehot": "its value is made of integer data"}


def refuse_no_point_free(graph: Graph) -> None:
    """One clear refusal for the first op (in program order) whose derivative has no formula
    without a point: ``gradcli eval --steps`` prints its rule with its numbers instead."""
    for n in graph.nodes:
        why = NO_POINT_FREE.get(n.op)
        if why is not None:
            shown = "x[idx]" if n.op == "gather" else n.op
            raise UsageError(f"gradcli diff has no point-free formula for {shown} (node {graph.label(n.id)} = "
                             f"{graph.definition(n.id)}): {why}; gradcli eval --steps prints the rule with its numbers")


def derive(graph: Graph, wrt: Optional[list[str]] = None) -> Derivation:
    """Run the reverse sweep in symbols over `graph` (scalar nodes only)."""
    import sympy as sp

    if len(graph.nodes) > NODE_LIMIT:
        raise UsageError(f"gradcli diff takes programs of up to {NODE_LIMIT} nodes; this one has {len(graph.nodes)}")
    from ..core.errors import ShapeError
    from ..core.shapes import infer_shapes

    try:  # without a point every input is a scalar
        infer_shapes(graph, {graph.nodes[i].name: 0.0 for i in graph.inputs})
    except ShapeError as exc:
        raise UsageError(f"gradcli diff takes every input as a scalar, and then {exc.message}") from None
    arrays = [graph.label(n.id) for n in graph.nodes if n.shape not in ((), None)]
    if arrays:
        raise UsageError("gradcli diff derives scalar programs; for vectors and matrices use "
                         "'gradcli eval … --steps' at a point")
    tensor_ops = [n for n in graph.nodes if n.op not in (INPUT, CONST) and not OPS[n.op].elementwise]
    if tensor_ops:  # sum(x), x @ y of scalars: shapes allow them, but they have no scalar partials
        n = tensor_ops[0]
        raise UsageError(f"gradcli diff takes every input as a scalar, and then node {graph.label(n.id)} = "
                         f"{graph.definition(n.id)} ({n.op}) is an array operation; use 'gradcli eval … --steps' "
                         "at a point")
    inputs = [graph.nodes[i].name or "" for i in graph.inputs]
    chosen = list(dict.fromkeys(wrt)) if wrt else inputs
    unknown = [n for n in chosen if n not in inputs]
    if unknown:
        raise UsageError(f"--wrt {','.join(unknown)}: not an input of the program (inputs: {', '.join(inputs) or 'none'})")
    m = sympy_backend()
    labels = [graph.label(n.id) for n in graph.nodes]
    sym: list[Any] = []
    definition: list[Any] = []  # each node in the inputs
    for node in graph.nodes:
        if node.op == CONST:
            c = exact_constant(node.text)
            sym.append(c)
            definition.append(c)
            continue
        s = sp.Symbol(labels[node.id], real=True)
        sym.append(s)
        if node.op == INPUT:
            definition.append(s)
        else:
            f = getattr(m, node.op)
            args = [definition[a] for a in node.args]
            definition.append(f(*args) if node.param is None else f(*args, node.param))
            _refuse_unreal_constant(graph, node.id, definition[-1])
    reaches = _reaches(graph, set(graph.nodes[graph.names[n]].id for n in chosen))
    d = Derivation(graph)
    d.wrt = chosen
    adjoint: list[Any] = [None] * len(graph.nodes)
    adjoint[graph.output] = sp.Integer(1)
    for node in reversed(graph.nodes):
        i = node.id
        if node.op in (INPUT, CONST) or adjoint[i] is None:
            continue
        op = OPS[node.op]
        xs = [sym[a] for a in node.args]
        if op.variadic and len(xs) == 2 and node.shape == ():
            # a tie splits evenly: ∂max(y, z)/∂y = (y > z) + 0.5·(y == z)
            sign = 1 if node.op == "max" else -1
            half = sp.Rational(1, 2)
            partials = [sp.Heaviside(sign * (xs[0] - xs[1]), half), sp.Heaviside(sign * (xs[1] - xs[0]), half)]
        else:
            partials = op.partials_at(m, xs, sym[i])
        sent: list[Contribution] = []
        for a, p in zip(node.args, partials):
            if not reaches[a]:
                continue
            p = exact_rational(p)  # the rows write 1.0, 0.5 and 1/ln 10: show 1, 1/2 and log(10)
            term = adjoint[i] * p
            adjoint[a] = term if adjoint[a] is None else adjoint[a] + term
            sent.append(Contribution(labels[a], labels[i], p, term))
        if sent:
            d.steps.append((labels[i], graph.definition(i), sent))
    subs = {sym[n.id]: definition[n.id] for n in reversed(graph.nodes) if n.op not in (INPUT, CONST)}
    named = {i for name, i in graph.names.items()
             if graph.nodes[i].op not in (INPUT, CONST) and graph.nodes[i].name == name}
    anonymous = {}  # an automatic node's definition in its arguments' symbols (steps stay named)
    for node in graph.nodes:
        if node.op in (INPUT, CONST) or node.id in named:
            continue
        f = getattr(m, node.op)
        args = [sym[a] for a in node.args]
        anonymous[sym[node.id]] = f(*args) if node.param is None else f(*args, node.param)
    inline: dict[int, str] = {}  # each node as text: named steps and inputs by name, the rest written out
    for node in graph.nodes:
        if node.op == INPUT or node.id in named:
            inline[node.id] = labels[node.id]
        elif node.op == CONST:
            inline[node.id] = node.text
        else:
            inline[node.id] = "(" + graph.definition(node.id, lambda a: inline[a]) + ")"
    for node in graph.nodes:
        if node.id in named:
            f = getattr(m, node.op)
            args = [sym[a] for a in node.args]
            own = f(*args) if node.param is None else f(*args, node.param)
            own = exact_rational(_substitute(own, anonymous))
            d.step_definitions.append((labels[node.id], own))
            texts = [graph.definition(node.id, lambda a: inline[a])]  # sigmoid(a1) stays sigmoid(a1)
            try:
                texts.append(to_gradcli(own, pieces=True))  # b1 + w11*x1 + w12*x2, without extra parentheses
            except UsageError:
                pass
            d.step_texts[labels[node.id]] = min(texts, key=len)
    for node in graph.nodes:
        if adjoint[node.id] is None or node.op == CONST:
            continue
        label = labels[node.id]
        d.in_labels[label] = adjoint[node.id]
        d.in_inputs[label] = _substitute(adjoint[node.id], subs)
    for name in chosen:
        if name not in d.in_inputs:  # the output does not depend on it
            d.in_labels[name] = d.in_inputs[name] = sp.Integer(0)
        d.in_steps[name] = exact_rational(_substitute(d.in_labels[name], anonymous))
    return d


def _refuse_unreal_constant(graph: Graph, i: int, value: Any) -> None:
    """A MathError for a step of constants outside its operation's domain (``log(-1)`` is
    ``I*pi`` to SymPy), as evaluation gives: gradcli's numbers are real."""
    if value.free_symbols:
        return
    import sympy as sp

    if value.is_extended_real is False or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        node = graph.nodes[i]
        raise MathError(f"node {graph.label(i)} = {graph.definition(i)} ({node.op}) is not a real number: "
                        "a constant outside its operation's domain")


def _substitute(expr: Any, subs: dict) -> Any:
    """Replace node symbols by their definitions until only inputs remain (a loop)."""
    for _ in range(len(subs) + 1):
        free = expr.free_symbols & subs.keys()
        if not free:
            return expr
        expr = expr.xreplace({s: subs[s] for s in free})
    return expr


def _reaches(graph: Graph, sources: set[int]) -> list[bool]:
    """Which nodes an input in `sources` reaches (their adjoints are the ones worth writing)."""
    live = [False] * len(graph.nodes)
    for node in graph.nodes:
        live[node.id] = node.id in sources or any(live[a] for a in node.args)
    return live


def simplify(d: Derivation, seconds: float, inputs: bool = True) -> None:
    """Simplify each input's derivative within `seconds` (what does not finish stays as it is).

    SymPy runs in the budget's child process; expressions come back pickled.
    """
    from ..oracles import budget

    formulas = {name: d.in_inputs[name] for name in d.wrt} if inputs else {}  # the step form alone is quick
    in_steps = {name: d.in_steps[name] for name in d.wrt if name in d.in_steps}

    def job(send: budget.Send) -> None:
        import sympy as sp

        for name, f in formulas.items():
            send((name, sp.simplify(f)))
        for name, f in in_steps.items():  # p*(1 - p)*((1 - t)/(1 - p) - t/p) is p - t
            send(("steps", name, sp.simplify(f)))

    for message in budget.run(job, seconds).messages:
        if len(message) == 2 and message[0] in formulas:
            d.simplified[message[0]] = message[1]
        elif len(message) == 3 and message[0] == "steps" and message[1] in in_steps:
            d.steps_simplified[message[1]] = message[2]


# ---- formulas in gradcli's own language --------------------------------------------------
def to_gradcli(expr: Any, pieces: bool = False) -> str:
    """`expr` written in gradcli's language, so that gradcli parses it back.

    With `pieces`, a piecewise form (where, elu, leaky_relu's branches) is written with
    gradcli's ``where(c, a, b)``; without, it is refused (UsageError) unless it is an
    indicator ``(x == y)``."""
    return _printer(pieces).doprint(expr)


_PRINTERS: dict[bool, Any] = {}


def _printer(pieces: bool = False) -> Any:
    if pieces not in _PRINTERS:
        _PRINTERS[pieces] = _make_printer(pieces)
    return _PRINTERS[pieces]


def _make_printer(pieces: bool = False) -> Any:
    import sympy as sp
    from sympy.printing.precedence import PRECEDENCE
    from sympy.printing.str import StrPrinter

    def comparison(u: Any, relation: str) -> str:
        """``(a > b)`` for u = a - b, else ``(u > 0)``; always in parentheses (comparisons
        bind more loosely than arithmetic)."""
        p = Printer()
        if isinstance(u, sp.Add) and len(u.args) == 2:
            a, b = u.args
            if _is_negated(b) and not _is_negated(a):
                return f"({p.doprint(a)} {relation} {p.doprint(-b)})"
            if _is_negated(a) and not _is_negated(b):
                return f"({p.doprint(b)} {relation} {p.doprint(-a)})"
        return f"({p.doprint(u)} {relation} 0)"

    class Printer(StrPrinter):  # type: ignore[misc]
        def _print_Pow(self, expr: Any, rational: bool = False) -> str:
            base, e = expr.as_base_exp()
            if e == sp.Rational(1, 2):
                return f"sqrt({self._print(base)})"
            if e == -1:
                return f"1/{self.parenthesize(base, PRECEDENCE['Mul'], strict=False)}"
            if e == sp.Rational(-1, 2):
                return f"1/sqrt({self._print(base)})"
            return f"{self.parenthesize(base, PRECEDENCE['Pow'], strict=True)}^" \
                   f"{self.parenthesize(e, PRECEDENCE['Pow'], strict=True)}"

        def _print_Heaviside(self, expr: Any) -> str:
            u = expr.args[0]
            h0 = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
            above = comparison(u, ">")
            if h0 == 0:
                return above
            if h0 == 1:
                return comparison(u, ">=")
            return f"({above} + {float(h0)!r}*{comparison(u, '==')})"

        def _print_Piecewise(self, expr: Any) -> str:
            pieces_ = expr.args
            if len(pieces_) == 2 and pieces_[1].cond == sp.true and pieces_[1].expr == 0:
                value, cond = pieces_[0].expr, pieces_[0].cond
                if isinstance(cond, sp.Eq):
                    test = f"({self._print(cond.lhs)} == {self._print(cond.rhs)})"
                    return test if value == 1 else f"{self.parenthesize(value, PRECEDENCE['Mul'])}*{test}"
            if pieces and len(pieces_) == 2 and pieces_[1].cond == sp.true and pieces_[1].expr == 0:
                test = self._condition(pieces_[0].cond)  # an indicator: 1 where the condition holds
                value = pieces_[0].expr
                return test if value == 1 else f"{self.parenthesize(value, PRECEDENCE['Mul'])}*{test}"
            if pieces and pieces_[-1].cond == sp.true:
                # where(c1, a1, where(c2, a2, b)): built from the last piece outwards (a loop)
                text = self._print(pieces_[-1].expr)
                for piece in reversed(pieces_[:-1]):
                    text = f"where({self._condition(piece.cond)[1:-1]}, {self._print(piece.expr)}, {text})"
                return text
            raise UsageError("this derivative has a piecewise form gradcli cannot write in its own language")

        def _condition(self, cond: Any) -> str:
            # SymPy joins the conditions of nested pieces with And/Or/Not/ITE (where(elu(x) > 0.2,
            # ...)); as indicators (1 or 0) they are a product, a max, 1 minus and a where
            if isinstance(cond, sp.ITE):
                test, then, other = (self._condition(c) for c in cond.args)
                return f"(where({test[1:-1]}, {then}, {other}))"
            if isinstance(cond, (sp.And, sp.Or)):
                parts = [self._condition(c) for c in cond.args]
                return f"({'*'.join(parts)})" if isinstance(cond, sp.And) else f"(max({', '.join(parts)}))"
            if isinstance(cond, sp.Not):
                return f"(1 - {self._condition(cond.args[0])})"
            relations = {sp.StrictGreaterThan: ">", sp.StrictLessThan: "<", sp.GreaterThan: ">=",
                         sp.LessThan: "<=", sp.Equality: "==", sp.Unequality: "!="}
            relation = relations.get(type(cond))
            if relation is None:
                raise UsageError("this derivative has a piecewise form gradcli cannot write in its own language")
            return f"({self._print(cond.lhs)} {relation} {self._print(cond.rhs)})"

        def _print_Max(self, expr: Any) -> str:
            return f"max({', '.join(self._print(a) for a in expr.args)})"

        def _print_Min(self, expr: Any) -> str:
            return f"min({', '.join(self._print(a) for a in expr.args)})"

        def _print_Abs(self, expr: Any) -> str:
            inner = expr.args[0]
            if inner.is_Pow and not inner.exp.is_integer:
                # |b^e| = |b|^e for real b (SymPy writes cbrt's |x|^(2/3) as |x^(2/3)|); in
                # gradcli's language b^e is an error for b < 0, so the abs goes on the base
                return self._print(sp.Pow(sp.Abs(inner.base), inner.exp, evaluate=False))
            return f"abs({self._print(inner)})"

        def _print_Exp1(self, expr: Any) -> str:
            return "exp(1)"

        def _print_Float(self, expr: Any) -> str:
            return repr(float(expr))

        def _print_Symbol(self, expr: Any) -> str:
            return str(expr.name)

    return Printer()


def _is_negated(x: Any) -> bool:
    return bool(x.could_extract_minus_sign())


# ---- the sweep as text --------------------------------------------------------------------
def formulas(d: Derivation) -> dict[str, str]:
    """∂out/∂input for each input, simplified where SymPy finished, in gradcli's language
    (SymPy's simplified form is used only where gradcli's language can write it), or the
    compact piecewise form (`compact_piecewise`) where that is shorter."""
    out = {}
    for name in d.wrt:
        text = None
        if name in d.simplified:
            try:
                text = to_gradcli(d.simplified[name])
            except UsageError:
                text = None
        if text is None:
            text = to_gradcli(d.in_inputs[name], pieces=True)
        for source in (d.simplified.get(name), d.in_inputs[name]):
            compact = None if source is None else compact_piecewise(source)
            if compact is None:
                continue
            try:
                candidate = to_gradcli(compact, pieces=True)
            except UsageError:
                continue
            if len(candidate) < len(text):
                text = candidate
        out[name] = text
    return out


def step_formulas(d: Derivation) -> Optional[tuple[list[str], dict[str, str]]]:
    """The derivatives in the program's own named steps, as the lecture writes them
    (``(o - t)*v1*h1*(1 - h1)*x1`` where the inputs-only form has a hundred nodes), with the
    steps they use as ``name = definition`` lines before them: together a gradcli program.
    None when no formula uses a named step (then the inputs-only form is the same)."""
    names = {name for name, _ in d.step_definitions}
    found, used = {}, set()
    for name in d.wrt:
        best = d.in_steps[name]
        texts = [to_gradcli(best, pieces=True)]
        if name in d.steps_simplified:
            try:
                texts.append(to_gradcli(d.steps_simplified[name], pieces=True))
            except UsageError:
                pass
        found[name] = min(texts, key=len)
        used |= {s for s in names if re.search(rf"(?<![\w.#]){re.escape(s)}(?![\w.#])", found[name])}
    if not used:
        return None
    needed = set(used)
    for step, definition in reversed(d.step_definitions):  # the steps a used step needs, too
        if step in needed:
            needed |= {str(s) for s in definition.free_symbols} & names
    where = [f"{step} = {d.step_texts[step]}" for step, _ in d.step_definitions if step in needed]
    return where, found


def compact_piecewise(expr: Any) -> Any:
    """`expr` with its one kink test ``(u > 0)`` (a Heaviside step that is 0 at 0: relu's,
    elu's, leaky_relu's) taken out as a branch: ``where(u > 0, A, B)``, or ``A*(u > 0)`` when B
    is 0.  A and B are `expr` with the test 1 and 0 and the pieces that test ``u > 0``
    (elu's ``where``, ``max(0, u)``) resolved the same way, so the form agrees with `expr` at
    every point, the kink included (there the test is 0, the same branch as u < 0).
    None when there is not exactly one such test."""
    import sympy as sp

    steps = expr.atoms(sp.Heaviside)
    if len(steps) != 1:
        return None
    step = next(iter(steps))
    u = step.args[0]
    if len(step.args) < 2 or step.args[1] != 0:
        return None
    above_zero = sp.StrictGreaterThan(u, 0)

    def branch(above: bool) -> Any:
        e = expr.xreplace({step: sp.Integer(1 if above else 0)})
        e = e.replace(lambda p: isinstance(p, sp.Piecewise) and len(p.args) == 2 and p.args[0].cond == above_zero
                      and p.args[1].cond == sp.true,
                      lambda p: p.args[0].expr if above else p.args[1].expr)
        e = e.replace(lambda p: isinstance(p, sp.Max) and set(p.args) == {sp.Integer(0), u},
                      lambda p: u if above else sp.Integer(0))
        return e

    high, low = branch(True), branch(False)
    if high.has(sp.Heaviside, sp.Piecewise) or low.has(sp.Heaviside, sp.Piecewise):
        return None
    if high == low:
        return high
    if low == 0:
        return sp.Mul(high, step)
    return sp.Piecewise((high, above_zero), (low, True))


def steps_text(d: Derivation) -> str:
    """The backward sweep in symbols, step by step, before any numbers."""
    graph = d.graph

    def _show(expr: Any) -> str:
        return to_gradcli(expr, pieces=True)

    out = graph.label(graph.output)
    lines = [f"Backward pass in symbols, in reverse evaluation order, starting from {_bar(out)} = 1:"]
    received: dict[str, list[str]] = {}
    for k, (label, definition, sent) in enumerate(d.steps, 1):
        head = f"{k:>3}. {label} = {definition}   "
        for j, c in enumerate(sent):
            prefix = head if j == 0 else " " * columns(head)
            local = _factor(_show(c.partial))
            upstream = _factor(_show(d.in_labels[c.source]))
            lines.append(f"{prefix}{_bar(c.to)} += {_bar(c.source)} · ∂{c.source}/∂{c.to} = "
                         f"{upstream} · {local} = {_show(c.term)}")
            received.setdefault(c.to, []).append(_show(c.term))
    lines.append("Each adjoint, in node labels and then in the inputs:")
    for node in reversed(graph.nodes):
        label = graph.label(node.id)
        if label not in d.in_labels or node.op == CONST:
            continue
        parts = received.get(label, [])
        summed = " + ".join(f"({p})" if len(parts) > 1 and (" + " in p or " - " in p) else p for p in parts)
        in_labels = _show(d.in_labels[label])
        in_inputs = _show(d.in_inputs[label])
        chain = [f"{_bar(label)}"]
        for text in (summed if len(parts) > 1 else "", in_labels, in_inputs):
            if text and _bare(text) != _bare(chain[-1]):
                chain.append(text)
        lines.append("     " + " = ".join(chain))
    final = formulas(d)
    lines.append("Gradient: " + ", ".join(f"∂{out}/∂{name} = {f}" for name, f in final.items()))
    return "\n".join(lines)


def _factor(text: str) -> str:
    """`text` as a factor of ``upstream · local``: a sum in parentheses (``(x + cos(c)) · y``,
    not ``x + cos(c) · y``, which reads as another formula)."""
    from .explain import _top_level_sum

    return f"({text})" if _top_level_sum(text) else text


def _bare(text: str) -> str:
    return text.replace("(", "").replace(")", "").replace(" ", "")


def latex(d: Derivation, in_steps: bool = False) -> dict[str, str]:
    """Each input's derivative as LaTeX (SymPy's printer); `in_steps`: in the named steps,
    as the text form (`step_formulas`) writes it."""
    import sympy as sp

    def shortest(name: str) -> object:
        forms = [d.steps_simplified.get(name), d.in_steps[name]]
        return min((f for f in forms if f is not None), key=lambda f: len(str(f)))

    if in_steps:
        return {name: sp.latex(shortest(name)) for name in d.wrt}
    return {name: sp.latex(d.simplified.get(name, d.in_inputs[name])) for name in d.wrt}


# ---- the whole derivation under one deadline ---------------------------------------------
class Written:
    """What `gradcli diff` prints for a scalar program: the formulas (in the program's steps
    after their `where` lines, or in the inputs), and the sweep and LaTeX if asked."""

    def __init__(self, formulas: dict[str, str], where: list[str], steps: Optional[str],
                 latex: Optional[dict[str, str]]) -> None:
        self.formulas, self.where, self.steps, self.latex = formulas, where, steps, latex


def derive_within(graph: Graph, wrt: Optional[list[str]], seconds: float, steps: bool = False,
                  tex: bool = False, expand: bool = False) -> Written:
    """`derive`, `simplify` and the printing, all within one budget of `seconds` (--sympy-timeout).

    Building and printing the expressions can take longer than simplifying them (named steps
    substituted into each other grow exponentially), so all of it runs in the budget's child.
    The unsimplified text is sent first, then again after each simplification; the last
    text received before the deadline is printed.  A UsageError when not even the first arrived.
    A program with named steps gets its formulas in those steps (`step_formulas`) unless
    `expand` asks for the inputs-only form.
    """
    from ..oracles import budget

    def job(send: budget.Send) -> None:
        import sympy as sp

        try:
            d = derive(graph, wrt)
        except GradcliError as exc:
            send(("refused", type(exc).__name__, exc.message))
            return

        def write() -> None:
            where, found = step_formulas(d) if stepwise else ([], formulas(d))  # type: ignore[misc]
            send(("written", found, where, steps_text(d) if steps else None, latex(d, stepwise) if tex else None))

        try:
            stepwise = not expand and step_formulas(d) is not None
            write()
        except GradcliError as exc:  # a form the language cannot write: one line, not a crash
            send(("refused", type(exc).__name__, exc.message))
            return
        for name in d.wrt:
            if stepwise:  # p*(1 - p)*((1 - t)/(1 - p) - t/p) is p - t
                if name in d.in_steps:
                    d.steps_simplified[name] = sp.simplify(d.in_steps[name])
            else:
                d.simplified[name] = sp.simplify(d.in_inputs[name])
            write()

    outcome = budget.run(job, seconds)
    written = None
    for message in outcome.messages:
        if message[0] == "refused":
            kind = MathError if message[1] == "MathError" else UsageError
            raise kind(message[2])
        if message[0] == "written":
            written = Written(message[1], message[2], message[3], message[4])
    if written is not None:
        return written
    if outcome.error:  # the derivation itself failed: a bug in gradcli
        raise RuntimeError(f"the symbolic derivation failed: {outcome.error}")
    raise UsageError(f"the derivatives did not come out within the --sympy-timeout of {seconds:g} s "
                     "(their formulas grow too large to write); give more seconds with --sympy-timeout")
