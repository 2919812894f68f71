"""Derivatives of array programs as matrix formulas: the reverse sweep in symbols, with shapes.

For the layer ``z = W@x + b; h = sigmoid(z); s = dot(u, h)`` the sweep reads as the
notes write it: ``s̄ = 1``, ``h̄ = u``, ``z̄ = u * h * (1 - h)`` (the lecture's δ),
``b̄ = z̄``, ``W̄ = outer(z̄, x)``, ``x̄ = transpose(W) @ z̄``, ``ū = h``.

Shapes come from the program's point (only the shapes of its values are used).  Each
adjoint is an expression in gradcli's own language over the nodes' names and the
adjoints' names (``dz`` for z̄), built in reverse evaluation order (a loop, no
recursion): "downstream += upstream × local", summed where a node feeds several
others.  An elementwise op's local partial is the op row's own partial (`gradcli.core.ops`)
on the SymPy backend, printed by `derive.to_gradcli`; gradcli broadcasts elementwise,
so ``h*(1 - h)`` is valid for vectors, and a scalar that was broadcast gets the
``sum`` of its contributions.  A structural op (``@``, ``dot``, ``sum``, ``softmax``,
indexing, ...) gets its matrix rule, written in gradcli syntax (``outer(dz, x)``,
``transpose(W) @ dz``).  An op without such a rule falls back to elementwise formulas:
each element of the argument's adjoint is a scalar formula, from SymPy's derivative
of that op's own forward form on symbol arrays, with a note naming the op.

The forward steps (the "where" lines) and the adjoint lines together form a gradcli
program, so every formula parses back.  SymPy is imported only here (lazily).
"""

from __future__ import annotations

from typing import Any, Optional

from ..core.errors import UsageError
from ..core.fmt import columns, tex_bar
from ..core.formula import ATOM, POW, PROD, SUM
from ..core.formula.sweep import Derived as F
from ..core.formula.sweep import add, call, matmul, mul, name, neg, num, sub, transpose
from ..core.graph import CONST, INPUT, Graph
from ..core.ops import CONSTANTS, FUNCTIONS, OPS
from .derive import refuse_no_point_free

#: graphs larger than this are not derived symbolically
NODE_LIMIT = 400
#: an elementwise fallback writes one formula per element: at most this many
FALLBACK_ELEMENTS = 64



# ---- formulas: nodes of the one formula tree (`gradcli.core.formula.sweep`) --------------
def raw(expr: Any) -> F:
    """A SymPy expression, printed in gradcli's language."""
    import sympy as sp

    from .derive import to_gradcli

    if expr.is_Integer:
        return num(int(expr))
    if expr.is_Float:
        return num(float(expr))
    if expr.is_Rational:
        if expr < 0:
            return neg(raw(-expr))
        return F("raw", value=(to_gradcli(expr, pieces=True), PROD), latex_text=sp.latex(expr))
    if expr.is_Symbol:
        return name(expr.name)
    if expr.could_extract_minus_sign() and not expr.is_Add:
        return neg(raw(-expr))
    if expr.is_Mul:  # h*(1 - h) -> h * (1 - h): factors spaced like the rest of the formula
        coeff, factors = expr.as_coeff_mul()
        if coeff == 1 and len(factors) > 1 and not any(f.is_Pow and f.exp.is_negative for f in factors):
            out = raw(factors[0])
            for factor in factors[1:]:
                out = mul(out, raw(factor))
            return out
    prec = SUM if expr.is_Add else PROD if expr.is_Mul else POW if expr.is_Pow else ATOM
    text = to_gradcli(expr, pieces=True)
    if expr.is_Pow and (text.startswith("1/") or text.startswith("sqrt(")):
        prec = PROD if text.startswith("1/") else ATOM
    return F("raw", value=(text, prec), latex_text=sp.latex(expr))


