"""gradcli: a gradient calculator, as a command line and as a library.

The public API (`gradcli.api`), loaded on first use so that the command line never
pays for it::

    import gradcli
    r = gradcli.evaluate("(a+b)*(b+1)", a=3, b=2)
    r.value        # 15.0
    r.gradient     # {'a': 3.0, 'b': 8.0}

Inside, programs are read by `gradcli.language` (text -> DAG), evaluated and
differentiated by `gradcli.core` on a backend of `gradcli.backends`, run with
bindings by `gradcli.run`, checked by `gradcli.oracles`, explained and graded by
`gradcli.teach`, rendered by `gradcli.output`, and driven by the command line in
`gradcli.cli`.  Beside them: `gradcli.testing` (pytest helpers for autograders),
`gradcli._version` (the version) and `gradcli.__main__` (``python -m gradcli``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .core.errors import ExitStatus, GradcliError, MathError, ParseError, ShapeError, UsageError

if TYPE_CHECKING:
    from .api import (CheckEntry, Derivation, DerivativeMatrix, Descent, Judgement, NodeInfo, Result, Sampled,
                      Verdict, descend, diff, evaluate, export, hessian, jacobian, judge, plot)

__all__ = [
    "__version__",
    "evaluate", "jacobian", "hessian", "judge", "export", "descend", "diff", "plot",
    "Result", "NodeInfo", "CheckEntry", "DerivativeMatrix", "Verdict", "Judgement", "Descent", "Derivation",
    "Sampled",
    "GradcliError", "ParseError", "UsageError", "ShapeError", "MathError", "ExitStatus",
]

_API = {"evaluate", "jacobian", "hessian", "judge", "export", "descend", "diff", "plot", "Result", "NodeInfo",
        "CheckEntry", "DerivativeMatrix", "Verdict", "Judgement", "Descent", "Derivation", "Sampled"}


def __getattr__(name: str) -> Any:
    """Load `gradcli.api` on first use of one of its names (PEP 562)."""
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
