"""The SymEngine backend: the SymPy forms of `gradcli.backends.sympy`, built in SymEngine.

SymEngine (a regular dependency) is a C++ symbolic library with SymPy's
names.  Building the same per-primitive forms with it (`sympy_backend(symengine)`),
differentiating with its ``diff`` and evaluating through its ``cse`` at 103 bits
(30+ digits) is about a hundred times faster than SymPy on the samples.  It has no
rule for the derivative of ``Abs``/``Max``/``Min``/``sign`` (it returns an unevaluated
``Derivative``) and no ``Heaviside``, so graphs with those ops, and with any op not
yet checked here, stay with SymPy (`supports`, an allow-list).  Nothing here uses gradcli's own partials (`gradcli.core.ops`): the
derivative is SymEngine's calculus on the forward forms alone.

`load()` returns the module, or None when it cannot be imported (then SymPy does it all).
"""

from __future__ import annotations

from ..core.graph import Graph

#: ops whose SymEngine form is known to differentiate and evaluate like SymPy's (an
#: allow-list: an op added to the table later stays with SymPy until it is checked here)
SUPPORTED = frozenset({
    "input", "const", "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "sin", "cos", "tan",
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "softplus", "xlogy", "matmul", "dot",
    "outer", "transpose", "sum", "mean", "norm", "softmax", "log_softmax", "logsumexp", "index", "stack",
})
#: binary precision of the evaluation: at least 30 significant decimal digits
BITS = 103


def load(spare_numpy: bool = False):
    """The symengine module, or None if it cannot be imported (or is hidden).

    With `spare_numpy`, a first import does not import NumPy too (0.07-0.17 s of a scalar
    check): NumPy is hidden while SymEngine loads, where it is not loaded already.  Only
    for a forked check that exits after it: SymEngine then never meets a NumPy object
    (a scalar program's numbers are SymEngine's own, `number_at`), and an array program
    has NumPy loaded before, so nothing is hidden."""
    import sys

    if spare_numpy and "symengine" not in sys.modules and "numpy" not in sys.modules:
        sys.modules["numpy"] = None  # type: ignore[assignment]
        try:
            import symengine
        except ImportError:
            return None
        finally:
            del sys.modules["numpy"]
        return symengine
    try:
        import symengine
    except ImportError:
        return None
    return symengine


def supports(graph: Graph) -> bool:
    """Whether every op of `graph` has a SymEngine form that it can differentiate."""
    return all(node.op in SUPPORTED for node in graph.nodes)


def number_at(value: float, se):
    """A float as a SymEngine real of `BITS` bits, exactly the float's binary value
    (its full decimal expansion, not its shortest repr: 0.1 is 0.1000000000000000055…)."""
    from decimal import Decimal

    return se.RealMPFR(str(Decimal(float(value))), BITS)


def values_at(exprs: list, point: dict, se) -> list:
    """Evaluate expressions at `point` ({symbol: number}), sharing common subexpressions."""
    replacements, reduced = se.cse(exprs)
    env = dict(point)
    for sym, sub in replacements:
        env[sym] = sub.subs(env)
    return [r.subs(env) for r in reduced]


def is_real_number(value, se) -> bool:
    """Whether a SymEngine result is a plain finite real number (not complex, nan, oo, Derivative)."""
    return isinstance(value, (se.RealMPFR, se.Integer, se.Rational, se.RealDouble)) and \
        float(value) == float(value) and abs(float(value)) != float("inf")
