"""Running a program: the pipeline every command and the Python API share.

* `requests` -- what each command is asked, as typed records the command line and the
  API both build (`EvaluateRequest`, `MatrixRequest`, `JudgeRequest`, `DiffRequest`,
  `ExportRequest`, `PlotRequest`, `DescendRequest`; their shared `Point`, `Checks`,
  `Explain`), validated once.
* `pipeline` -- runs a request into a report (it composes `gradcli.oracles` and
  `gradcli.teach`, so it sits above them in the layers).
* `reports` -- what a request comes back as (`EvalReport` with its typed `Explained`,
  `MatrixReport`, `JudgeReport`, `DiffReport`, `ExportReport`): all `gradcli.output` renders.

* `bindings` -- ``NAME=VALUE`` arguments and ``--vars`` files to values.
* `files` -- reading the user's input files with a bound (a program, --vars, --answers,
  --points); ``-`` for stdin.
* `evaluate` -- one evaluation: program + bindings -> graph, values, adjoints,
  gradient (`Evaluation`), with kink and binding diagnostics; forward mode.
* `derivatives` -- full Jacobians and forward-over-reverse Hessians.
* `batch` -- ``--points``: one program at many points, vectorized (and ``descend --examples``).
* `sample` -- a program sampled on a grid of one or two inputs (``gradcli plot``).
* `descend` -- gradient descent with the engine's own gradients (``gradcli descend``).
"""
