"""Shared helpers for the command-line tests: run gradcli through click's CliRunner
and check the things every run must satisfy."""

from __future__ import annotations

import json
import signal
from contextlib import contextmanager
from typing import Optional

from click.testing import CliRunner, Result

from gradcli.cli.commands import main

#: a fixed, colourless, non-terminal environment (COLUMNS set per file when needed)
ENV: dict[str, Optional[str]] = {
    "COLUMNS": "100",
    "NO_COLOR": None,
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
    "GRADCLI_DEBUG": None,
}


def run_cli(argv: list[str], input=None, env: Optional[dict] = None) -> Result:
    """Run gradcli; never a traceback, never an internal error."""
    result = CliRunner().invoke(main, argv, input=input, env={**ENV, **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        assert "internal error" not in stream
    return result


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