# ---- the sweep ---------------------------------------------------------------------------
class Step:
    """One node of the sweep: what it sends to each argument (``dto += term``)."""

    __slots__ = ("label", "definition", "sent", "note")

    def __init__(self, label: str, definition: str) -> None:
        self.label, self.definition = label, definition
        self.sent: list[tuple[str, str, F]] = []  # (argument's label, how, term)
        self.note = ""


class ArrayDerivation:
    """The matrix sweep: forward lines, adjoint lines, formulas per input, notes."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.shapes: dict[str, tuple] = {}
        #: original label -> name in the printed program (labels like cell#1.a become cell_1_a)
        self.names: dict[str, str] = {}
        #: original label -> its adjoint's name (dz)
        self.adjoint_names: dict[str, str] = {}
        self.where: list[tuple[str, str]] = []  # (name, definition)
        self.adjoints: list[tuple[str, F]] = []  # (original label, formula), reverse order
        self.steps: list[Step] = []
        self.gradient: dict[str, F] = {}
        self.notes: list[str] = []
        self.wrt: list[str] = []
        self.output = ""
        #: original label -> a remark printed beside its adjoint (δ)
        self.remarks: dict[str, str] = {}
        #: (node id, argument position) -> an elementwise op's local partial, as text
        self.partials: dict[tuple[int, int], str] = {}



def derive_arrays(graph: Graph, wrt: Optional[list[str]] = None) -> ArrayDerivation:
    """The matrix sweep over `graph`, whose nodes carry shapes (`infer_shapes`)."""
    import copy

    if len(graph.nodes) > NODE_LIMIT:
        raise UsageError(f"gradcli diff takes programs of up to {NODE_LIMIT} nodes; this one has {len(graph.nodes)}")
    if graph.nodes[graph.output].shape != ():
        raise UsageError(f"gradcli diff differentiates a scalar output; {graph.label(graph.output)} has shape "
                         f"{_shape_text(graph.nodes[graph.output].shape)} (pick a scalar step with --output)")
    inputs = [graph.nodes[i].name or "" for i in graph.inputs]
    chosen = list(dict.fromkeys(wrt)) if wrt else inputs
    unknown = [n for n in chosen if n not in inputs]
    if unknown:
        raise UsageError(f"--wrt {','.join(unknown)}: not an input of the program (inputs: {', '.join(inputs) or 'none'})")
    refuse_no_point_free(graph)
    d = ArrayDerivation(graph)
    d.wrt = chosen
    d.output = graph.label(graph.output)
    d.shapes = {graph.nodes[i].name or "": graph.nodes[i].shape for i in graph.inputs}
    labels = [graph.label(n.id) for n in graph.nodes]
    _choose_names(d, graph, labels)
    # the where block: each computed node's definition over the printed names
    renamed = copy.deepcopy(graph)
    for node in renamed.nodes:
        if node.op != CONST:
            node.name = d.names[labels[node.id]]
    for node in graph.nodes:
        if node.op not in (INPUT, CONST):
            d.where.append((d.names[labels[node.id]], renamed.definition(node.id)))
    reaches = _reaches(graph, {graph.names[n] for n in chosen})
    adjoint: list[Optional[F]] = [None] * len(graph.nodes)
    adjoint[graph.output] = num(1)
    for node in reversed(graph.nodes):
        i = node.id
        found = adjoint[i]
        if node.op in (INPUT, CONST) or found is None:
            continue
        formula: F = found
        if formula.is_num(0) and node.shape:
            formula = adjoint[i] = call("zeros", *[num(n) for n in node.shape])
        d.adjoints.append((labels[i], formula))
        g = formula if formula.leaf else name(d.adjoint_names[labels[i]])
        targets = [a for a in node.args if reaches[a] and graph.nodes[a].op != CONST]
        if not targets:
            continue
        step = Step(d.names[labels[i]], renamed.definition(i))
        elementwise = OPS[node.op].elementwise
        terms = _matrix_rule(d, node, g) if not elementwise else _elementwise(d, node, g)
        kind = "elementwise" if elementwise else "matrix"
        if terms is None:
            terms, kind = _fallback(d, node, g), "fallback"
            step.note = (f"{step.label} = {step.definition}: no matrix rule for {node.op} here, "
                         "so its arguments' adjoints are written element by element")
            d.notes.append(step.note)
        for k, a in enumerate(node.args):
            term = terms[k]
            if a not in targets or term is None:
                continue
            adjoint[a] = add(adjoint[a], term)
            step.sent.append((labels[a], _explain(d, node, k, g, kind), term))
        d.steps.append(step)
    for name_ in chosen:
        i = graph.names[name_]
        total = adjoint[i]
        shape = graph.nodes[i].shape
        if total is None or total.is_num(0) and shape:
            total = num(0) if not shape else call("zeros", *[num(n) for n in shape])
        d.adjoints.append((name_, total))
        d.gradient[name_] = total
    _remark_deltas(d, graph, labels)
    return d


def in_steps(d: ArrayDerivation, label: str, limit: int = 200) -> Optional[F]:
    """∂out/∂`label` as one formula over the program's names alone: every adjoint name
    (``dz``) replaced by its own formula.  None when that formula would exceed `limit`
    tree nodes (it can grow fast where steps feed several others).

    Adjoints come in reverse evaluation order and each refers only to adjoints before
    it, so one pass in that order inlines everything (loops, no recursion)."""
    by_name: dict[str, F] = {}
    found: Optional[F] = None
    for lab, formula in d.adjoints:
        whole = _substitute(formula, by_name)
        if whole is None or _size(whole, {}) > limit:
            whole = None
        if lab in d.adjoint_names and whole is not None:
            by_name[d.adjoint_names[lab]] = whole
        if lab == label:
            found = whole
    return found


def _substitute(f: F, by_name: dict[str, F]) -> Optional[F]:
    """`f` with its name leaves in `by_name` replaced (an explicit stack, post-order)."""
    done: dict[int, F] = {}
    stack = [(f, False)]
    while stack:
        g, ready = stack.pop()
        if id(g) in done:
            continue
        if g.kind == "name":
            done[id(g)] = by_name.get(g.value, g)
        elif not g.args:
            done[id(g)] = g
        elif ready:
            args = [done[id(a)] for a in g.args]
            done[id(g)] = g if all(x is y for x, y in zip(args, g.args)) else \
                F(g.kind, *args, value=g.value, latex_text=g.latex_text)
        else:
            stack.append((g, True))
            stack.extend((a, False) for a in g.args)
    return done[id(f)]


def _size(f: F, memo: dict[int, int]) -> int:
    """Tree nodes of `f` as printed (a shared part counts each time it appears)."""
    stack = [(f, False)]
    while stack:
        g, ready = stack.pop()
        if id(g) in memo:
            continue
        if ready or not g.args:
            memo[id(g)] = 1 + sum(memo[id(a)] for a in g.args)
        else:
            stack.append((g, True))
            stack.extend((a, False) for a in g.args)
    return memo[id(f)]


def printed_names(graph: Graph) -> tuple[dict[str, str], dict[str, str]]:
    """The names `gradcli diff` prints for a program's steps and their adjoints:
    (label -> name, label -> adjoint name), e.g. ``hidden#1.a`` -> ``hidden_1_a``,
    ``dhidden_1_a``.  The grader reads formulas written in them."""
    d = ArrayDerivation(graph)
    _choose_names(d, graph, [graph.label(n.id) for n in graph.nodes])
    return d.names, d.adjoint_names


def _choose_names(d: ArrayDerivation, graph: Graph, labels: list[str]) -> None:
    """Names gradcli parses back: labels as they are where they are names, else cleaned;
    adjoints ``d`` + name, never a name already in use or a function."""
    taken = set(FUNCTIONS) | set(CONSTANTS)
    for node in graph.nodes:
        if node.op != CONST and _is_name(labels[node.id]):
            taken.add(labels[node.id])
    for node in graph.nodes:
        label = labels[node.id]
        if node.op == CONST or label in d.names:
            continue
        if _is_name(label):
            d.names[label] = label
            continue
        base = "".join(ch if ch.isalpha() or ch in _NAME_CHARS else "_" for ch in label)
        if not _is_name(base):
            base = "t_" + base
        n = base
        k = 1
        while n in taken:
            k += 1
            n = f"{base}_{k}"
        taken.add(n)
        d.names[label] = n
    for label, n in d.names.items():
        for candidate in (f"d{n}", f"d_{n}", f"d{n}_", f"d_{n}_"):
            if candidate not in taken:
                break
        else:
            k = 2
            while f"d{n}_{k}" in taken:
                k += 1
            candidate = f"d{n}_{k}"
        taken.add(candidate)
        d.adjoint_names[label] = candidate


#: characters of a name besides letters (as gradcli's lexer reads names)
_NAME_CHARS = frozenset("_0123456789")


def _is_name(text: str) -> bool:
    """Does gradcli's lexer read `text` as one name?  (A letter or _, then letters, digits, _.)"""
    return bool(text) and (text[0].isalpha() or text[0] == "_") and all(
        ch.isalpha() or ch in _NAME_CHARS for ch in text)


