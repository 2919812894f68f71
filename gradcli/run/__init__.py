"""Running a program: the pipeline every command and the Python API share.

* `bindings` -- ``NAME=VALUE`` arguments and ``--vars`` files to values.
* `evaluate` -- one evaluation: program + bindings -> graph, values, adjoints,
  gradient (`Evaluation`), with kink and binding diagnostics; forward mode.
* `derivatives` -- full Jacobians and forward-over-reverse Hessians.
* `batch` -- ``--points``: one program at many points, vectorized.
"""
