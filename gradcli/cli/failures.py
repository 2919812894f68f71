"""Failures, signals and exit codes: how every way a command can end becomes one line and a status.

A `GradcliError` carries its own exit status (`gradcli.core.errors`); this module maps the rest --
SIGTERM and SIGHUP, Ctrl-C, a closed pipe, a full disk, and gradcli's own bugs -- to the
statuses the README lists under "Exit codes".  No click import here: the fast path uses it.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from ..core.errors import ExitStatus
from .printing import echo


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (so a SymPy child is killed) and exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):  # type: ignore[no-untyped-def]
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into `Terminated`, so ``finally`` blocks run before the exit.

    Only the program's entry points call this (`gradcli.cli.main.run`, `gradcli.cli.commands.run_cli`):
    importing gradcli, the API, or click's CliRunner in a test process leave the signals alone,
    so SIGTERM and Ctrl-C stop a test run as they stop any other.
    """
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            try:
                signal.signal(getattr(signal, name), _on_signal)
            except (ValueError, OSError):  # not the main thread (an embedding program): leave it
                pass


def running_as_program() -> bool:
    """Whether gradcli runs as the program (its handlers are installed), not inside another one.

    Inside another process (a test run, an embedding program) Ctrl-C is that process's to
    handle: gradcli passes KeyboardInterrupt on instead of turning it into exit 130.
    """
    import signal

    return signal.getsignal(signal.SIGTERM) is _on_signal


def prepare_streams() -> None:
    """Streams that can print our symbols in any encoding (ASCII words where they cannot),
    and a `ClosedStream` for each standard stream the process was started without."""
    from ..output.terminal import fit_encoding

    for name in ("stdin", "stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, ClosedStream(f"<{name}>"))
    fit_encoding(sys.stdout)
    fit_encoding(sys.stderr)


class ClosedStream(io.TextIOBase):
    """A standard stream the process was started without (``gradcli … >&-``), which Python
    leaves as None: reading or writing fails as on a closed descriptor (EBADF), so stdout
    is "cannot write the output" (exit 2), stdin a read error of ``-``, and a message to
    stderr is dropped; a command that never uses the stream runs as usual."""

    encoding = "utf-8"

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def _closed(self, *args: object) -> Any:
        import errno
        import os

        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    write = read = readline = fileno = _closed  # type: ignore[assignment]

    @property
    def buffer(self) -> "ClosedStream":
        return self

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:  # nothing written, nothing to flush
        pass


class PipeClosed(Exception):
    """stdout's reader went away (``gradcli ... | head``): not an OSError, so click passes it on."""


#: exit status after a broken pipe: what a shell reports for a process killed by SIGPIPE
#: (128 + 13), and silent, as `head` and `grep -q` expect (README, "Exit codes")
BROKEN_PIPE = 141


def report_failure(exc: BaseException) -> int:
    """One line on stderr for any failure, and its exit status (README, "Exit codes").

    A `GradcliError` says what was wrong with the input; so do the environment's own
    failures (a signal, a broken pipe, a full disk); anything else is a bug in gradcli and
    says so (``GRADCLI_DEBUG=1`` re-raises it for the traceback).
    """
    import os

    from ..core.errors import GradcliError

    if isinstance(exc, GradcliError):
        echo(exc.render(), err=True)
        return int(exc.exit_status)
    if isinstance(exc, Terminated):
        import signal

        name = signal.Signals(exc.signum).name
        echo(f"gradcli: stopped by {name}", err=True)
        return 128 + exc.signum
    if isinstance(exc, KeyboardInterrupt):
        echo("gradcli: interrupted", err=True)
        return 130
    if isinstance(exc, (BrokenPipeError, PipeClosed)):
        _detach_stdout()
        return BROKEN_PIPE
    if isinstance(exc, MemoryError):
        echo("gradcli: error: out of memory", err=True)
        return int(ExitStatus.BAD_INPUT)
    if isinstance(exc, OSError) and _is_output_error(exc):
        _detach_stdout()
        echo(f"gradcli: error: cannot write the output: {exc.strerror or exc}", err=True)
        return int(ExitStatus.BAD_INPUT)
    if os.environ.get("GRADCLI_DEBUG"):
        raise exc
    if isinstance(exc, RecursionError):
        echo("gradcli: internal error: recursion too deep (a bug: please report this program)", err=True)
    else:
        echo(f"gradcli: internal error: {type(exc).__name__}: {exc} "
             "(a bug: please report it; GRADCLI_DEBUG=1 shows the traceback)", err=True)
    return int(ExitStatus.INTERNAL_ERROR)


def _is_output_error(exc: OSError) -> bool:
    """A failure of the machine or the output stream (full disk, I/O error), not of gradcli."""
    import errno

    return exc.errno in {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EPIPE, errno.EBADF,
                         getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EACCES, errno.EPERM}


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so Python's final flush cannot fail again and print a traceback."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test runner's buffer)
        pass


def finish(status: int) -> int:
    """Flush stdout; a failure to do so (full disk, closed pipe) becomes its own status."""
    try:
        sys.stdout.flush()
    except BaseException as exc:  # noqa: B036 - mapped like every other failure
        return report_failure(exc)
    return status


EXIT_CODES_EPILOG = """\b
Exit codes:
  0  success (warnings, kinks and skipped checks included)
  1  a check failed
  2  bad usage or input (options, bindings, parsing, shapes, files)
  3  a math failure (a value outside an operation's domain, an overflow)
  4  a bug in gradcli: please report it (GRADCLI_DEBUG=1 shows the traceback)

\b
The language: 'gradcli functions' lists every function and operator.
Each command has examples: 'gradcli COMMAND --help'."""
