"""Arrays of rank 3 and 4 in and out (issue 23): nested JSON lists and array literals bind,
the engine's existing ops carry them, tables print them compactly (``--full`` for all),
JSON and CSV carry every element.  Expectations are written out here or computed in NumPy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clitools import strict_json, usage_error
from gradcli.core.fmt import SMALL_TENSOR, array


def _vars(tmp_path, **values) -> str:
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in values.items()}), encoding="utf-8")
    return str(path)


IMAGES = np.round(np.random.default_rng(0).normal(size=(2, 3, 4, 5)), 3)  # (N, C, H, W)


@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 3, 4, 5)])
def test_nested_json_lists_of_rank_3_and_4_bind_and_differentiate(cli, tmp_path, shape):
    x = np.arange(np.prod(shape), dtype=float).reshape(shape) / 10
    r = cli(["eval", "sum(x^2)", "--vars", _vars(tmp_path, x=x), "--json"])
    assert r.exit_code == 0, r.stderr
    doc = strict_json(r.stdout)
    assert doc["value"] == pytest.approx(float(np.sum(x * x)))
    assert np.asarray(doc["inputs"]["x"]).shape == shape
    np.testing.assert_allclose(doc["gradient"]["x"], 2 * x, rtol=1e-15)
    assert doc["nodes"][0]["shape"] == list(shape)


def test_an_array_literal_of_rank_3_binds(cli):
    r = cli(["eval", "sum(x * x)", "x=[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]", "--json"])
    assert r.exit_code == 0, r.stderr
    doc = strict_json(r.stdout)
    assert doc["value"] == 204.0
    assert doc["gradient"]["x"] == [[[2.0, 4.0], [6.0, 8.0]], [[10.0, 12.0], [14.0, 16.0]]]


def test_the_api_binds_rank_4():
    from gradcli.api import evaluate

    result = evaluate("sum(softmax(x, 1) * x)", {"x": IMAGES})
    z = np.exp(IMAGES - IMAGES.max(axis=1, keepdims=True))
    s = z / z.sum(axis=1, keepdims=True)
    assert result.value == pytest.approx(float(np.sum(s * IMAGES)), rel=1e-12)
    assert result.gradient["x"].shape == IMAGES.shape


def test_rank_4_gradients_agree_with_finite_differences(cli, tmp_path):
    for program in ("sum(softmax(x, 1) * x)", "sum(mean(x, 0)^3)", "logsumexp(x)", "sum(x[1] * x[0])"):
        r = cli(["eval", program, "--vars", _vars(tmp_path, x=IMAGES), "--check", "fd", "--json"])
        assert r.exit_code == 0, (program, r.stderr)
        assert strict_json(r.stdout)["ok"] is True, program


@pytest.mark.parametrize("raw, words", [
    ([[[1, 2], [3, 4]], [[5, 6], [7]]], "rows of different lengths (an array must be rectangular)"),
    ([[[1, 2], [3, 4]], [5, 6]], "rows of different lengths"),
    ([[[[[[[[[1]]]]]]]]], "too deeply nested (more than 8 levels) is not an array"),
    ([[[]]], "an empty list is not an array"),
])
def test_a_ragged_or_empty_tensor_is_one_clear_line(cli, tmp_path, raw, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"x": raw}), encoding="utf-8")
    usage_error(cli(["eval", "sum(x)", "--vars", str(path)]), words)


# ---- printing ---------------------------------------------------------------------------------

def test_a_small_tensor_prints_whole_one_row_a_line():
    x = np.arange(8.0).reshape(2, 2, 2)
    assert array(x) == "[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]"
    assert array(x, lines=True) == "[[[0, 1],\n  [2, 3]],\n [[4, 5],\n  [6, 7]]]"  # as NumPy indents


def test_a_large_tensor_prints_its_first_slice_cut_to_two_each_end():
    x = np.arange(2 * 3 * 8 * 8.0).reshape(2, 3, 8, 8)
    assert x.size > SMALL_TENSOR
    assert array(x) == ("[[[[0, 1, …, 6, 7], [8, 9, …, 14, 15], …, [48, 49, …, 54, 55], "
                        "[56, 57, …, 62, 63]], …], …]")
    assert array(x, lines=True).count("\n") == 6
    whole = array(x, full=True)
    assert "…" not in whole and whole.count(",") == x.size - 1
    assert array(x, full=True, lines=True).count("\n") == 2 * 3 * 8 - 1  # one line per row


def test_rank_2_prints_as_before():
    m = np.arange(64.0).reshape(8, 8)
    assert array(m).startswith("[[0, 1, 2, …, 5, 6, 7], [8, 9, 10, …, 13, 14, 15], [16")
    assert array(m, lines=True) == array(m)


def test_the_table_shows_a_batch_of_images_compactly_and_full_shows_all(cli, tmp_path):
    x = np.arange(2 * 3 * 8 * 8, dtype=float).reshape(2, 3, 8, 8)
    path = _vars(tmp_path, x=x)
    r = cli(["eval", "sum(x)", "--vars", path], columns=120)
    assert r.exit_code == 0, r.stderr
    assert "2×3×8×8" in r.stdout
    assert "[[[[0, 1, …, 6, 7]," in r.stdout and "383" not in r.stdout
    assert len(r.stdout.splitlines()) < 40
    r = cli(["eval", "sum(x)", "--vars", path, "--full"], columns=400)
    assert r.exit_code == 0, r.stderr
    assert "383" in r.stdout and "[376, 377, 378, 379, 380, 381, 382, 383]" in r.stdout


def test_csv_names_every_element_of_a_tensor(cli, tmp_path):
    x = np.arange(8.0).reshape(2, 2, 2)
    r = cli(["eval", "sum(x^2)", "--vars", _vars(tmp_path, x=x), "--format", "csv"])
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "input,value,gradient"
    assert lines[1:] == [f'"x[{i},{j},{k}]",{float(x[i, j, k])!r},{float(2 * x[i, j, k])!r}'
                         for i in range(2) for j in range(2) for k in range(2)]
