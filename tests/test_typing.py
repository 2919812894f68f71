"""Typing: all of gradcli passes mypy with the project's configuration (pyproject.toml),
which holds the public modules to every flag of `mypy --strict`.  One mypy run (it once ran
twice, the strict run of the public modules analysing the whole package again).  Skipped
where mypy is not installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ["gradcli", "gradcli.api", "gradcli._version"]
#: the flags `mypy --strict` turns on (mypy 1.8 to 2.x), per module but for warn_redundant_casts
STRICT = ["disallow_any_generics", "disallow_subclassing_any", "disallow_untyped_calls", "disallow_untyped_defs",
          "disallow_incomplete_defs", "check_untyped_defs", "disallow_untyped_decorators", "warn_unused_ignores",
          "warn_return_any", "no_implicit_reexport", "strict_equality", "extra_checks"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("mypy") is None and not any(
        (Path(p) / "mypy").exists() for p in sys.path), reason="mypy is not installed (pip install '.[test]')"),
]


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.mark.skipif(tomllib is None, reason="tomllib: Python 3.11+")
def test_the_project_config_holds_the_public_modules_to_strict():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config.get("warn_redundant_casts") is True
    (public,) = [o for o in config.get("overrides", []) if set(PUBLIC) <= set(o["module"])]
    assert {flag: public.get(flag) for flag in STRICT} == dict.fromkeys(STRICT, True)


def test_the_whole_package_passes_mypy_with_the_project_config():
    out = _mypy("gradcli")
    assert out.returncode == 0, out.stdout + out.stderr
