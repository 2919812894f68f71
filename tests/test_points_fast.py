"""``gradcli eval PROGRAM --points FILE`` on the click-free fast path, and its bulk reader and writer.

The fast path (`gradcli.cli.main.fast_eval_args`) takes ``--points FILE``, ``--output NAME``
and ``--wrt A,B`` besides the plain options; for every line it takes, the entry point must
print exactly what the click command prints (stdout, stderr, exit status), for any CSV:
bad rows, blank lines, header variants, non-finite values, exponents.  The bulk reader
reads plain files through orjson and must give ``float`` of every cell; the writer writes
bytes to the binary stream under stdout, raw (``python -u``) or buffered, byte for byte.
"""

from __future__ import annotations

import gc
import io
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from clitools import examples, invoke
from gradcli.cli import options
from gradcli.cli.formats import FAST_PATH, FAST_PATH_VALUES
from gradcli.cli.main import fast_eval_args
from gradcli.core.errors import UsageError
from gradcli.run import batch


# ---- which lines take the fast path ------------------------------------------------------------
@pytest.mark.parametrize("argv, expected", [
    (["eval", "a*b", "--points", "p.csv"], {"args": ("a*b",), "fmt": "table", "points_file": "p.csv"}),
    (["eval", "a*b", "--points=p.csv", "--format", "tsv"], {"args": ("a*b",), "fmt": "tsv", "points_file": "p.csv"}),
    (["eval", "a*b", "--points", "-", "--json"], {"args": ("a*b",), "fmt": "json", "points_file": "-"}),
    (["eval", "a*b", "c=2", "--points", "p.csv", "--wrt", "a", "--output=s"],
     {"args": ("a*b", "c=2"), "fmt": "table", "points_file": "p.csv", "wrt": "a", "output": "s"}),
    (["eval", "s = a*b; s + 1", "a=1", "b=2", "--output", "s"],
     {"args": ("s = a*b; s + 1", "a=1", "b=2"), "fmt": "table", "output": "s"}),
])
def test_points_lines_take_the_fast_path(argv, expected):
    assert fast_eval_args(argv) == expected


@pytest.mark.parametrize("argv", [
    ["eval", "a*b", "--points"],                         # no value: click's message
    ["eval", "a*b", "--points="],                        # an empty value
    ["eval", "a*b", "--points", "p.csv", "--points", "q.csv"],  # twice: click takes the last
    ["eval", "a*b", "--points", "--json"],               # a value that looks like an option
    ["eval", "a*b", "--points", "-x.csv"],
    ["eval", "a*b", "--wrt", "-"],                       # only --points reads stdin from '-'
    ["eval", "a*b", "--points", "p.csv", "--check", "fd"],
    ["eval", "a*b", "--points", "p.csv", "--steps"],
    ["eval", "a*b", "--points", "p.csv", "--vars", "v.json"],
    ["eval", "a*b", "--points", "p.csv", "--output", "s", "--output", "t"],
])
def test_other_points_lines_go_to_click(argv):
    assert fast_eval_args(argv) is None


def test_valued_options_are_declared_as_the_fast_path_says():
    for key, dest in FAST_PATH_VALUES.items():
        option = options.OPTIONS[key]
        assert option.dest == dest and not option.is_flag and not option.settings.get("multiple")
        assert key in FAST_PATH.values()


