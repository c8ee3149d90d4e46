"""One fixture per kind of bad input, each asserting the exact error line.

Each case rewrites one file of the tiny archive and expects ``yidang check``
to print exactly the given lines (path:line:col: severity: message).
"""

from __future__ import annotations

from pathlib import Path

import pytest

TALK = "students/S1/records/2026-03-05-talk.md"
PROFILE = "students/S1/profile.yml"


@pytest.fixture
def run(run_en):  # type: ignore[no-untyped-def]
    """This module asserts where each problem is and its English; the Chinese that comes
    first on each line has tests of its own (test_check_errors.py, at the end)."""
    return run_en


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


CASES = [
    ("unknown teacher in by", TALK, "by: T2", "by: T9", [f"{TALK}:4:5: error: by: unknown teacher 'T9'"]),
    (
        "yaml syntax",
        TALK,
        "topic: 开学适应",
        "topic: [开学适应",
        [f"{TALK}:7:1: error: YAML syntax: did not find expected ',' or ']'"],
    ),
    (
        "missing required field",
        TALK,
        "topic: 开学适应\n",
        "",
        [f"{TALK}:2:1: error: missing required field 'topic'"],
    ),
    (
        "wrong literal",
        TALK,
        "mode: in_person",
        "mode: visit",
        [f"{TALK}:5:7: error: mode: input should be 'in_person', 'phone' or 'video', got 'visit'"],
    ),
    (
        "unknown field with did-you-mean",
        TALK,
        "topic: 开学适应",
        "topic: 开学适应\ntopik: 多余",
        [f"{TALK}:7:1: warning: unknown field 'topik'; did you mean 'topic'?"],
    ),
    (
        "impossible date",
        TALK,
        "date: 2026-03-05",
        "date: 2026-02-30",
        [f"{TALK}:3:7: error: date: impossible date 2026-02-30 (day is out of range for month)"],
    ),
    (
        "badly written date",
        TALK,
        "date: 2026-03-05",
        "date: 2026/3/5",
        [f"{TALK}:3:7: error: date: expected a date written YYYY-MM-DD, got '2026/3/5'"],
    ),
    (
        "file name date differs",
        TALK,
        "date: 2026-03-05",
        "date: 2026-03-06",
        [f"{TALK}:3:7: error: date 2026-03-06 differs from the file name's date 2026-03-05"],
    ),
    (
        "file name type differs",
        TALK,
        "type: talk\n",
        "type: home_visit\nmet: [母亲]\n",
        [
            f"{TALK}:2:7: error: type 'home_visit' differs from the file name's type 'talk'",
            f"{TALK}:7:1: warning: unknown field 'topic'",
        ],
    ),
    (
        "unknown record type",
        TALK,
        "type: talk",
        "type: tlak",
        [
            f"{TALK}:2:7: error: type: unknown record type 'tlak'; did you mean 'talk'? "
            "(expected one of talk, home_visit, evaluation, activity, aid, counselling)"
        ],
    ),
    (
        "duplicate field",
        TALK,
        "mode: in_person",
        "mode: in_person\nmode: phone",
        [
            f"{TALK}:6:1: error: duplicate field 'mode': write each field once (YAML would silently keep "
            "only the last one)"
        ],
    ),
    (
        "no front matter",
        TALK,
        "---\ntype",
        "type",
        [f"{TALK}:1:1: error: the file must start with a '---' line (front matter)"],
    ),
    (
        "unknown class",
        PROFILE,
        "class: C1",
        "class: C9",
        [f"{PROFILE}:5:8: error: class: unknown class 'C9'"],
    ),
    (
        "unknown mentor",
        PROFILE,
        "teacher: T2",
        "teacher: T3",
        [f"{PROFILE}:11:14: error: mentors[0].teacher: unknown teacher 'T3'"],
    ),
    (
        "unknown category key",
        PROFILE,
        "key: poverty",
        "key: povrety",
        [f"{PROFILE}:7:10: error: categories[0].key: unknown category 'povrety'; did you mean 'poverty'?"],
    ),
    (
        "kind not of category",
        PROFILE,
        "kind: 农村低保",
        "kind: 城市低保",
        [
            f"{PROFILE}:8:11: error: categories[0].kind: '城市低保' is not a kind of poverty "
            "(expected one of 建档立卡贫困家庭, 农村低保, 特困供养)"
        ],
    ),
    (
        "folder differs from id",
        PROFILE,
        "id: S1",
        "id: S7",
        [f"{PROFILE}:1:5: error: id 'S7' differs from the folder name 'S1'"],
    ),
    (
        "phone as a number",
        PROFILE,
        'phone: "13900000000"',
        "phone: 13900000000",
        [
            f"{PROFILE}:16:12: error: guardians[0].phone: YAML reads 13900000000 as the number "
            '13900000000; this field is text: write it in quotes, e.g. "13900000000"'
        ],
    ),
    (
        "until before since",
        PROFILE,
        "    since: 2026-02-23\nguardians",
        "    since: 2026-02-23\n    until: 2026-01-01\nguardians",
        [f"{PROFILE}:11:5: error: mentors[0]: mentor T2: until (2026-01-01) is before since (2026-02-23)"],
    ),
    (
        "unknown head teacher",
        "classes.yml",
        "head_teacher: T2",
        "head_teacher: T5",
        ["classes.yml:1:51: error: head_teacher of class C1: unknown teacher 'T5'"],
    ),
    (
        "unknown plan owner",
        "students/S1/plan.md",
        "owner: T2",
        "owner: T8",
        ["students/S1/plan.md:6:38: error: measures[0].owner: unknown teacher 'T8'"],
    ),
    (
        "a follow-up before the talk (a rule between fields, declared on the type)",
        TALK,
        "topic: 开学适应",
        "topic: 开学适应\nfollow_up_on: 2026-03-01",
        [f"{TALK}:7:15: error: follow_up_on 2026-03-01 is before date 2026-03-05"],
    ),
    (
        "an evaluation that ends help without saying why (declared: required when)",
        TALK,
        "type: talk\ndate: 2026-03-05\nby: T2\nmode: in_person\ntopic: 开学适应",
        "type: evaluation\ndate: 2026-03-05\nby: T2\nterm: 2026-spring\nstudy: 好\nmental_health: 好\n"
        "behaviour: 好\ngoals_met: 达成\ncontinue: false",
        [f"{TALK}:10:11: error: continue: false needs a continue_reason"],
    ),
    (
        "unknown term in plan",
        "students/S1/plan.md",
        "term: 2026-spring",
        "term: 2026-autumn",
        ["students/S1/plan.md:2:7: error: term: unknown term '2026-autumn'"],
    ),
]