def _reaches(graph: Graph, sources: set[int]) -> list[bool]:
    live = [False] * len(graph.nodes)
    for node in graph.nodes:
        live[node.id] = node.id in sources or any(live[a] for a in node.args)
    return live


def _explain(d: ArrayDerivation, node: Any, k: int, g: F, kind: str) -> str:
    """How a contribution is made: ``dh · ∂h/∂z = u · h*(1 - h)``, the lecture's rule
    ``z̄ xᵀ``, or ``Σⱼ dbⱼ ∂bⱼ/∂x``."""
    from ..core import rules
    from .edges import _bar

    graph = d.graph
    y, x = d.names[graph.label(node.id)], graph.label(node.args[k])
    x = d.names.get(x, x)
    if kind == "elementwise":
        how = f"{g.text()} · ∂{y}/∂{x} = {g.text()} · {d.partials.get((node.id, k), '?')}"
        if graph.nodes[node.args[k]].shape != node.shape:
            how = f"Σ({how}) over the broadcast axes"
        return how
    if kind == "fallback":
        return f"Σⱼ {g.text()}ⱼ · ∂{y}ⱼ/∂{x}, element by element"
    names = {"g": _bar(y), "out": y, "n": "n", "k": str(k), "axes": ""}
    for j, a in enumerate(node.args[:2]):
        label = graph.label(a)
        names[f"x{j}"] = d.names.get(label, label)
    try:
        found = rules.rules_for(node.op, tuple(graph.nodes[a].shape for a in node.args), node.param)
        if found is None:
            raise KeyError(node.op)
        rule = found[k]
        from ..core.graph import index_text

        lhs = _bar(names[f"x{k}"] if k < 2 else x)
        lhs += f"[{index_text(node.param)}] += " if rule.scatter else " += "
        return f"{node.op}: {lhs}{rule.adjoint.text(names)}"
    except (KeyError, IndexError, ValueError):
        return f"{node.op}'s rule"


