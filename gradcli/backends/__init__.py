"""Each primitive evaluated on one kind of number; the engine is written against these.

* `floats` -- Python floats and the C functions of `math` (the fast scalar path).
* `arrays` -- NumPy arrays, with broadcasting.
* `tensor_kernels` -- convolution, pooling, axis extremes, row gathers and picks on NumPy
  (vectorised, with their shape rules and gradients), for the deep-learning ops' rows.
* `dual` -- dual numbers built generically from the op table (forward mode, Hessians).
* `sympy` -- SymPy expressions built from our graph (never from user text).
* `symengine` -- the same forms built in SymEngine, a regular dependency.

Backends sit above `gradcli.core.ops` and below `gradcli.core.engine`.
"""
