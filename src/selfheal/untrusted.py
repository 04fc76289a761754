"""Reading and showing what the user (or a Glue job) wrote: files decoded safely, text made inert.

* ``read_text`` reads a file (or stdin) as bytes and decodes it as UTF-8 with invalid bytes replaced
  by U+FFFD, saying so on stderr: a log with a stray Latin-1 byte is still classified, never a
  traceback.
* ``for_terminal`` makes a user-controlled string safe to print through rich: markup escaped (a job
  named ``[link=https://evil]x`` prints as that text, not a hyperlink) and control characters (ESC
  sequences, carriage returns, NULs) shown as ``\\x1b``-style escapes instead of being obeyed.
* ``one_line`` does the same without rich (plain ``print`` to stderr), for error messages.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from rich.markup import escape
from selfheal_core.domain.bounds import decode_utf8

from selfheal.errors import UsageError

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidirectional overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_SHOWN_CHARS = 2000  # of one value on the terminal


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` on one line with every control character (and lone surrogate) shown as an escape."""
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return _SURROGATE.sub(_visible, _CONTROL.sub(_visible, value))


def for_terminal(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """``one_line`` with rich markup escaped: safe inside a ``console.print`` format string."""
    return escape(one_line(text, limit))


def read_text(path: str | Path, command: str, max_bytes: int | None = None) -> str:
    """The file (``-``: stdin) decoded as UTF-8; invalid bytes become U+FFFD and a notice on stderr."""
    name = "stdin" if str(path) == "-" else str(path)
    try:
        if str(path) != "-":
            data = Path(path).read_bytes()
        elif hasattr(sys.stdin, "buffer"):
            data = sys.stdin.buffer.read()
        else:  # a text stream standing in for stdin (tests, embedding): already decoded
            return str(sys.stdin.read())
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror or error}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise UsageError(f"{name} is {len(data)} bytes, more than the limit of {max_bytes}")
    text, replaced = decode_utf8(data)
    if replaced:
        print(
            f"selfheal {command}: {one_line(name)} is not valid UTF-8: invalid bytes were replaced by U+FFFD",
            file=sys.stderr,
        )
    return text
