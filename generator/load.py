"""Load stage: read YAML files and Markdown front matter, keeping line numbers.

PyYAML's composer gives every node its position; we build plain Python values
from the nodes ourselves, recording where each key and value sits, so later
stages can point at ``path:line:col`` of the offending field. Timestamps are
not resolved here: dates stay text and the schema parses them, which turns an
impossible date such as 2024-02-30 into a located error instead of a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # the C parser is ~3× faster; it ships with PyYAML wheels
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _BaseLoader = yaml.SafeLoader  # type: ignore[misc]


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader without the timestamp resolver (the schema parses dates)."""


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

Loc = tuple[str | int, ...]
Pos = tuple[int, int]


@dataclass
class Located:
    """A parsed document: its data, and the position of every key and value.

    ``values[loc]`` is where the value at ``loc`` starts; ``keys[loc]`` where
    its key starts (for unknown-field warnings). ``origin`` is the position of
    the document itself, used for problems that concern the whole file.
    """

    data: Any
    values: dict[Loc, Pos] = field(default_factory=dict)
    keys: dict[Loc, Pos] = field(default_factory=dict)
    duplicates: list[tuple[Loc, Pos]] = field(default_factory=list)
    origin: Pos = (1, 1)

    def at(self, loc: Loc) -> Pos:
        """Position of ``loc``, or of its nearest located parent."""
        while loc:
            if loc in self.values:
                return self.values[loc]
            loc = loc[:-1]
        return self.values.get((), self.origin)

    def key_at(self, loc: Loc) -> Pos:
        return self.keys.get(loc) or self.at(loc)


class YamlSyntaxError(Exception):
    """YAML that does not parse, located at the parser's mark."""

    def __init__(self, message: str, line: int, col: int):
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


_SCALARS = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": None,
    "tag:yaml.org,2002:float": None,
    "tag:yaml.org,2002:bool": None,
    "tag:yaml.org,2002:null": None,
}


def _scalar(loader: _Loader, node: yaml.ScalarNode) -> Any:
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    return loader.construct_object(node)


def _build(loader: _Loader, node: yaml.Node, loc: Loc, doc: Located, line0: int) -> Any:
    mark = node.start_mark
    doc.values[loc] = (mark.line + 1 + line0, mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int):
                key = str(key)
            kloc = (*loc, key)
            kpos = (key_node.start_mark.line + 1 + line0, key_node.start_mark.column + 1)
            if key in result:
                doc.duplicates.append((kloc, kpos))
            doc.keys[kloc] = kpos
            result[key] = _build(loader, value_node, kloc, doc, line0)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*loc, i), doc, line0) for i, item in enumerate(node.value)]
    return _scalar(loader, node)


def parse_yaml(text: str, line0: int = 0) -> Located:
    """Parse one YAML document; ``line0`` shifts lines (for front matter).

    Raises :class:`YamlSyntaxError` with a 1-based position.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = Located(data=None, origin=(line0 + 1, 1))
        if node is not None:
            doc.data = _build(loader, node, (), doc, line0)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 + line0) if mark else line0 + 1
        col = (mark.column + 1) if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlSyntaxError(f"YAML syntax: {problem}", line, col) from None
    except (yaml.YAMLError, ValueError) as exc:  # e.g. an unconstructable scalar
        raise YamlSyntaxError(f"YAML syntax: {exc}", line0 + 1, 1) from None
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


def split_front_matter(text: str) -> tuple[str, str, int]:
    """Split ``---\\nYAML\\n---\\nbody``; returns (yaml, body, body's first line)."""
    text = text.removeprefix("\ufeff")
    if not (text.startswith("---\n") or text.startswith("---\r\n")):
        raise FrontMatterMissing("the file must start with a '---' line (front matter)")
    lines = text.splitlines(keepends=True)
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n") in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    raise FrontMatterMissing("front matter has no closing '---' line")


def parse_markdown(text: str) -> MarkdownDoc:
    """Parse a record or plan file. Raises FrontMatterMissing or YamlSyntaxError."""
    meta_text, body, body_line = split_front_matter(text)
    meta = parse_yaml(meta_text, line0=1)
    return MarkdownDoc(meta=meta, body=body.strip("\n"), body_line=body_line)


def read_text(path: Path) -> str:
    """Read a UTF-8 file; a wrong encoding is reported like a syntax error."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(
            f"file is not UTF-8 text (byte {exc.start}); save it as UTF-8", 1, 1
        ) from None
