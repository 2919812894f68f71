"""A student's number, and the rule that judges it.

A number is right when it agrees with the truth

* within the tolerance, ``|answer - truth| <= atol + rtol·|truth|`` (default rtol 1e-4,
  atol 1e-8), or
* **to the significant digits the student wrote**: the truth rounded (or cut) to those
  digits is the answer, so 1.235 and 1.24 are right for 1.23526 — as long as the answer
  has at least `Rules.min_digits` significant digits (default 3): 1.2 is "too few
  digits".  An answer equal to the truth within the tolerance (3, 0.5, 1/3) is right
  however few its digits.

When the grader gives ``--rtol``/``--atol`` explicitly, the tolerance alone judges: the
grader asked for that precision.  Arrays are judged element by element, each element
with the digits written for it.  A wrong number that is nevertheless close (right to 2
significant digits, or off by a unit or two in the last digit written, as rounding the
intermediate values gives) carries a note saying so.

The digits come from the text the student wrote (``1.200`` has four; the trailing zeros
of a whole number written without a point may be places: ``343000`` is right for 343470,
rounded to 3 digits); a number handed to the API as a float has the digits of its
shortest representation (``repr``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional

#: default tolerance for a student's number
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-8
#: fewest significant digits an answer needs to be judged right to its digits
DEFAULT_MIN_DIGITS = 3

#: one number literal of gradcli's language, with its sign
_LITERAL = re.compile(r"([-+]?)(\d+\.?\d*|\.\d+)(?:[eE]([-+]?\d+))?")
#: text that is nothing but literals in brackets: a number or an array written out
_PLAIN = re.compile(r"[\s\[\],0-9eE.+\-]*")


@dataclass(frozen=True)
class Rules:
    """How numbers are judged: the tolerance, and whether written digits count."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    #: the tolerance was given by the grader (then it alone judges)
    explicit: bool = False
    min_digits: int = DEFAULT_MIN_DIGITS

    @classmethod
    def of(cls, rtol: Optional[float] = None, atol: Optional[float] = None,
           min_digits: Optional[int] = None) -> "Rules":
        """The rules for options as given (None: the default)."""
        return cls(DEFAULT_RTOL if rtol is None else float(rtol), DEFAULT_ATOL if atol is None else float(atol),
                   rtol is not None or atol is not None,
                   DEFAULT_MIN_DIGITS if min_digits is None else int(min_digits))

    @property
    def words(self) -> str:
        """The rule in words, for the verdict's footer."""
        tol = f"within rtol {self.rtol:g}, atol {self.atol:g}"
        if self.explicit:
            return tol
        return f"to the digits written (at least {self.min_digits}) or {tol}"


@dataclass
class Written:
    """The digits of one written number: how many are significant, and the value of a
    unit in the last place written (``1.235`` -> 4, 0.001).  None: exact (an expression
    such as 1/3, or a value with no digits to count)."""

    digits: int
    ulp: float
    #: trailing zeros of a whole number written without a point (``343000``: 3), which may
    #: be places kept rather than digits: 343000 is 343470 rounded to 3 digits
    places: int = 0

    def readings(self) -> list["Written"]:
        """Every way the digits can be read, most digits first (``343000``: 6 down to 3)."""
        return [Written(self.digits - k, self.ulp * 10.0 ** k) for k in range(self.places + 1)
                if self.digits - k >= 1]


def literal_digits(text: str) -> Optional[Written]:
    """Significant digits and last-place unit of one literal such as ``-0.007795`` or
    ``1.20e-3``; None for anything else."""
    m = _LITERAL.fullmatch(text.strip())
    if m is None:
        return None
    mantissa, exponent = m.group(2), int(m.group(3) or 0)
    whole, _, frac = mantissa.partition(".")
    figures = (whole + frac).lstrip("0")
    if not figures:  # 0, 0.000: a zero; judged by the tolerance
        return None
    places = len(figures) - len(figures.rstrip("0")) if "." not in mantissa else 0
    return Written(len(figures), 10.0 ** (exponent - len(frac)), places)


def written_digits(text: str, size: int) -> Optional[list[Optional[Written]]]:
    """Per element (in C order), the digits written for each of `size` numbers in an
    answer's text; None when the text is an expression rather than numbers written out."""
    if not _PLAIN.fullmatch(text):
        return None
    found = [literal_digits(m.group(0)) for m in _LITERAL.finditer(text)]
    return found if len(found) == size else None


def repr_digits(value: Any) -> list[Optional[Written]]:
    """The digits of numbers handed over as floats: those of their shortest repr."""
    import numpy as np

    flat = np.ravel(np.asarray(value, dtype=float))
    return [literal_digits(repr(float(x))) if math.isfinite(float(x)) else None for x in flat]


def _size(x: Any) -> int:
    shape = getattr(x, "shape", ())
    n = 1
    for d in shape:
        n *= d
    return n


