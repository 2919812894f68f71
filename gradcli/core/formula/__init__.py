"""One expression tree for formulas, with its renderers and its evaluator.

* `tree` -- `Expr`, the binding powers of the one precedence ladder, the builders;
* `text` -- the lecture's Unicode text and LaTeX (`Render`);
* `syntax` -- gradcli's language and Python source (`Syntax`, the name tables);
* `evaluate` -- the value on a backend (`Evaluate`, `numpy_backend`).

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

from .evaluate import Evaluate, numpy_backend
from .syntax import GRADCLI, PYTHON, Syntax
from .text import Render
from .tree import ATOM, COMPARE, POW, PREC, PROD, SIGN, SUM, UNARY, Expr, FormulaError, call, leaf

__all__ = ["Expr", "FormulaError", "PREC", "Render", "Syntax", "Evaluate", "GRADCLI", "PYTHON", "numpy_backend",
           "leaf", "call", "COMPARE", "SUM", "SIGN", "PROD", "UNARY", "POW", "ATOM"]