@pytest.mark.parametrize(("rel", "old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_exact_line(
    tiny: Path, run, rel: str, old: str, new: str, expected: list[str]
) -> None:
    _edit(tiny, rel, old, new)
    result = run("check", tiny)
    lines = result.output.splitlines()
    assert lines[:-1] == expected
    has_error = any(": error: " in line for line in expected)
    assert result.exit_code == (1 if has_error else 0)


def _write_photo(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), "red").save(path, "JPEG")


def test_photo_outside_the_student_folder(tiny: Path, run) -> None:
    _write_photo(tiny / "students" / "elsewhere.jpg")
    _edit(tiny, TALK, "topic: 开学适应", "topic: 开学适应\nphotos: [../elsewhere.jpg]")
    result = run("check", tiny)
    assert result.output.splitlines()[0] == (
        f"{TALK}:7:10: error: photos[0]: photo path '../elsewhere.jpg' leaves the student's folder"
    )


def test_missing_photo(tiny: Path, run) -> None:
    _edit(tiny, TALK, "topic: 开学适应", "topic: 开学适应\nphotos: [photos/none.jpg]")
    assert run("check", tiny).output.splitlines()[0] == (
        f"{TALK}:7:10: error: photos[0]: photo 'photos/none.jpg' does not exist"
    )


def test_photo_inside_the_folder_is_fine(tiny: Path, run) -> None:
    _write_photo(tiny / "students" / "S1" / "photos" / "a.jpg")
    _edit(tiny, TALK, "topic: 开学适应", "topic: 开学适应\nphotos: [photos/a.jpg]")
    assert run("check", tiny).exit_code == 0


def test_duplicate_student_id(tiny: Path, run) -> None:
    other = tiny / "students" / "S2"
    other.mkdir()
    (other / "profile.yml").write_text((tiny / PROFILE).read_text(encoding="utf-8"), encoding="utf-8")
    lines = run("check", tiny).output.splitlines()
    assert (
        "students/S2/profile.yml:1:5: error: duplicate student id 'S1', also in students/S1/profile.yml"
        in lines
    )
    assert "students/S2/profile.yml:1:5: error: id 'S1' differs from the folder name 'S2'" in lines


def test_bad_record_file_name(tiny: Path, run) -> None:
    (tiny / TALK).rename(tiny / "students/S1/records/talk-march.md")
    assert run("check", tiny).output.splitlines()[0] == (
        "students/S1/records/talk-march.md:1:1: error: record file name must be "
        "YYYY-MM-DD-<type>[-n].md, e.g. 2026-03-05-talk.md"
    )


def test_missing_profile(tiny: Path, run) -> None:
    (tiny / PROFILE).unlink()
    assert "students/S1/profile.yml:1:1: error: missing profile.yml (the registration form)" in (
        run("check", tiny).output.splitlines()
    )


def test_every_problem_in_one_run(tiny: Path, run) -> None:
    """Three broken files give three lines and a summary that counts them."""
    _edit(tiny, TALK, "by: T2", "by: T9")
    _edit(tiny, PROFILE, "class: C1", "class: C9")
    _edit(tiny, "students/S1/plan.md", "owner: T2", "owner: T8")
    lines = run("check", tiny).output.splitlines()
    assert len(lines) == 4
    assert lines[-1] == "检查了 6 个文件:3 个错误,0 个警告 / 6 files checked: 3 error(s), 0 warning(s)"