def _remark_deltas(d: ArrayDerivation, graph: Graph, labels: list[str]) -> None:
    """The lecture calls a pre-activation's adjoint δ: an affine step read by one activation."""
    users: dict[int, list[int]] = {}
    for node in graph.nodes:
        for a in node.args:
            users.setdefault(a, []).append(node.id)
    for node in graph.nodes:
        us = users.get(node.id, [])
        if node.op in ("add", "sub", "matmul") and node.shape and len(us) == 1:
            user = graph.nodes[us[0]]
            if user.op in ("sigmoid", "tanh", "relu", "softplus", "gelu", "leaky_relu", "elu"):
                d.remarks[labels[node.id]] = "δ, the pre-activation's adjoint"


def _symbols(d: ArrayDerivation, node: Any) -> list:
    """Each argument as a SymPy scalar symbol named like its node (constants exact)."""
    import sympy as sp

    from ..backends.sympy import exact_constant

    graph = d.graph
    out = []
    for a in node.args:
        arg = graph.nodes[a]
        out.append(exact_constant(arg.text) if arg.op == CONST else
                   sp.Symbol(d.names[graph.label(a)], real=True))
    return out


def _elementwise(d: ArrayDerivation, node: Any, g: F) -> Optional[list[Optional[F]]]:
    """``ȳ * partial`` per argument, summed back to a broadcast argument's shape."""
    import sympy as sp

    from ..backends.sympy import exact_rational, sympy_backend

    graph = d.graph
    xs = _symbols(d, node)
    out = sp.Symbol(d.names[graph.label(node.id)], real=True)
    op = OPS[node.op]
    if op.variadic and len(xs) == 2:
        sign = 1 if node.op == "max" else -1
        half = sp.Rational(1, 2)
        partials = [sp.Heaviside(sign * (xs[0] - xs[1]), half), sp.Heaviside(sign * (xs[1] - xs[0]), half)]
    else:
        partials = op.partials_at(sympy_backend(), xs, out)
    terms: list[Optional[F]] = []
    for a, p in zip(node.args, partials):
        if graph.nodes[a].op == CONST:
            terms.append(None)
            continue
        p = exact_rational(p)  # 1.0 is 1, 1/ln 10 is 1/log(10)
        try:
            local = raw(p)
            term = mul(g, local)
            d.partials[node.id, len(terms)] = local.text()
        except UsageError:
            return None  # a piecewise partial gradcli cannot write: element by element
        arg_shape, out_shape = graph.nodes[a].shape, node.shape
        if arg_shape != out_shape:
            if arg_shape == ():
                term = call("sum", term)
            elif arg_shape == out_shape[1:]:
                term = call("sum", term, num(0))
            else:
                return None
        terms.append(term)
    return terms


