"""Run a job under a hard time budget, keeping whatever it reported before the deadline.

SymPy can take minutes (or forever) on an innocent-looking program, and pure-Python
code cannot be interrupted reliably from another thread.  So the job runs in a forked
child process that streams small results back through a pipe as it finds them; at the
deadline the parent kills the child and keeps the results received so far.  Where
``os.fork`` does not exist the job runs in a daemon thread instead (the budget then
bounds the wait, not the work).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import threading
import time
from typing import Callable, Optional

Send = Callable[[tuple], None]


def ran_out(seconds: float) -> str:
    """The one wording of a SymPy timeout, wherever it happens."""
    return f"SymPy's time budget of {seconds:g} s ran out (--sympy-timeout)"

#: the deadline shared by every SymPy job of one command (monotonic seconds), or None
#: before the first: --sympy-timeout is the budget for all SymPy work of a command together
_command_deadline: Optional[float] = None
#: whether a command is running (outside one, e.g. from the Python API, each job has its own budget)
_in_command = False


def new_command() -> None:
    """Start a command: its first budgeted job starts a clock that its later jobs share."""
    global _command_deadline, _in_command
    _command_deadline, _in_command = None, True


def end_command() -> None:
    global _command_deadline, _in_command
    _command_deadline, _in_command = None, False


def in_command() -> bool:
    """Whether a command is running (a process that exits after it), not a long-lived caller."""
    return _in_command


def _shared_deadline(seconds: float) -> float:
    """The deadline of a job given `seconds`: in a command, the command's, started by its first job."""
    global _command_deadline
    if not _in_command:
        return time.monotonic() + seconds
    if _command_deadline is None:
        _command_deadline = time.monotonic() + seconds
    return _command_deadline


def _die_with_parent(parent: int) -> None:
    """In the child: be killed when the parent dies, however it dies (Linux), and not outlive it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's finally still kills the child
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def fork_is_safe() -> bool:
    """Fork only where it is safe and available: Linux and the BSDs, in a process with
    no other threads.  A threaded host (a Jupyter kernel, a web server) can deadlock in
    a forked child (Python 3.12 warns about it), and macOS's system libraries are not
    fork-safe; there the job runs in a thread, so the budget bounds the wait, not the work."""
    import sys
    import threading

    if not hasattr(os, "fork") or sys.platform == "darwin":
        return False
    return threading.active_count() == 1


class Outcome:
    """What a budgeted job reported, and whether it finished."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []
        self.finished = False
        self.timed_out = False
        self.error = ""
        #: the job said its essential results were all sent
        self.essentials = False


def run(job: Callable[[Send], None], seconds: float, patience: float = float("inf")) -> Outcome:
    """Run ``job(send)``; every ``send(message)`` before the deadline is kept.

    A job that sends ``("essentials",)`` has delivered what matters; from then on it
    gets at most `patience` more seconds (for optional extras such as simplified
    formulas) before it is stopped.
    """
    deadline = _shared_deadline(seconds)
    if deadline - time.monotonic() <= 0:  # earlier SymPy work of this command used the budget
        outcome = Outcome()
        outcome.timed_out = True
        return outcome
    if not fork_is_safe():
        return _run_thread(job, deadline - time.monotonic())
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            for name in ("SIGTERM", "SIGHUP", "SIGINT"):  # the parent's handlers are not the child's
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), signal.SIG_DFL)
            _die_with_parent(parent)

            def send(message: tuple) -> None:
                data = pickle.dumps(message)
                os.write(write_fd, struct.pack("!I", len(data)) + data)

            try:
                job(send)
                send(("done",))
            except BaseException as exc:  # report, never propagate out of the child
                send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))
        finally:
            os._exit(code)
    os.close(write_fd)
    outcome = Outcome()
    buffer = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                outcome.timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 4:
                (size,) = struct.unpack("!I", buffer[:4])
                if len(buffer) < 4 + size:
                    break
                message = pickle.loads(buffer[4 : 4 + size])
                buffer = buffer[4 + size :]
                if message[0] == "essentials":
                    deadline = min(deadline, time.monotonic() + patience)
                    outcome.essentials = True
                    continue
                _take(outcome, message)
    finally:
        os.close(read_fd)
        if outcome.timed_out or not outcome.finished:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
    return outcome


def _take(outcome: Outcome, message: tuple) -> None:
    if message[0] == "essentials":
        outcome.essentials = True
    elif message[0] == "done":
        outcome.finished = True
    elif message[0] == "error":
        outcome.error = str(message[1])
    else:
        outcome.messages.append(message)


def _run_thread(job: Callable[[Send], None], seconds: float) -> Outcome:
    outcome = Outcome()
    lock = threading.Lock()

    def send(message: tuple) -> None:
        with lock:
            _take(outcome, message)

    def target() -> None:
        try:
            job(send)
            send(("done",))
        except BaseException as exc:
            send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    with lock:
        outcome.timed_out = thread.is_alive()
        result = Outcome()
        result.messages = list(outcome.messages)
        result.finished, result.error, result.timed_out = outcome.finished, outcome.error, outcome.timed_out
    return result
