"""Exact arithmetic (``--exact``) and LaTeX (``--latex``), both through SymPy.

``--exact`` runs the same DAG on exact numbers: each input's value is read exactly
from the text it was written as (``a=1/3`` is the rational 1/3, ``0.1`` is 1/10,
``pi/4`` is π/4), every node is computed by its primitive's SymPy form, and each
gradient is SymPy's derivative at that exact point, simplified.  Results are shown
exactly and as decimals.

Both run under the SymPy time budget in a child process (`gradcli.oracles.budget`), so a
pathological program cannot hang the command; powers whose exact result would have
more than `MAX_DIGITS` digits are refused up front with a message.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from ..core.errors import UsageError
from ..core.fmt import tex_name
from ..run.evaluate import Evaluation
from ..core.graph import CONST
from ..core.ops import OPS

#: largest exact power result accepted, in decimal digits
MAX_DIGITS = 100_000


class ExactResult:
    def __init__(self) -> None:
        #: node id -> (exact text, decimal text)
        self.values: dict[int, tuple[str, str]] = {}
        #: input name -> (exact text, decimal text)
        self.gradient: dict[str, tuple[str, str]] = {}
        self.note = ""


def exact_inputs(ev: Evaluation) -> dict:
    """Each input's exact value, from the text it was bound with."""
    import numpy as np
    import sympy as sp

    from ..language.lower import lower
    from ..language.parser import parse
    from ..backends.sympy import to_sympy

    out = {}
    for name in ev.inputs:
        b = ev.bindings[name]
        value = ev.env[name]
        text = b.text
        exact = None
        if text:
            try:
                g = lower(parse(text))
                if not g.inputs:
                    exact = to_sympy(g, {})[g.output]
            except Exception:  # JSON floats and other texts: fall back to the binary value
                exact = None
        if exact is None:
            if getattr(value, "shape", ()):
                exact = np.vectorize(lambda v: sp.Rational(*float(v).as_integer_ratio()), otypes=[object])(value)
            else:
                exact = sp.Rational(*float(value).as_integer_ratio())
        out[name] = exact
    return out


def refuse_huge_powers(ev: Evaluation) -> None:
    """Refuse a program whose exact numbers would grow beyond MAX_DIGITS digits.

    Each node's size in digits is estimated from its inputs' (a product adds sizes, an
    integer power multiplies its base's size by the exponent, functions such as exp
    stay symbolic), so ``(x^1000)^10000`` is refused as well as ``x^10000000``.
    """
    graph = ev.graph
    size = [0.0] * len(graph.nodes)
    for node in graph.nodes:
        if node.op in ("input", CONST):
            text = ev.bindings[node.name].text if node.op == "input" and node.name in ev.bindings else node.text
            size[node.id] = max(1.0, float(len(text or "1")))
            continue
        args = [size[a] for a in node.args]
        growth = OPS[node.op].exact_digits
        if growth == "power":
            exponent = ev.values[node.args[1]]
            k = abs(float(exponent)) if not getattr(exponent, "shape", ()) else 1.0
            size[node.id] = args[0] * max(1.0, k) + args[1]
        elif growth == "sum":
            size[node.id] = sum(args)
        else:
            size[node.id] = max(args, default=1.0) + 1.0
        if size[node.id] > MAX_DIGITS:
            raise UsageError(
                f"--exact: node {graph.label(node.id)} = {graph.definition(node.id)} would have about "
                f"{size[node.id]:.3g} digits exactly; exact arithmetic is limited to {MAX_DIGITS} digits"
            )


