"""What reaches a terminal: user text with its control characters shown escaped, tidy lines,
and an ASCII fallback for streams that cannot encode the table's characters.

* `visible` -- the one helper every renderer's output passes through: escape sequences
  and other control characters from user text (program comments, names, student ids and
  answers, formulas) are shown as ``\\x1b``, ``\\x07``..., so a program cannot set the
  window title or move the cursor.  Newlines and tabs stay.
* `TidyStream` -- a stream wrapper that escapes control characters in plain text and drops
  the trailing spaces rich pads lines with.
* `ascii_fallback` -- an encoding error handler: our own symbols (✓ ∂ → …) become ASCII
  words, anything else a ``\\u`` escape, so ``PYTHONIOENCODING=ascii`` still prints everything.
* `console` -- a rich console whose rendered text goes through `visible`.

No rich import at module level: the fast path (``gradcli eval ... --json``) uses `visible`.
"""

from __future__ import annotations

import codecs
import re
from typing import Any, Optional, TextIO

from ..core.fmt import char_columns, columns

#: C0 controls except tab and newline, DEL, C1 controls, and the bidirectional controls
#: that can make text read differently from what it is: the embeddings, overrides and isolates,
#: and the implicit marks (left-to-right, right-to-left, Arabic letter: U+200E, U+200F, U+061C)
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: an SGR colour/style sequence, which rich itself writes when colours are on
_SGR = r"(?:\x1b\[[0-9;]*m)*"
_TRAILING = re.compile(rf"[ ]+({_SGR})(?=\n|$)")


def _escape(match: "re.Match[str]") -> str:
    c = ord(match.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text: str) -> str:
    """`text` with control characters shown as escapes (newlines and tabs kept)."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def json_visible(text: str) -> str:
    """JSON text with the control characters json.dumps leaves raw (DEL, C1, bidi) as \\u escapes."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _UNSAFE.search(text) else text


def tidy(text: str) -> str:
    """`text` without spaces at the ends of its lines (colour codes kept)."""
    if "\x1b" not in text:  # no colour codes: string methods do it (the regex scans every space run)
        if " \n" not in text and not text.endswith(" "):
            return text
        return "\n".join(line.rstrip(" ") for line in text.split("\n"))
    return _TRAILING.sub(r"\1", text)