def test_points_fast_path_imports_no_click_rich_or_sympy(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    code = (f"import sys; sys.argv = ['gradcli', 'eval', '(a+b)*(b+1)', '--points', {str(points)!r}]\n"
            "from gradcli.cli.main import run\n"
            "try:\n    run()\nexcept SystemExit as e:\n    code = e.code\n"
            "print('click' in sys.modules, 'rich' in sys.modules, 'sympy' in sys.modules, code, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "False False False 0"
    assert proc.stdout == "a,b,value,d/da,d/db\n1.0,2.0,9.0,3.0,6.0\n3.0,4.0,35.0,5.0,12.0\n"


# ---- the fast path prints what click prints -----------------------------------------------------
def run_entry_point(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """The console script's entry point (`gradcli.cli.main.run`) in-process: (status, stdout, stderr)."""
    from gradcli.cli.main import run

    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=e) for e in ("strict", "backslashreplace"))
    inp = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    saved = sys.argv, sys.stdin, sys.stdout, sys.stderr, gc.isenabled(), os.environ.get("COLUMNS")
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    sys.argv, sys.stdin, sys.stdout, sys.stderr = ["gradcli", *argv], inp, out, err
    os.environ["COLUMNS"] = "100"
    code = 0
    try:
        with warnings.catch_warnings():
            run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved[:4]
        if saved[4]:
            gc.enable()
        gc.unfreeze()  # a --points run freezes what is left before it exits
        if saved[5] is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved[5]
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    out.flush()
    err.flush()
    return code, out.buffer.getvalue().decode("utf-8"), err.buffer.getvalue().decode("utf-8")


NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-10, 10).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from(["0", "-0", "-0.0", "1e5", "1E-5", "2.5e-310", "1e308", "-1e-320", "007", ".5", "5.",
                     "+1", "1_000", " 2 ", "\t3"]),
)
BAD_CELLS = st.sampled_from(["", "x", "nan", "inf", "-inf", "1e999", "1e5e", "--1", "0x10", '"1"', "١"])
HEADERS = st.sampled_from(["a,b", " a , b ", "b,a", '"a","b"', "a,b,c", "a", "a,a", "a,,b", "", "x,y"])


@st.composite
def points_files(draw) -> str:
    header = draw(st.one_of(st.just("a,b"), st.just("a,b"), st.just("b,a"), HEADERS))  # mostly good ones
    k = max(1, header.count(",") + 1)
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 39))
        if kind == 0:
            rows.append("")  # a blank line
        elif kind == 1:
            rows.append(",".join(draw(st.lists(NUMBERS, min_size=1, max_size=k + 1))))  # maybe the wrong width
        else:
            cells = [draw(BAD_CELLS) if draw(st.integers(0, 59)) == 0 else draw(NUMBERS) for _ in range(k)]
            rows.append(",".join(cells))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return header + newline + newline.join(rows) + (newline if draw(st.booleans()) else "")


PROGRAMS = st.sampled_from(["(a+b)*(b+1)", "a*b", "log(a)*b", "a/b", "s = a*b; t = s + a; t*b", "exp(a)", "a"])
TAILS = st.sampled_from([[], ["--json"], ["--format", "csv"], ["--format=tsv"], ["--format", "table"],
                         ["--wrt", "a"], ["--output", "s"], ["a=1"], ["--no-nodes"]])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("points")


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=points_files(), program=PROGRAMS, tail=TAILS)
def test_fast_path_prints_what_click_prints_for_any_csv(folder, text, program, tail):
    path = folder / "p.csv"
    path.write_bytes(text.encode("utf-8"))
    argv = ["eval", program, "--points", str(path), *tail]
    assert fast_eval_args(argv) is not None
    note(f"text={text!r}")
    fast = run_entry_point(argv)
    clicked = invoke(argv)
    assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
    assert "Traceback" not in fast[2] and "internal error" not in fast[2]
    event(f"exit {fast[0]}")


@pytest.mark.parametrize("argv", [
    ["eval", "s = a*b; s + a", "a=2", "b=3", "--output", "s"],
    ["eval", "s = a*b; s + a", "a=2", "b=3", "--output=s", "--json"],
    ["eval", "s = a*b; s + a", "a=2", "b=3", "--output", "nope"],
    ["eval", "a*b + c", "a=2", "b=3", "c=1", "--wrt", "a,c", "--format", "csv"],
    ["eval", "a*b", "a=2", "b=3", "--wrt", "z"],
    ["eval", "a*b", "a=2", "b=3", "--points", "missing.csv"],
])
def test_valued_options_print_what_click_prints(argv):
    assert fast_eval_args(argv) is not None
    clicked = invoke(argv)
    assert run_entry_point(argv) == (clicked.exit_code, clicked.stdout, clicked.stderr)


