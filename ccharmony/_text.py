"""
Terminal-safe text
==================

Define the one function through which every text that reaches a terminal goes:

-   :func:`printable`: escape control characters (C0, DEL, C1, and with them
    every ESC / CSI / OSC sequence), Unicode direction overrides and
    undecodable bytes of file names (lone surrogates) as visible escapes;
    ``keep_layout=True`` keeps newlines and tabs, for whole blocks of output.

File names are data: a composite named ``"x\\x1b]0;title\\x07\\x1b[2J.jpg"``
would, printed raw, set the terminal's title and clear its screen, and a name
holding bytes that are not UTF-8 (``os.fsdecode`` keeps them as lone
surrogates ``\\udc80``-``\\udcff``) makes ``print`` raise
``UnicodeEncodeError`` on a strict UTF-8 stream. The escapes are those of a
Python string literal (``\\x1b``, ``\\u202e``), and an undecodable byte is
shown as the byte it was (``\\xe9``), so the printed name is ASCII where the
name was not text and readable everywhere else.
"""

from __future__ import annotations

import re

__author__ = "ccharmony developers"
__license__ = "MIT"

__all__ = ["printable"]

# C0 controls (newline and tab included: a file name with a newline would forge a
# second output line), DEL, C1 controls (U+0080-U+009F, among them the 8-bit CSI
# U+009B), lone surrogates, and the bidirectional controls that reorder what is
# shown (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    character = match.group(0)
    code = ord(character)
    if character in _NAMED:
        return _NAMED[character]
    if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


_UNSAFE_IN_LAYOUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object, *, keep_layout: bool = False) -> str:
    """
    Return ``str(text)`` with every character unsafe on a terminal escaped.

    Parameters
    ----------
    text
        Anything; typically a file name, a path or an error message holding one.
    keep_layout
        Leave newlines and tabs as they are (for a block of several lines or a
        tab-separated table whose fields may hold file names); every other
        unsafe character is still escaped.

    Returns
    -------
    str
        The same text where each C0 control (newline and tab included unless
        ``keep_layout``), DEL, C1 control, Unicode direction control and lone
        surrogate is replaced by a visible escape: ``\\n``, ``\\r``, ``\\t``;
        ``\\xNN`` for other code points up to U+00FF and for the undecodable
        bytes of a file name; ``\\uNNNN`` otherwise. The result encodes in
        strict UTF-8, and without ``keep_layout`` it is one line.

    Examples
    --------
    >>> printable("x\\x1b]0;pwned\\x07\\x1b[2J.jpg")
    'x\\\\x1b]0;pwned\\\\x07\\\\x1b[2J.jpg'
    >>> import os
    >>> printable(os.fsdecode(b"caf\\xe9.dng"))
    'caf\\\\xe9.dng'
    >>> printable("two\\nlines"), printable("caf\\u00e9 \\u202etxt")
    ('two\\\\nlines', 'café \\\\u202etxt')
    >>> printable("a\\tb\\n\\x1b[2J", keep_layout=True)
    'a\\tb\\n\\\\x1b[2J'
    """
    value = str(text)
    pattern = _UNSAFE_IN_LAYOUT if keep_layout else _UNSAFE
    return pattern.sub(_escape, value) if pattern.search(value) else value
