"""Every example of the documentation runs: the README and docs/*.md.

A ``console`` block's commands are run and their output compared with the page; a ``python``
block is run (a pytest file when it defines tests); a generated block equals what the package
generates.  After a change of output: ``python tools/docs_examples.py --update``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_docs_examples():
    """tools/docs_examples.py (tools/ is not a package, so it is loaded from its file)."""
    spec = importlib.util.spec_from_file_location("docs_examples", ROOT / "tools" / "docs_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_examples"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


docs_examples = _load_docs_examples()

BLOCKS = [block for page in docs_examples.pages() for block in docs_examples.blocks(page)]
CONSOLE = [pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.slow else []) for b in BLOCKS
           if b.kind == "console"]
PYTHON = [pytest.param(b, id=b.id, marks=[pytest.mark.slow]) for b in BLOCKS if b.kind == "python"]
UPDATE = "python tools/docs_examples.py --update"


@pytest.mark.parametrize("block", CONSOLE)
def test_console_example_prints_what_the_page_shows(block):
    outputs = docs_examples.run_console(block)
    for command, out in zip(block.commands, outputs):
        assert out == command.shown, f"{block.id}: `{command.text}` prints something else ({UPDATE})"


@pytest.mark.parametrize("block", PYTHON)
def test_python_example_runs(block):
    ok, out = docs_examples.run_python(block)
    assert ok, f"{block.id} fails:\n{out}"


@pytest.mark.parametrize("page", docs_examples.pages(), ids=docs_examples.rel)
def test_generated_blocks_are_current(page):
    assert docs_examples.stale_generated(page) == [], UPDATE


def test_there_are_examples_of_every_kind():
    assert len(CONSOLE) >= 40 and len(PYTHON) >= 3
    names = {m.group(2) for page in docs_examples.pages()
             for m in docs_examples.GENERATED.finditer(page.read_text(encoding="utf-8"))}
    assert {"functions", "schema-eval", "commands"} <= names


def test_a_changed_output_is_caught():
    """The comparison can fail: a page whose output is wrong is reported."""
    block = docs_examples.Block(ROOT / "README.md", 1, "console", "", 0, 0,
                                docs_examples.parse_console('$ gradcli eval "x*2" x=3 --json --no-nodes\n{}\n'))
    outputs = docs_examples.run_console(block)
    assert outputs[0] != block.commands[0].shown and '"value": 6.0' in outputs[0]


def test_console_blocks_parse_continuations_and_exit_status(tmp_path):
    commands = docs_examples.parse_console('$ gradcli eval "log(x)" \\\n    x=-1\nerror line\n$ echo $?\n3\n')
    assert [c.text for c in commands] == ['gradcli eval "log(x)" \\\n    x=-1', "echo $?"]
    assert commands[0].shown == "error line\n" and commands[1].shown == "3\n"
    out, status = docs_examples.run_command(commands[0].text, tmp_path, 0)
    assert status == 3 and "log needs a positive input" in out
    assert docs_examples.run_command("echo $?", tmp_path, status) == ("3\n", 0)


def test_every_page_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"([\w/-]+\.md)\s*$", config, re.MULTILINE))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == listed


def test_every_picture_and_example_file_a_page_names_exists():
    for page in (ROOT / "docs").rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            assert (page.parent / target).resolve().is_file(), f"{page}: {target}"
        for name in re.findall(r"\bexamples/([\w./-]+\.\w+)", text):
            assert (ROOT / "docs" / "examples" / name).is_file(), f"{page}: examples/{name}"
    for name, _ in docs_examples.PICTURES:
        assert (ROOT / "docs" / name).stat().st_size > 1000, name


def test_the_site_builds_offline():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+font: false", config, re.MULTILINE)
    assert re.search(r"^strict: true", config, re.MULTILINE)
    ignore = ROOT / ".gitignore"  # a checkout has it (an sdist does not)
    if ignore.exists():
        assert "site/" in ignore.read_text(encoding="utf-8").split()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^docs = \[.*"mkdocs>=.*"mkdocs-material>=', pyproject, re.MULTILINE)


def test_the_commands_reference_is_every_commands_help():
    import click

    from gradcli.cli.commands import main

    text = docs_examples.generate("commands")
    for name in main.commands:
        assert f"## gradcli {name}\n" in text and f"Usage: gradcli {name} [OPTIONS]" in text, name
        for param in main.commands[name].params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    assert opt in text, (name, opt)


def test_the_commands_reference_is_what_help_prints():
    from click.testing import CliRunner

    from gradcli.cli.commands import main

    text = docs_examples.generate("commands")
    for name in ("eval", "check"):
        shown = text.split(f"## gradcli {name}\n\n```text\n", 1)[1].split("\n```", 1)[0]
        result = CliRunner().invoke(main, [name, "--help"], env={"COLUMNS": "100"}, prog_name="gradcli")
        assert result.exit_code == 0 and shown + "\n" == result.output, name
