"""SymPy: an independent oracle for gradients, built from our graph (never from text).

`to_sympy` translates a graph node by node (a loop in evaluation order) with the
SymPy backend, whose entry for each primitive is that primitive's SymPy form.
`sympy_check` differentiates the output expression with ``sympy.diff`` for each
input -- SymPy's own calculus, not our rules -- and evaluates the derivative at the
point to 30 significant digits.  To keep the cost linear in the graph, values are
computed through common-subexpression elimination (``sympy.cse``) rather than by
substituting into the tree.  All of it runs under a time budget (`gradcli.budget`):
values first, then formulas, then simplified formulas; what is not done by the
deadline is reported as skipped, and the rest of the output still comes.

SymPy is imported only here, only when a symbolic check is asked for.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from types import SimpleNamespace
from typing import Optional

from . import budget
from .checks import DEFAULT_TOLERANCE, Check, CheckResult, agree, judge
from .evaluate import Evaluation
from .graph import CONST, INPUT, Graph

#: default --sympy-timeout, seconds
DEFAULT_BUDGET = 10.0
#: formulas longer than this are shortened in the output
FORMULA_LIMIT = 400
#: graphs larger than this are not translated at all
NODE_LIMIT = 5000


def sympy_backend() -> SimpleNamespace:
    """The SymPy form of every primitive (same names as `gradcli.backends.SCALAR`)."""
    import sympy as sp

    return SimpleNamespace(
        add=operator.add,
        sub=operator.sub,
        mul=operator.mul,
        div=operator.truediv,
        pow=operator.pow,
        neg=operator.neg,
        exp=sp.exp,
        log=sp.log,
        sqrt=sp.sqrt,
        sin=sp.sin,
        cos=sp.cos,
        tan=sp.tan,
        asin=sp.asin,
        acos=sp.acos,
        atan=sp.atan,
        sinh=sp.sinh,
        cosh=sp.cosh,
        tanh=sp.tanh,
        sigmoid=lambda x: 1 / (1 + sp.exp(-x)),
        relu=lambda x: sp.Max(0, x),
        softplus=lambda x: sp.log(1 + sp.exp(x)),
        abs=sp.Abs,
        max=lambda *xs: sp.Max(*xs),
        min=lambda *xs: sp.Min(*xs),
        step=lambda x: sp.Heaviside(x, 0),
        sign=sp.sign,
        eq=lambda x, y: sp.Piecewise((1, sp.Eq(x, y)), (0, True)),
        xlogy=lambda x, y: x * sp.log(y),
    )


def exact_constant(text: str):
    """A constant's source text as an exact SymPy number: "0.1" -> 1/10, "pi" -> pi."""
    import sympy as sp

    negative = text.startswith("-")
    body = text[1:] if negative else text
    value = sp.pi if body == "pi" else sp.Rational(*Fraction(body).as_integer_ratio())
    return -value if negative else value


def to_sympy(graph: Graph, symbols: dict[str, object]) -> list:
    """SymPy expressions of every node, in evaluation order (no recursion on our side)."""
    m = sympy_backend()
    exprs: list = [None] * len(graph.nodes)
    for node in graph.nodes:
        if node.op == INPUT:
            exprs[node.id] = symbols[node.name]  # type: ignore[index]
        elif node.op == CONST:
            exprs[node.id] = exact_constant(node.text)
        else:
            exprs[node.id] = getattr(m, node.op)(*[exprs[a] for a in node.args])
    return exprs


def value_at(expr, point: dict, digits: int = 30):
    """Evaluate `expr` at `point` via CSE: linear in the number of distinct subterms."""
    import sympy as sp

    replacements, (reduced,) = sp.cse([expr])
    env = dict(point)
    for sym, sub in replacements:
        env[sym] = sub.xreplace(env).evalf(digits)
    return reduced.xreplace(env).evalf(digits)


def to_float(value) -> float:
    """A SymPy number as a float; oo/zoo/nan/complex become inf/nan."""
    import sympy as sp

    if value is sp.zoo or value is sp.oo:
        return math.inf
    if value is sp.S.NegativeInfinity:
        return -math.inf
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def short(text: str, limit: int = FORMULA_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sympy_check(ev: Evaluation, rtol: Optional[float] = None, atol: Optional[float] = None,
                seconds: float = DEFAULT_BUDGET) -> Check:
    """Compare each AD gradient with SymPy's derivative at the point."""
    d_rtol, d_atol = DEFAULT_TOLERANCE["sympy"]
    check = Check("sympy", d_rtol if rtol is None else rtol, d_atol if atol is None else atol)
    if len(ev.graph.nodes) > NODE_LIMIT:
        check.note = f"skipped: {len(ev.graph.nodes)} nodes is more than the symbolic check takes ({NODE_LIMIT})"
        for name in ev.wrt:
            check.results[name] = CheckResult(None, None, "skipped", "too large")
        return check
    import sympy  # noqa: F401  (import before forking, so the child need not)

    graph, wrt, env = ev.graph, list(ev.wrt), ev.env

    def job(send: budget.Send) -> None:
        import sympy as sp

        symbols = {name: sp.Symbol(name, real=True) for name in ev.inputs}
        f = to_sympy(graph, symbols)[graph.output]
        point = {symbols[name]: sp.Float(env[name], 30) for name in ev.inputs}
        derivatives = {}
        for name in wrt:
            d = sp.diff(f, symbols[name])
            derivatives[name] = d
            v = value_at(d, point)
            send(("value", name, to_float(v), str(v)))
        for name in wrt:
            send(("formula", name, short(str(derivatives[name]))))
        for name in wrt:
            d = derivatives[name]
            if sp.count_ops(d) <= 200:
                send(("simplified", name, short(str(sp.simplify(d)))))

    outcome = budget.run(job, seconds)
    got: dict[str, dict] = {name: {} for name in wrt}
    for message in outcome.messages:
        kind, name, *rest = message
        if kind == "value":
            got[name]["value"], got[name]["exact"] = rest
        else:
            got[name][kind] = rest[0]
    for name in wrt:
        entry = got[name]
        if "value" not in entry:
            why = "time budget" if outcome.timed_out else (outcome.error or "no result")
            check.results[name] = CheckResult(None, None, "skipped", why)
            continue
        estimate = entry["value"]
        ad = ev.gradient[name]
        ok = agree(ad, estimate, check.rtol, check.atol)
        status, note = judge(ev, name, ad, estimate, ok)
        formula = entry.get("simplified") or entry.get("formula") or ""
        error = 0.0 if (math.isinf(ad) and ad == estimate) else abs(ad - estimate)
        check.results[name] = CheckResult(
            estimate, error, status, note, {"formula": formula, "exact": entry["exact"]}
        )
    if outcome.timed_out:
        check.note = f"the time budget of {seconds:g} s ran out; unfinished parts are skipped (--sympy-timeout)"
    elif outcome.error and not check.note:
        check.note = f"SymPy failed: {outcome.error}"
    return check
