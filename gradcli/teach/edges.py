"""The local derivative on every edge of the DAG, as text and as a number.

Each edge ``arg -> node`` carries ∂node/∂arg, written in terms of the nodes' labels
and evaluated at the point::

    ∂e/∂c = d = 3

The symbolic text comes from the very partials of `gradcli.core.ops`, called with a
namespace that builds formulas (`gradcli.core.formula.scalar.SymbolicText`) instead of
numbers -- no SymPy needed; the numbers come from the same partials on `gradcli.backends.floats.SCALAR`.
`--steps`, `--paths`, `--edges` and the pictures all read these edges.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple, Optional

from ..backends.floats import SCALAR
from ..core.engine import safe_partials
from ..core.fmt import number
from ..core.formula import ATOM, SUM
from ..core.formula.scalar import Scalar, SymbolicText, add, compare, lit, name, scalar, words
from ..core.graph import CONST, INPUT, index_text
from ..core.ops import OPS

_MACRON = "\u0304"


# ---- symbolic partials as formulas --------------------------------------------------
# a partial is a `Scalar` of the one formula tree, rendered in gradcli's compact text
_SYMBOLIC = SymbolicText()


def _extreme_rules(word: str, xs: list[Scalar], own: str) -> list[Scalar]:
    """∂max/∂x_i as a rule in the language, not its value at the point: a tie splits evenly,
    so for two arguments ``(y > z) + 0.5*(y == z)`` (as ``gradcli diff`` writes it), for more
    ``(x == f)/((x == f) + (y == f) + ...)``."""
    if len(xs) == 2:
        beats = ">" if word == "max" else "<"
        return [Scalar("add", compare(a, beats, b), Scalar("mul", lit(0.5), compare(a, "==", b)))
                for a, b in (xs, xs[::-1])]
    hits = [compare(x, "==", name(own)) for x in xs]
    total = hits[0]
    for h in hits[1:]:
        total = Scalar("add", total, h)
    return [Scalar("div", h, total) for h in hits]


# ---- edges --------------------------------------------------------------------------
class TensorRule(NamedTuple):
    """The rule on an array edge, rendered: ``W̄ += v̄ xᵀ`` and ``∂v/∂W = I ⊗ xᵀ``."""

    #: the rule row (`gradcli.core.rules.Rule`)
    rule: object
    #: the argument's position(s) in the node (two for ``x*x``)
    positions: tuple
    #: leaf key -> label, as text and as LaTeX
    names: dict
    latex_names: dict
    #: the left-hand side, ``W̄`` (``X̄[2]`` for an index)
    lhs: str
    latex_lhs: str
    #: the adjoint contribution, ``v̄ xᵀ``, and its LaTeX
    text: str
    latex: str
    #: ``3×1 · 1×2 → 3×2``
    shapes: str
    #: the local Jacobian's formula ("" if none is written), its LaTeX, its shape (rows, columns), structure
    jacobian: str
    latex_jacobian: str
    jacobian_shape: tuple
    structure: str
    #: printed after the rule (``σ'(z) = h*(1 - h)``, ``summed over axis 0``)
    note: str


class Edge(NamedTuple):
    """One DAG edge ``source -> target`` with its local derivative ∂target/∂source."""

    source: int
    target: int
    source_label: str
    target_label: str
    #: the partial in terms of node labels ("d", "1", "c*(1 - c)"); for an array edge
    #: its local Jacobian ("diag(σ'(z))", "W", "I ⊗ xᵀ"), or "" where none is written
    symbolic: str
    #: its value at the point; None for array nodes and structural ops
    value: Optional[float]
    #: "scalar", "elementwise" (array node, elementwise op) or "structural" (matmul, sum, ...)
    kind: str = "scalar"
    #: array edges: the rule, from `gradcli.core.rules` (None for scalar edges)
    tensor: Optional["TensorRule"] = None

    @property
    def name(self) -> str:
        return f"∂{self.target_label}/∂{self.source_label}"

    def label(self, digits: int = 6) -> str:
        """``∂e/∂c = d = 3``; ``∂c/∂a = 1``; ``W̄ += v̄ xᵀ (3×1 · 1×2 → 3×2)`` on array edges."""
        if self.tensor is not None:
            return f"{self.tensor.lhs} += {self.tensor.text}  ({self.tensor.shapes})"
        shown = number(self.value, digits)
        if shown == self.symbolic or is_number(self.symbolic):
            return f"{self.name} = {shown}"
        return f"{self.name} = {self.symbolic} = {shown}"


#: the ASCII characters a text `float` accepts can start with (after a sign: digits, ".", inf, nan)
_NUMBER_START = frozenset("+-.0123456789iInN" + "".join(c for c in map(chr, range(128)) if c.isspace()))


def is_number(text: str) -> bool:
    """Is a symbolic partial just a number (a folded constant such as 1/3)?"""
    if text and ((text[0] < "\x80" and text[0] not in _NUMBER_START) or "(" in text):
        return False  # what `float` refuses for sure, without raising (a label, a call)
    try:
        float(text)
    except ValueError:
        return False
    return True


def _leaf(ev, i: int, tex: bool = False) -> Scalar:
    """Node `i` as a symbol: its label (a literal number for numeric constants); with
    `tex`, the label as LaTeX (``\\mathrm{loss\\#3.b}``)."""
    graph = ev.graph
    node = graph.nodes[i]
    if node.op == CONST and isinstance(node.param, (int, float)):
        try:
            float(node.text)
        except ValueError:
            pass
        else:
            return lit(float(node.param), node.text)
    if tex:
        from ..core.fmt import tex_name

        return name(tex_name(graph.label(i)))
    return name(graph.label(i))


def _numeric_partials(op, xs: list, out: float, live: list) -> list:
    kind = 0 if op.variadic else len(xs)
    parts = op.partials if op.variadic else tuple(p if ok else None for p, ok in zip(op.partials, live))
    local = safe_partials(SCALAR, kind, parts, xs, out)
    return [None if p is None else float(p) for p in local]


def _symbolic_partials(ev, node, op, tex: bool = False) -> list[Scalar]:
    graph = ev.graph
    xs = [_leaf(ev, a, tex) for a in node.args]
    out = _leaf(ev, node.id, tex)
    if op.variadic:
        word = node.op  # max or min, the variadic rows
        if node.shape != ():
            return [words(f"1 where {graph.label(a)} is the {word}, else 0", SUM) for a in node.args]
        if op.kink_kind == "extreme" and not tex:
            return _extreme_rules(word, xs, graph.label(node.id))
        result = op.partials(_SYMBOLIC, xs, out)
    else:
        result = [p if isinstance(p, float) else p(_SYMBOLIC, *xs, out) for p in op.partials]
    syms = []
    own = graph.label(node.id)
    for r in result:
        s = scalar(r)
        if s.text == own and not tex:  # ∂e/∂x of e = exp(x) reads better as exp(x) than as e
            text = graph.definition(node.id)
            s = words(text, SUM if " " in text else ATOM)
        syms.append(s)
    return syms


#: a scalar op's symbolic partials with its leaves as placeholders, by (op, *leaf pattern):
#: a chain of 10⁵ ``sin`` nodes builds the text of ∂sin(a)/∂a once (`_template_partials`)
_TEMPLATES: dict[tuple, Optional[list[tuple[str, int, Optional[float], bool, Optional[str]]]]] = {}
_TEMPLATE_LIMIT = 4096


def _placeholder(k: int) -> str:
    return f"\x00{k}\x00"


def _leaf_pattern(graph, ids) -> tuple[tuple, list[str]]:
    """The leaves' key (a literal number by its text, a label by the first leaf with that
    label) and the distinct labels, in order."""
    key: list = []
    labels: list[str] = []
    ops, params, texts = graph.ops, graph.params, graph.texts
    for i in ids:
        if ops[i] == CONST and isinstance(params[i], (int, float)) and is_number(texts[i]):
            key.append((texts[i], float(params[i])))
            continue
        label = graph.label(i)
        if label not in labels:
            labels.append(label)
        key.append(labels.index(label))
    return tuple(key), labels


def _template(ev, node, op, labels: list[str]) -> Optional[list[tuple[str, int, Optional[float], bool,
                                                                      Optional[str]]]]:
    """`_symbolic_partials` on placeholder leaves, or None if the text builder cannot follow it."""
    graph = ev.graph
    names = {label: _placeholder(k) for k, label in enumerate(labels)}

    def leaf(i: int) -> Scalar:
        label = graph.label(i)
        return _leaf(ev, i) if label not in names else name(names[label])

    xs = [leaf(a) for a in node.args]
    own = names[graph.label(node.id)]
    try:
        result = [p if isinstance(p, float) else p(_SYMBOLIC, *xs, leaf(node.id)) for p in op.partials]
        syms = [scalar(r) for r in result]
    except Exception:  # the caller's fallback
        return None
    return [(s.text, s.prec, s.num, s.text == own, _format_string(s.text)) for s in syms]


def _format_string(text: str) -> Optional[str]:
    """A template text as a `str.format` string over the labels (None: no placeholder):
    ``cos(\\x000\\x00)`` -> ``cos({0})``."""
    if "\x00" not in text:
        return None
    import re

    return re.sub("\x00([0-9]+)\x00", r"{\1}", text.replace("{", "{{").replace("}", "}}"))


def _template_partials(ev, node, op, args: tuple[int, ...]) -> list[Scalar]:
    """`_symbolic_partials` of a scalar, fixed-arity node, from the cached text of its op on
    the same pattern of leaves (same text as building it afresh)."""
    graph = ev.graph
    pattern, labels = _leaf_pattern(graph, (*args, node.id))
    key = (node.op, *pattern)  # as `edge_partials` keys them
    if key not in _TEMPLATES:
        if len(_TEMPLATES) >= _TEMPLATE_LIMIT:
            _TEMPLATES.clear()
        _TEMPLATES[key] = _template(ev, node, op, labels)
    template = _TEMPLATES[key]
    if template is None:
        raise ValueError(f"no symbolic partial for {node.op}")
    syms = []
    for text, prec, num, own, _ in template:
        if own:
            definition = graph.definition(node.id)
            syms.append(words(definition, SUM if " " in definition else ATOM))
            continue
        if "\x00" in text:
            for k, label in enumerate(labels):
                text = text.replace(_placeholder(k), label)
        syms.append(lit(num, text) if num is not None else words(text, prec))
    return syms


def edge_partials(ev) -> list[Edge]:
    """Every edge ``arg -> node`` of the DAG for args an input reaches, in evaluation order.

    An argument used twice by one node (``x*x``) is one edge with the summed partial.
    The edges are `edge_rows` made `Edge` objects.
    """
    return list(map(as_edge, edge_rows(ev)))


as_edge = partial(tuple.__new__, Edge)  # an Edge from its fields, without the keyword-reading constructor


def edge_rows(ev) -> list[tuple]:
    """`edge_partials`' edges as tuples of `Edge`'s fields (an edge of the general path is an
    `Edge` already), for a writer that reads each edge once (`gradcli.teach.forward`).

    Scalar nodes of a fixed-arity op with distinct arguments (the bulk of a long chain) take a
    short road with the same result: each partial's text is its op's template (`_template`,
    built once per pattern of leaves, as `_template_partials` builds it) filled in with the
    labels, and its value the op row's partial called directly, without a formula object (or,
    in forward mode, the very partial the tangent passes used: `Evaluation.partials`).
    """
    graph, values, live = ev.graph, ev.values, ev.tape.live
    shared = getattr(ev, "partials", None)  # forward mode: the partials the tangent passes computed
    partials = shared[1] if shared is not None and shared[0] is values else None
    edges: list = []
    ops, shapes, names_of, params, texts = graph.ops, graph.shapes, graph.names_of, graph.params, graph.texts
    argv, arg_end = graph.argv, graph.arg_end
    label, definition = graph.label, graph.definition
    append = edges.append
    #: op name -> (its row, whether the short road may take it)
    rows: dict[str, tuple] = {}
    #: constant id -> its key in a leaf pattern if it is a literal number (`_leaf_pattern`), else None
    literals: dict[int, Optional[tuple]] = {}
    scalars = shapes.count(()) == len(shapes)  # every node's shape is (): no shape to look at
    start = 0
    for i, op_name in enumerate(ops):
        end = arg_end[i]
        n, first = end - start, start
        start = end
        if op_name in (INPUT, CONST) or not live[i]:
            continue
        row = rows.get(op_name)
        if row is None:
            op = OPS[op_name]
            row = rows[op_name] = (op, bool(values) and op.partials is not None and not op.variadic)
        op, short = row
        if n == 1:
            args: tuple[int, ...] = (argv[first],)
            short = short and (scalars or shapes[args[0]] == ())
        elif n == 2:
            args = (argv[first], argv[first + 1])
            short = short and args[0] != args[1] and (scalars or shapes[args[0]] == () == shapes[args[1]])  # not x*x
        else:
            args = tuple(argv[first:end])
            short = short and len(set(args)) == n and (scalars or all(shapes[a] == () for a in args))
        if not short or not (scalars or shapes[i] == ()):
            _general_edges(ev, i, op, args, edges)
            continue
        # the commonest patterns written out, as `_short_pattern` keys them: one named argument
        # (not a constant: an input reaches it), or a named one and a second named one or a number
        pattern: Optional[tuple] = None
        source, target = names_of[args[0]], names_of[i]
        if source is not None and target is not None and source != target:
            if n == 1:
                pattern, labels = (op_name, 0, 1), [source, target]
            elif n == 2 and ops[args[0]] != CONST:
                b = args[1]
                other = names_of[b]
                if ops[b] != CONST:
                    if other is not None and other != source and other != target:
                        pattern, labels = (op_name, 0, 1, 2), [source, other, target]
                else:
                    literal = literals.get(b, _MISSING)
                    if literal is _MISSING:
                        literal = literals[b] = _literal(params[b], texts[b])
                    if literal is not None:
                        pattern, labels = (op_name, 0, literal, 1), [source, target]
        if pattern is None:
            pattern, labels = _short_pattern(op_name, args, i, ops, names_of, params, texts, label, literals)
        template = _TEMPLATES.get(pattern, _MISSING)  # type: ignore[call-overload]
        if template is _MISSING:
            if any("\x00" in name for name in labels):  # a placeholder's character: the general path
                _general_edges(ev, i, op, args, edges)
                continue
            template = _template(ev, graph.nodes[i], op, labels)
            if len(_TEMPLATES) >= _TEMPLATE_LIMIT:
                _TEMPLATES.clear()
            _TEMPLATES[pattern] = template  # type: ignore[assignment]
        out = values[i]
        nums = None if partials is None else partials[i]  # the tangent sweep's own (`Tape.jvp`)
        if nums is None:
            try:
                if n == 1:
                    p = op.partials[0]
                    nums = [p if p.__class__ is float else p(SCALAR, values[args[0]], out)]
                elif n == 2 and live[args[0]] and live[args[1]]:
                    x, y = values[args[0]], values[args[1]]
                    p, q = op.partials
                    nums = [p if p.__class__ is float else p(SCALAR, x, y, out),
                            q if q.__class__ is float else q(SCALAR, x, y, out)]
                else:
                    xs = [values[a] for a in args]
                    nums = [None if p is None or not live[a] else (p if p.__class__ is float else p(SCALAR, *xs, out))
                            for a, p in zip(args, op.partials)]
            except Exception:  # a math error: the general path's IEEE recomputation (or the error itself)
                nums = _numeric_partials(op, [values[a] for a in args], out, [live[a] for a in args])
        target = names_of[i]
        if target is None:
            target = label(i)
        for k, a in enumerate(args):
            if not live[a]:
                continue
            if template is None:  # a partial the text builder cannot follow (`_general_edges`)
                text = f"{op_name}'"
            else:
                text, _, _, own, fmt = template[k]  # type: ignore[index]
                if own:
                    text = definition(i)
                elif fmt is not None:
                    text = fmt.format(*labels)
            num = nums[k]
            if num is not None and num.__class__ is not float:
                num = float(num)
            source = names_of[a]
            append((a, i, label(a) if source is None else source, target, text, num, "scalar", None))
    return edges


def _short_pattern(op_name: str, args: tuple[int, ...], i: int, ops, names_of, params, texts, label,
                   literals: dict) -> tuple[tuple, list[str]]:
    """A short-road node's leaf pattern, keyed as `_leaf_pattern` keys it, and its distinct labels
    (`literals` remembers each constant's key)."""
    key: list = [op_name]
    labels: list[str] = []  # the distinct labels, in order
    for j in (*args, i):
        if ops[j] == CONST:
            literal = literals.get(j, _MISSING)
            if literal is _MISSING:
                literal = literals[j] = _literal(params[j], texts[j])
            if literal is not None:
                key.append(literal)
                continue
        name = names_of[j]
        if name is None:
            name = label(j)
        if name in labels:
            key.append(labels.index(name))
        else:
            key.append(len(labels))
            labels.append(name)
    return tuple(key), labels


def _literal(param, text: str) -> Optional[tuple]:
    """A constant's key in a leaf pattern if it is a literal number (`_leaf_pattern`), else None."""
    return (text, float(param)) if isinstance(param, (int, float)) and is_number(text) else None


_MISSING = object()


def _general_edges(ev, i: int, op, args: tuple[int, ...], edges: list[Edge]) -> None:
    """Node i's edges, appended to `edges`: array nodes, variadic and structural ops, ``x*x``."""
    graph, values, live, shapes = ev.graph, ev.values, ev.tape.live, ev.graph.shapes
    node = graph.nodes[i]
    label = graph.label
    target = label(i)
    arg_live = [live[a] for a in args]
    if op.partials is None:
        for k, (a, ok) in enumerate(zip(args, arg_live)):
            if ok:
                t = _tensor_rule(ev, node, (k,), None)
                edges.append(Edge(a, i, label(a), target, t.jacobian, None, "structural", t))
        return
    scalar = shapes[i] == () and all(shapes[a] == () for a in args)
    try:
        if scalar and not op.variadic:
            syms = _template_partials(ev, node, op, args)
        else:
            syms = _symbolic_partials(ev, node, op)
    except Exception:  # a partial the text builder cannot follow: say so, do not fail
        syms = [words(f"{node.op}'") for _ in args]
    nums: list = [None] * len(args)
    if scalar and values:
        nums = _numeric_partials(op, [values[a] for a in args], values[i], arg_live)
    merged: dict[int, list] = {}
    for a, sym, num, ok in zip(args, syms, nums, arg_live):
        if not ok:
            continue
        if a in merged:  # the same argument twice: partials add up
            entry = merged[a]
            entry[0] = add(entry[0], sym)
            entry[1] = None if entry[1] is None or num is None else entry[1] + num
        else:
            merged[a] = [sym, num]
    for a, (sym, num) in merged.items():
        if scalar:
            edges.append(Edge(a, i, label(a), target, sym.text, num, "scalar"))
        else:
            positions = tuple(k for k, b in enumerate(args) if b == a)
            t = _tensor_rule(ev, node, positions, sym)
            edges.append(Edge(a, i, label(a), target, t.jacobian, None, "elementwise", t))


def prime_names(name: str) -> tuple[str, str]:
    """How the lecture names the derivative of the elementwise function `name`, as text and
    as LaTeX: ``σ'`` and ``\\sigma'``, from the row's ``impl`` names "text" and "latex"
    (by default the op's name and ``\\operatorname{name}``)."""
    impl = OPS[name].impl
    return impl.get("text", name) + "'", impl.get("latex", rf"\operatorname{{{name}}}") + "'"


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _tensor_rule(ev, node, positions: tuple, sym: Optional[Scalar]) -> TensorRule:
    """The rule of an array edge, rendered with the nodes' labels (see `gradcli.core.rules`)."""
    from ..core import rules
    from ..core.fmt import tex_bar, tex_name

    graph = ev.graph
    k = positions[0]
    arg = node.args[k]
    op = OPS[node.op]
    arg_shape, out_shape = graph.nodes[arg].shape, node.shape
    shapes = [graph.nodes[a].shape for a in node.args]
    target = graph.label(node.id)
    names = {"g": _bar(target), "out": target, "n": "n", "k": str(k), "axes": ""}
    tex = {"g": tex_bar(target), "out": tex_name(target), "n": "n", "k": str(k), "axes": ""}
    for j, a in enumerate(node.args[:2]):
        names[f"x{j}"] = graph.label(a)
        tex[f"x{j}"] = tex_name(graph.label(a))
    if node.op == "index":  # the selection's Jacobian: those rows of the identity, I[2] (e₂ᵀ), not a bare E
        where = index_text(node.param)  # type: ignore[arg-type]
        names["select"], tex["select"] = f"I[{where}]", f"I_{{[{where}]}}"
    note = ""
    if op.partials is None:
        rule = rules.rules_for(node.op, tuple(shapes), node.param)[k]  # type: ignore[index]
        note = rule.note.format(arg=graph.label(arg), out=target)
        if node.op == "mean":
            n = 1
            for d in (arg_shape if node.param is None else (arg_shape[node.param],)):
                n *= d
            note = (note + f", n = {n}").lstrip(", ")
    else:
        broadcast = arg_shape != out_shape
        unit = sym.num if sym is not None and sym.num in (1.0, -1.0) else 0.0
        rule = rules.elementwise_rule(k, "scalar" if broadcast and not arg_shape else broadcast, unit or 0.0)
        text = sym.text if sym is not None else f"{node.op}'"
        if len(node.args) == 1 and node.op != "neg":  # an elementwise function: σ'(z)
            prime, tex_prime = prime_names(node.op)
            names["p0"] = f"{prime}({graph.label(arg)})"
            tex["p0"] = f"{tex_prime}({tex_name(graph.label(arg))})"
            note = f"{names['p0']} = {text.replace('*', ' ∘ ')}"
        else:
            names[f"p{k}"] = text if _simple(text) else f"({text})"
            if sym is not None:  # the same partial over the labels as LaTeX
                tex_text = _symbolic_partials(ev, node, op, tex=True)[k].text
                tex[f"p{k}"] = (tex_text if _simple(text) else f"({tex_text})").replace("*", r" \cdot ")
            else:
                tex[f"p{k}"] = names[f"p{k}"].replace("*", r" \cdot ")
        if broadcast:
            axes = _broadcast_axes(arg_shape, out_shape)
            names["axes"] = ",".join(map(str, axes)).translate(_SUBSCRIPT)
            tex["axes"] = ",".join(map(str, axes))
            word = "axis" if len(axes) == 1 else "axes"
            where = f"{graph.label(arg)} is broadcast from {rules.shape_text(arg_shape)} to {rules.shape_text(out_shape)}"
            note = (note + "; " if note else "") + f"summed over {word} {', '.join(map(str, axes))}: {where}"
    lhs, latex_lhs = _bar(graph.label(arg)), tex_bar(graph.label(arg))
    if rule.scatter:
        lhs += f"[{index_text(node.param)}]"
        latex_lhs += f"[{index_text(node.param)}]"
    env = _shape_environment(node.op, k, shapes, out_shape, node.param, op.partials is not None)
    size = lambda shape: int(__import__("math").prod(shape))  # noqa: E731
    return TensorRule(
        rule, positions, names, tex, lhs, latex_lhs, rule.adjoint.text(names), rule.adjoint.text(tex, latex=True),
        rules.shapes_note(rule, env), "" if rule.jacobian is None else rule.jacobian.text(_bare(names)),
        "" if rule.jacobian is None else rule.jacobian.text(_bare(tex), latex=True),
        (size(out_shape), size(arg_shape)),
        rule.structure.format(x0=names["x0"], x1=names.get("x1", ""), n_out=size(out_shape),
                              index=index_text(node.param) if node.op == "index" else ""), note,
    )


def _bare(names: dict) -> dict:
    """Names without the brackets a partial gets inside a product: diag(2*W), not diag((2*W))."""
    return {k: v[1:-1] if k.startswith("p") and v.startswith("(") and v.endswith(")") else v
            for k, v in names.items()}


def _simple(text: str) -> bool:
    """A name, a number, or one parenthesised whole such as ``(z > 0)``: no more parentheses needed."""
    import re

    if re.fullmatch(r"-?[\w.]+", text) is not None:
        return True
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for k, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return k == len(text) - 1
    return False


def _broadcast_axes(arg_shape: tuple, out_shape: tuple) -> tuple:
    lead = len(out_shape) - len(arg_shape)
    axes = list(range(lead))
    for j, d in enumerate(arg_shape):
        if d == 1 and out_shape[lead + j] != 1:
            axes.append(lead + j)
    return tuple(axes)


def _shape_environment(op: str, k: int, shapes: list, out_shape: tuple, param, elementwise: bool) -> dict:
    """A rule environment of ones with the right shapes: enough to read the shapes note."""
    import numpy as np

    from ..core import rules

    xs = [np.ones(s) for s in shapes]
    out = np.ones(out_shape)
    partials = [np.ones(out_shape) for _ in shapes] if elementwise else None
    with np.errstate(all="ignore"):
        return rules.environment(op, k, xs, out, np.ones(out_shape), param, partials)


def edge_environment(ev, edge: Edge) -> dict:
    """The values an array edge's rule reads at the point: adjoint, arguments, output, partials."""
    import numpy as np

    from ..backends.arrays import ARRAY
    from ..core import rules

    graph = ev.graph
    node = graph.nodes[edge.target]
    op = OPS[node.op]
    xs = [np.asarray(ev.values[a], dtype=float) for a in node.args]
    out = np.asarray(ev.values[node.id], dtype=float)
    g = np.asarray(ev.adjoints[node.id], dtype=float) if ev.adjoints else None
    partials = None
    k = edge.tensor.positions[0]  # type: ignore[union-attr]
    if op.partials is not None:
        kind = 0 if op.variadic else len(xs)
        with np.errstate(all="ignore"):
            local = safe_partials(ARRAY, kind, op.partials, xs, out)
        total = None
        for j in edge.tensor.positions:  # type: ignore[union-attr]
            p = np.broadcast_to(np.asarray(local[j], dtype=float), out.shape)
            total = p if total is None else total + p
        partials = [None] * len(xs)
        partials[k] = total
    return rules.environment(node.op, k, xs, out, g, node.param, partials)


def contribution(ev, edge: Edge):
    """What the engine adds into the argument's adjoint along this edge (its own VJP row)."""
    import numpy as np

    from ..backends.arrays import ARRAY

    graph = ev.graph
    node = graph.nodes[edge.target]
    op = OPS[node.op]
    xs = [np.asarray(ev.values[a], dtype=float) for a in node.args]
    out = np.asarray(ev.values[node.id], dtype=float)
    g = ev.adjoints[node.id]
    with np.errstate(all="ignore"):
        if op.partials is None:
            k = edge.tensor.positions[0]  # type: ignore[union-attr]
            if callable(op.vjp):
                return np.asarray(op.vjp(ARRAY, g, xs, out, node.param)[k], dtype=float)
            return np.asarray(op.vjp[k](ARRAY, g, xs, out, node.param), dtype=float)  # type: ignore[index]
        kind = 0 if op.variadic else len(xs)
        local = safe_partials(ARRAY, kind, op.partials, xs, out)
        total = 0.0
        for j in edge.tensor.positions:  # type: ignore[union-attr]
            total = total + ARRAY.unbroadcast(np.asarray(g) * local[j], np.shape(xs[j]))
        return np.asarray(total, dtype=float)


def local_jacobian(ev, edge: Edge):
    """The edge's local Jacobian (output elements × argument elements), from the op's own VJP."""
    import numpy as np

    from ..backends.arrays import ARRAY

    graph = ev.graph
    node = graph.nodes[edge.target]
    op = OPS[node.op]
    xs = [np.asarray(ev.values[a], dtype=float) for a in node.args]
    out = np.asarray(ev.values[node.id], dtype=float)
    rows = []
    for i in range(max(out.size, 1)):
        e = np.zeros(out.size)
        e[i] = 1.0
        g = e.reshape(out.shape)
        with np.errstate(all="ignore"):
            if op.partials is None:
                k = edge.tensor.positions[0]  # type: ignore[union-attr]
                vjp = op.vjp(ARRAY, g, xs, out, node.param) if callable(op.vjp) else \
                    [op.vjp[k](ARRAY, g, xs, out, node.param)]  # type: ignore[index]
                c = vjp[k] if callable(op.vjp) else vjp[0]
            else:
                kind = 0 if op.variadic else len(xs)
                local = safe_partials(ARRAY, kind, op.partials, xs, out)
                c = sum(ARRAY.unbroadcast(g * local[j], np.shape(xs[j]))
                        for j in edge.tensor.positions)  # type: ignore[union-attr]
        rows.append(np.ravel(np.asarray(c, dtype=float)))
    return np.array(rows)


def _bar(label: str) -> str:
    """The lecture's adjoint notation: ē for e (one precomposed character where one exists)."""
    if label.isascii() and label:  # NFC composes the macron with the last letter only: look that up
        last = _BARRED.get(label[-1])
        if last is None:
            last = _BARRED[label[-1]] = _compose(label[-1] + _MACRON)
        return label[:-1] + last
    return _compose(label + _MACRON)


#: an ASCII character with the macron, composed (``e`` -> ``ē``, ``1`` -> ``1̄``)
_BARRED: dict[str, str] = {}


def _compose(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFC", text)
