"""The package shape is the architecture: layers that only look down, and no cycles.

Each sub-package of ``generator`` has a layer; a module may import its own
package and packages of lower layers, never a higher or a sibling one. The
README's map of the tree is checked against the files too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import REPO

GENERATOR = REPO / "generator"
LAYERS = {  # package → layer (lower layers never import higher ones)
    "core": 0,  # errors, atomic files, git, the build cache, cryptography: no project imports
    "archive": 1,  # the archive: schema, loading, validation, model, the four ones, provenance
    "render": 2,  # one template environment and the values templates read
    "protect": 2,  # accounts and rights, sealing, the audit
    "ledger": 2,  # the ledger and teachers' summaries, in and out of spreadsheets
    "booklets": 3,  # PDF booklets
    "site": 4,  # student and index pages
    "build": 5,  # the build's stages, the MkDocs plugin, publishing
    "review": 5,  # the review workflow: review, CODEOWNERS, new records, init
    "synth": 6,  # synthetic archives
    "cli": 7,  # the command line: the only place that prints or exits
}


def _package(module: str) -> str:
    """generator.archive.model → archive; generator.cli → cli."""
    return module.split(".")[1]


def _modules() -> dict[str, Path]:
    found = {}
    for path in GENERATOR.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    """The generator modules ``module`` imports (at any depth of the file)."""
    out = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("generator.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if base.startswith("generator"):
                out |= {f"{base}.{a.name}" for a in node.names} | {base}
    modules = _modules()
    return {m for m in out if m in modules and m != "generator"}


def test_every_module_is_in_a_known_layer() -> None:
    for module in _modules():
        if module != "generator":
            assert _package(module) in LAYERS, f"{module}: add its package to LAYERS"


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = []
    for module, path in _modules().items():
        if module == "generator":
            continue
        mine = _package(module)
        for target in _imports(module, path):
            theirs = _package(target)
            if theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
                wrong.append(f"{module} (layer {LAYERS[mine]}) imports {target} (layer {LAYERS[theirs]})")
    assert wrong == []


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {m: _imports(m, p) - {m} for m, p in modules.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" → ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_readme_map_matches_the_tree() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- map:start -->", 1)[1].split("<!-- map:end -->", 1)[0]
    listed = set(re.findall(r"^\s*(\w+/)?(\w+\.py)", block, re.M))
    files = {p.relative_to(GENERATOR) for p in GENERATOR.rglob("*.py") if p.name != "__init__.py"}
    named = set()
    package = ""
    for line in block.splitlines():
        folder = re.match(r"^  (\w+)/", line)
        if folder:
            package = folder.group(1)
            continue
        module = re.match(r"^\s+(\w+\.py)\b", line) or re.match(r"^  (\w+\.py)\b", line)
        if module:
            top = re.match(r"^  \w+\.py", line)
            named.add(Path(module.group(1)) if top else Path(package) / module.group(1))
    assert listed and named == files


CJK = re.compile(r"[\u4e00-\u9fff]{2}")  # two Chinese characters: words, not a range bound or a 、
NOT_INTERFACE = {
    "generator/archive/schema.py",  # field documentation, rendered into docs/schema.md
    "generator/archive/schemadoc.py",
    "generator/synth.py",  # the made-up archive content of synthetic archives
}


def test_user_visible_chinese_lives_in_the_labels_file() -> None:
    """No string in the code carries Chinese, except docstrings (commands' examples included)
    and the schema's field documentation: every text a user reads is in the labels file."""
    found = []
    for path in sorted(GENERATOR.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in NOT_INTERFACE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        strings = (n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))
        found += [
            f"{rel}:{n.lineno}: {n.value[:40]!r}"
            for n in strings
            if id(n) not in docstrings and CJK.search(n.value)
        ]
    assert found == []
