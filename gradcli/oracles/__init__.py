"""Independent answers to check the engine against.

* `checks` -- verdict types and tolerances, and central finite differences.
* `sympy_check` -- SymPy's own derivative of our graph, to 30 digits.
* `short_form` -- the formula printed beside it: the shortest of a few cheap rewrites.
* `budget` -- the time budget those SymPy jobs run under (a forked child).
* `exact` -- exact arithmetic (rationals, surds, π) for `--exact` and `--latex`.
* `matrix_checks` -- element-by-element checks of Jacobians and Hessians.
"""
