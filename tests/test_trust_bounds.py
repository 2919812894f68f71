"""Issue 22, part 1: never replace what is not a regular file, never write onto a program's
own inputs, exit 4 only for bugs, every budget kept and every resource bounded.

Each test keeps one reproduction from the issue and failed before its fix.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from clitools import run_cli, usage_error

ROOT = Path(__file__).resolve().parent.parent


def cli(*argv: str, input=None, env=None):
    return run_cli(list(argv), input=input, env=env)


def one_line(result, status: int, *fragments: str) -> str:
    """Exit `status` with one 'gradcli: ...' line on stderr naming the problem."""
    assert result.exit_code == status, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gradcli: "), lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


# ---- files: never replace what is not a regular file ------------------------------------------

def test_symlink_to_a_character_device_is_written_into_not_replaced(tmp_path):
    link = tmp_path / "d"
    link.symlink_to("/dev/null")
    result = cli("graph", "x", "x=1", "-o", str(link), "--format", "dot")
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_character_device_node_stays_a_device(tmp_path):
    node = tmp_path / "d"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    result = cli("graph", "x", "x=1", "-o", str(node), "--format", "dot")
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    result = cli("export", "x*y", "x=1", "y=2", "-o", str(fifo))
    thread.join(10)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert b"def " in got[0]


def test_dev_stdout_is_written_into(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("before\n", encoding="utf-8")
    with open(out, "ab") as fh:
        done = subprocess.run([sys.executable, "-c", "from gradcli.cli.main import run; run()",
                               "graph", "x*2", "x=1", "--format", "dot", "-o", "/dev/stdout"],
                              stdout=fh, stderr=subprocess.PIPE, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("before\n") and "digraph" in text  # appended, like >>


def test_symlink_is_followed_to_its_target(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(real.name)
    result = cli("graph", "x*3", "x=1", "--format", "dot", "-o", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink()
    assert "digraph" in real.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _program_with_vars(tmp_path: Path) -> tuple[Path, Path]:
    values = tmp_path / "v.json"
    values.write_text('{"x": 3}', encoding="utf-8")
    program = tmp_path / "p.grad"
    program.write_text("#: vars v.json\ny = x*2\n", encoding="utf-8")
    return program, values


@pytest.mark.parametrize("argv", [
    ["graph", "-f", "{p}", "-o", "{v}", "--format", "dot"],
    ["export", "-f", "{p}", "-o", "{v}"],
    ["plot", "-f", "{p}", "x=-1:1", "--format", "csv", "-o", "{v}"],
    ["check", "-f", "{p}", "--answers", "{a}", "--out", "{v}"],
])
def test_the_programs_vars_file_is_an_input(tmp_path, argv):
    program, values = _program_with_vars(tmp_path)
    answers = tmp_path / "a.csv"
    answers.write_text("id,d/dx\nann,2\n", encoding="utf-8")
    full = [a.format(p=program, v=values, a=answers) for a in argv]
    usage_error(cli(*full), "same file", "#: vars")
    assert values.read_text(encoding="utf-8") == '{"x": 3}'
