"""Build gradcli's man pages from its click commands: ``python tools/manpages.py [DIR]``.

Writes ``gradcli.1`` and one page per command (``gradcli-eval.1``, ...) into DIR
(default ``man/``), with click-man (a test dependency: ``pip install '.[test]'``) reading
the click group ``gradcli.cli.commands:main`` -- not the console script, which is the
click-free fast path.  Packagers run this at build time and install the pages under
``share/man/man1``; ``tests/test_manpages.py`` builds them.  It lives outside the
``gradcli`` package so that nothing the command imports at start-up depends on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path


def build(target: Path, date: str | None = None) -> list[Path]:
    """Write the man pages into `target`; return their paths, gradcli.1 first."""
    with warnings.catch_warnings():
        # click-man reads click.__version__ (0.5) and calls click.utils.make_default_short_help
        # (0.6), both deprecated since click 8.3: its warnings are not ours to fix
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        from click_man.core import write_man_pages

    from gradcli._version import __version__
    from gradcli.cli.commands import main

    target.mkdir(parents=True, exist_ok=True)
    # SOURCE_DATE_EPOCH (reproducible builds) fixes the date when it is set
    if date is None and os.environ.get("SOURCE_DATE_EPOCH"):
        import datetime

        stamp = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), datetime.timezone.utc)
        date = stamp.strftime("%Y-%m-%d")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*click.utils.")
        write_man_pages("gradcli", main, version=__version__, target_dir=str(target), date=date)
    pages = sorted(target.glob("gradcli*.1"), key=lambda p: (p.name != "gradcli.1", p.name))
    for page in pages:
        text = _examples_unfilled(page.read_text(encoding="utf-8"))
        if page.name == "gradcli.1":
            text += _epilog_section(main.epilog or "")
        page.write_text(text, encoding="utf-8")
    return pages


def _examples_unfilled(roff: str) -> str:
    """Example command lines (``gradcli ...``) one per line: roff would fill them into a paragraph."""
    out: list[str] = []
    in_block = False
    for line in roff.split("\n"):
        example = line.startswith("gradcli ")
        if example and not in_block:
            out.append(".nf")
        elif not example and in_block:
            out.append(".fi")
        in_block = example
        out.append(line)
    if in_block:
        out.append(".fi")
    return "\n".join(out)


def _epilog_section(epilog: str) -> str:
    """The group's epilog (exit codes, where the language is listed), which click-man leaves out."""
    lines = [line for line in epilog.replace("\b", "").splitlines()]
    body = "\n".join(line.strip() if not line.startswith("  ") else line for line in lines).strip()
    if not body:
        return ""
    return '.SH "EXIT STATUS"\n.nf\n' + body.replace("\\", "\\\\").replace("-", "\\-") + "\n.fi\n"


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build gradcli's man pages from its click commands.")
    parser.add_argument("target", nargs="?", default="man", help="output directory (default: man/)")
    parser.add_argument("--date", help="the date printed in the pages (default: today, or SOURCE_DATE_EPOCH)")
    args = parser.parse_args(argv)
    for page in build(Path(args.target), args.date):
        print(page)
    return 0


if __name__ == "__main__":
    sys.exit(run())