#: structural ops whose ``diff`` formula is their rule (`gradcli.core.rules`), read into `F`
#: by `_from_rule`; the others below are written in the functions gradcli programs use
#: (``softmax(z)`` for ``exp(z − s)``, ``solve`` for ``A⁻ᵀ``, ``outer(ones(n), ȳ)``); sum, mean,
#: softmax, reshape and flatten take their rule in the cases that condition lists
_FROM_RULES = {"matmul", "dot", "outer", "transpose", "trace", "det", "logdet", "inv"}


def _matrix_rule(d: ArrayDerivation, node: Any, g: F) -> Optional[list[Optional[F]]]:
    """The lecture's matrix rule of a structural op, in gradcli syntax; None: no rule here."""
    graph = d.graph
    args = [graph.nodes[a] for a in node.args]
    xs = [name(d.names[graph.label(a)]) if graph.nodes[a].op != CONST else num(graph.nodes[a].param)
          for a in node.args]
    shapes = [a.shape for a in args]
    out = name(d.names[graph.label(node.id)])
    op = node.op
    if op in _FROM_RULES or (op in ("sum", "mean") and node.param is None) or (op == "softmax" and len(shapes[0]) == 1) \
            or (op in ("reshape", "flatten") and 1 <= len(shapes[0]) <= 2):
        from ..core import rules

        found = rules.rules_for(op, tuple(shapes), node.param)
        if found is None or (op in ("matmul", "dot") and 0 in (len(shapes[0]), len(shapes[1]))):
            return None
        count = 1
        for n in shapes[0]:
            count *= n
        leaves = {"g": (g, node.shape), "out": (out, node.shape), "n": (num(count), ())}
        leaves.update({f"x{k}": (x, s) for k, (x, s) in enumerate(zip(xs, shapes))})
        return [_from_rule(rule.adjoint, leaves, shapes[k]) for k, rule in enumerate(found)]
    if op in ("sum", "mean") and node.param is not None and len(shapes[0]) == 2:
        rows, cols = shapes[0]
        axis = node.param % 2
        spread = call("outer", call("ones", num(rows)), g) if axis == 0 else call("outer", g, call("ones", num(cols)))
        if op == "mean":
            spread = F("div", spread, num(rows if axis == 0 else cols))
        return [spread]
    if op == "solve":
        gb = call("solve", transpose(xs[0]), g)
        ga = neg(call("outer", gb, out)) if len(shapes[1]) == 1 else neg(matmul(gb, transpose(out)))
        return [ga, gb]
    if op == "norm":
        return [F("div", mul(g, xs[0]), out)]
    if op == "log_softmax" and len(shapes[0]) == 1:
        return [sub(g, mul(call("softmax", xs[0]), call("sum", g)))]
    if op == "logsumexp" and node.param is None and len(shapes[0]) == 1:
        return [mul(g, call("softmax", xs[0]))]
    if op == "index":
        return _index_rule(node.param, shapes[0], g)
    if op in ("amax", "amin"):
        return [_extreme_rule(xs[0], out, g, shapes[0], node.param)]
    if op == "stack" and g.kind == "name":
        return [F("raw", value=(f"{g.text()}[{k}]", ATOM), latex_text=f"{g.latex({})}_{{{k}}}")
                for k in range(len(xs))]
    return None


