"""Explaining backprop, drawing it, and grading it.

* `edges` -- the local derivative ∂node/∂arg on every edge, symbolic and numeric,
  from the op rows themselves.
* `explain` -- `--steps` (the reverse sweep) and `--paths` (sum over paths), as text,
  data and LaTeX.
* `pictures` -- the graph as text, DOT, Mermaid, SVG or PNG.
* `homework` -- judging a student's numbers and formulas, and a class's CSV.

Explanations return text or data; `gradcli.output` lays them out, `gradcli.cli` prints.
"""
