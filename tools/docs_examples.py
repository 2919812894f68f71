"""Run every example of the documentation, and regenerate what is generated.

The pages (``README.md`` and ``docs/**/*.md``) hold three kinds of executable text:

* ``console`` blocks: lines ``$ gradcli …`` (a trailing ``\\`` continues a line) followed by
  what the command prints, standard error included, as a terminal 100 columns wide without
  colours shows it.  ``$ echo $?`` prints the exit status of the command before it.  A
  command with a pipe, a redirection or another program runs in ``bash``, with ``gradcli``
  and ``python`` on its PATH; a plain ``gradcli`` command runs in this process (click's
  runner, the same command group as the console script).
* ``python`` blocks: run as a script; a block that defines ``test_…`` functions is a pytest
  file and must pass.
* generated blocks between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``:
  the op table (``functions``), the JSON documents (``schema-eval``, …) and every command's
  ``--help`` (``commands``), written from the package itself.

Each block runs in a fresh temporary folder that holds ``samples/`` and ``examples/``
(``docs/examples/``), so files a command writes stay out of the repository.

    python tools/docs_examples.py            # check: list every stale example, exit 1 if any
    python tools/docs_examples.py --update   # rewrite the outputs and generated blocks in place
    python tools/docs_examples.py --pictures # redraw docs/img/ (needs Graphviz's dot and matplotlib)
    python tools/docs_examples.py --update docs/tutorials/layer.md   # one page (--python: run its snippets)

tests/test_docs.py runs the same checks, one test per block.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: the terminal every example is shown on
ENV = {"COLUMNS": "100", "TERM": "dumb", "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
UNSET = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "GRADCLI_DEBUG", "CLICOLOR_FORCE")

#: a block whose commands match this waits for SymPy (or another process): the tests mark it slow
SLOW = re.compile(r"--check (sympy|all)|--exact|--latex|gradcli diff|--expect-formula|--answers|export|"
                  r"\| *python|--to |descend|plot")

#: pictures: (file under docs/, gradcli arguments); --pictures redraws them
PICTURES = [
    ("img/lecture-e.svg", ["graph", "(a+b)*(b+1)", "a=3", "b=2", "--format", "svg"]),
    ("img/layer.svg", ["graph", "-f", "samples/layer.grad", "--format", "svg"]),
    ("img/rnn.svg", ["graph", "-f", "samples/rnn.grad", "--format", "dot"]),
    # matplotlib (the `plot` extra) writes these itself: {out} is the picture's path
    ("img/plot-relu.png", ["plot", "relu(x) + 0.1*x^2", "x=-2:2", "--check", "fd", "-o", "{out}"]),
    ("img/descend-path.png", ["descend", "(x-1)^2 + 10*(y-x^2)^2", "x=-1", "y=2", "--lr", "0.01", "--steps", "200",
                              "--every", "40", "--plot", "{out}"]),
]


def pages() -> list[Path]:
    """Every page with examples: the README and the site's pages, in a stable order."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ---- reading the pages -----------------------------------------------------------------------

@dataclass
class Command:
    text: str            # as written after "$ ", continuation lines joined
    shown: str           # the output the page shows


@dataclass
class Block:
    page: Path
    line: int            # 1-based line of the opening fence
    kind: str            # "console" or "python"
    body: str
    start: int           # character offsets of the body in the page
    end: int
    commands: list[Command] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{rel(self.page)}:{self.line}"

    @property
    def slow(self) -> bool:
        return self.kind == "python" or any(SLOW.search(c.text) for c in self.commands)


FENCE = re.compile(r"^```(console|python)[^\n]*\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        block = Block(page, text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2),
                      match.start(2), match.end(2))
        if block.kind == "console":
            block.commands = parse_console(block.body)
        found.append(block)
    return found


def parse_console(body: str) -> list[Command]:
    commands: list[Command] = []
    lines = body.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            raise ValueError(f"console block does not start with '$ ': {line!r}")
        text = line[2:].rstrip("\n")
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text + "\n" + lines[i].rstrip("\n")
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        commands.append(Command(text, "".join(shown)))
    return commands


def render_console(commands: list[Command], outputs: list[str]) -> str:
    return "".join(f"$ {c.text}\n{out}" for c, out in zip(commands, outputs))


