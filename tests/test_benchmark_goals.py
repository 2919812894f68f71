"""The README's performance section is made by the benchmarks, not by hand (issue 24's "done when")."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"

#: every benchmark that measures one of the project's goals reports it through `_common.goal`
GOAL_SCRIPTS = ["startup.py", "engine.py", "mlp.py", "depth.py", "checks.py", "points.py", "explain.py", "diff.py",
                "grader.py", "convnet.py"]


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def run_all():
    return _load("run_all")


def _section(text: str, run_all) -> str:
    start, stop = text.index(run_all.BEGIN), text.index(run_all.END)
    return text[start:stop]


@pytest.mark.parametrize("script", GOAL_SCRIPTS)
def test_each_goal_measuring_benchmark_records_its_goals(script):
    source = (BENCH / script).read_text(encoding="utf-8")
    assert re.search(r"\bgoal\(", source), f"{script} prints its goals without recording them"
    assert script in _load("run_all").SCRIPTS


def test_goal_records_a_row_and_returns_the_mark(tmp_path, monkeypatch):
    common = _load("_common")
    path = tmp_path / "goals.jsonl"
    monkeypatch.setenv(common.GOALS_ENV, str(path))
    assert common.goal("start-up", "1.9×", "≤ 2.5×", True) == "✓"
    assert common.goal("memory", "604 MB", "≤ 400 MB", False) == "✗ missed"
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) == 2 and '"ok": false' in rows[1] and "604 MB" in rows[1]


def test_the_section_is_rebuilt_between_its_markers_and_nothing_else_moves(run_all):
    goals = [{"benchmark": "engine.py", "what": "end to end", "measured": "4.75×", "goal": "≤ 1×", "ok": False},
             {"benchmark": "startup.py", "what": "start-up", "measured": "1.9×", "goal": "≤ 2.5×", "ok": True}]
    section = run_all.performance_section(goals, ["- date: 2026-12-05 03:00 UTC", "- Python: CPython 3.11.7 (/x/py)"])
    assert "1 of 2 are met" in section and "| ✗ |" in section and "| ✓ |" in section
    assert "/x/py" not in section  # no local paths in the README
    text = f"# t\n\nbefore\n{run_all.BEGIN}\nold table\n{run_all.END}\nafter\n"
    new = run_all.replace_section(text, section)
    assert new.startswith("# t\n\nbefore\n") and new.endswith("\nafter\n")
    assert "old table" not in new and run_all.replace_section(new, section) == new
    with pytest.raises(SystemExit):
        run_all.replace_section("no markers here", section)


def test_the_readme_section_is_a_generated_goal_table(run_all):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(run_all.BEGIN) == 1 and text.count(run_all.END) == 1
    section = _section(text, run_all)
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    assert len(rows) >= 10, "fewer goal rows than the benchmarks measure"
    marks = [line.rstrip(" |").rsplit("|", 1)[1].strip() for line in rows]
    assert set(marks) <= {"✓", "✗"}
    met = int(re.search(r"(\d+) of (\d+) are met", section).group(1))
    assert met == marks.count("✓") and int(re.search(r"of (\d+) are met", section).group(1)) == len(rows)
    assert re.search(r"- date: 20\d\d-\d\d-\d\d", section) and "- CPU: " in section
