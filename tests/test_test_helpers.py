"""The tests' own shared helpers (tests/clitools.py, tests/conftest.py) can fail: a golden
file that differs is caught, the update mechanism writes what it is given, the `cli`
fixture runs in the fixed environment, and the Hypothesis profile sizes examples as
documented."""

from __future__ import annotations

import pytest

import clitools
from clitools import assert_golden, examples


def test_assert_golden_catches_a_changed_line(tmp_path):
    golden = tmp_path / "case.txt"
    golden.write_text("a  \nb\n", encoding="utf-8")
    assert_golden(golden, "a\nb   \n")  # trailing blanks do not count
    with pytest.raises(AssertionError, match="line 2 differs"):
        assert_golden(golden, "a\nc\n")
    with pytest.raises(AssertionError, match="1 lines in the golden file, 2 now"):
        golden.write_text("a\n", encoding="utf-8")
        assert_golden(golden, "a\nb\n")


def test_assert_golden_exact_and_comparable(tmp_path):
    golden = tmp_path / "case.txt"
    golden.write_text("x = 1 \n", encoding="utf-8")
    with pytest.raises(AssertionError, match="differs"):
        assert_golden(golden, "x = 1\n", exact=True)
    assert_golden(golden, "X = 1\n", comparable=lambda text: text.lower().split())
    with pytest.raises(AssertionError, match="no golden file"):
        assert_golden(tmp_path / "missing.txt", "x\n")


def test_the_update_mechanism_writes_the_output(tmp_path, monkeypatch):
    monkeypatch.setattr(clitools, "UPDATE_GOLDEN", True)
    golden = tmp_path / "new" / "case.txt"
    assert_golden(golden, "a   \nb\n")
    assert golden.read_text(encoding="utf-8") == "a\nb\n"
    assert_golden(golden, "kept  \n", exact=True)
    assert golden.read_text(encoding="utf-8") == "kept  \n"


def test_the_cli_fixture_runs_in_the_fixed_environment(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "20")
    monkeypatch.setenv("FORCE_COLOR", "1")
    result = cli(["eval", "x^2 + 1", "x=3"])
    assert result.exit_code == 0 and "\x1b[" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 20  # 100 columns, not 20
    assert cli(["eval", "x^2 + 1", "x=3"], columns=40).stdout != result.stdout


def test_the_ci_profile_draws_a_quarter(monkeypatch):
    monkeypatch.setattr(clitools, "FUZZ_FULL", False)
    monkeypatch.setattr(clitools, "FUZZ_EXTRA", 0)
    assert [examples(n) for n in (1, 6, 60, 300)] == [1, 2, 15, 75]
    monkeypatch.setattr(clitools, "FUZZ_FULL", True)
    assert [examples(n) for n in (1, 6, 60, 300)] == [1, 6, 60, 300]
    monkeypatch.setattr(clitools, "FUZZ_EXTRA", 1000)
    assert examples(60) == 1000
