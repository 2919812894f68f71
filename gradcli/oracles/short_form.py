"""The printed form of a symbolic-check formula: a few cheap rewrites, the shortest kept.

SymPy's ``simplify`` gave short formulas but took 0.2-1.5 s each, more than the
verdict itself.  `shortest` instead tries a fixed list of cheap, deterministic
rewrites of the derivative (milliseconds each on the samples) and keeps the one that
prints in the fewest characters:

1. the derivative as the library gives it (always a candidate, so a formula is never
   printed longer than that);
2. the same with the sigmoid's derivative ``exp(A)/(exp(A) + 1)**2`` written
   ``1/(4*cosh(A/2)**2)`` wherever it occurs (`cosh_form`: one copy of ``A`` fewer);
3. for a formula of at most `SMALL_OPS` operations and `SMALL_CHARS` characters, with
   at most `SMALL_EXPONENTIALS` distinct exponentials of a compound argument left after
   step 2 (``exp(b + w*x)`` and ``exp(-b - w*x)`` count once): without one,
   ``together`` (one fraction); with one, the *exponential form* (`exponential_form`):
   every ``exp(A)`` becomes one positive symbol ``E`` (``exp(-A)`` is ``1/E``), the
   argument of each ``log`` is put over one denominator and the log expanded (exact:
   SymPy expands a log only over positive factors), ``together`` makes one rational
   function of ``E``, and the exponential goes back (``log(exp(-z))`` is ``-z`` for real
   ``z``).  This is what turns the sigmoid's ``1 - 1/(exp(-z) + 1)`` into
   ``exp(-z)/(exp(-z) + 1)`` and cancels it against the rest, and the cross-entropy's
   ``log(1 - s) - log(s)`` into ``-z``; and that form again through step 2.

The fewest characters win, then the fewest operations (``count_ops``), then the
earlier candidate in the order above.  A formula larger than `SMALL_OPS` or
`SMALL_CHARS` is not printed twice to compare: it is printed in the form of step 2
(which removes a copy of ``A`` and adds at most ``/2`` to each of its terms: on every
sample it is the shorter, by 10-25%).  Characters first, because the text is what a
reader sees (on tiny_net, ``factor_terms`` saves operations and adds characters).  The
choice depends on the formula alone, never on the clock or the load: a program prints
the same formulas on a busy machine.  Every rewrite is an identity for real inputs;
the tests evaluate each printed formula at each sample's point against the engine's
gradient, and hold every sample's formulas to the length and operation count of the
ones ``simplify`` gave (tests/golden/sympy_formulas.json).

SymPy is imported by the caller (the symbolic check) before any of this runs.
"""

from __future__ import annotations

from typing import Any

#: the rewrites of step 2 run on formulas at most this large (``count_ops``, and
#: characters as printed) ...
SMALL_OPS = 48
SMALL_CHARS = 200
#: ... with at most this many distinct compound exponentials: with two or more (two
#: neurons) the rational function in them is longer than the formula on every sample,
#: and building it is most of the cost
SMALL_EXPONENTIALS = 1


def shortest(expr: Any) -> tuple[Any, str]:
    """The candidate form of `expr` that prints shortest, and its text (see the module doc)."""
    import sympy as sp

    sigmoid = cosh_form(expr)
    if sp.count_ops(expr) > SMALL_OPS:  # a large formula: step 2 taken as it is, one text printed
        return sigmoid, str(sigmoid)
    text = str(expr)
    if len(text) > SMALL_CHARS:
        return (expr, text) if sigmoid == expr else (sigmoid, str(sigmoid))
    candidates = [expr] if sigmoid == expr else [expr, sigmoid]
    exponentials = _exponentials(sigmoid)
    if len(exponentials) <= SMALL_EXPONENTIALS:
        rational = exponential_form(expr) if exponentials else sp.together(expr)
        candidates += [rational, cosh_form(rational)]
    printed = {expr: text}
    for form in candidates:
        if form not in printed:
            printed[form] = str(form)
    fewest = min(len(t) for t in printed.values())
    ties = [form for form in printed if len(printed[form]) == fewest]  # in the order tried
    best = ties[0] if len(ties) == 1 else min(ties, key=sp.count_ops)  # min keeps the first of equals
    return best, printed[best]


def _exponentials(expr: Any) -> list:
    """The compound exponents ``A`` of `expr`'s ``exp(A)``, one sign of each (``A`` and ``-A``
    are one), in SymPy's canonical order."""
    import sympy as sp

    found: list = []
    for power in sorted(expr.atoms(sp.exp), key=sp.default_sort_key):
        argument = power.args[0]
        if argument.is_Atom:
            continue
        key = -argument if argument.could_extract_minus_sign() else argument
        if key not in found:
            found.append(key)
    return found


def exponential_form(expr: Any) -> Any:
    """`expr` as one rational function of its compound exponentials (step 2 of the module
    doc), or None when it has none."""
    import sympy as sp

    forward: dict[Any, Any] = {}
    back: dict[Any, Any] = {}
    for key in _exponentials(expr):
        # a name no gradcli input can have ('#'), so the order of terms is the same in every run
        e = sp.Symbol(f"exp#{len(back)}", positive=True)
        forward[sp.exp(key)], forward[sp.exp(-key)] = e, 1 / e
        back[e] = sp.exp(key)
    if not forward:
        return None
    rational = expr.xreplace(forward).replace(
        lambda x: isinstance(x, sp.log), lambda x: sp.expand_log(sp.log(sp.together(x.args[0]))))
    return sp.together(rational).xreplace(back)


def cosh_form(expr: Any) -> Any:
    """`expr` with each product ``exp(A)/(exp(A) + 1)**2`` written ``1/(4*cosh(A/2)**2)``:
    the same function (the sigmoid's derivative), one copy of ``A`` fewer."""
    import sympy as sp

    def rewrite(product: Any) -> Any:
        factors = list(product.args)
        for i, f in enumerate(factors):
            if not isinstance(f, sp.exp) or f.args[0].is_Atom:
                continue
            a = f.args[0]
            for j, g in enumerate(factors):
                if g.is_Pow and g.exp == -2 and g.base == f + 1:
                    rest = [x for k, x in enumerate(factors) if k not in (i, j)]
                    return sp.Mul(*rest) / (4 * sp.cosh(a / 2) ** 2)
        return product

    return expr.replace(lambda x: x.is_Mul, rewrite)
