"""Untrusted text, made safe for where it is echoed.

A file in the intake inbox, a record on a pull-request branch or a bundle from
another school is written by someone who may want to fool the office: a file
name with a newline and ``taken in: …`` after it fakes a line of intake's
summary; an escape sequence rewrites the terminal; ``@everyone`` or
``![](https://…)`` in a review comment pings people or loads a tracking image.
Every value from such input passes through one of these before it is shown.
"""

from __future__ import annotations

import re

# C0 and C1 controls (newlines included: one value is one line), zero-width and
# direction-changing characters (they reorder what the reader sees).
INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
PLAIN = re.compile(r"[\w.\-]+")
MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(value: object, limit: int = 200) -> str:
    """``value`` as one line of visible characters: controls shown as ``\\xNN``, at most
    ``limit`` characters (then …)."""
    text = INVISIBLE.sub(_escape, str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: object, limit: int = 40) -> str:
    """An untrusted name or id inside a message: as it is when it is a plain word, else
    quoted and escaped (see :func:`terminal`)."""
    text = str(value)
    if PLAIN.fullmatch(text) and len(text) <= limit:
        return text
    return "'" + terminal(text, limit).replace("'", "\\'") + "'"


def markdown(value: object, limit: int = 500) -> str:
    """Untrusted text inside a Markdown comment (a pull request's review): one line, its
    Markdown characters escaped (no link, image, HTML or code span), and neither a
    mention nor an address that the forge would turn into a notification or a link."""
    text = MARKDOWN.sub(r"\\\1", terminal(value, limit))
    return text.replace("@", "@\u200b").replace("://", ":\u200b//").replace("www.", "www\u200b.")
