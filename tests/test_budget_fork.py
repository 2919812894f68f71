"""The SymPy time budget forks only where that is safe: never from a threaded host such
as a Jupyter kernel (a forked child of a threaded process can deadlock)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from gradcli.oracles import budget


def _where(send):
    send(("pid", os.getpid()))


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="fork is not used here")
def test_a_single_threaded_process_forks():
    if threading.active_count() != 1:
        pytest.skip("another thread is running in this test process")
    (pid,) = [m[1] for m in budget.run(_where, 5).messages if m[0] == "pid"]
    assert pid != os.getpid()


def test_a_threaded_host_runs_the_job_in_a_thread():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert not budget.fork_is_safe()
        outcome = budget.run(_where, 5)
    finally:
        stop.set()
        other.join()
    (pid,) = [m[1] for m in outcome.messages if m[0] == "pid"]
    assert pid == os.getpid()
    assert outcome.finished
