"""Each scalar lecture sample's backward sweep (``--steps``), recorded as a golden file.

``gradcli eval -f samples/NAME.grad BINDINGS --steps --paths --no-nodes`` must print
exactly tests/golden/steps/NAME.txt (trailing blanks ignored): the numbered steps,
the sums where a node feeds several others, and the sum over paths -- all at 10
significant digits, the same on every machine.  GRADCLI_UPDATE_GOLDEN=1 rewrites the
files from the current output; read them before committing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clitools import assert_golden, invoke

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "steps"
SAMPLES = sorted(p for p in (ROOT / "samples").glob("*.grad") if "#: bind " in p.read_text(encoding="utf-8"))


def _bindings(path: Path) -> list[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#: bind "):
            return line[len("#: bind "):].split()
    raise AssertionError(f"{path.name} has no '#: bind' line")


def test_there_are_scalar_samples():
    assert {p.stem for p in SAMPLES} >= {"lecture_e", "lecture_max", "chain", "sharing", "logreg", "tiny_net"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_steps_match_the_golden_file(path: Path):
    args = ["eval", "-f", str(path), *_bindings(path), "--steps", "--paths", "--no-nodes"]
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert_golden(GOLDEN / f"{path.stem}.txt", result.stdout)


def test_lecture_steps_are_the_worked_example():
    text = (GOLDEN / "lecture_e.txt").read_text(encoding="utf-8")
    assert "c̄ += ē · ∂e/∂c = 1 · d = 1 · 3 = 3" in text
    assert "d̄ += ē · ∂e/∂d = 1 · c = 1 · 5 = 5" in text
    assert "b̄ = 3 + 5 = 8" in text
    assert "∂e/∂b = 1·(b + 1) + 1·(a + b) = 3 + 5 = 8" in text
