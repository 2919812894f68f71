"""What a command is asked, as typed records: one per command, built alike by the command
line (`gradcli.cli`) and the API (`gradcli.api`), and run by `gradcli.run.pipeline`.

A request holds values, not spellings: the program's text and its bound values (a
`Point`), the derivative asked for, the checks (`Checks`), the explanations (`Explain`).
The command line reads its arguments and files into one; the API reads Python values
into the same one.  What a value may be (a mode, a seed, a check's kind, a tolerance) is
validated here, once, whoever built the request.

`Record` is a plain class whose fields are its annotations, with their defaults; it is built
from keywords only (``EvaluateRequest(**fields)``), refusing a name it does not declare.  Not
a dataclass nor a NamedTuple: the fast path builds requests on every plain ``gradcli eval``,
and both of those cost milliseconds at import (dataclasses imports inspect; NamedTuple
compiles each annotation).  This module imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional

from ..core.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover - names for the type checker only
    from .bindings import Binding


_MISSING = object()


class Record:
    """Fields are the annotations of the subclass and of the records it extends; those
    without a default must be given (a dict or list default is copied for each record)."""

    def __init__(self, **values: Any) -> None:
        names = self.fields()
        for name, value in values.items():
            if name not in names:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            setattr(self, name, value)
        missing = []
        for name in names:
            if name in values:
                continue
            default = getattr(type(self), name, _MISSING)
            if default is _MISSING:
                missing.append(name)
            elif isinstance(default, (dict, list)):  # each record its own, never the class's shared one
                setattr(self, name, default.copy())
        if missing:
            raise TypeError(f"{type(self).__name__} needs {', '.join(missing)}")

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The annotated names of the class and of the records it extends, base fields first."""
        found = cls.__dict__.get("_fields")
        if found is None:
            names: dict[str, None] = {}
            for klass in reversed(cls.__mro__):
                names.update(dict.fromkeys(klass.__dict__.get("__annotations__", {})))
            found = tuple(names)
            cls._fields = found  # type: ignore[attr-defined]  # this class's own cache (read from its __dict__)
        return found  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields())
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.fields())

    __hash__ = None  # type: ignore[assignment]


#: the reverse-mode explanations refused in forward mode; also said when the program's output
#: has no adjoints (a vector without --seed-output), which only the program tells
REVERSE_ONLY = ("--steps, --paths and --edges explain reverse mode: they need a scalar output "
                "(or --seed-output) and --mode reverse (forward mode takes --steps alone)")


# ---- values, validated once ----------------------------------------------------------------
#: the oracles a gradient can be checked against; "all" is both
CHECK_KINDS = ("sympy", "fd")


def check_kinds(kinds: Iterable[object]) -> tuple[str, ...]:
    """The oracles asked for, each once, in the order they run: sympy, then fd ("all": both)."""
    chosen: list[str] = []
    for kind in kinds:
        if not isinstance(kind, str):
            raise UsageError(f"a check's kind must be a string ('fd', 'sympy' or 'all'), got {type(kind).__name__}")
        if kind not in (*CHECK_KINDS, "all"):
            raise UsageError(f"unknown check {kind!r}: choose 'fd', 'sympy' or 'all'")
        chosen += list(CHECK_KINDS) if kind == "all" else [kind]
    return tuple(kind for kind in CHECK_KINDS if kind in chosen)


def tolerance(x: object, where: str) -> Optional[float]:
    """None, or a non-negative number (rtol, atol); inf is allowed, as --rtol inf is."""
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != x or x < 0:  # x != x: NaN
        raise UsageError(f"{where} must be a non-negative number, got {x!r}")
    return float(x)


def seconds(x: object, where: str = "sympy_timeout") -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not x > 0 or x != x:
        raise UsageError(f"{where} must be a positive number of seconds, got {x!r}")
    return float(x)


def _finite(x: float) -> bool:
    """Neither NaN nor ±inf (without importing math, a shared library, on the fast path)."""
    return x - x == 0


def choice(x: object, choices: tuple[str, ...], where: str) -> str:
    if x not in choices:
        listed = " or ".join(repr(c) for c in choices)
        raise UsageError(f"{where} must be {listed}, got {x!r}")
    return str(x)


# ---- the parts requests share -------------------------------------------------------------
class Point(Record):
    """The program and where it is evaluated: its text, its bound values, the output (a
    named step, or None for the last statement) and the inputs differentiated (None: all)."""

    source: str
    bindings: dict[str, "Binding"]
    output: Optional[str] = None
    wrt: Optional[list[str]] = None
    #: why the program's own point (its ``#:`` lines) could not be read, added to a
    #: missing-value error
    hints: tuple[str, ...] = ()


class Checks(Record):
    """The oracles a derivative is checked against, and their tolerances (None: the
    oracle's default)."""

    kinds: tuple[str, ...] = ()
    rtol: Optional[float] = None
    atol: Optional[float] = None
    sympy_timeout: float = 10.0

    @classmethod
    def of(cls, kinds: Iterable[object] = (), rtol: object = None, atol: object = None,
           sympy_timeout: object = 10.0) -> "Checks":
        return cls(kinds=check_kinds(kinds), rtol=tolerance(rtol, "rtol"), atol=tolerance(atol, "atol"),
                   sympy_timeout=seconds(sympy_timeout))