def test_points_from_stdin_on_both_paths():
    argv = ["eval", "a*b", "--points", "-", "--format", "csv"]
    fast = run_entry_point(argv, b"a,b\n1,2\n0.5,-3e-5\n")
    clicked = invoke(argv, input="a,b\n1,2\n0.5,-3e-5\n")
    assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
    assert fast[1] == "a,b,value,d/da,d/db\n1.0,2.0,2.0,2.0,1.0\n0.5,-3e-05,-1.5e-05,-3e-05,0.5\n"


# ---- the bulk reader ------------------------------------------------------------------------------
def test_plain_cells_are_read_by_orjson(monkeypatch):
    """The JSON route answers by itself: ``float`` (only the fallback calls it) is not used."""
    pytest.importorskip("orjson")

    def no_float(cell):
        raise AssertionError(f"float({cell!r}) called")

    monkeypatch.setattr(batch, "float", no_float, raising=False)
    raw = b"a,b\n1.5,-2e-3\n0.25,7\n"
    data = batch._bulk_numbers(raw, raw.index(b"\n"), 4)
    assert data is not None and data.tolist() == [1.5, -0.002, 0.25, 7.0]


@pytest.mark.parametrize("cells, negative", [
    ("-0,1", [True, False]), ("1,-0", [False, True]), ("-0 ,1", [True, False]), ("-0\t,1", [True, False]),
    ("1e-0,0", [False, False]), ("0,-0.0", [False, True]),
])
def test_negative_integer_zero_is_float_negative_zero(cells, negative):
    got = batch._parse_bulk("a,b\n" + cells + "\n")
    assert got is not None
    assert np.signbit(got[1][0]).tolist() == negative
    assert got[1][0].tolist() == [float(c) for c in cells.split(",")]


@pytest.mark.parametrize("text", [
    "a,b\n1,[2]\n", "a,b\n[1,2]\n", "a,b\ntrue,1\n", "a,b\nnull,1\n", "a,b\n1,{}\n", "a\n[1]\n", "a\n1\n\n2\n",
    "a" * 140_000 + "\n1\n",  # a name over the csv module's field limit
])
def test_json_that_is_not_a_number_is_left_to_the_row_reader(text):
    assert batch._parse_bulk(text) is None