def test_not_utf8(tiny: Path, run) -> None:
    (tiny / TALK).write_bytes(b"---\ntype: talk\n---\n\xff\xfe\x00")  # no known encoding
    assert run("check", tiny).output.splitlines()[0] == (
        f"{TALK}:4:1: error: the file is not UTF-8 text (byte 0xff); save it as UTF-8"
    )


def _second_student(root: Path, sid: str, name: str) -> None:
    """Another student of the archive, like S1 but with its own id and name."""
    folder = root / "students" / sid
    folder.mkdir()
    profile = (root / PROFILE).read_text(encoding="utf-8").replace("id: S1", f"id: {sid}")
    (folder / "profile.yml").write_text(profile.replace("name: 测试学生", f"name: {name}"), encoding="utf-8")


def test_with_naming_another_student_is_a_warning(tiny: Path, run) -> None:
    """Who else was there must not out another helped student to this file's readers: a
    ``with`` entry holding a student's name (also inside a phrase) or id is warned about, at
    its own line and column, without repeating the name; teachers and roles are fine."""
    _second_student(tiny, "S2", "王小明")
    _edit(tiny, TALK, "topic: 开学适应", "topic: 开学适应\nwith: [T1, 同桌, 王小明, S2, 王小明的妈妈]")
    result = run("check", tiny)
    lines = _check_raw(tiny).splitlines()  # as the office reads it, Chinese first
    said = (
        "{f}:写的是本档案里一名学生的姓名或编号。能读这份档案的老师未必可以知道那名学生也在帮扶名单上:"
        "请写身份(如 同学、同桌),不写姓名 / {f} names a student of the archive: write a role (a classmate), "
        "not a name or id"
    )
    assert lines[:-1] == [
        f"{TALK}:7:16: warning: " + said.format(f="with[2]"),
        f"{TALK}:7:21: warning: " + said.format(f="with[3]"),
        f"{TALK}:7:25: warning: " + said.format(f="with[4]"),
    ]
    assert result.exit_code == 0  # a warning: `check --strict` (CI) refuses it
    assert run("check", "--strict", tiny).exit_code == 1
    _edit(tiny, TALK, "with: [T1, 同桌, 王小明, S2, 王小明的妈妈]", "with: [T1, 同桌, 村网格员]")
    assert "with[" not in run("check", tiny).output


# --- Chinese first ---------------------------------------------------------------------


def _strings(node: object, constants: dict[str, object]) -> list[str]:
    """The string(s) a template expression stands for: a literal, a module constant, a dict's."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return _strings(constants[node.id], constants)
    if isinstance(node, ast.Subscript):
        return _strings(node.value, constants)
    if isinstance(node, ast.Dict):
        return [s for v in node.values for s in _strings(v, constants)]
    return []


def _templates() -> set[str]:
    """Every English template the code words a problem with: the first argument of said() and
    RuleBroken(), a ``template = …`` assignment (or ``template: ClassVar[str] = …``), or a
    module constant they name."""
    import ast

    from .conftest import REPO

    found: set[str] = set()
    for path in (REPO / "generator").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants: dict[str, object] = {
            t.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            words = ("said", "RuleBroken", "FrontMatterMissing")
            called = isinstance(node, ast.Call) and getattr(node.func, "id", "") in words
            if called and node.args:  # type: ignore[attr-defined]
                found.update(_strings(node.args[0], constants))  # type: ignore[attr-defined]
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "template" for t in node.targets):
                found.update(_strings(node.value, constants))
            declared = isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "template"
            if declared and node.value:  # type: ignore[attr-defined]
                found.update(_strings(node.value, constants))  # type: ignore[attr-defined]
    return found


def test_every_problem_check_can_report_has_its_chinese() -> None:
    from generator.core.labels import shipped

    catalogue = shipped()["check"]
    templates = _templates()
    assert len(templates) > 40  # the walk found the code's templates
    assert sorted(templates - set(catalogue)) == []  # a template without its Chinese
    unused = {k for k in catalogue if not k.startswith("pydantic:") and k != "did-you-mean"} - templates
    assert sorted(unused) == []  # nor Chinese for a problem the code no longer reports


def _check_raw(*args: object) -> str:
    """``yidang check`` as the office reads it (this module's ``run`` shows the English only)."""
    from click.testing import CliRunner

    from generator.cli import main

    return CliRunner().invoke(main, ["check", *map(str, args)], catch_exceptions=False).output


def test_the_terminal_reads_chinese_first_and_json_keeps_both(tiny: Path) -> None:
    _edit(tiny, TALK, "mode: in_person\n", "")
    text = _check_raw(tiny)
    line = next(line for line in text.splitlines() if TALK in line)
    assert line.endswith(": error: mode:请选择谈话方式 / missing required field 'mode'"), line
    import json

    problems = json.loads(_check_raw(tiny, "--format", "json"))["problems"]
    (problem,) = [p for p in problems if p["path"] == TALK]
    assert problem["message"] == "missing required field 'mode'"
    assert problem["message_zh"] == "mode:请选择谈话方式"