def _extreme_rule(x: F, out: F, g: F, shape: tuple, axis: Optional[int]) -> F:
    """amax/amin: ``dy = da * (y == a) / sum(y == a)``, the adjoint to the extreme elements, shared
    evenly by ties; along an axis the output and its adjoint are read with that axis kept
    (``reshape(a, 2, 3, 1)``) so that they broadcast back over it."""
    if axis is None or not shape:
        hits = _equal(x, out)
        return F("div", mul(g, hits), call("sum", hits))
    k = axis % len(shape)
    kept = [num(1 if i == k else d) for i, d in enumerate(shape)]
    hits = _equal(x, call("reshape", out, *kept))
    return F("div", mul(call("reshape", g, *kept), hits), call("reshape", call("sum", hits, num(k)), *kept))


def _equal(a: F, b: F) -> F:
    """``(y == a)``: 1 where equal, else 0 (gradcli's comparison)."""
    return F("raw", value=(f"{a.text()} == {b.text()}", SUM - 1), latex_text=f"[{a.latex({})} = {b.latex({})}]")


def _from_rule(expr: Any, leaves: dict, arg_shape: tuple) -> F:
    """A rule's formula (`gradcli.core.formula.Expr`) as gradcli syntax in `F`, whose algebra
    simplifies it (``1 * x`` is ``x``).  In the rule a vector is a column; in gradcli it is
    1-D, so a column times a row is ``outer`` and ``uᵀ`` alone is ``u``.  The rule trees are
    a few nodes deep (the recursion is over the rule, never over the user's program)."""
    def rank(e: Any) -> int:
        if e.kind == "leaf":
            return len(leaves[e.key][1])
        if e.kind == "mm":
            a, b = e.args
            if b.kind == "T" and rank(a) <= 1 and rank(b.args[0]) == 1:
                return 2
            return max(rank(a) + rank(b) - 2, 0) if not (a.kind == "T" and rank(a.args[0]) == 1) else rank(b) - 1
        if e.kind in ("inv", "invT", "eye"):
            return 2
        return max((rank(a) for a in e.args), default=0)

    def read(e: Any) -> F:
        k, a = e.kind, e.args
        if k == "leaf":
            return leaves[e.key][0]
        if k == "T":
            return read(a[0]) if rank(a[0]) == 1 else transpose(read(a[0]))
        if k == "mm":
            if a[1].kind == "T" and rank(a[0]) <= 1 and rank(a[1].args[0]) == 1:
                return call("outer", read(a[0]), read(a[1].args[0]))
            left = read(a[0])
            if left.kind == "neg":  # −(Aᵀ) B is written −(Aᵀ B), as `mul` writes its signs
                return neg(matmul(left.args[0], read(a[1])))
            return matmul(left, read(a[1]))
        if k in ("scale", "had"):
            return mul(read(a[0]), read(a[1]))
        if k == "div":
            top, bottom = read(a[0]), read(a[1])
            return top if bottom.is_num(1) else F("div", top, bottom)
        if k == "sub":
            return sub(read(a[0]), read(a[1]))
        if k == "neg":
            return neg(read(a[0]))
        if k == "inner":
            return call("dot", read(a[0]), read(a[1]))
        if k == "inv":
            return call("inv", read(a[0]))
        if k == "invT":
            return transpose(call("inv", read(a[0])))
        if k == "eye":
            return call("eye", num(arg_shape[0]))
        if k == "reshape":
            return call("reshape", read(a[0]), *[num(n) for n in e.data])
        if k == "ones":
            return call("ones", *[num(n) for n in arg_shape]) if arg_shape else num(1)
        if k == "call" and e.key == "transpose":  # transpose(ḡ, 1, 2, 0): the axes' order is the call's extra
            return call("transpose", read(a[0]), *[num(int(n)) for n in e.data[1].split(", ")])
        raise KeyError(k)

    return read(expr)


