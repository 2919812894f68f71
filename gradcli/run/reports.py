"""What a request comes back as: typed reports, the only things `gradcli.output` renders.

`EvalReport` is one evaluation with its checks and the explanations asked for
(`Explained`: one typed field per explanation, where the command line once passed an
untyped ``extras`` dict from `gradcli.cli` into `gradcli.output`).  `MatrixReport` is a
Jacobian or Hessian; `JudgeReport` a student's answers, judged; `DiffReport` formulas;
`ExportReport` a script.  A plot is a `gradcli.run.sample.Curve` or `Field`, a descent a
`gradcli.run.descend.Descent`: typed already, they are their own reports.
Plain data: this module imports nothing heavy (the fast path builds an `EvalReport`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from .requests import Record

if TYPE_CHECKING:  # pragma: no cover - names for the type checker only
    from .evaluate import Evaluation


class Explained(Record):
    """The explanations an evaluation carries besides its numbers, in the order they are
    shown.  A flag is an explanation the renderer draws from the evaluation itself; the
    others hold what was computed for it (exact values, LaTeX)."""

    steps: bool = False
    forward_steps: bool = False
    paths: bool = False
    edges: bool = False
    #: the exact values and gradient (`gradcli.oracles.exact.run_exact`)
    exact: Any = None
    #: LaTeX lines by name (`gradcli.oracles.exact.run_latex`)
    latex: Optional[dict[str, str]] = None
    #: the sweep (or the tangent passes) as LaTeX
    latex_steps: Optional[str] = None
    #: with edges on arrays: also each edge's local Jacobian matrix
    jacobians: bool = False

    #: the order the explanations are shown in
    ORDER = ("steps", "forward_steps", "paths", "edges", "exact", "latex", "latex_steps")

    def shown(self) -> list[str]:
        """The explanations present, in `ORDER`."""
        return [key for key in self.ORDER if getattr(self, key) not in (None, False)]


class EvalReport(Record):
    """One evaluation, the checks run on it, and its explanations."""

    evaluation: "Evaluation"
    #: `gradcli.oracles.checks.Check` (an oracle sits above this floor: named, not imported)
    checks: list[Any] = []
    explained: Explained = Explained()

    @property
    def failed(self) -> bool:
        return any(check.failed for check in self.checks)


class MatrixReport(Record):
    """A Jacobian or Hessian (`gradcli.run.derivatives.Matrix`, its checks inside) and the
    evaluation it was taken at."""

    evaluation: "Evaluation"
    matrix: Any

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.matrix.checks)


class JudgeReport(Record):
    """A student's answers, judged (`gradcli.teach.homework.Verdict`), by these rules."""

    evaluation: "Evaluation"
    verdicts: list[Any]
    rules: Any
    reveal: bool = False

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


class ExportReport(Record):
    """The program at its point as a script."""

    evaluation: "Evaluation"
    script: str


class DiffReport(Record):
    """Derivatives as formulas: `formulas` (`gradcli.teach.derive`'s, scalars) or `arrays`
    (`gradcli.teach.derive_arrays`'s matrix formulas, with where the shapes came from)."""

    source: str
    output: str
    formulas: Any = None
    arrays: Any = None
    shapes_from: str = ""
    steps: bool = False
    latex: bool = False
