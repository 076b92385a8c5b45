"""Cheap detection of the ``# minijit: native`` header pragma.

The finder calls :func:`has_pragma` for every source module that is imported
while the hook is active, so it must cost next to nothing: it reads the first
block of the file with one ``os.read`` and looks only at the header, i.e. the
comment/blank lines before the first statement (the same place as a coding
cookie).  A string literal or a comment further down never counts.

It runs at interpreter start-up (``JITIMPORT=1``), so it imports nothing but
``os`` (already loaded by then): the pragma line is matched by hand, not with
``re``, which would cost more than the rest of the activation together.
"""
import os

PRAGMA = "# minijit: native"
SKIP = "# minijit: skip"

_FIRST = 512
_CHUNK = 4096
#: Upper bound on how much of a file we are willing to treat as header.
_MAX_HEADER = 64 * 1024
_BOM = b"\xef\xbb\xbf"
# First bytes a file can start with when it has a comment header at all.
HEADER_START = frozenset((b"#", b" ", b"\t", b"\f", b"\r", b"\n", b"\xef", b""))
_BLANKS = b" \t"


def is_marker_line(line: bytes, word: bytes) -> bool:
    """True for ``#``, blanks, ``minijit``, blanks, ``:``, blanks, ``word``, then blanks or a further comment.

    The same language as the regular expression
    ``#[ \\t]*minijit[ \\t]*:[ \\t]*WORD[ \\t]*(?:#.*)?\\Z`` on one line (no newline in it).
    """
    if line[:1] != b"#":
        return False
    rest = line[1:].lstrip(_BLANKS)
    for token in (b"minijit", b":", word):
        if not rest.startswith(token):
            return False
        rest = rest[len(token):].lstrip(_BLANKS)
    return not rest or rest[:1] == b"#"


def header_has_pragma(data: bytes) -> bool | None:
    """Scan ``data`` (the start of a source file) for the pragma in its header.

    Returns True/False when the answer is known, None when the header runs past
    the end of ``data`` (the caller should read more).
    """
    if data.startswith(_BOM):
        data = data[3:]
    start = 0
    end = len(data)
    while start < end:
        nl = data.find(b"\n", start)
        if nl < 0:
            return None  # incomplete line: need more data (or EOF, see caller)
        line = data[start:nl].rstrip(b"\r").strip(b" \t\f")
        start = nl + 1
        if not line:
            continue
        if line[0:1] != b"#":
            return False  # first statement (or docstring): header is over
        if b"minijit" in line and is_marker_line(line, b"native"):
            return True
    return None


def has_pragma(path: str) -> bool:
    """True when the file at ``path`` carries ``# minijit: native`` in its header.

    One ``open`` and usually one 512-byte read: most files start with code or
    a docstring (answer after one byte), or are short and never mention
    ``minijit``.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        data = os.read(fd, _FIRST)
        if data[:1] not in HEADER_START:
            return False  # first line is already code or a docstring: the common case
        if len(data) < _FIRST and b"minijit" not in data:
            return False  # whole file read, pragma text absent
        while True:
            answer = header_has_pragma(data)
            if answer is not None:
                return answer
            if len(data) >= _MAX_HEADER:
                return False
            more = os.read(fd, _CHUNK)
            if not more:
                # EOF: the last line has no newline; judge it as a full line.
                return bool(header_has_pragma(data + b"\n"))
            data += more
    except OSError:
        return False
    finally:
        os.close(fd)


def source_has_pragma(source: bytes | str) -> bool:
    """Same rule as :func:`has_pragma`, for source already in memory."""
    if isinstance(source, str):
        source = source.encode("utf-8", "surrogateescape")
    return bool(header_has_pragma(source[:_MAX_HEADER] + b"\n"))


def is_skip_comment(comment: str) -> bool:
    """True for a ``# minijit: skip`` comment token (as produced by tokenize)."""
    return is_marker_line(comment.strip().encode("utf-8", "surrogateescape"), b"skip")