def run_exact(ev: Evaluation, seconds: float) -> ExactResult:
    import sympy  # noqa: F401  (before the fork)

    from . import budget
    from ..backends.sympy import input_symbols, is_data, short, to_sympy

    refuse_huge_powers(ev)
    graph = ev.graph
    wrt = list(ev.wrt)

    def job(send) -> None:
        import sys

        import numpy as np
        import sympy as sp

        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)  # exact results may be long; MAX_DIGITS bounds them
        exact = exact_inputs(ev)
        values = to_sympy(graph, exact)
        for node in graph.nodes:
            if node.op == CONST and node.text:
                continue
            v = values[node.id]
            send(("value", node.id, short(_exact_text(v)), _decimal(v)))
        symbols: dict[str, Any] = input_symbols(graph, ev.env)
        f = to_sympy(graph, symbols)[graph.output]
        point = {}
        for name, sym in symbols.items():
            if is_data(sym):
                continue
            if isinstance(sym, np.ndarray):
                for index in np.ndindex(*sym.shape):
                    point[sym[index]] = exact[name][index]
            else:
                point[sym] = exact[name]
        for name in wrt:
            sym = symbols[name]
            if isinstance(sym, np.ndarray):
                d = np.vectorize(lambda s: sp.simplify(sp.diff(f, s).xreplace(point)), otypes=[object])(sym)
            else:
                d = sp.simplify(sp.diff(f, sym).xreplace(point))
            send(("gradient", name, short(_exact_text(d)), _decimal(d)))

    outcome = budget.run(job, seconds)
    result = ExactResult()
    for kind, key, text, decimal in outcome.messages:
        if kind == "value":
            result.values[key] = (text, decimal)
        else:
            result.gradient[key] = (text, decimal)
    if outcome.timed_out:
        from .budget import ran_out

        result.note = f"exact arithmetic stopped: {ran_out(seconds)}"
    elif outcome.error:
        result.note = f"exact arithmetic failed: {outcome.error}"
    return result


def _exact_text(v) -> str:
    import numpy as np

    if isinstance(v, np.ndarray):
        return "[" + ", ".join(_exact_text(x) for x in v) + "]"
    return str(v)


def _decimal(v) -> str:
    import numpy as np

    from ..core.fmt import number

    if isinstance(v, np.ndarray):
        return "[" + ", ".join(_decimal(x) for x in v) + "]"
    try:
        approx = v.evalf(15)
        as_float = float(approx)
    except (TypeError, ValueError, AttributeError):
        return str(v)
    if as_float == 0 and approx != 0:  # below the smallest float: keep SymPy's decimal
        mantissa, _, exponent = str(approx).partition("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}" if exponent else str(approx)
    return number(as_float, 15)


def run_latex(ev: Evaluation, seconds: float) -> dict[str, str]:
    """``\\frac{\\partial out}{\\partial x} = ...`` for each scalar input; the small ones simplified
    (chosen by size, as ``--check sympy`` chooses them, so the text does not depend on the clock)."""
    import sympy  # noqa: F401

    from . import budget
    from ..backends.sympy import input_symbols, to_sympy

    graph = ev.graph
    names = [n for n in ev.wrt if not getattr(ev.env[n], "shape", ())]
    if not names:  # formulas are written for scalar inputs only: nothing to translate
        return {}

    def job(send) -> None:
        import sympy as sp

        symbols = input_symbols(graph, ev.env)
        f = to_sympy(graph, symbols)[graph.output]
        ds = {name: sp.diff(f, symbols[name]) for name in names}
        for name, d in ds.items():
            send(("raw", name, sp.latex(d)))
        send(("essentials",))
        for name, d in to_simplify(ds):
            send(("simplified", name, sp.latex(sp.simplify(d))))

    from .sympy_check import SIMPLIFY_GUARD_SECONDS, to_simplify

    outcome = budget.run(job, seconds, patience=SIMPLIFY_GUARD_SECONDS)
    found: dict[str, str] = {}
    for kind, name, text in outcome.messages:
        if kind == "simplified" or name not in found:
            found[name] = text
    out_tex = tex_name(ev.output_name)
    return {
        name: f"\\frac{{\\partial {out_tex}}}{{\\partial {tex_name(name)}}} = {found[name]}"
        for name in names if name in found
    }


__all__ = ["run_exact", "run_latex", "ExactResult", "math", "Optional"]