def _index_rule(index: tuple, shape: tuple, g: F) -> Optional[list[Optional[F]]]:
    """x[k] → ȳ * eye(n)[k]; X[i] → outer(eye(m)[i], ȳ); X[i, j] → ȳ * outer(eye(m)[i], eye(n)[j])."""
    if any(isinstance(item, tuple) for item in index):
        return None

    def unit(n: int, k: int) -> F:
        return F("raw", value=(f"eye({n})[{k}]", ATOM), latex_text=f"e_{{{k}}}")

    if len(shape) == 1 and len(index) == 1:
        return [mul(g, unit(shape[0], index[0]))]
    if len(shape) == 2 and len(index) == 1:
        return [call("outer", unit(shape[0], index[0]), g)]
    if len(shape) == 2 and len(index) == 2:
        return [mul(g, call("outer", unit(shape[0], index[0]), unit(shape[1], index[1])))]
    return None


def _fallback(d: ArrayDerivation, node: Any, g: F) -> list[Optional[F]]:
    """Each argument's adjoint element by element: Σⱼ ȳⱼ ∂yⱼ/∂xᵢ from SymPy's derivative of
    the op's own forward form on symbol arrays (elements named ``x[0]``, ``W[1, 0]``)."""
    import numpy as np
    import sympy as sp

    from ..backends.sympy import exact_constant, sympy_backend

    graph = d.graph
    arrays: list = []
    for a in node.args:
        arg = graph.nodes[a]
        if arg.op == CONST:
            arrays.append(exact_constant(arg.text))
            continue
        label = d.names[graph.label(a)]
        if not arg.shape:
            arrays.append(sp.Symbol(label, real=True))
            continue
        arr = np.empty(arg.shape, dtype=object)
        for idx in np.ndindex(*arg.shape):
            arr[idx] = sp.Symbol(f"{label}[{', '.join(map(str, idx))}]", real=True)
        arrays.append(arr)
    count = sum(int(np.prod(graph.nodes[a].shape)) for a in node.args)
    if count > FALLBACK_ELEMENTS:
        raise UsageError(f"gradcli diff has no matrix rule for {node.op} at node {graph.label(node.id)} and "
                         f"its arguments have more than {FALLBACK_ELEMENTS} elements to write one by one")
    f = getattr(sympy_backend(), node.op)
    y = f(*arrays) if node.param is None else f(*arrays, node.param)
    y = np.asarray(y, dtype=object)
    if g.kind == "num":
        gs = np.full(y.shape, sp.Integer(int(g.value)) if float(g.value).is_integer() else sp.Float(g.value),
                     dtype=object)
    elif y.shape == ():
        gs = np.full((), sp.Symbol(g.text(), real=True), dtype=object)
    else:
        gs = np.empty(y.shape, dtype=object)
        for idx in np.ndindex(*y.shape):
            gs[idx] = sp.Symbol(f"{g.text()}[{', '.join(map(str, idx))}]", real=True)
    terms: list[Optional[F]] = []
    for k, (a, arr) in enumerate(zip(node.args, arrays)):
        if graph.nodes[a].op == CONST or a in node.args[:k]:
            # an argument used twice has one set of symbols: SymPy's derivative already
            # counts every use, so only its first position carries the term
            terms.append(None)
            continue
        shape = graph.nodes[a].shape
        elems = np.asarray(arr, dtype=object)

        def element(x: Any) -> Any:
            total = sp.Integer(0)
            for idx in np.ndindex(*y.shape):
                total += gs[idx] * sp.diff(y[idx], x)
            return total

        if not shape:
            terms.append(raw(element(elems[()])))
            continue
        texts = np.empty(shape, dtype=object)
        for idx in np.ndindex(*shape):
            texts[idx] = _element_text(element(elems[idx]))
        terms.append(F("raw", value=(_nested(texts.tolist()), ATOM), latex_text=r"\left[\dots\right]"))
    return terms


