"""Shared helpers of the benchmark scripts: machine description, Markdown tables, timing."""

from __future__ import annotations

import datetime
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Iterable, Sequence


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                    value = line.split(":", 1)[1].strip()
                    if value and not value.isdigit():
                        return value
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_lines(python: str | None = None) -> list[str]:
    """Markdown bullet lines describing the machine, the interpreter and the date."""
    version = sys.version.split()[0]
    impl = platform.python_implementation()
    if python and os.path.realpath(python) != os.path.realpath(sys.executable):
        import subprocess

        try:
            version = subprocess.run(
                [python, "-c", "import platform; print(platform.python_version())"],
                capture_output=True, text=True, timeout=60,
            ).stdout.strip() or version
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        import gradcli

        gradcli_version = gradcli.__version__ + _source_state(os.path.dirname(os.path.dirname(gradcli.__file__)))
    except ImportError:
        gradcli_version = "not importable"
    try:
        load = "load average at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + \
            f" (1, 5, 15 min) on {os.cpu_count()} CPUs"
    except (OSError, AttributeError):
        load = "load average: unknown"
    return [
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- platform: {platform.platform()}",
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)",
        f"- Python: {impl} {version} ({python or sys.executable})",
        f"- gradcli: {gradcli_version}",
        f"- {load}",
    ]


def _source_state(root: str) -> str:
    """' (commit abc1234, with uncommitted changes)' for a git checkout; '' otherwise.

    Read-only git plumbing only (no index refresh)."""
    import subprocess

    if not os.path.isdir(os.path.join(root, ".git")):
        return ""
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "diff-index", "--quiet", "HEAD", "--", "gradcli"],
                               capture_output=True, timeout=10).returncode != 0
    except (OSError, subprocess.SubprocessError):
        return ""
    if not head:
        return ""
    return f" (commit {head}{', with uncommitted changes in gradcli/' if dirty else ''}; {root})"


def header(title: str, python: str | None = None) -> str:
    return f"## {title}\n\n" + "\n".join(machine_lines(python)) + "\n"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A Markdown table; `align` is one letter per column (l or r), default: first l, rest r."""
    rows = [[str(c) for c in r] for r in rows]
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for c, w, a in zip(cells, widths, align):
            out.append(c.ljust(w) if a == "l" else c.rjust(w))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1))
                         for w, a in zip(widths, align)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def best_of(fn: Callable[[], object], repeat: int, budget: float = 0.0) -> tuple[float, object]:
    """Run `fn` `repeat` times (or fewer, once `budget` seconds are spent) with the
    garbage collector off; return the minimum wall time and the last result."""
    times = []
    result = None
    spent = 0.0
    for k in range(max(1, repeat)):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            result = fn()
            dt = time.perf_counter() - t0
        finally:
            gc.enable()
        times.append(dt)
        spent += dt
        if budget and spent > budget and k >= 0:
            break
    return min(times), result


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def median_run(argv: list[str], runs: int) -> tuple[float, int]:
    """Run `argv` `runs` times with its output discarded: the median wall time, the last exit status."""
    times, status = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        status = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - t0)
    return median(times), status


def median_run_cpu(argv: list[str], runs: int, env: dict | None = None) -> tuple[float, float, int]:
    """`median_run` with CPU time too: the median wall time, the median CPU time (user +
    system, of the command and its children), the last exit status."""
    import resource

    walls, cpus, status = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        status = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return median(walls), median(cpus), status


def mark(ok: bool) -> str:
    return "✓" if ok else "✗ missed"


#: `run_all.py --readme` names a file here; every `goal` a benchmark meets or misses is appended to it
GOALS_ENV = "GRADCLI_BENCH_GOALS"


def goal(what: str, measured: str, target: str, ok: bool) -> str:
    """One of the project's performance goals beside its measured figure: ✓ or ✗ for the script's own
    table, and a JSON line in the file `GRADCLI_BENCH_GOALS` names (the README's performance section
    is made of those lines, see `run_all.py --readme`)."""
    path = os.environ.get(GOALS_ENV)
    if path:
        import json

        row = {"benchmark": os.path.basename(sys.argv[0]), "what": what, "measured": measured,
               "goal": target, "ok": bool(ok)}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return mark(ok)