def test_long_cells_and_the_field_limit():
    """Under half the csv module's field limit a cell is read in bulk; over the limit it
    is the row reader's error; between, the bulk reader may leave it to the row reader."""
    import csv

    limit = csv.field_size_limit()
    for length in (limit // 2 - 10, limit - 1, limit):
        text = f"a,b\n1,0.{'1' * (length - 2)}\n"
        bulk = batch._parse_bulk(text)
        assert bulk is not None or length > limit // 2
        if bulk is not None:
            assert bulk[1].tobytes() == batch._parse_rows(text, "p.csv")[1].tobytes()
    assert batch._parse_bulk(f"a,b\n1,0.{'1' * (limit - 1)}\n") is None
    with pytest.raises(UsageError, match="field larger than field limit"):
        batch._parse_rows(f"a,b\n1,0.{'1' * (limit - 1)}\n", "p.csv")


# ---- the writer ---------------------------------------------------------------------------------
def _reference(table: np.ndarray, sep: str = ",") -> str:
    row_format = sep.join(["%r"] * table.shape[1])
    return "".join(row_format % tuple(row) + "\n" for row in table.tolist())


@pytest.mark.parametrize("rows", [[0], [999], [0, 1, 2], [5, 500, 501, 998], []])
def test_few_special_rows_between_orjson_blocks(rows):
    pytest.importorskip("orjson")
    table = np.random.default_rng(7).uniform(-10, 10, size=(1000, 3))
    for k, row in enumerate(rows):
        table[row, k % 3] = (np.nan, np.inf, 1e-7, 3e20)[k % 4]
    for sep in (",", "\t"):
        assert batch.float_rows(table, sep) == _reference(table, sep)


SPECIALS = st.sampled_from([np.nan, np.inf, -np.inf, 1e-5, -3.5e-7, 5e-324, 1e16, -2.5e300, 9.999999999999999e-05])


@settings(max_examples=examples(200), deadline=None)
@given(shape=st.tuples(st.integers(1, 30), st.integers(1, 5)), data=st.data())
def test_special_cells_among_plain_ones_print_as_repr(shape, data):
    """Cells orjson cannot print as repr, anywhere (first, last, side by side, whole rows),
    replaced in orjson's text; and above the share, repr everywhere."""
    table = np.random.default_rng(data.draw(st.integers(0, 99))).uniform(-1e3, 1e3, size=shape)
    table[0, 0] = data.draw(st.sampled_from([0.0, -0.0, 1e-4, 123.0]))
    cells = data.draw(st.lists(st.integers(0, table.size - 1), max_size=table.size))
    for cell in cells:
        table.flat[cell] = data.draw(SPECIALS)
    for sep in (",", "\t"):
        assert batch.float_rows(table, sep) == _reference(table, sep)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("share", [0.1, 0.45, 0.55])
def test_many_special_cells_anywhere_print_as_repr(seed, share):
    rng = np.random.default_rng(seed)
    k = 1 + seed % 4
    table = rng.uniform(-1e3, 1e3, size=(4000 // k, k))
    cells = rng.random(table.shape) < share
    table[cells] = rng.choice([np.nan, np.inf, -np.inf, 1e-5, -3.5e-7, 5e-324, 1e16, 2.5e300], size=cells.sum())
    if seed % 2:
        table[0, 0] = table[-1, -1] = np.nan  # first and last cells too
    else:
        table[0, 0] = table[-1, -1] = 1.5
    for sep in (",", "\t"):
        assert batch.float_rows(table, sep) == _reference(table, sep)


@pytest.mark.parametrize("plain, answered", [
    ([1234567.8901234567], True),                                       # a value is the first stand-in: the next
    ([1234567.8901234567, 2345678.9012345676, 98765.43210987654], False),  # every stand-in is a value
    ([-1234567.8901234567], False),                                     # a value's text holds the stand-in's
    ([11234567.890123457, 0.5], True),
])
@pytest.mark.parametrize("many", [False, True])
def test_special_cells_around_values_like_the_stand_ins(plain, answered, many):
    """Where no stand-in marks many special cells unmistakably, orjson's route declines
    and ``repr`` prints every value (a few are placed by position); the text is the same
    either way."""
    orjson = pytest.importorskip("orjson")
    rows = batch._FEW_SPECIAL if many else 3
    table = np.array([[*plain, 1e-9, np.nan], [*plain, 2.5, -np.inf]] * rows)
    values = table.ravel()
    special = np.flatnonzero(~np.isfinite(values) | (np.abs(values) < 1e-4))
    by_orjson = batch._json_rows(orjson, values, table.shape[1], special, ",") is not None
    assert by_orjson == (answered or (not many and len(plain) < 3))
    for sep in (",", "\t"):
        assert batch.float_rows(table, sep) == _reference(table, sep)


class _TrickleRaw(io.RawIOBase):
    """A raw stream that takes at most 1000 bytes a call, as a pipe may."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        taken = bytes(b[:1000])
        self.data += taken
        return len(taken)


def _result(n: int) -> batch.Batch:
    rng = np.random.default_rng(5)
    a, b = rng.uniform(-5, 5, n), rng.uniform(-5, 5, n)
    a[3] = 1e-9  # a row printed by repr
    return batch.Batch(["a", "b"], {"a": a, "b": b}, a * b, {"a": b, "b": a}, np.zeros(n, bool), "")


def test_rows_reach_every_kind_of_stream_alike():
    result = _result(3000)
    text = io.StringIO()
    batch.write_csv(result, text)
    expected = text.getvalue()
    b3, value3 = float(result.inputs["b"][3]), float(result.value[3])
    assert expected.splitlines()[4] == f"1e-09,{b3!r},{value3!r},{b3!r},1e-09"
    buffered = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    batch.write_csv(result, buffered)
    buffered.flush()
    assert buffered.buffer.getvalue().decode("ascii") == expected
    raw = _TrickleRaw()
    unbuffered = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
    batch.write_csv(result, unbuffered)
    unbuffered.flush()
    assert raw.data.decode("ascii") == expected


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_console_script_output_is_the_same_unbuffered_or_not(tmp_path, unbuffered):
    rng = np.random.default_rng(11)
    points = tmp_path / "p.csv"
    points.write_text("a,b\n" + "".join(f"{a!r},{b!r}\n" for a, b in rng.uniform(-3, 3, (20_000, 2)).tolist()))
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    env.pop("GRADCLI_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "gradcli", "eval", "a*b", "--points", str(points)],
                          capture_output=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stderr == b""
    clicked = invoke(["eval", "a*b", "--points", str(points)])
    assert proc.stdout.decode("ascii") == clicked.stdout
    assert len(clicked.stdout.splitlines()) == 20_001


# ---- JSON lines ---------------------------------------------------------------------------------
def _json_lines_reference(result: batch.Batch) -> str:
    """The documents one ``json.dumps`` at a time: what `write_json_lines` must write."""
    import json

    from gradcli.core.fmt import json_number

    lines = []
    for k in range(len(result.value)):
        doc = {
            "schema": 1, "row": k + 1,
            "inputs": {name: json_number(float(column[k]) + 0.0) for name, column in result.inputs.items()},
            "value": json_number(float(result.value[k]) + 0.0),
            "gradient": {name: json_number(float(result.gradient[name][k]) + 0.0) for name in result.names},
        }
        lines.append(json.dumps(doc, allow_nan=False) + "\n")
    return "".join(lines)


VALUES = st.one_of(st.floats(width=64), st.sampled_from([0.0, -0.0, 1e-5, 1e16, 5e-324, np.nan, np.inf, -np.inf]))


@settings(max_examples=examples(120), deadline=None)
@given(n=st.integers(0, 30), names=st.lists(st.sampled_from(["a", "b", "x_1", "α", "w%d"]), min_size=1, max_size=3,
                                            unique=True),
       wrt=st.integers(0, 3), data=st.data())
def test_json_lines_are_json_dumps_of_every_row(n, names, wrt, data):
    def column():
        return np.array(data.draw(st.lists(VALUES, min_size=n, max_size=n)), dtype=float)

    gradient_names = names[:wrt]
    result = batch.Batch(gradient_names, {name: column() for name in names}, column(),
                         {name: column() for name in gradient_names}, np.zeros(n, bool), "")
    out = io.StringIO()
    batch.write_json_lines(result, out)
    assert out.getvalue() == _json_lines_reference(result)


def test_json_lines_with_few_special_rows_in_many():
    result = _result(3000)
    result.value[[0, 7, 2999]] = (np.nan, -np.inf, 1e-300)
    binary = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    batch.write_json_lines(result, binary)
    binary.flush()
    assert binary.buffer.getvalue().decode("utf-8") == _json_lines_reference(result)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "latin-1", "utf-8"])
def test_rows_follow_the_text_streams_encoding(encoding):
    result = _result(50)
    text = io.StringIO()
    batch.write_csv(result, text)
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    batch.write_csv(result, stream)
    stream.flush()
    assert stream.buffer.getvalue().decode(encoding) == text.getvalue()


def test_without_orjson_the_same_numbers_and_text(monkeypatch):
    """orjson is a regular dependency, but an environment without it reads and writes
    the same: ``float`` of every cell, ``repr`` of every value."""
    text = "a,b\n1.5,-0\n1e-7,2\n-3,4.25e300\n"
    with_orjson = batch._parse_bulk(text)
    table = np.array([[1.5, -0.0, np.nan], [1e-7, 2.0, 0.1], [-3.0, 4.25e300, 7.0]])
    written = batch.float_rows(table)
    monkeypatch.setitem(sys.modules, "orjson", None)
    assert batch._orjson() is None
    without = batch._parse_bulk(text)
    assert with_orjson is not None and without is not None
    assert without[1].tobytes() == with_orjson[1].tobytes()
    assert batch.float_rows(table) == written == _reference(table)
