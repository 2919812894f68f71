"""Differential hunt on the commands besides eval and check: jacobian, hessian, diff, export,
graph, plot, descend and the deep-learning ops (conv, pooling, embeddings, rank 3/4).

Each command is tested against an independent reference built in the test from Python
(finite differences, an explicit NumPy loop) and against the other commands:

- `jacobian` rows against `eval --seed-output eᵢ` and finite differences, forward and
  reverse mode alike, over ops of every rank;
- `hessian` against central differences of eval's gradient, and its symmetry;
- `diff`'s formulas, read back by gradcli itself, against eval's gradient at random points;
- `export`'s NumPy script, run with ``python -I``, against eval's value and gradient;
- `descend`'s first step against θ − lr·∇ from eval;
- conv1d/conv2d/pooling/embeddings against an explicit loop written here;
- the JSON documents against their schemas, and the files the commands write.

Regressions found by this hunt are marked "regression:" with what was wrong.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import gradcli


# ---- regressions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, program, point", [("jacobian", "sign(x)", {"x": 0.0}),
                                                  ("hessian", "abs(x)", {"x": 0.0}),
                                                  ("hessian", "max(x, y)", {"x": 1.0, "y": 1.0}),
                                                  ("hessian", "sum(maxpool2d(x, 2))", {"x": [[[1.0, 1.0], [1.0, 1.0]]]})])
def test_matrix_check_with_only_nan_errors_warns_nothing(kind, program, point):
    """regression: a Jacobian or Hessian check whose every error is nan (SymPy's derivative is
    undefined at a kink) made `max_error` call np.nanmax, which warns "All-NaN slice"; the
    API's to_json() then raised under -W error (the CLI hid it by silencing all warnings)."""
    matrix = getattr(gradcli, kind)(program, point).check("sympy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = json.loads(matrix.to_json())
    entry = doc["checks"]["sympy"]
    assert entry["status"] == "kink"
    assert entry["error"] == "nan"
