"""The man pages build from the click commands (tools/manpages.py, with click-man)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("click_man")

from gradcli.cli.commands import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("manpages", ROOT / "tools" / "manpages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_man_pages_build_for_the_group_and_every_command(tmp_path):
    pages = _generator().build(tmp_path, date="2026-11-29")
    names = [p.name for p in pages]
    assert names[0] == "gradcli.1"
    assert sorted(names[1:]) == sorted(f"gradcli-{name}.1" for name in main.commands)
    top = pages[0].read_text(encoding="utf-8")
    assert top.startswith('.TH "GRADCLI" "1" "2026-11-29"')
    assert '.SH "EXIT STATUS"' in top and "gradcli functions" in top
    for code in range(5):
        assert f"\n  {code}  " in top
    for name, command in main.commands.items():
        page = (tmp_path / f"gradcli-{name}.1").read_text(encoding="utf-8")
        assert ".SH SYNOPSIS" in page and ".SH OPTIONS" in page
        for argument in command.params:
            if argument.param_type_name == "argument" and argument.metavar:
                assert argument.metavar in page, (name, argument.metavar)
        for param in command.params:
            if getattr(param, "hidden", False):  # a deprecated spelling: left out of help and man page alike
                assert param.name.endswith("_deprecated"), (name, param.name)
                continue
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt.replace("-", "\\-") in page, (name, opt)
        # the examples stay one per line (no-fill), as in --help
        examples = [line for line in page.splitlines()
                    if line == f"gradcli {name}" or line.startswith(f"gradcli {name} ")]
        assert examples, name
        first = page.splitlines().index(examples[0])
        assert page.splitlines()[first - 1] == ".nf"


def test_man_page_dates_follow_source_date_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    page = _generator().build(tmp_path)[0].read_text(encoding="utf-8")
    assert '"1970-01-01"' in page.splitlines()[0]