# ---- running them ----------------------------------------------------------------------------

def workdir() -> Path:
    """A fresh folder with the samples and the docs' example files, as the pages assume."""
    where = Path(tempfile.mkdtemp(prefix="gradcli-docs-"))
    os.symlink(ROOT / "samples", where / "samples")
    os.symlink(DOCS / "examples", where / "examples")
    return where


def _shims(where: Path) -> Path:
    """``gradcli`` and ``python`` as this interpreter runs them (PYTHONPATH: this tree)."""
    bin_dir = where / ".bin"
    bin_dir.mkdir()
    for name, line in (("gradcli", f'exec "{sys.executable}" -m gradcli "$@"'),
                       ("python", f'exec "{sys.executable}" "$@"'), ("python3", f'exec "{sys.executable}" "$@"')):
        shim = bin_dir / name
        shim.write_text(f"#!/bin/sh\n{line}\n", encoding="utf-8")
        shim.chmod(0o755)
    return bin_dir


def _environment(where: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(ENV)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = str(where / ".bin") + os.pathsep + env.get("PATH", "")
    return env


SHELL = re.compile(r"[|<>;&`$]|^(?!gradcli )")


def run_command(text: str, where: Path, last_status: int) -> tuple[str, int]:
    """What the command prints (stdout and stderr as a terminal interleaves them), and its status."""
    if text.strip() == "echo $?":
        return f"{last_status}\n", 0
    flat = text.replace("\\\n", " ")
    if not SHELL.search(flat):
        return _in_process(shlex.split(flat)[1:], where)
    if not (where / ".bin").exists():
        _shims(where)
    done = subprocess.run(["bash", "-c", flat], cwd=where, env=_environment(where), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, encoding="utf-8", timeout=300, check=False)
    return done.stdout, done.returncode


def _in_process(argv: list[str], where: Path) -> tuple[str, int]:
    from click.testing import CliRunner

    from gradcli.cli.commands import main

    env: dict[str, str | None] = {name: None for name in UNSET}
    env.update(ENV)
    here = os.getcwd()
    os.chdir(where)
    try:
        result = CliRunner().invoke(main, argv, env=env, prog_name="gradcli")
    finally:
        os.chdir(here)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"gradcli {shlex.join(argv)} raised {result.exception!r}") from result.exception
    return result.output, result.exit_code


def run_console(block: Block) -> list[str]:
    """The outputs of a console block's commands, run in order in one folder."""
    where = workdir()
    try:
        outputs, status = [], 0
        for command in block.commands:
            out, status = run_command(command.text, where, status)
            outputs.append(out if out.endswith("\n") or not out else out + "\n")  # the page's fence needs it
        return outputs
    finally:
        shutil.rmtree(where, ignore_errors=True)


def run_python(block: Block) -> tuple[bool, str]:
    """Run a python block (a pytest file when it defines tests); (passed, what it printed)."""
    where = workdir()
    try:
        env = _environment(where)
        if re.search(r"^def test_", block.body, re.MULTILINE):
            (where / "test_example.py").write_text(block.body, encoding="utf-8")
            argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"]
        else:
            argv = [sys.executable, "-c", block.body]
        done = subprocess.run(argv, cwd=where, env=env, capture_output=True, text=True, timeout=600, check=False)
        return done.returncode == 0, done.stdout + done.stderr
    finally:
        shutil.rmtree(where, ignore_errors=True)


# ---- generated blocks ------------------------------------------------------------------------

GENERATED = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- end generated -->)", re.DOTALL)


def generate(name: str) -> str:
    """The text of the generated block NAME, from the package itself."""
    if name == "functions":
        from gradcli.core.ops import catalogue
        from gradcli.output.documents import functions_markdown

        return functions_markdown(catalogue()) + "\n"
    if name.startswith("schema-"):
        return schema_markdown(name.removeprefix("schema-"))
    if name == "commands":
        return commands_markdown()
    raise KeyError(f"no generator named {name!r}")


#: the width --help is rendered at on the site
HELP_WIDTH = 80  # what a terminal shows: click wraps help at 80 columns at most


