"""Edits of an archive's YAML files that keep their comments and layout.

``yidang rollover`` and ``yidang transfer`` change a few values in many files a
school wrote by hand; re-dumping the YAML would drop every comment and reorder
keys, and the review would show whole files changed. These edit lines instead.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import yaml

from generator.archive.load import parse_yaml
from generator.archive.schema import Profile


def set_top(text: str, key: str, value: str) -> str:
    """A top-level ``key: value`` line's value replaced (its comment kept), or the line added."""
    pattern = re.compile(rf"^({re.escape(key)}:[ \t]*)([^#\n]*?)([ \t]*(#.*)?)$", re.M)
    if pattern.search(text):
        return pattern.sub(lambda m: f"{m.group(1)}{value}{m.group(3)}", text, count=1)
    return text.rstrip("\n") + f"\n{key}: {value}\n"


def scalar(text: str) -> str:
    """``text`` as a YAML value: plain when it reads back as itself, else double-quoted
    (a JSON string is a YAML one): a reason with `: ` or `#` must not turn into a mapping
    or a comment."""
    try:
        if yaml.safe_load(text) == text and "\n" not in text:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def close(text: str, profile: Profile, on: dt.date, reason: str, status: str = "closed") -> str:
    """A case ended on ``on`` (a graduate's closed, a student transferred out): status,
    date, reason; open mentoring ends then."""
    text = end_mentoring(text, profile, on)
    text = set_top(text, "status", status)
    text = set_top(text, "closed_on", on.isoformat())
    return set_top(text, "closed_reason", scalar(reason))


def end_mentoring(text: str, profile: Profile, on: dt.date) -> str:
    """An ``until:`` under each mentoring still open on ``on`` (block or flow style)."""
    doc = parse_yaml(text)
    lines = text.split("\n")
    inserts: list[tuple[int, str]] = []
    for i, m in enumerate(profile.mentors):
        if m.until is not None or m.since > on:
            continue
        line, _ = doc.at(("mentors", i, "since"))
        current = lines[line - 1]
        if "{" in current and current.rstrip().endswith("}"):
            lines[line - 1] = current.rstrip()[:-1].rstrip() + f", until: {on.isoformat()}}}"
        else:
            indent = len(current) - len(current.lstrip(" -"))
            inserts.append((line, " " * indent + f"until: {on.isoformat()}"))
    for line, new in sorted(inserts, reverse=True):
        lines.insert(line, new)
    return "\n".join(lines)
