"""Shared helpers for the tests: run gradcli through click's CliRunner in one fixed
environment (`invoke`, `run_cli`; tests/conftest.py offers `run_cli` as the `cli` fixture),
check the things every run must satisfy, compare with golden files (`assert_golden`), and
size the property tests (`examples`)."""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional, Sequence

from click.testing import CliRunner, Result

from gradcli.cli.commands import main

#: a fixed, colourless, non-terminal environment (`columns=` sets another width)
ENV: dict[str, Optional[str]] = {
    "COLUMNS": "100",
    "NO_COLOR": None,
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
    "GRADCLI_DEBUG": None,
}


#: Property tests draw a quarter of their written example counts (at least 2): CI's profile.
#: GRADCLI_FUZZ_FULL=1 draws the full counts; GRADCLI_FUZZ_EXAMPLES=N at least N each.
FUZZ_FULL = os.environ.get("GRADCLI_FUZZ_FULL") == "1"
FUZZ_EXTRA = int(os.environ.get("GRADCLI_FUZZ_EXAMPLES", "0") or 0)


def examples(written: int) -> int:
    """The `max_examples` for a property test written for `written` examples (see FUZZ_FULL)."""
    drawn = written if FUZZ_FULL else max(min(written, 2), written // 4)
    return max(drawn, FUZZ_EXTRA)


def invoke(argv: Sequence[str], input=None, env: Optional[dict] = None, *, columns: Optional[int] = None,
           prog_name: Optional[str] = None) -> Result:
    """Run ``gradcli ARGV`` in-process in the fixed environment `ENV` (plus `env`), `columns` wide;
    no checks (see `run_cli`)."""
    full = {**ENV, **(env or {})}
    if columns is not None:
        full["COLUMNS"] = str(columns)
    extra = {"prog_name": prog_name} if prog_name else {}
    return CliRunner().invoke(main, list(argv), input=input, env=full, **extra)


def run_cli(argv: Sequence[str], input=None, env: Optional[dict] = None, *, columns: Optional[int] = None,
            prog_name: Optional[str] = None) -> Result:
    """Run gradcli (as `invoke`); never a traceback, never an internal error."""
    result = invoke(argv, input=input, env=env, columns=columns, prog_name=prog_name)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        assert "internal error" not in stream
    return result


#: GRADCLI_UPDATE_GOLDEN=1 rewrites every golden file from the current output (read the diff
#: before committing)
UPDATE_GOLDEN = os.environ.get("GRADCLI_UPDATE_GOLDEN") == "1"


def _rstripped(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def assert_golden(path: Path, actual: str, *, exact: bool = False,
                  comparable: Optional[Callable[[str], list[str]]] = None) -> None:
    """`actual` is the golden file at `path`: line by line with trailing blanks ignored, or
    `exact`ly, or as the lines `comparable` makes of either text.  GRADCLI_UPDATE_GOLDEN=1
    writes `actual` there first (trailing blanks stripped unless `exact` or `comparable`)."""
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = exact or comparable is not None
        path.write_text(actual if raw else "\n".join(_rstripped(actual)) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with GRADCLI_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if exact:
        assert actual == expected, f"{path.name} differs (GRADCLI_UPDATE_GOLDEN=1 rewrites it)"
        return
    lines = comparable or _rstripped
    want, got = lines(expected), lines(actual)
    for i, (w, g) in enumerate(zip(want, got), start=1):
        assert g == w, f"{path.name} line {i} differs:\n  golden: {w!r}\n  actual: {g!r}"
    assert len(got) == len(want), f"{path.name}: {len(want)} lines in the golden file, {len(got)} now"


def strict_json(text: str) -> dict:
    """JSON that must not contain NaN/Infinity literals."""

    def reject(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=reject)


def usage_error(result: Result, *fragments: str) -> None:
    """Exit 2, nothing on stdout, one 'gradcli: error:' line naming the problem."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gradcli: error: ")
    for f in fragments:
        assert f in lines[0], lines[0]


class Hang(BaseException):
    """Raised by the watchdog: not an Exception, so ordinary handlers do not swallow it."""


@contextmanager
def watchdog(seconds: int):
    """Fail a call that takes longer than `seconds` (SIGALRM: main thread, Unix)."""

    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
