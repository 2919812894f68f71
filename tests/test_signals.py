"""SIGTERM and Ctrl-C stop a test run at once, with the usual exit status.

gradcli installs its signal handlers only when it runs as the program (the console script,
``python -m gradcli``), never on import nor under click's CliRunner: a test process keeps
Python's own behaviour.  (They once turned SIGTERM into a failed test and Ctrl-C into
exit 130 of one command, and the run carried on: only SIGKILL stopped it.)

Each test runs a tiny pytest session in a subprocess whose first test calls gradcli through
CliRunner over and over, sends the signal while it does, and checks that the session stops
promptly: the second test never starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clitools import invoke

ROOT = Path(__file__).resolve().parent.parent

SESSION = '''
import time
from pathlib import Path

from click.testing import CliRunner

from gradcli.cli.commands import main

HERE = Path(__file__).parent


def test_busy():
    (HERE / "started").write_text("1")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        result = CliRunner().invoke(main, ["eval", "x^2 + sin(x)*y", "x=3", "y=2", "--check", "fd"])
        assert result.exit_code == 0, result.output


def test_after():
    (HERE / "carried_on").write_text("1")
'''


def _session(tmp_path: Path) -> subprocess.Popen:
    (tmp_path / "test_tiny.py").write_text(SESSION)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("GRADCLI_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-o", "addopts=", "--tb=line", "--rootdir", str(tmp_path), str(tmp_path / "test_tiny.py")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen, tmp_path: Path, signum: int) -> tuple[int, str, float]:
    deadline = time.monotonic() + 120  # a loaded machine may take a while to import everything
    while not (tmp_path / "started").exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the tiny session never started"
        time.sleep(0.05)
    time.sleep(1.0)  # well inside the loop of gradcli commands
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"the run did not stop within 30 s of {signal.Signals(signum).name}:\n{out[-2000:]}")
    return proc.returncode, out, time.monotonic() - sent


@pytest.mark.slow  # a pytest session in a subprocess
@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_stops_a_test_run_at_once(tmp_path):
    proc = _session(tmp_path)
    code, out, _ = _stop(proc, tmp_path, signal.SIGTERM)
    assert code == -signal.SIGTERM, (code, out[-2000:])  # killed by the signal, as Python is by default
    assert not (tmp_path / "carried_on").exists()


@pytest.mark.slow  # a pytest session in a subprocess
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_ctrl_c_stops_a_test_run_at_once(tmp_path):
    proc = _session(tmp_path)
    code, out, _ = _stop(proc, tmp_path, signal.SIGINT)
    assert code == pytest.ExitCode.INTERRUPTED, (code, out[-2000:])  # pytest's own status for Ctrl-C
    assert "KeyboardInterrupt" in out, out[-2000:]
    assert not (tmp_path / "carried_on").exists()


def test_importing_gradcli_and_running_commands_installs_no_handler():
    import gradcli  # noqa: F401
    from gradcli.cli.failures import running_as_program

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    result = invoke(["eval", "x^2", "x=3"])
    assert result.exit_code == 0, result.output
    assert {s: signal.getsignal(s) for s in before} == before
    assert not running_as_program()


def test_the_program_still_reports_sigterm_on_one_line():
    """The console script keeps its own handlers: exit 143 and one line (README, "Exit codes")."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GRADCLI_DEBUG", None)
    script = ("import os, signal\n"
              "from gradcli.cli.main import run\n"
              "import gradcli.cli.failures as app\n"
              "real = app.prepare_streams\n"
              "def then_stop():\n"
              "    real()\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "app.prepare_streams = then_stop\n"
              "run()\n")
    proc = subprocess.run([sys.executable, "-c", script, "eval", "x^2", "x=3"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, proc.stderr)
    assert proc.stderr.strip().splitlines() == ["gradcli: stopped by SIGTERM"]