class TidyStream:
    """A text stream that drops trailing spaces; with `escape`, also escapes control characters.

    rich pads table titles and wrapped lines with spaces to the table's width; that padding
    is noise in a terminal and in a file.  `escape` is for plain text (messages, CSV, text
    pictures); a colour console's own escape codes must pass, so there `console` escapes
    the rendered text segments instead.
    """

    def __init__(self, stream: TextIO, escape: bool = False) -> None:
        self._stream = stream
        self._escape = escape

    def write(self, text: str) -> int:
        if self._escape:
            text = visible(text)
        self._stream.write(tidy(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


#: ASCII for the symbols gradcli itself prints, used when the output encoding lacks them
#: (an arrow is ``->``, never ``>``, so a shape never reads like a comparison); letters with
#: a bar or a dot are decomposed first (``ē`` is ``e_bar``, ``ẋ`` is ``x_dot``)
ASCII = {
    "✓": "v", "✗": "x", "∂": "d", "…": "...", "→": "->", "←": "<-", "↦": "|->", "⇒": "=>", "Δ": "D", "×": "x",
    "—": "-", "–": "-", "·": "*", "π": "pi", "√": "sqrt", "∑": "sum", "Σ": "sum", "≈": "~",
    "≤": "<=", "≥": ">=", "≠": "!=", "∞": "inf", "\u0304": "_bar", "│": "|", "─": "-", "╭": "+",
    "╮": "+", "╰": "+", "╯": "+", "├": "+", "┤": "+", "┬": "+", "┴": "+", "┼": "+", "⋯": "...",
    "∇": "grad", "λ": "lambda", "σ": "sigma", "θ": "theta", "μ": "mu", "\ufeff": "",
    "δ": "delta", "ε": "eps", "η": "eta", "α": "alpha", "β": "beta", "γ": "gamma", "ρ": "rho", "τ": "tau",
    "φ": "phi", "ψ": "psi", "ω": "omega", "∘": "*", "⊙": "*", "⊗": "(x)", "ᵀ": "^T", "⁻": "^-", "¹": "1",
    "²": "^2", "³": "^3", "\u0307": "_dot", "\u0308": "_ddot", "\u0302": "_hat", "\u0303": "_tilde",
    "∈": " in ", "ℝ": "R", "⟨": "<", "⟩": ">", "‖": "||", "−": "-", "•": "*", "⋅": "*",
    "\U0001d7cf": "ones", "±": "+-", "⁴": "^4", "ᵢ": "_i", "ⱼ": "_j", "⁻¹": "^-1",
    **{chr(0x2080 + d): f"_{d}" for d in range(10)},  # e₂, Σ₀: subscripts
}


def _ascii_char(c: str) -> str:
    """One character in ASCII: our spelling, its decomposition (``ē`` → ``e_bar``), or an escape."""
    if c in ASCII:
        return ASCII[c]
    import unicodedata

    parts = unicodedata.normalize("NFD", c)
    if len(parts) > 1 and parts[0].isascii() and all(p in ASCII for p in parts[1:]):
        return parts[0] + "".join(ASCII[p] for p in parts[1:])
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(_ascii_char(c) for c in text), error.end


codecs.register_error("gradcli-ascii", _ascii_fallback)


def fit_encoding(stream: TextIO) -> None:
    """Let `stream` print gradcli's symbols in any encoding: ASCII words where they cannot be
    encoded.  An encoding that cannot write even ASCII (``PYTHONIOENCODING=undefined``, whose
    codec refuses everything) is replaced by ASCII, so the output and the messages still print."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "✓∂…→│".encode(encoding)
        return
    except (UnicodeError, LookupError):  # (UnicodeError: the undefined codec's own error)
        pass
    changes = {"errors": "gradcli-ascii"}
    try:
        "gradcli: error".encode(encoding)
    except (UnicodeError, LookupError):
        changes["encoding"] = "ascii"
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(**changes)
        except (ValueError, OSError, LookupError):  # a stream that cannot be reconfigured keeps its errors
            pass


def console(stream: TextIO, width: Any = None, no_color: Any = None):  # -> rich.console.Console
    """A rich console on `stream` that shows user text's control characters escaped."""
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit 1 ("a check failed"); the command line maps this to 141, silently
            raise BrokenPipeError(32, "Broken pipe")

        def render(self, renderable, options=None):  # type: ignore[no-untyped-def, override]
            for segment in super().render(renderable, options):
                if segment.control is None and _UNSAFE.search(segment.text):
                    yield Segment(visible(segment.text), segment.style)
                else:
                    yield segment

    tidy: Any = TidyStream(stream)  # a text stream that strips trailing spaces (rich takes any IO[str])
    return SafeConsole(file=tidy, width=width, highlight=False, soft_wrap=False,
                       no_color=no_color, emoji=False)


#: terminal columns of a text and of one character (wide characters two, combining marks none)
_cells, _char_cells = columns, char_columns


def hanging_indent(line: str, width: int) -> int:
    """Where a wrapped line's continuation starts: under the line's second column (the text
    after the first gap of two or more spaces, ``ā += …`` after ``3. a = p[2]``, when it starts
    in the first 60% of the width), else two past ``= `` or four past its own indent; at least
    24 columns are left for the text."""
    lead = len(line) - len(line.lstrip(" "))
    gap = re.search(r"\S {2,}(?=\S)", line[lead:])
    indent = lead + (2 if line[lead:lead + 2] == "= " else 4)  # "= [1, 2," goes on under "["
    if gap is not None and _cells(line[:lead + gap.end()]) <= 0.6 * width:  # a column, not a late aside
        indent = _cells(line[:lead + gap.end()])
    return max(0, min(indent, width - 24))


def wrap_text(text: str, width: int) -> str:
    """`text` with every line longer than `width` columns broken at spaces, the continuation
    lines indented under their column (`hanging_indent`) instead of restarting at column 0.
    A word longer than the room is folded."""
    if width <= 0:
        return text
    lines = text.split("\n")
    narrow = not _has_wide(text)
    if narrow and max(map(len, lines)) <= width:
        return text
    # without wide characters a line is at most as wide as it is long (a bar takes no column),
    # so only the lines longer than `width` have their columns counted; with them, the
    # characters that do not take one column are looked up once for the whole text, and a
    # line's width is its length corrected by a count or two
    uneven = [] if narrow else [(c, _char_cells(c) - 1) for c in set(text) if c >= "\x80" and _char_cells(c) != 1]
    out: list[str] = []
    for line in lines:
        n = len(line)
        if narrow:
            if n <= width:
                out.append(line)
                continue
        else:
            for c, extra in uneven:
                n += extra * line.count(c)
            if n <= width:
                out.append(line)
                continue
        _wrap_line(line, width, out)
    return "\n".join(out)


def _wrap_line(line: str, width: int, out: list[str]) -> None:
    """`line`, wider than `width`, broken into `out` (`wrap_text`).  The characters of the line
    that do not take one column are found once; each piece's width is then its length
    corrected by their counts, and the breaks look at those characters only."""
    uneven = _uneven(line)
    pattern = indent = None
    current, first = line, True
    while True:
        n = len(current)
        for c, extra in uneven:
            n += extra * current.count(c)
        if n <= width:
            break
        if indent is None:  # a line that is long only for its bars fits as it is
            pattern, indent = _uneven_pattern(uneven), hanging_indent(line, width)
        floor = 0 if first else indent + 1  # a continuation never breaks inside its own indent
        cut = _break_at(current, width, floor, pattern)
        out.append(current[:cut].rstrip())
        current = " " * indent + current[cut:].lstrip(" ")
        first = False
    out.append(current)


def _uneven(line: str) -> tuple[tuple[str, int], ...]:
    """The characters of `line` that take no column or two, with their columns minus one."""
    if line.isascii():
        return ()
    chars = frozenset(_NON_ASCII.findall(line))
    found = _UNEVEN.get(chars)
    if found is None:
        if len(_UNEVEN) > 1024:
            _UNEVEN.clear()
        found = _UNEVEN[chars] = tuple(sorted((c, _char_cells(c) - 1) for c in chars if _char_cells(c) != 1))
    return found


#: `_uneven` by a line's non-ASCII characters (the lines of an explanation share a handful)
_UNEVEN: dict[frozenset, tuple[tuple[str, int], ...]] = {}


_PATTERNS: dict[tuple, "re.Pattern[str]"] = {}


def _uneven_pattern(uneven: tuple[tuple[str, int], ...]) -> "re.Pattern[str]":
    """A pattern matching the characters of `uneven` (every other is one column)."""
    found = _PATTERNS.get(uneven)
    if found is None:
        if len(_PATTERNS) > 256:
            _PATTERNS.clear()
        found = _PATTERNS[uneven] = re.compile("[" + "".join(re.escape(c) for c, _ in uneven) + "]") if uneven \
            else re.compile("(?!)")
    return found


#: characters that may take two columns: none below U+1100 does (`_char_cells`)
_MAYBE_WIDE = "\u1100-\U0010ffff"


def _has_wide(text: str) -> bool:
    """Does `text` hold a character two columns wide?  Each distinct candidate (a character
    from U+1100 up: ∂, →, ∘...) is looked up once, the search going on past it, so a 10⁶-line
    explanation is scanned about once instead of being made into a set of its characters."""
    seen: list[str] = []
    pattern = re.compile(f"[{_MAYBE_WIDE}]")
    start = 0
    while True:
        match = pattern.search(text, start)
        if match is None:
            return False
        c = match.group()
        if _char_cells(c) == 2:
            return True
        seen.append(c)
        if len(seen) > 32:  # many distinct characters (a script of its own): one pass over them all
            return any(_char_cells(c) == 2 for c in set(text[start:]))
        start = match.end()
        pattern = re.compile(f"[^\\x00-\u10ff{''.join(seen)}]")


def _break_at(line: str, width: int, floor: int, uneven: Optional["re.Pattern[str]"] = None) -> int:
    """The index to break `line` at: the last space that leaves at most `width` columns
    before it, or the widest fold when no space fits.  Only the non-ASCII characters (or
    those `uneven` matches, a superset of the line's characters that are not one column
    wide) are looked at one by one (a bar takes no column, a wide character two)."""
    shift = 0  # columns gained (wide) or lost (combining) before index k
    stop = None  # the first index whose character no longer fits
    for m in (uneven or _NON_ASCII).finditer(line):
        i, extra = m.start(), _char_cells(m.group()) - 1
        if not extra:
            continue
        if width - shift < i:  # a plain character before this one overflows first
            break
        if i + 1 + shift + extra > width:  # this one does not fit
            stop = i
            break
        shift += extra
    if stop is None:
        stop = width - shift
    if stop >= len(line):
        stop, fold = len(line), len(line)
    else:
        fold = max(stop, floor + 1)
    k = line.rfind(" ", floor + 1, stop)
    return k if k > 0 and line[:k].strip() else fold


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
