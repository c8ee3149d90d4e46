"""Load stage: read YAML files and Markdown front matter, keeping line numbers.

PyYAML's composer gives every node its position; we build plain Python values
from the nodes ourselves, recording where each key and value sits, so later
stages can point at ``path:line:col`` of the offending field. Timestamps are
not resolved here: dates stay text and the schema parses them, which turns an
impossible date such as 2024-02-30 into a located error instead of a crash.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.archive.wording import Said, said
from generator.core import labels

# The C parser is ~3× faster; it ships with PyYAML wheels (pure-Python PyYAML: the other).
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_SCALAR = yaml.ScalarNode
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_resolved: dict[str, str] = {}  # plain scalar text → tag; values repeat a lot (ids, dates, modes)


class _Loader(_BaseLoader):  # a base class chosen at import time
    """SafeLoader without the timestamp resolver (the schema parses dates).

    ``resolve`` is called from the C parser for every node; caching the
    answer for plain scalars halves the Python work per file.
    """

    if _BaseLoader is not yaml.SafeLoader:

        def __init__(self, stream: str) -> None:
            # Only the C parser: values are built by `_build`, so the constructor's
            # and resolver's per-instance state (several dicts) is never used.
            yaml.cyaml.CParser.__init__(self, stream)  # type: ignore[attr-defined]  # types-PyYAML: not re-exported

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is _SCALAR:
            if not implicit[0]:  # quoted or block scalar: always text
                return "tag:yaml.org,2002:str"
            tag = _resolved.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_resolved) < 50_000:
                    _resolved[value] = tag
            return tag
        return _MAP_TAG if kind is yaml.MappingNode else _SEQ_TAG

    # Path resolvers are never used; the C composer still calls these per node.
    def descend_resolver(self, current_node: object, current_index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

Loc = tuple[str | int, ...]
Pos = tuple[int, int]


class Located:
    """A parsed document: its data, and the position of every key and value.

    ``values[loc]`` is where the value at ``loc`` starts; ``keys[loc]`` where
    its key starts (for unknown-field warnings); ``raw[loc]`` the text of a
    value YAML turned into a number or boolean (``0755``, ``no``, ``10:30``),
    so messages can show what the teacher wrote. ``origin`` is the position of
    the document itself, used for problems that concern the whole file.
    Positions are indexed from the YAML node tree only when first asked for:
    most documents are valid and never need them (``check`` reads 150,000).
    """

    def __init__(
        self,
        data: Any,
        node: yaml.Node | None = None,
        line0: int = 0,
        origin: Pos = (1, 1),
        duplicates: list[tuple[Loc, Pos]] | None = None,
        values: dict[Loc, Pos] | None = None,
        keys: dict[Loc, Pos] | None = None,
        raw: dict[Loc, str] | None = None,
        text: str | None = None,
    ):
        self.data = data
        self.raw = raw if raw is not None else {}  # loc → source text of each number or boolean
        self.origin = origin
        self.duplicates = duplicates if duplicates is not None else []
        self._node = node
        self._line0 = line0
        self._values = values
        self._keys = keys
        self._text = text  # read by the fast path: read again, positions kept, when asked

    def _index(self) -> tuple[dict[Loc, Pos], dict[Loc, Pos]]:
        """Where each value and key sits, worked out on first use (most files have no problem)."""
        if self._values is None or self._keys is None:
            self._values, self._keys = {}, {}
            if self._node is not None:
                _positions(self._node, (), self._line0, self._values, self._keys)
            elif self._text is not None:
                found = _Found(self._line0, track=True)
                _parse_simple(self._text, self._line0, found)
                self._values, self._keys = found.values, found.keys
        return self._values, self._keys

    @property
    def values(self) -> dict[Loc, Pos]:
        return self._index()[0]

    @property
    def keys(self) -> dict[Loc, Pos]:
        return self._index()[1]

    def at(self, loc: Loc) -> Pos:
        """Position of ``loc``, or of its nearest located parent."""
        values = self.values
        while loc:
            if loc in values:
                return values[loc]
            loc = loc[:-1]
        return values.get((), self.origin)

    def key_at(self, loc: Loc) -> Pos:
        return self.keys.get(loc) or self.at(loc)


def _pos(node: yaml.Node, line0: int) -> Pos:
    return (node.start_mark.line + 1 + line0, node.start_mark.column + 1)


def _key(key_node: yaml.Node) -> str:
    """A mapping key as written: YAML 1.1 would make ``no:`` the boolean false and
    ``0123:`` the number 83; keys in the archive are names, never numbers."""
    return key_node.value if isinstance(key_node, yaml.ScalarNode) else "<complex key>"


def _positions(node: yaml.Node, loc: Loc, line0: int, values: dict[Loc, Pos], keys: dict[Loc, Pos]) -> None:
    values[loc] = _pos(node, line0)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            kloc = (*loc, _key(key_node))
            keys[kloc] = _pos(key_node, line0)
            _positions(value_node, kloc, line0, values, keys)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _positions(item, (*loc, i), line0, values, keys)


SYNTAX = "YAML syntax: {problem}"


class YamlSyntaxError(Exception):
    """YAML that does not parse (or a file that is not UTF-8 text), located at the parser's
    mark; ``said`` in Chinese and English, ``message`` the English."""

    def __init__(self, said: Said, line: int, col: int):
        super().__init__(said.en)
        self.said = said
        self.message = said.en
        self.line = line
        self.col = col


_STR_TAG = "tag:yaml.org,2002:str"
_plain = yaml.SafeLoader("")  # constructs ints, floats, bools and nulls for any loader


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag == _STR_TAG:
        return node.value
    # Call the tag's constructor directly: construct_object() would remember
    # every node in the shared loader and grow without bound.
    construct = _plain.yaml_constructors.get(node.tag)
    if construct is None:
        raise yaml.constructor.ConstructorError(None, None, f"unsupported tag {node.tag}", node.start_mark)
    return construct(_plain, node)


class AliasUsed(Exception):
    """A YAML alias (``*name``) re-used a node; the archive format has no use for them."""

    def __init__(self, node: yaml.Node):
        super().__init__("anchors and aliases (& and *) are not allowed in the archive")
        self.node = node


def _build(node: Any, loc: Loc, doc: Located, line0: int, seen: set[int]) -> Any:
    """Plain Python values from the node tree; duplicate keys are noted.

    A node met twice comes from an alias: refused, because aliases can nest
    into themselves or expand a few lines into gigabytes ("billion laughs").
    """
    kind = type(node)
    if kind is _SCALAR:
        if node.tag == _STR_TAG:
            return node.value
        value = _scalar(node)
        if value is not None:  # a number or boolean: keep what was written, for messages
            doc.raw[loc] = node.value
        return value
    if id(node) in seen:
        raise AliasUsed(node)
    seen.add(id(node))
    if kind is yaml.MappingNode:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _key(key_node)
            if key in result:
                doc.duplicates.append(((*loc, key), _pos(key_node, line0)))
            result[key] = _build(value_node, (*loc, key), doc, line0, seen)
        return result
    return [_build(item, (*loc, i), doc, line0, seen) for i, item in enumerate(node.value)]


# --- the fast path: front matter of plain lines --------------------------------
#
# Nearly every record's front matter is lines of ``key: value`` with plain or
# quoted one-line values and short lists (``met: [母亲]``, ``photos:`` then
# ``- a.jpg`` lines). PyYAML's composer makes a node object, with marks, for
# every key and value and calls back into Python for each: two thirds of
# ``check``'s time per file. Such documents are read here directly, giving the
# same values, raw texts and positions as the composer (a property test checks
# it on generated documents); anything else — comments, blank lines, block
# scalars, nested mappings, escapes, anchors, tags, duplicate keys, tabs, odd
# characters — returns None and goes to PyYAML.

_UNSAFE = re.compile("[\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(?: +(.*))?\Z")
_ITEM_LINE = re.compile(r"( *)- +(.+)\Z")
_PLAIN_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@` ")
_FLOW_INDICATORS = frozenset(",[]{}:#'\"")
_NOT_SIMPLE = object()
_SIMPLE_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float"))
_tags = yaml.resolver.Resolver()
_tags.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers  # no timestamps, as above


def _simple_scalar(text: str, flow: bool) -> tuple[str, bool] | None:
    """(value, quoted) of a one-line scalar YAML would read as written, else None."""
    first, last = text[0], text[-1]
    if first in "\"'":
        inner = text[1:-1]
        if len(text) < 2 or last != first or first in inner or (first == '"' and "\\" in inner):
            return None
        return inner, True
    if first in _PLAIN_FIRST or last in " :" or ": " in text or " #" in text:
        return None
    if flow and not _FLOW_INDICATORS.isdisjoint(text):
        return None
    return text, False


def _plain_tag(value: str) -> str:
    tag = _resolved.get(value)
    if tag is None:
        tag = _tags.resolve(yaml.ScalarNode, value, (True, False))
        if len(_resolved) < 50_000:
            _resolved[value] = tag
    return tag


def _simple_value(text: str, loc: Loc, pos: Pos, found: _Found, flow: bool = False) -> Any:
    """The value of one scalar, recording its position (and raw text, for non-text)."""
    parsed = _simple_scalar(text, flow)
    if parsed is None:
        return _NOT_SIMPLE
    value, quoted = parsed
    if found.track:
        found.values[loc] = pos
    tag = _STR_TAG if quoted else _plain_tag(value)
    if tag == _STR_TAG:
        return value
    if tag not in _SIMPLE_TAGS:  # e.g. ``=`` (YAML's "value" tag): PyYAML says what is wrong
        return _NOT_SIMPLE
    try:
        built = _scalar(yaml.ScalarNode(tag, value))
    except (ValueError, yaml.YAMLError):
        return _NOT_SIMPLE
    if built is not None:
        found.raw[loc] = value
    return built


def _simple_flow(text: str, loc: Loc, pos: Pos, found: _Found) -> Any:
    """``[a, b]`` of plain items on one line."""
    if text[-1] != "]":
        return _NOT_SIMPLE
    if found.track:
        found.values[loc] = pos
    inner = text[1:-1]
    if not inner.strip():
        return [] if "[" not in inner else _NOT_SIMPLE
    items, start = [], 1
    for i, part in enumerate(inner.split(",")):
        item = part.strip()
        at = (pos[0], pos[1] + start + len(part) - len(part.lstrip())) if found.track else pos
        value = _simple_value(item, (*loc, i), at, found, flow=True) if item else _NOT_SIMPLE
        if value is _NOT_SIMPLE:
            return _NOT_SIMPLE
        items.append(value)
        start += len(part) + 1
    return items


def _simple_block(lines: list[str], at: int, loc: Loc, line0: int, found: _Found) -> tuple[Any, int]:
    """The ``- item`` lines from ``lines[at]`` on: (list, index of the next line)."""
    items: list[Any] = []
    indent = None
    while at < len(lines) and (m := _ITEM_LINE.match(lines[at])):
        if indent is None:
            indent = m.group(1)
            if found.track:
                found.values[loc] = (line0 + at + 1, len(indent) + 1)
        elif m.group(1) != indent:
            return _NOT_SIMPLE, at
        pos = (line0 + at + 1, m.start(2) + 1) if found.track else _NO_POS
        value = _simple_value(m.group(2), (*loc, len(items)), pos, found)
        if value is _NOT_SIMPLE:
            return _NOT_SIMPLE, at
        items.append(value)
        at += 1
    return (items if items else _NOT_SIMPLE), at


_NO_POS: Pos = (0, 0)  # where a position is not kept (``_Found.track`` off)


class _Found:
    """Raw texts gathered by the fast path, for :class:`Located`, and (``track``) positions:
    most documents never need those, and keeping them was a third of the fast path's time;
    :meth:`Located._index` reads the document again to find them."""

    __slots__ = ("keys", "raw", "track", "values")

    def __init__(self, line0: int, track: bool = False) -> None:
        self.track = track
        self.values: dict[Loc, Pos] = {(): (line0 + 1, 1)}
        self.keys: dict[Loc, Pos] = {}
        self.raw: dict[Loc, str] = {}


def _parse_simple(text: str, line0: int, found: _Found | None = None) -> Located | None:
    """A document of ``key: value`` lines read without PyYAML, or None (see above); with
    ``found`` tracking, the positions go there."""
    if not text or _UNSAFE.search(text):
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    data: dict[str, Any] = {}
    found = found or _Found(line0)
    track = found.track
    at = 0
    while at < len(lines):
        m = _KEY_LINE.match(lines[at])
        if m is None or m.group(1) in data:
            return None
        key, rest = m.group(1), m.group(2)
        if track:
            found.keys[(key,)] = (line0 + at + 1, 1)
        if rest:
            pos = (line0 + at + 1, m.start(2) + 1) if track else _NO_POS
            read = _simple_flow if rest[0] == "[" else _simple_value
            value = read(rest, (key,), pos, found)
            at += 1
        else:
            value, at = _simple_block(lines, at + 1, (key,), line0, found)
        if value is _NOT_SIMPLE:
            return None
        data[key] = value
    if not data:
        return None
    if track:
        return Located(
            data, line0=line0, origin=(line0 + 1, 1), values=found.values, keys=found.keys, raw=found.raw
        )
    return Located(data, line0=line0, origin=(line0 + 1, 1), raw=found.raw, text=text)


def parse_yaml(text: str, line0: int = 0) -> Located:
    """Parse one YAML document; ``line0`` shifts lines (for front matter).

    Raises :class:`YamlSyntaxError` with a 1-based position.
    """
    simple = _parse_simple(text, line0)
    return simple if simple is not None else _parse_composed(text, line0)


def _parse_composed(text: str, line0: int) -> Located:
    """Any YAML document, through PyYAML's composer."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = Located(data=None, node=node, line0=line0, origin=(line0 + 1, 1))
        if node is not None:
            doc.data = _build(node, (), doc, line0, set())
        return doc
    except AliasUsed as exc:
        line, col = _pos(exc.node, line0)
        raise YamlSyntaxError(said(SYNTAX, problem=exc), line, col) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 + line0) if mark else line0 + 1
        col = (mark.column + 1) if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        if "'\\t'" in problem:
            problem += " (a tab: YAML indents with spaces only)"
        raise YamlSyntaxError(said(SYNTAX, problem=problem), line, col) from None
    except (yaml.YAMLError, ValueError) as exc:  # e.g. an unconstructable scalar
        raise YamlSyntaxError(said(SYNTAX, problem=exc), line0 + 1, 1) from None
    finally:
        loader.dispose()


