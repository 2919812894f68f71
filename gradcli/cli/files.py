"""The files gradcli writes: never onto one of its inputs, always atomically, '-' for stdout.

* `refuse_overwrite` -- an output option naming the same file as an input (the program,
  a --vars file, the answers) is refused before any work is done: a user's file is never lost.
  The program file's own ``#: vars FILE.json`` line names an input too.
* `write_output` -- the one way gradcli writes a file: into a temporary file in the same
  folder, flushed to disk, then renamed over the target (``os.replace``).  A full disk or
  a crash leaves the old file as it was, never a truncated one.  ``-`` writes to stdout.
  Only regular files are replaced: a symlink is followed to its target (the file renamed
  over is the target, in the target's folder), and a character device, a FIFO, a socket
  or ``/dev/stdout`` is written into, as a shell's ``>>`` would, never replaced.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Optional, Union

from ..core.errors import UsageError


def refuse_overwrite(option: str, out: Optional[str], inputs: Iterable[tuple[str, Optional[str]]]) -> None:
    """A UsageError when `out` (given as `option`) is one of `inputs` ((option, path) pairs)."""
    if out is None or out == "-":
        return
    inputs = list(inputs)
    for in_option, path in list(inputs):
        if in_option == "-f" and path is not None and path != "-":
            inputs += [(f"-f {path}'s '#: vars' file", v) for v in program_vars_files(path)]
    for in_option, path in inputs:
        if path is None or path == "-":
            continue
        if _same_file(out, path):
            raise UsageError(f"{option} {out} is the same file as {in_option} {path}: gradcli never "
                             "overwrites its input; choose another output file")


def program_vars_files(program_file: str) -> list[str]:
    """The files a program file's ``#: vars FILE.json`` lines name (relative to its folder).

    A program that cannot be read names none here: reading it later gives the error.
    """
    from ..run.files import read_text

    try:
        if not os.path.isfile(program_file):
            return []
        source = read_text(program_file, f"-f {program_file}")
    except UsageError:
        return []
    if "#:" not in source:
        return []
    folder = os.path.dirname(program_file)
    found = []
    for line in source.splitlines():
        key, _, rest = line.strip()[2:].strip().partition(" ") if line.strip().startswith("#:") else ("", "", "")
        if key == "vars" and rest.strip():
            found.append(os.path.join(folder, rest.strip()))
    return found


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet), or is a file written as a folder
        # (``link/``): the same file when both paths, symlinks followed, name one place
        return os.path.realpath(a) == os.path.realpath(b)


def write_output(path: str, data: Union[str, bytes], option: str) -> None:
    """Write `data` to `path` atomically ('-': stdout); errors are one UsageError line."""
    if path == "-":
        if isinstance(data, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
        return
    import tempfile

    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a folder, not a file")
    if path.endswith(("/", os.sep)):  # names a folder that is not one: the OS refuses it, so do we
        raise UsageError(f"{option} {path}: not a folder (a file name cannot end in '/')")
    if _is_stream(path):
        _write_into(path, data, option)
        return
    target = os.path.realpath(path)  # a symlink is followed: its target is the file replaced
    if os.path.islink(target):  # still a link: a loop (realpath gives up), which a shell's > refuses too
        raise UsageError(f"{option} {path}: a loop of symbolic links")
    folder = os.path.dirname(target)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _is_stream(path: str) -> bool:
    """True for what must be written into, not replaced: anything that exists and is not a
    regular file (a character device, a FIFO, a socket), and the process's own streams
    (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``), whatever they point at."""
    import stat

    hop = os.path.abspath(path)
    for _ in range(40):  # along the chain of symlinks (a loop, bounded as the kernel bounds it)
        if hop.startswith(("/dev/fd/", "/dev/std", "/proc/")):
            return True
        if not os.path.islink(hop):
            break
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # does not exist yet (or a dangling symlink): a new regular file
        return False


def _write_into(path: str, data: Union[str, bytes], option: str) -> None:
    """Write into a device, FIFO or stream in place (appending, like ``>>``), never replacing it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror or exc}") from None


def _mode_for(target: str) -> int:
    """The permissions the file would have got from open(): the old file's, or 0666 less the umask."""
    import stat

    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


#: picture formats by file extension, for `graph -o FILE` without --format
PICTURE_EXTENSIONS = {".txt": "text", ".text": "text", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
                      ".mermaid": "mermaid", ".svg": "svg", ".png": "png",
                      ".html": "html", ".htm": "html"}


def picture_format(out: Optional[str], fmt: Optional[str]) -> str:
    """The --format of `graph`: as given, else from the -o file's extension, else text."""
    if fmt is not None:
        return fmt
    if out is None or out == "-":
        return "text"
    ext = os.path.splitext(out)[1].lower()
    if not ext:
        return "text"
    if ext not in PICTURE_EXTENSIONS:
        known = ", ".join(sorted(PICTURE_EXTENSIONS))
        raise UsageError(f"-o {out}: cannot tell the picture format from {ext!r} (known: {known}); "
                         "give --format text, dot, mermaid, svg, png or html")
    return PICTURE_EXTENSIONS[ext]


__all__ = ["PICTURE_EXTENSIONS", "picture_format", "program_vars_files", "refuse_overwrite", "write_output"]