def digits_of(answer: Any, text: Optional[str]) -> list[Optional[Written]]:
    """The written digits of every element of an answer (from its text when known)."""
    size = _size(answer)
    if text is not None:
        found = written_digits(text, size)
        return found if found is not None else [None] * size
    return repr_digits(answer)


@dataclass
class Judged:
    """One number (or array) judged: right?, which rule, and a note for a near miss."""

    ok: bool
    #: "tolerance" or "digits" (the rule that found it right), "" when wrong
    rule: str = ""
    note: str = ""
    #: (index, answer, truth) of each wrong element of an array
    wrong: Optional[list[tuple[tuple, float, float]]] = None


def _tolerance_ok(a: float, t: float, rules: Rules) -> bool:
    if math.isnan(t) or math.isinf(t):
        return a == t or (math.isnan(a) and math.isnan(t))
    return abs(a - t) <= rules.atol + rules.rtol * abs(t)


def _digits_ok(a: float, t: float, w: Optional[Written]) -> bool:
    """The answer is the truth rounded, or cut, to the digits written."""
    if w is None or not math.isfinite(t):
        return False
    slack = 1e-9 * w.ulp + 4 * math.ulp(t)
    off = abs(a - t)
    if off <= w.ulp / 2 + slack:
        return True
    cut = (a == 0 or (a > 0) == (t > 0)) and abs(a) <= abs(t) + slack
    return cut and off < w.ulp * (1 - 1e-6)


def _agrees_to(a: float, t: float) -> int:
    """How many significant digits of the truth the answer gets right (rounded), 0-17."""
    if a == t:
        return 17
    if not (math.isfinite(a) and math.isfinite(t)) or t == 0:
        return 0
    top = math.floor(math.log10(abs(t)))
    for d in range(1, 18):
        if abs(a - t) > 0.5 * 10.0 ** (top - d + 1) * (1 + 1e-9):
            return d - 1
    return 17


def judge_element(a: float, t: float, w: Optional[Written], rules: Rules) -> tuple[bool, str, str]:
    """(right?, rule, note) for one number."""
    if _tolerance_ok(a, t, rules):
        return True, "tolerance", ""
    if rules.explicit:
        return False, "", _near(a, t, w)
    if w is not None and _digits_ok(a, t, w):
        if w.digits >= rules.min_digits:
            return True, "digits", ""
        return False, "", (f"too few digits: {w.digits} significant digit{'s' if w.digits > 1 else ''} "
                           f"written, at least {rules.min_digits} needed")
    if w is not None and any(r.digits >= rules.min_digits and _digits_ok(a, t, r) for r in w.readings()[1:]):
        return True, "digits", ""  # 343000 for 343470: its trailing zeros are places
    return False, "", _near(a, t, w)


def _near(a: float, t: float, w: Optional[Written]) -> str:
    """A note for a wrong number that is close, or ""."""
    if w is not None and w.digits >= 3 and math.isfinite(t) and abs(a - t) <= 2.5 * w.ulp:
        return ("close: off by a unit or two in the last digit written (were intermediate values "
                "rounded?)")
    agree = _agrees_to(a, t)
    if 2 <= agree < 17 and (w is None or w.digits > agree):
        return f"close: right to {agree} significant digits only"
    return ""


def judge_value(answer: Any, truth: Any, rules: Rules, written: Optional[list[Optional[Written]]] = None) -> Judged:
    """A number or array against the truth (same shape), element by element."""
    shape = getattr(truth, "shape", ())
    if written is None:
        written = digits_of(answer, None)
    if not shape:
        ok, rule, note = judge_element(float(answer), float(truth), written[0] if written else None, rules)
        return Judged(ok, rule, note)
    import numpy as np

    a, t = np.asarray(answer, dtype=float), np.asarray(truth, dtype=float)
    wrong: list[tuple[tuple, float, float]] = []
    rules_used: set[str] = set()
    notes: list[str] = []
    for k, index in enumerate(np.ndindex(*t.shape)):
        ok, rule, note = judge_element(float(a[index]), float(t[index]), written[k] if k < len(written) else None,
                                       rules)
        if ok:
            rules_used.add(rule)
        else:
            wrong.append((tuple(int(i) for i in index), float(a[index]), float(t[index])))
            if note and note not in notes:
                notes.append(note)
    if wrong:
        return Judged(False, "", notes[0] if notes else "", wrong)  # the first element's note
    return Judged(True, "digits" if "digits" in rules_used else "tolerance")


def matches(answer: Any, value: Any, rules: Rules, written: Optional[list[Optional[Written]]] = None) -> bool:
    """The answer is `value` by the same rule (to tell which mistake it is)."""
    if getattr(answer, "shape", ()) != getattr(value, "shape", ()):
        return False
    return judge_value(answer, value, rules, written).ok
