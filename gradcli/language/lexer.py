"""Tokens of the gradcli language, produced lazily by one regular expression.

A token is a tuple ``(kind, text, pos)``; ``pos`` is the character offset in the
source, which every later error message turns into a line and column.
Kinds: ``num``, ``name``, ``op`` (any punctuation or operator, the text says which),
``nl`` (a newline) and ``eof``.  Comments and blanks are dropped here.
"""

from __future__ import annotations

import re
from itertools import chain, repeat
from typing import Iterator, Optional

from ..core.errors import ParseError

Token = tuple[str, str, int]

#: every character of the source belongs to exactly one match, so positions are the
#: running sum of match lengths and `findall` (C speed) does the scanning
_TOKEN = re.compile(
    r"""
    [ \t\r\f\v]+
  | \#[^\n]*
  | \n
  | (?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
  | [^\W\d]\w*
  | \*\*
  | [<>=!]=|[<>]
  | [-+*/^@()\[\],:;=.]
  | .
    """,
    re.VERBOSE | re.DOTALL,
)

#: the hint where two operands meet without an operator (``W x``, ``w·x``); when the
#: values are bound, `gradcli.run.evaluate` narrows it to * or to @ / dot
PRODUCT_HINT = "write * for multiplication, or @ or dot(u, v) for matrix and vector products"

_NAME_CHARS = frozenset("_0123456789")
_OPERATORS = frozenset("-+*/^@()[],:;=.<>")
#: the comparison operators (``!`` alone stays an error)
_COMPARISONS = frozenset(("<", "<=", ">", ">=", "==", "!="))
_BLANK = frozenset(" \t\r\f\v#")


def tokenize(source: str, share_names: bool = False) -> Iterator[Token]:
    """Yield the tokens of `source`, ending with one ``eof`` token.  With `share_names`,
    each name's text is one string object however often it is written (a long
    program's parse then holds a fraction of the strings; a short one's is faster
    without the look-up)."""
    pos = 0
    seen: Optional[dict[str, str]] = {} if share_names else None
    for text in chain.from_iterable(map(_TOKEN.findall, repeat(source), *_chunks(source))):
        first = text[0]
        if first in _BLANK:
            pass
        elif first == "\n":
            yield ("nl", text, pos)
        elif ("0" <= first <= "9") or (first == "." and len(text) > 1):
            yield ("num", text, pos)
        elif first.isalpha() or first == "_":
            if not text.isascii():
                for i, ch in enumerate(text):
                    if not (ch.isalpha() or ch in _NAME_CHARS):
                        hint = _bad_char_message(ch).partition(" (")[2].rstrip(")")
                        raise ParseError(
                            f"{ch!r} cannot be part of a name" + (f" ({hint})" if hint else ""), source, pos + i
                        )
            yield ("name", text if seen is None else seen.setdefault(text, text), pos)
        elif first in _OPERATORS or text in _COMPARISONS:
            yield ("op", text, pos)
        else:
            raise ParseError(_bad_char_message(text), source, pos)
        pos += len(text)
    yield ("eof", "", len(source))


#: characters scanned by one `findall` call: its list of token texts stays small (a whole
#: 20 MB program at once would be a list of 10^7 strings, hundreds of megabytes)
_CHUNK = 1 << 16


def _chunks(source: str) -> tuple[list[int], list[int]]:
    """Where each chunk of `source` starts and ends: after about `_CHUNK` characters, just
    after a newline, which ends every token, so the chunks' matches are the whole's."""
    starts, ends = [], []
    start, n = 0, len(source)
    while start < n:
        end = source.find("\n", start + _CHUNK) + 1 if start + _CHUNK < n else n
        if end <= 0:  # no newline after this point: the rest in one piece
            end = n
        starts.append(start)
        ends.append(end)
        start = end
    return starts, ends


def _bad_char_message(ch: str) -> str:
    hints = {
        "!": "factorial is not supported; != compares",
        "%": "modulo is not supported",
        "&": "bitwise operators are not supported",
        "|": "write abs(x) for |x|",
        '"': "strings are not supported",
        "'": "strings are not supported",
        "{": "use parentheses ( ) for grouping",
        "}": "use parentheses ( ) for grouping",
        "²": "write x^2",
        "³": "write x^3",
        "·": PRODUCT_HINT,
        "×": PRODUCT_HINT,
        "−": "write - (ASCII hyphen-minus) for minus",
        "÷": "write / for division",
    }
    import unicodedata

    combining = unicodedata.combining(ch) != 0  # shown alone it would sit on the quote
    shown = repr(ch) if ch.isprintable() and not combining else f"U+{ord(ch):04X}"
    hint = hints.get(ch) or ("a combining accent: write the accented letter as one character, "
                             "or a name without it" if combining else None)
    return f"unexpected character {shown}" + (f" ({hint})" if hint else "")
