"""Reading the user's input files with a bound: a program, --vars, --answers, --points.

Every read stops one byte past its limit, so ``-f /dev/zero`` or ``yes | gradcli eval -``
is refused after reading a few megabytes instead of growing until memory runs out.
``-`` means stdin for each of them (README, "Files and limits").
"""

from __future__ import annotations

import os
import sys

from ..core.errors import UsageError

#: --vars, --answers and --points files larger than this are refused (README, "Files and limits")
MAX_INPUT_BYTES = 64_000_000


def read_bytes(path: str, limit: int, what: str) -> bytes:
    """The bytes of `path` ('-': stdin), or a UsageError when there are more than `limit`.

    `what` names the input in messages ("--vars data.json").
    """
    try:
        if path == "-":
            stdin = sys.stdin
            stream = getattr(stdin, "buffer", None)
            if stream is None:  # a text-only stdin (an embedding program): read characters
                text = stdin.read(limit + 1)
                data = text.encode("utf-8", "surrogatepass")
            else:
                data = _read_at_most(stream, limit)
        else:
            if os.path.isdir(path):
                raise UsageError(f"{what}: is a folder, not a file")
            with open(path, "rb") as fh:
                data = _read_at_most(fh, limit)
    except OSError as exc:
        raise UsageError(f"{what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(
            f"{what} is over {limit / 1e6:g} MB, the most gradcli reads"
            + (" (set GRADCLI_MAX_PROGRAM_BYTES to allow more)" if "program" in what or what.startswith("-f") else "")
        )
    return data


def _read_at_most(stream, limit: int) -> bytes:
    """Up to limit + 1 bytes: enough to know the input is too large, never more.

    A regular file is read in one call (its size known: no chunks to join, one copy
    less of a large --points file); a pipe a megabyte at a time."""
    chunks = []
    left = limit + 1
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):  # io.UnsupportedOperation is an OSError
        size = 0
    step = max(1 << 20, size + 1)
    while left > 0:
        chunk = stream.read(min(left, step))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_text(path: str, what: str, limit: int = MAX_INPUT_BYTES) -> str:
    """UTF-8 text of `path` ('-': stdin), bounded by `limit` bytes, without a byte-order mark."""
    return decode_text(read_bytes(path, limit, what), what)


def decode_text(data: bytes, what: str) -> str:
    """`read_text` of bytes already read: UTF-8, without a byte-order mark."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what}: not UTF-8 text (byte {exc.start})") from None
    return text.lstrip("\ufeff")


__all__ = ["MAX_INPUT_BYTES", "decode_text", "read_bytes", "read_text"]