def commands_markdown() -> str:
    """``gradcli --help`` and each ``gradcli COMMAND --help``, as click renders them."""
    import click

    from gradcli.cli.commands import main

    width = {"terminal_width": HELP_WIDTH, "max_content_width": HELP_WIDTH}
    top = click.Context(main, info_name="gradcli", **{**main.context_settings, **width})
    parts = ["## gradcli\n\n```text\n" + main.get_help(top) + "\n```\n"]
    for name in main.list_commands(top):
        command = main.get_command(top, name)
        ctx = click.Context(command, info_name=name, parent=top, **{**command.context_settings, **width})
        parts.append(f"## gradcli {name}\n\n```text\n" + command.get_help(ctx) + "\n```\n")
    return "\n".join(parts)


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _type(spec: dict) -> str:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " or ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    kind = spec.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind:
        return str(kind)
    for key in ("oneOf", "anyOf"):
        if key in spec:
            return " or ".join(_type(s) for s in spec[key])
    return "any"


def schema_markdown(name: str) -> str:
    """A schema's top-level keys as a table: key, required, type, description."""
    path = ROOT / "gradcli" / "schemas" / f"{name}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    required = set(schema.get("required", []))
    lines = [f"**{_cell(schema['title'])}** — {_cell(schema.get('description', ''))}", "",
             "| key | always | type | meaning |", "|---|---|---|---|"]
    for key, spec in schema.get("properties", {}).items():
        lines.append(f"| `{key}` | {'yes' if key in required else ''} | {_cell(_type(spec))} | "
                     f"{_cell(spec.get('description', ''))} |")
    return "\n".join(lines) + "\n"


# ---- checking and updating -------------------------------------------------------------------

def stale_generated(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [f"{rel(page)}: generated block {m.group(2)} is stale" for m in GENERATED.finditer(text)
            if m.group(3) != generate(m.group(2))]


def update_page(page: Path, *, python: bool = False) -> list[str]:
    """Rewrite a page's console outputs and generated blocks; the ids of blocks that changed."""
    text = page.read_text(encoding="utf-8")
    changed = []
    for block in reversed(blocks(page)):  # from the end, so earlier offsets stay valid
        if block.kind == "console":
            new = render_console(block.commands, run_console(block))
            if new != block.body:
                text = text[: block.start] + new + text[block.end:]
                changed.append(block.id)
        elif python:
            ok, out = run_python(block)
            if not ok:
                print(f"{block.id}: the python block fails:\n{out}", file=sys.stderr)
    def regenerate(match: re.Match) -> str:
        return match.group(1) + generate(match.group(2)) + match.group(4)
    new_text = GENERATED.sub(regenerate, text)
    if new_text != text or changed:
        changed += [f"{rel(page)}: generated"] if new_text != text else []
        page.write_text(new_text, encoding="utf-8")
    return changed


def check_page(page: Path) -> list[str]:
    problems = stale_generated(page)
    for block in blocks(page):
        if block.kind == "console":
            outputs = run_console(block)
            for command, out in zip(block.commands, outputs):
                if out != command.shown:
                    problems.append(f"{block.id}: `{command.text}` prints something else")
    return problems


def draw_pictures() -> None:
    from gradcli.cli.commands import main  # noqa: F401 (fail early when gradcli cannot load)

    for name, argv in PICTURES:
        target = DOCS / name
        target.parent.mkdir(parents=True, exist_ok=True)
        writes = "{out}" in argv
        argv = [str(target) if a == "{out}" else a for a in argv]
        out = subprocess.run([sys.executable, "-m", "gradcli", *argv], cwd=ROOT, capture_output=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
        if writes:
            print(f"drew {rel(target)}")
            continue
        if argv[argv.index("--format") + 1] == "dot":  # a drawing with clusters: rendered here so the page shows the calls
            out = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, check=True).stdout
        target.write_bytes(out)
        print(f"drew {rel(target)}")


def main(argv: list[str]) -> int:
    chosen = [Path(a).resolve() for a in argv if not a.startswith("--")] or pages()
    if "--pictures" in argv:
        draw_pictures()
        return 0
    if "--update" in argv:
        for page in chosen:
            for what in update_page(page, python="--python" in argv):
                print(f"updated {what}")
        return 0
    problems = [p for page in chosen for p in check_page(page)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
