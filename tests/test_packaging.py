"""The release round trip: `python -m build` makes an sdist and a wheel, `twine check`
passes them, the wheel ships the schemas and the licence, the sdist carries every file of
the repository (MANIFEST.in: tests/clitools.py, the goldens, the pathological inputs, the
samples, ...), and the unpacked sdist passes a smoke subset of its own tests: the ones that
read those files.  (It once re-ran the whole quick loop, ~2,500 tests: the list of files is
the stronger check and costs nothing.)

Slow (a build in an isolated environment): CI runs it, the quick loop leaves it out.
Building needs PyPI (setuptools in build's isolated environment).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

#: the sdist's own tests that CI runs from the unpacked sdist: each reads files that only the
#: sdist's MANIFEST.in brings along (goldens, samples, pathological inputs, rejected.txt, tools/)
SMOKE = ["tests/test_golden.py", "tests/test_steps_golden.py", "tests/test_samples.py", "tests/test_parser.py",
         "tests/test_pathological.py", "tests/test_manpages.py"]
#: tracked files that stay out of the sdist
REPOSITORY_ONLY = {".gitignore"}


def _run(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    # build the sdist, then the wheel from the sdist (build's default), as a release would
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_twine_check_passes(dist):
    pytest.importorskip("twine")
    proc = _run([sys.executable, "-m", "twine", "check", "--strict",
                 str(_one(dist, "*.tar.gz")), str(_one(dist, "*.whl"))], cwd=dist)
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_wheel_ships_the_package_data_and_licence(dist):
    with zipfile.ZipFile(_one(dist, "*.whl")) as wheel:
        names = set(wheel.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = wheel.read(metadata).decode("utf-8")
    schemas = {p.name for p in (ROOT / "gradcli" / "schemas").glob("*.schema.json")}
    assert schemas and {f"gradcli/schemas/{name}" for name in schemas} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)[:20]
    assert not any(n.startswith(("tests/", "tools/", "benchmarks/")) for n in names)
    assert "License-Expression: MIT" in meta
    for field in ("Keywords:", "Author:", "Classifier: Programming Language :: Python :: 3.13",
                  "Requires-Python: >=3.10", "Provides-Extra: test",
                  "Requires-Dist: symengine>=0.11", "Requires-Dist: orjson>=3.9", "Provides-Extra: fast"):
        assert field in meta, field


def test_sdist_carries_every_tracked_file(dist):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = set(_run(["git", "ls-files"], cwd=ROOT).stdout.splitlines()) - REPOSITORY_ONLY
    with tarfile.open(_one(dist, "*.tar.gz")) as sdist:
        shipped = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert tracked - shipped == set(), "MANIFEST.in leaves these out of the sdist"


def test_sdist_passes_its_smoke_tests(dist, tmp_path):
    with tarfile.open(_one(dist, "*.tar.gz")) as sdist:
        if hasattr(tarfile, "data_filter"):  # 3.10.12+, 3.11.4+: the safe filter, and no warning on 3.12+
            sdist.extractall(tmp_path, filter="data")
        else:
            sdist.extractall(tmp_path)
    (unpacked,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    for needed in ("LICENSE", "CHANGELOG.md", "MANIFEST.in", "tests/clitools.py", "tests/golden",
                   "tests/pathological", "samples/lecture_e.grad", "tools/manpages.py", ".ci/run",
                   "gradcli/schemas/eval.schema.json"):
        assert (unpacked / needed).exists(), needed
    # the sdist's own gradcli, not this checkout's: it comes first on the path
    env = {"PYTHONPATH": str(unpacked), "PYTHONDONTWRITEBYTECODE": "1"}
    where = _run([sys.executable, "-c", "import gradcli; print(gradcli.__file__)"], cwd=unpacked, env=env)
    assert Path(where.stdout.strip()).resolve().is_relative_to(unpacked.resolve()), where.stdout
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-x", *SMOKE],
                cwd=unpacked, env=env)
    assert " passed" in proc.stdout and " failed" not in proc.stdout, proc.stdout[-2000:]
