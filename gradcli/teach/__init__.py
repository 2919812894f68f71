"""Explaining backprop, drawing it, and grading it.

* `edges` -- the local derivative ∂node/∂arg on every edge, symbolic and numeric,
  from the op rows themselves.
* `explain` -- `--steps` (the reverse sweep) and `--paths` (sum over paths), as text,
  data and LaTeX.
* `pictures` -- the graph as text, DOT, Mermaid, SVG or PNG.
* `forward`, `forward_arrays` -- forward mode by hand: the tangent sweep, on scalars
  and as matrix-form JVPs.
* `derive`, `derive_arrays` -- derivatives without a point: the reverse sweep in
  symbols, on scalars and as matrix formulas (``gradcli diff``).
* `export` -- a program as NumPy code with backprop written out, or PyTorch/JAX code.
* `homework` -- judging a student's numbers and formulas, and a class's CSV.
* `gradebook` -- a class's answer sheet, graded cell by cell.
* `mistakes` -- common backprop mistakes, and which one explains a wrong answer.

Explanations return text or data; `gradcli.output` lays them out, `gradcli.cli` prints.
"""
