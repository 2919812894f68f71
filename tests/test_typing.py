"""Typing: the public modules pass `mypy --strict`; all of gradcli passes mypy with the
project's configuration (pyproject.toml).  Skipped where mypy is not installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ["gradcli/__init__.py", "gradcli/api.py", "gradcli/_version.py"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("mypy") is None and not any(
        (Path(p) / "mypy").exists() for p in sys.path), reason="mypy is not installed (pip install '.[test]')"),
]


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_public_modules_pass_mypy_strict():
    out = _mypy("--strict", "--follow-imports=silent", *PUBLIC)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_whole_package_passes_mypy_with_the_project_config():
    out = _mypy("gradcli")
    assert out.returncode == 0, out.stdout + out.stderr
