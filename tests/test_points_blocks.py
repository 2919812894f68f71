"""The --points paths made for speed (issue 24) give what the plain paths give.

- `gradcli.run.batch.read_points_lines` reads the file's bytes in bulk (one layout pass,
  one JSON array changed in place a stretch at a time); for any file -- bad rows, blank
  lines, quotes, a byte-order mark, CRLF, exponents, -0, -0.0, nan/inf, integers, bytes
  that are not UTF-8 -- it must return exactly what the row reader returns, or raise its
  message.
- `write_csv` and `write_json_lines` turn the rows into text `BLOCK_ROWS` at a time: any
  block size must write the text of the whole table at once (``repr`` of every value,
  -0.0 as 0.0).
- `evaluate_points` returns a single pass's own arrays; several passes (`CHUNK`) must give
  the same numbers, failures and first error.
- The console script's --points run keeps NumPy's BLAS to one thread and freezes what is
  left before it exits.
"""

from __future__ import annotations

import gc
import io
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from clitools import examples
from gradcli.core.errors import UsageError
from gradcli.run import batch
from gradcli.run.files import decode_text


# ---- the reader -----------------------------------------------------------------------------------
def _row_reader(raw: bytes):
    """What the row reader makes of the bytes: (names, values' bytes, lines) or its message."""
    try:
        names, data, lines = batch._parse_rows(decode_text(raw, "--points p.csv"), "--points p.csv")
    except UsageError as exc:
        return exc.message
    return names, data.tobytes(), lines.tolist()


def _reader(path, raw: bytes):
    path.write_bytes(raw)
    try:
        names, data, lines = batch.read_points_lines(str(path))
    except UsageError as exc:
        return exc.message.replace(str(path), "p.csv")
    return names, data.tobytes(), lines.tolist()


CELLS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda x: f"{x:.3e}"),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from(["-0", "-0.0", "0", "+1", ".5", "1.", "1_000", "1e-0", "nan", "inf", "-inf", "1e999",
                     "", " ", " 2 ", "\t3", '"4"', "x", "[1]", "null", "1e", "--1", "\u00e9", "\x00"]),
)


#: the cells of plain files: what programs write
PLAIN_CELLS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["-0.0", "0.0", "1e-300", "2.5E+3", " 7 "]),
)


