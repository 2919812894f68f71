"""One expression tree for formulas, with its renderers and its evaluator.

* `tree` -- the nodes and the binding powers of the one precedence ladder (`Expr`, here,
  is a node with its renderers and evaluator);
* `text` -- the lecture's Unicode text and LaTeX (`Render`);
* `syntax` -- gradcli's language and Python source (`Syntax`, the name tables);
* `evaluate` -- the value on a backend (`Evaluate`, `numpy_backend`);
* `scalar` -- scalar formulas built by simplifying constructors and rendered in gradcli's
  compact text (`Scalar`, ``c*(1 - c)``): the local partials of the DAG's edges, traced by
  calling the ops' partials with a namespace of them (`SymbolicText`);
* `code` -- Python source with array shapes, built by simplifying constructors and rendered
  with Python's operators (`Code`, ``np.outer(dz, x)``): the lines ``gradcli export`` writes;
* `sweep` -- the reverse sweep's formulas in gradcli's language and LaTeX (`Derived`,
  ``transpose(W) @ dz``): what ``gradcli diff`` prints for array programs.

A `Expr` is a small tree of matrix calculus -- ``W̄ += v̄ xᵀ``, ``z̄ = s ∘ (s̄ − ⟨s̄, s⟩)``,
``v̇ = Ẇ x + W ẋ`` -- built with Python's operators (``G @ X1.T``, ``OUT * (G - ...)``).
The same tree

* renders as the lecture's Unicode text and as LaTeX (`Expr.text`),
* renders as gradcli syntax (`Expr.gradcli`), which gradcli's own parser reads back,
* renders as Python source for NumPy, PyTorch or JAX (`Expr.python`, via a name table),
* evaluates on a backend namespace `m` (`Expr.value`): NumPy arrays by default, or any
  namespace with the same helper names (``gradcli.backends.arrays.ARRAY``,
  ``gradcli.backends.dual.DUAL``'s dual numbers).

Precedence is handled once, here: `PREC` gives each node kind its binding power and
every renderer brackets a child by comparing powers (`Render.wrap`).

Leaves read an environment: ``G`` (the output's adjoint), ``X0``/``X1`` (the arguments),
``OUT`` (the output), ``P0``/``P1`` (an elementwise op's partials), ``N`` (an element
count), ``T0``/``T1`` (tangents).  In a product a vector is a column (``v̄ xᵀ`` is
3×1 · 1×2 → 3×2); a reduction's adjoint and output are read with the reduced axis
kept, so they broadcast back.  NumPy is imported only when a formula is evaluated.
"""

from typing import Any, Callable, Optional

from .evaluate import Evaluate, numpy_backend
from .syntax import GRADCLI, PYTHON, Syntax
from .text import Render
from .tree import ATOM, COMPARE, POW, PREC, PROD, SIGN, SUM, UNARY, FormulaError, Node


class Expr(Node):
    """A formula: a `Node` tree that renders itself and evaluates itself."""

    __slots__ = ()

    # ---- renderers --------------------------------------------------------------
    def text(self, names: dict, latex: bool = False) -> str:
        """The formula in the lecture's notation (or LaTeX); `names` maps leaf keys to labels."""
        return Render(names, latex).show(self)

    def gradcli(self, names: dict, shapes: Optional[dict] = None) -> str:
        """The formula in gradcli's language (what ``gradcli diff`` prints; it parses back).

        `shapes` maps leaf keys to shapes, so that a vector times a transposed vector
        is written ``outer(a, b)``; a node with no gradcli form raises `FormulaError`."""
        return Syntax(GRADCLI, names, shapes or {}).show(self)

    def python(self, names: dict, target: str = "numpy", shapes: Optional[dict] = None) -> str:
        """The formula as Python source for `target` (``numpy``, ``torch`` or ``jax``)."""
        return Syntax(PYTHON[target], names, shapes or {}).show(self)

    # ---- numbers ----------------------------------------------------------------
    def value(self, env: dict, m: Any = None):
        """The formula evaluated on backend `m` (NumPy when None); vectors are columns inside products."""
        return Evaluate(env, numpy_backend() if m is None else m).run(self)


def leaf(key: str) -> Expr:
    return Expr("leaf", key=key)


def call(name: str, fn: Callable, *args: Expr, extra: str = "") -> Expr:
    """``name(args)``; `fn(m, *values)` evaluates it on backend `m`."""
    return Expr("call", *args, key=name, data=(fn, extra))

__all__ = ["Expr", "Node", "FormulaError", "PREC", "Render", "Syntax", "Evaluate", "GRADCLI", "PYTHON", "numpy_backend",
           "leaf", "call", "COMPARE", "SUM", "SIGN", "PROD", "UNARY", "POW", "ATOM"]