class Explain(Record):
    """The explanations asked for besides the numbers (``gradcli eval --steps`` …)."""

    steps: bool = False
    paths: bool = False
    edges: bool = False
    jacobians: bool = False
    exact: bool = False
    latex: bool = False
    #: significant digits of the LaTeX sweep (None: 10)
    digits: Optional[int] = None

    @property
    def any(self) -> bool:
        return any(getattr(self, name) for name in ("steps", "paths", "edges", "jacobians", "exact", "latex"))


# ---- one request per command --------------------------------------------------------------
class EvaluateRequest(Record):
    """``gradcli eval`` / `gradcli.evaluate`: values and one derivative pass.

    `mode` None means reverse, or forward when an input is `seed`ed; `seed` (an input's
    name, or one element ``W[0,1]``) starts one tangent pass; `seed_output` (text, or a
    value) is the cotangent of a non-scalar output."""

    point: Point
    mode: Optional[str] = None
    seed: Optional[str] = None
    seed_output: object = None
    checks: Checks = Checks()
    explain: Explain = Explain()

    def validated(self) -> "EvaluateRequest":
        """Itself, once its mode, seed and seed_output agree (else a `UsageError`)."""
        if self.mode is not None:
            choice(self.mode, ("reverse", "forward"), "mode")
        if self.seed is not None and not isinstance(self.seed, str):
            raise UsageError(f"seed must be an input's name (a string), got {type(self.seed).__name__}")
        if self.seed is not None and self.mode == "reverse":
            raise UsageError("seed NAME starts a forward-mode tangent pass: it needs mode forward "
                             "(for reverse mode with a chosen cotangent use seed_output)")
        if self.seed_output is not None and self.resolved_mode == "forward":
            raise UsageError("seed_output is for reverse mode; forward mode seeds an input with seed NAME")
        return self

    @property
    def resolved_mode(self) -> str:
        return self.mode or ("forward" if self.seed is not None else "reverse")


class MatrixRequest(Record):
    """``gradcli jacobian`` / ``gradcli hessian``: a whole matrix of derivatives."""

    point: Point
    kind: str = "jacobian"
    #: jacobian: "reverse", "forward" or "both" (compute both and compare)
    mode: str = "reverse"
    checks: Checks = Checks()

    def validated(self) -> "MatrixRequest":
        choice(self.kind, ("jacobian", "hessian"), "kind")
        choice(self.mode, ("reverse", "forward", "both") if self.kind == "jacobian" else ("reverse",), "mode")
        return self


class JudgeRequest(Record):
    """``gradcli check`` / `gradcli.judge`: one student's answers.  Each answer is a value
    and the text it was written as (None: a Python number, whose digits are its repr)."""

    point: Point
    expect: dict[str, tuple[object, Optional[str]]] = {}
    #: a step's name (None: the output) -> its value
    values: dict[Optional[str], tuple[object, Optional[str]]] = {}
    formulas: dict[str, str] = {}
    rtol: Optional[float] = None
    atol: Optional[float] = None
    min_digits: Optional[int] = None
    data: tuple[str, ...] = ()
    prove: bool = False
    reveal: bool = False
    sympy_timeout: float = 10.0


class ExportRequest(Record):
    """``gradcli export``: the program at its point as a script for `target`."""

    point: Point
    target: str = "numpy"

    def validated(self) -> "ExportRequest":
        choice(self.target, ("numpy", "torch", "jax"), "target")
        return self


class DescendRequest(Record):
    """``gradcli descend``: gradient descent from the point's values.  `examples` are the
    columns of a training-data CSV and its rows; the loss is their (minibatch) mean."""

    point: Point
    lr: float = 0.1
    updates: int = 50
    momentum: float = 0.0
    tol: float = 0.0
    every: int = 1
    examples: Optional[tuple[list[str], Any]] = None
    batch: Optional[int] = None
    shuffle_seed: int = 0

    def validated(self) -> "DescendRequest":
        if not _finite(self.tol) or self.tol < 0 or not _finite(self.momentum):
            raise UsageError("--tol must be a non-negative number and --momentum finite")
        return self


class DiffRequest(Record):
    """``gradcli diff``: derivatives as formulas, without numbers.  `shapes` holds values
    whose shapes (only) give the inputs theirs; None: no point given, every input a scalar."""

    source: str
    shapes: Optional[dict[str, "Binding"]] = None
    output: Optional[str] = None
    wrt: Optional[list[str]] = None
    steps: bool = False
    expand: bool = False
    latex: bool = False
    sympy_timeout: float = 10.0


class PlotRequest(Record):
    """``gradcli plot``: the program sampled over one range (a curve, with its derivative) or
    two (a gradient field); the other inputs take `point`'s values.  `ranges` are
    `gradcli.run.sample.Range`s; `overlay` "fd" adds finite differences to a curve."""

    point: Point
    ranges: list[Any]
    overlay: Optional[str] = None

    def validated(self) -> "PlotRequest":
        if not 1 <= len(self.ranges) <= 2:
            raise UsageError("give one range (NAME=LOW:HIGH) for a curve, or two for a gradient field")
        if self.overlay is not None:
            choice(self.overlay, ("fd",), "check")
            if len(self.ranges) != 1:
                raise UsageError("--check fd overlays a curve: give one range")
        return self