@st.composite
def csv_bytes(draw):
    """A file: half the time plain (numbers, commas, newlines: the bulk reader's), else
    anything the row reader may meet."""
    plain = draw(st.booleans())
    k = draw(st.integers(1, 3))
    names = ["a", "b", "c"] if plain else draw(st.sampled_from([
        ["a", "b", "c"], [" a", "b ", "c"], ['"a"', "b", "c"], ["a", "a", "c"], ["a", "", "c"], ["α", "b", "c"]]))
    header = ",".join(names[:k])
    if plain:
        rows = draw(st.lists(st.lists(PLAIN_CELLS, min_size=k, max_size=k), min_size=1, max_size=8))
    else:
        rows = draw(st.lists(st.lists(CELLS, min_size=max(0, k - 1), max_size=k + 1), max_size=8))
    lines = [header] + [",".join(row) for row in rows]
    for _ in range(0 if plain else draw(st.integers(0, 2))):  # blank lines anywhere after the header
        lines.insert(draw(st.integers(1, len(lines))), draw(st.sampled_from(["", " , ", ","])))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    raw = text.encode("utf-8")
    extra = b"" if plain else draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff", b"\r"]))  # a BOM; not UTF-8
    if extra == b"\xef\xbb\xbf":
        return extra + raw
    if extra and len(raw) > 2:
        at = draw(st.integers(len(raw) // 2, len(raw)))
        return raw[:at] + extra + raw[at:]
    return raw


@settings(max_examples=examples(300), deadline=None)
@given(raw=csv_bytes(), stretch=st.sampled_from([1, 2, 5, 1 << 18]))
def test_any_file_reads_as_the_row_reader_reads_it(tmp_path_factory, raw, stretch):
    path = tmp_path_factory.getbasetemp() / "blocks.csv"
    note(f"raw={raw!r}")
    saved = batch._STRETCH
    batch._STRETCH = stretch  # the JSON array is changed in place this many bytes at a time
    try:
        got = _reader(path, raw)
    finally:
        batch._STRETCH = saved
    assert got == _row_reader(raw)
    event("refused" if isinstance(got, str) else "read")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("ended", [True, False])
@pytest.mark.parametrize("stretch", [1, 3, 1 << 18])
def test_a_plain_file_is_read_by_orjson_however_it_ends(monkeypatch, newline, ended, stretch):
    """Plain files are read in bulk by orjson alone (``float`` never called), with or
    without the last newline, with LF or CRLF, whatever the stretch changed in place at a
    time; every value exactly ``float`` of its cell, -0.0 included."""
    pytest.importorskip("orjson")
    rng = np.random.default_rng(4)
    values = rng.uniform(-10, 10, (1000, 2)) * 10.0 ** rng.integers(-30, 30, (1000, 2))
    values[3, 1] = -0.0
    body = [f"{a!r},{b!r}" for a, b in values.tolist()] + ["7,1e5", "1,  2\t"]
    raw = ("a,b" + newline + newline.join(body) + (newline if ended else "")).encode("ascii")
    expected = np.array([[float(c) for c in line.split(",")] for line in body]).tobytes()
    assert _row_reader(raw)[1] == expected

    def no_float(cell):
        raise AssertionError(f"float({cell!r}) called")

    monkeypatch.setattr(batch, "_STRETCH", stretch)
    monkeypatch.setattr(batch, "float", no_float, raising=False)
    bulk = batch._parse_bulk(raw)
    assert bulk is not None and bulk[1].tobytes() == expected
    assert bulk[2].tolist() == list(range(2, len(body) + 2))


def test_the_integer_minus_zero_is_read_by_float(monkeypatch):
    """``-0`` is the integer 0 for JSON and -0.0 for ``float``: such a file is read by ``float``."""
    raw = b"a,b\n-0,1\n2,-0 \n"
    bulk = batch._parse_bulk(raw)
    assert bulk is not None and np.signbit(bulk[1]).tolist() == [[True, False], [False, True]]


def test_the_csv_modules_default_field_limit_is_known(tmp_path):
    """The bulk reader does not import the csv module for its field limit: its default."""
    code = ("import sys; from gradcli.run import batch; limit = batch._field_limit(); "
            "imported = 'csv' in sys.modules; import csv; print(imported, limit == csv.field_size_limit())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "True"]


# ---- the writers ----------------------------------------------------------------------------------
def _whole_table_text(cols: list[np.ndarray], sep: str) -> str:
    table = np.column_stack(cols) + 0.0
    return "".join(sep.join(map(repr, row)) + "\n" for row in table.tolist())


VALUES = st.one_of(st.floats(width=64),
                   st.sampled_from([0.0, -0.0, 1e-4, 9.999999999999999e-05, 1e16, 5e-324, np.nan, np.inf, -np.inf]))


def _batch(data, n: int, k: int) -> batch.Batch:
    def column():
        return np.array(data.draw(st.lists(VALUES, min_size=n, max_size=n)), dtype=float)

    names = ["a", "b", "c"][:k]
    return batch.Batch(names[:1], {name: column() for name in names}, column(), {names[0]: column()},
                       np.zeros(n, bool), "")


@settings(max_examples=examples(150), deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 3), block=st.sampled_from([1, 2, 3, 7, 8192]), data=st.data())
def test_any_block_size_writes_the_whole_tables_text(n, k, block, data):
    result = _batch(data, n, k)
    cols = [*result.inputs.values(), result.value, result.gradient["a"]]
    saved = batch.BLOCK_ROWS
    batch.BLOCK_ROWS = block
    try:
        for fmt, sep in (("csv", ","), ("tsv", "\t")):
            out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
            batch.write_csv(result, out, fmt)
            out.flush()
            body = out.buffer.getvalue().decode("ascii").split("\n", 1)[1]
            assert body == _whole_table_text(cols, sep)
        lines = io.StringIO()
        batch.write_json_lines(result, lines)
    finally:
        batch.BLOCK_ROWS = saved
    whole = io.StringIO()
    batch.write_json_lines(result, whole)
    assert lines.getvalue() == whole.getvalue()
    assert [line.count('"row": ') for line in lines.getvalue().splitlines()] == [1] * n


def test_blocks_between_many_rows_with_few_special_values():
    rng = np.random.default_rng(9)
    n = 3 * batch.BLOCK_ROWS + 5
    a, b = rng.uniform(-5, 5, n), rng.uniform(-5, 5, n)
    a[[0, batch.BLOCK_ROWS - 1, batch.BLOCK_ROWS, n - 1]] = (1e-9, np.nan, -0.0, 3e17)
    result = batch.Batch(["a"], {"a": a, "b": b}, a * b, {"a": b}, np.zeros(n, bool), "")
    out = io.StringIO()
    batch.write_csv(result, out)
    assert out.getvalue().split("\n", 1)[1] == _whole_table_text([a, b, a * b, b], ",")


# ---- evaluation in passes -------------------------------------------------------------------------
@pytest.mark.parametrize("program", ["(a+b)*(b+1)", "log(a) + b", "a/b", "c", "a*0 + b*0 + 1"])
def test_several_passes_give_what_one_gives(monkeypatch, program):
    rng = np.random.default_rng(2)
    data = rng.uniform(-2, 2, (50, 2))
    data[[3, 40], 1] = 0.0
    lines = np.arange(2, 52)
    fixed = {}
    if program == "c":
        from gradcli.run.bindings import Binding

        fixed = {"c": Binding("c", 2.5, "2.5", "c=2.5")}
        program = "c + a*0 + b*0"
    one = batch.evaluate_points(program, ["a", "b"], data, fixed, lines=lines)
    monkeypatch.setattr(batch, "CHUNK", 7)
    passes = batch.evaluate_points(program, ["a", "b"], data, fixed, lines=lines)
    assert one.value.tobytes() == passes.value.tobytes()
    assert one.gradient.keys() == passes.gradient.keys()
    for name in one.gradient:
        assert one.gradient[name].tobytes() == passes.gradient[name].tobytes()
        assert one.gradient[name].dtype == np.float64 and one.gradient[name].flags.c_contiguous
    assert one.failed.tolist() == passes.failed.tolist()
    assert one.first_error == passes.first_error
    assert one.value.dtype == np.float64 and one.value.shape == (50,)


# ---- the console script ---------------------------------------------------------------------------
_THREADS = """
import os, sys
sys.argv = ["gradcli", "eval", "a*b", *sys.argv[1:]]
from gradcli.cli.main import run
try:
    run()
except SystemExit as exc:
    code = exc.code
print(os.environ.get("OPENBLAS_NUM_THREADS"), len(os.listdir("/proc/self/task")), code, file=sys.stderr)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_points_runs_start_no_blas_threads(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("a,b\n1,2\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def run(*argv: str, **extra: str) -> list[str]:
        proc = subprocess.run([sys.executable, "-c", _THREADS, *argv], capture_output=True, text=True,
                              env={**env, **extra}, timeout=60)
        return proc.stderr.split()[-3:]

    assert run("--points", str(points)) == ["1", "1", "0"]
    assert run("--points", str(points), "--digits", "4") == ["1", "1", "0"]  # through click too
    assert run("--points", str(points), OPENBLAS_NUM_THREADS="3")[0] == "3"  # the user's choice stands
    assert run("a=1", "b=2", "--json")[0] == "None"  # other lines leave the environment alone


def test_points_run_freezes_what_is_left_before_exit(tmp_path):
    from gradcli.cli.main import run

    points = tmp_path / "p.csv"
    points.write_text("a,b\n1,2\n", encoding="utf-8")
    saved = sys.argv, sys.stdout, gc.isenabled()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    sys.argv, sys.stdout = ["gradcli", "eval", "a*b", "--points", str(points)], io.StringIO()
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as done:
            run()
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
        sys.argv, sys.stdout = saved[:2]
        if saved[2]:
            gc.enable()
        for signum, handler in handlers.items():  # the entry point installs the program's own
            signal.signal(signum, handler)
    assert done.value.code == 0 and frozen > 0


def test_rows_go_to_a_file_in_whole_blocks_and_to_a_pipe_in_pieces(tmp_path):
    """A regular file takes each block in one write (no reader can go away); a pipe a
    `PIECE` at a time, so a reader that went away is noticed.  The text is the same."""
    result = batch.Batch(["a"], {"a": np.arange(3000.0), "b": np.ones(3000)}, np.arange(3000.0) / 7,
                         {"a": np.ones(3000)}, np.zeros(3000, bool), "")
    expected = io.StringIO()
    batch.write_csv(result, expected)
    path = tmp_path / "out.csv"
    with open(path, "w", encoding="utf-8") as fh:
        assert batch._largest_write(fh.buffer) > 10**9
        batch.write_csv(result, fh)
    assert path.read_text(encoding="utf-8") == expected.getvalue()
    read, write = os.pipe()
    with os.fdopen(read, "rb"), os.fdopen(write, "wb") as w:
        assert batch._largest_write(w) == batch.PIECE
    assert batch._largest_write(io.BytesIO()) == batch.PIECE
