"""The README is the front door: its commands must be the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh|console)?\n(.*?)```", text, flags=re.S)


def test_readme_starts_with_the_install_and_test_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("## ")]
    blocks = _blocks(head)
    assert len(blocks) >= 2
    assert "gradcli eval" in blocks[0] and "pip install" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_exactly_the_readme_test_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    test_command = _blocks(text[: text.index("## ")])[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_every_option_of_eval_is_in_the_commands_reference():
    """The hand-written reference (moved from the README to docs/reference/cli.md) names every option."""
    from gradcli.cli.commands import main

    text = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    for name in ("eval", "jacobian", "hessian", "check", "graph"):
        command = main.commands[name]
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in ("--help",):
                    assert opt in text, f"docs/reference/cli.md does not mention {name} {opt}"


def _venv(command: str) -> str:
    match = re.search(r"python3 -m venv (\S+)", command)
    assert match, command
    return match.group(1)


def test_the_run_and_test_commands_use_separate_environments():
    """The test command's editable install must not replace the run command's wheel."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    run, test = _blocks(text[: text.index("## ")])[:2]
    assert _venv(run) != _venv(test)
    assert "pip install -q ." in run and "-e" not in run.split("pip install", 1)[1].split("&&")[0]
    assert f"{_venv(test)}/bin/pip install -q -e '.[test]'" in test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"rm -rf {_venv(test)}" in ci  # CI builds the test environment from nothing
    assert f"rm -rf {_venv(run)}\n" not in ci


def test_readme_documents_the_quick_test_loop():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'python -m pytest -q -m "not slow" -n 2' in text
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'markers = \["slow:', pyproject)


def test_readme_is_one_screen_that_links_into_the_docs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # four short sections, one per kind of user (a student, a TA, deep-learning homework, a script),
    # and the performance goals' table, which the benchmarks write (not counted: one row a goal)
    begin, end = "<!-- performance:", "<!-- end of performance -->"
    written = text[:text.index(begin)] + text[text.index(end):]
    assert len(written.splitlines()) <= 166
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).is_file(), link
    assert "mkdocs build --strict" in text and "pip install -q -e '.[docs]'" in text
    assert text.count("```console") == 4  # four examples: a student, a TA, deep-learning homework, a script
