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
* `homework` -- the judge: one request (a student's numbers and formulas) to verdicts,
  for ``gradcli check``, gradebooks, Gradescope output and ``gradcli.judge``.
* `answers` -- a student's number and the rule that judges it (tolerance, or right to
  the significant digits written).
* `points` -- where a formula is tested: points that keep data inputs in kind and cross
  every kink.
* `gradebook` -- a class's answer sheet, graded cell by cell.
* `mistakes` -- common backprop mistakes, and which one explains a wrong answer.
* `batchnorm` -- the compact backward formula of the prelude's batchnorm, printed and
  evaluated where ``--steps`` meets a batchnorm call.
* `formula_shapes` -- a formula whose shapes do not fit, said in its own terms.

Explanations return text or data; `gradcli.output` lays them out, `gradcli.cli` prints.
"""
