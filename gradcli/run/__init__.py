"""Running a program: the pipeline every command and the Python API share.

* `bindings` -- ``NAME=VALUE`` arguments and ``--vars`` files to values.
* `files` -- reading the user's input files with a bound (a program, --vars, --answers,
  --points); ``-`` for stdin.
* `evaluate` -- one evaluation: program + bindings -> graph, values, adjoints,
  gradient (`Evaluation`), with kink and binding diagnostics; forward mode.
* `derivatives` -- full Jacobians and forward-over-reverse Hessians.
* `batch` -- ``--points``: one program at many points, vectorized.
* `sample` -- a program sampled on a grid of one or two inputs (``gradcli plot``).
* `descend` -- gradient descent with the engine's own gradients (``gradcli descend``).
"""