def _element_text(expr: Any) -> str:
    from .derive import to_gradcli

    return to_gradcli(expr, pieces=True)


def _nested(items: Any) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(i) for i in items) + "]"
    return str(items)


def _shape_text(shape: tuple) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


# ---- the sweep as text ---------------------------------------------------------------------
def adjoint_lines(d: ArrayDerivation) -> list[str]:
    """``dz = u * h * (1 - h)``: the adjoint lines, as program statements."""
    return [f"{d.adjoint_names[label]} = {f.text()}" for label, f in d.adjoints]


def where_lines(d: ArrayDerivation) -> list[str]:
    return [f"{n} = {definition}" for n, definition in d.where]


def shapes_line(d: ArrayDerivation, source: str) -> str:
    shown = ", ".join(f"{n} {_shape_text(s)}" for n, s in d.shapes.items())
    return f"Shapes from {source}: {shown} (only the shapes are used, not the values)."


def text(d: ArrayDerivation, source: str) -> list[str]:
    """The whole derivation: shapes, the forward steps, the adjoints, the gradient."""
    lines = [shapes_line(d, source), "", "where (the forward steps):"]
    lines += ["  " + line for line in where_lines(d)]
    lines += ["", f"adjoints, in reverse evaluation order (dNAME is NAME's adjoint, ∂{d.output}/∂NAME):"]
    for (label, _), line in zip(d.adjoints, adjoint_lines(d)):
        remark = d.remarks.get(label)
        lines.append("  " + line + (f"    # {remark}" if remark else ""))
    lines += [""]
    lines += [f"∂{d.output}/∂{n} = {f.text()}" for n, f in d.gradient.items()]
    for note in d.notes:
        lines.append(f"note: {note}")
    return lines


def steps_text(d: ArrayDerivation) -> list[str]:
    """The sweep step by step: each node sends ``d(arg) += term`` to its arguments."""
    lines = [f"Backward pass in symbols, in reverse evaluation order, starting from "
             f"{d.adjoint_names[d.output]} = 1 (dNAME is NAME's adjoint):"]
    for k, step in enumerate(d.steps, 1):
        head = f"{k:>3}. {step.label} = {step.definition}   "
        for j, (to, how, term) in enumerate(step.sent):
            prefix = head if j == 0 else " " * columns(head)
            lines.append(f"{prefix}{d.adjoint_names[to]} += {how} = {term.text()}")
        if step.note:
            lines.append(" " * columns(head) + f"(note: {step.note})")
    return lines


def latex(d: ArrayDerivation) -> dict[str, str]:
    """Each input's derivative as LaTeX (adjoints written with a bar: \\bar{z})."""
    names = {adj: tex_bar(d.names[label]) for label, adj in d.adjoint_names.items()}
    return {n: f.latex(names) for n, f in d.gradient.items()}