@dataclass
class MarkdownDoc:
    """A Markdown file with YAML front matter; ``body_line`` is the body's first line."""

    meta: Located
    body: str
    body_line: int


class FrontMatterMissing(Exception):
    """The file does not start with a ``---`` front-matter block."""


_FENCE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


def split_front_matter(text: str) -> tuple[str, str, int]:
    """Split ``---\\nYAML\\n---\\nbody``; returns (yaml, body, body's first line)."""
    text = text.removeprefix("\ufeff")
    if not (text.startswith("---\n") or text.startswith("---\r\n")):
        raise FrontMatterMissing("the file must start with a '---' line (front matter)")
    start = text.index("\n") + 1
    close = _FENCE.search(text, start)
    if close is None:
        raise FrontMatterMissing("front matter has no closing '---' line")
    body_start = text.find("\n", close.end())
    body = "" if body_start < 0 else text[body_start + 1 :]
    return text[start : close.start()], body, text.count("\n", 0, close.start()) + 2


def parse_markdown(text: str) -> MarkdownDoc:
    """Parse a record or plan file. Raises FrontMatterMissing or YamlSyntaxError."""
    meta_text, body, body_line = split_front_matter(text)
    meta = parse_yaml(meta_text, line0=1)
    stripped = body.lstrip("\n")
    return MarkdownDoc(meta=meta, body=stripped.rstrip("\n"), body_line=body_line + len(body) - len(stripped))


_CHUNK = 1 << 16


MAX_TEXT_BYTES = 1 << 20  # 1 MiB: a year of daily records is ~200 KB; anything larger is a mistake


class FileTooLarge(Exception):
    """A text file over MAX_TEXT_BYTES: refused before it is read into memory."""

    def __init__(self, size: int):
        super().__init__(f"{size} bytes")
        self.size = size


def read_bytes(path: Path | str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """Read a whole file of at most ``limit`` bytes with raw os calls: a third of
    ``open().read()``'s cost here, which matters at 150,000 files (no buffered
    reader, and no stat: a file's size is asked only once it passed the limit).
    Raises :class:`FileTooLarge` after reading no more than the limit."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data
        chunks, total = [data], len(data)
        while chunk := os.read(fd, _CHUNK):
            total += len(chunk)
            if total > limit:
                raise FileTooLarge(os.fstat(fd).st_size)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: Path | str) -> str:
    """Read a UTF-8 file (a byte-order mark is allowed and dropped; CRLF is fine).

    A file in another encoding is reported like a syntax error, at the first
    byte that is not UTF-8, with the command that converts it.
    """
    try:
        data = read_bytes(path)
    except FileTooLarge as exc:
        template = (
            "the file is {size:.1f} MB; an archive text file may be at most {most} MB (is it the right file?)"
        )
        raise YamlSyntaxError(
            said(template, size=exc.size / 1e6, most=MAX_TEXT_BYTES // (1 << 20)), 1, 1
        ) from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlSyntaxError(_not_utf8(data, str(path), exc.start), line, col) from None


def _not_utf8(data: bytes, path: str, at: int) -> Said:
    """Say which encoding the file seems to be in, and how to convert it."""
    save_as = labels.shipped()["messages"]["save_as_utf8"]
    quoted = shlex.quote(path)
    convert = f"iconv -f {{enc}} -t UTF-8 {quoted} -o {quoted}.utf8 && mv {quoted}.utf8 {quoted}"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        template = (
            "the file is UTF-16 text, not UTF-8; save it as UTF-8 ({save_as}), or convert it: {convert}"
        )
        return said(template, save_as=save_as, convert=convert.format(enc="UTF-16"))
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        template = (
            "the file is in GBK/GB18030 (a Chinese Windows encoding), not UTF-8; save it as UTF-8 "
            "({save_as}), or convert it: {convert}"
        )
        return said(template, save_as=save_as, convert=convert.format(enc="GB18030"))
    return said("the file is not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8", byte=data[at])
