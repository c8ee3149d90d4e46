"""The command-line contract: exit codes, the three output formats, --strict, help."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from generator.cli import main

TALK = "students/S1/records/2026-03-05-talk.md"


def _break(tiny: Path) -> None:
    path = tiny / TALK
    path.write_text(path.read_text(encoding="utf-8").replace("by: T2", "by: T9"), encoding="utf-8")


def _warn(tiny: Path) -> None:
    path = tiny / TALK
    path.write_text(path.read_text(encoding="utf-8").replace("mode:", "moood: x\nmode:"), encoding="utf-8")


def test_clean_archive_exits_0(tiny: Path, run) -> None:
    result = run("check", tiny)
    assert result.exit_code == 0
    assert result.output == "检查了 6 个文件:0 个错误,0 个警告 / 6 files checked: 0 error(s), 0 warning(s)\n"


def test_errors_exit_1(tiny: Path, run) -> None:
    _break(tiny)
    assert run("check", tiny).exit_code == 1


def test_missing_archive_is_a_usage_error(tmp_path: Path, run) -> None:
    result = run("check", tmp_path / "nope")
    assert result.exit_code == 2
    assert "archive folder not found" in result.output


def test_folder_that_is_not_an_archive_is_a_usage_error(tmp_path: Path, run) -> None:
    result = run("check", tmp_path)
    assert result.exit_code == 2
    assert "is not an archive" in result.output


def test_unknown_option_is_a_usage_error(tiny: Path, run) -> None:
    assert run("check", tiny, "--format", "xml").exit_code == 2


def test_warnings_pass_unless_strict(tiny: Path, run) -> None:
    _warn(tiny)
    assert run("check", tiny).exit_code == 0
    strict = run("check", tiny, "--strict")
    assert strict.exit_code == 1
    said = "没有字段 moood;是不是「mood」? / unknown field 'moood'; did you mean 'mood'?"
    assert f"{TALK}:5:1: warning: {said}" in strict.output


def test_json_format(tiny: Path, run) -> None:
    _break(tiny)
    result = run("check", tiny, "--format", "json")
    data = json.loads(result.output)
    assert data["summary"] == {"errors": 1, "warnings": 0, "files": 6}
    assert data["problems"] == [
        {
            "path": TALK,
            "line": 4,
            "col": 5,
            "severity": "error",
            "message": "by: unknown teacher 'T9'",
            "message_zh": "by:教师编号 'T9' 不在 teachers.yml 里",
        }
    ]


def test_github_format(tiny: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    _break(tiny)
    monkeypatch.chdir(tiny.parent)  # paths are given from the repository root
    result = run("check", "tiny", "--format", "github")
    assert result.output.splitlines()[0] == (
        f"::error file=tiny/{TALK},line=4,col=5::"
        "by:教师编号 'T9' 不在 teachers.yml 里 / by: unknown teacher 'T9'"
    )
    assert result.exit_code == 1


def test_as_of_makes_records_future(tiny: Path, run_en) -> None:
    result = run_en("check", tiny, "--as-of", "2026-03-01")
    assert f"{TALK}:3:7: warning: date 2026-03-05 is in the future" in result.output
    assert result.exit_code == 0


def test_every_command_has_help_with_an_example() -> None:
    for name, command in main.commands.items():
        assert command.help, f"{name} has no help"
        assert "Example:" in command.help, f"{name} help has no example"


def _commands(group: click.Group, path: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {path: group}
    for name, command in group.commands.items():
        key = f"{path} {name}".strip()
        found |= _commands(command, key) if isinstance(command, click.Group) else {key: command}
    return found


def test_every_command_says_in_chinese_what_it_is_for(run) -> None:  # type: ignore[no-untyped-def]
    """--help's first paragraph and the command lists are Chinese; the catalogue names no
    command that does not exist."""
    from generator.core.labels import shipped

    commands = _commands(main)
    assert set(shipped()["help"]) == set(commands)
    for path in commands:
        result = run(*path.split(), "--help")
        first = result.output.split("\n\n")[1].strip()
        assert re.search(r"[\u4e00-\u9fff]", first) and first == shipped()["help"][path], (path, first)
    listed = run("--help").output.split("Commands:")[1]
    for name in main.commands:
        assert re.search(rf"^  {name} +{re.escape(shipped()['help'][name])}$", listed, re.M), name


def test_synth_refuses_a_non_empty_folder(tiny: Path, run) -> None:
    result = run("synth", "--students", "1", "--records-per-student", "1", tiny)
    assert result.exit_code == 2
    assert (tiny / "school.yml").read_text(encoding="utf-8").startswith("name: 测试中学")


def test_synth_then_check_round_trip(tmp_path: Path, run) -> None:
    out = tmp_path / "synth"
    assert run("synth", "--students", "30", "--records-per-student", "12", "--seed", "7", out).exit_code == 0
    records = list(out.glob("students/*/records/*.md"))
    assert len(records) == 30 * 12
    assert len({p.name.split("-")[3].removesuffix(".md") for p in records}) >= 4  # a mix of types
    result = run("check", out)
    assert result.output.endswith("0 error(s), 0 warning(s)\n")
    assert result.exit_code == 0


def test_unknown_teacher_in_a_copy_of_the_sample_archive(tmp_path: Path, run_en) -> None:
    """The issue's own scenario: one bad teacher id in a sample record → exit 1, one line."""
    import shutil

    from .conftest import SAMPLE

    copy = tmp_path / "archives"
    shutil.copytree(SAMPLE, copy)
    record = copy / "students/S2025003/records/2026-09-08-talk.md"
    record.write_text(record.read_text(encoding="utf-8").replace("by: T008", "by: T999"), encoding="utf-8")
    result = run_en("check", copy, "--as-of", "2026-11-28")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    assert errors == ["students/S2025003/records/2026-09-08-talk.md:4:5: error: by: unknown teacher 'T999'"]


def test_check_lists_overdue_four_ones_as_warnings(run) -> None:
    """Three students behind on purpose (see the sample's records), counted by hand."""
    from .conftest import SAMPLE

    result = run("check", SAMPLE, "--as-of", "2026-11-28")
    assert result.exit_code == 0  # warnings only
    lines = result.output.splitlines()

    def of(sid: str) -> list[str]:
        return [line.split("warning: ", 1)[1] for line in lines if f"students/{sid}/profile.yml" in line]

    assert of("S2025010") == [  # poverty: weekly talks missing four weeks of October–November
        "四个一:谈话 2026-10-12–2026-10-18 未完成(应于 2026-10-18 前完成,已逾期 41 天)",
        "四个一:谈话 2026-10-19–2026-10-25 未完成(应于 2026-10-25 前完成,已逾期 34 天)",
        "四个一:谈话 2026-10-26–2026-11-01 未完成(应于 2026-11-01 前完成,已逾期 27 天)",
        "四个一:谈话 2026-11-09–2026-11-15 未完成(应于 2026-11-15 前完成,已逾期 13 天)",
    ]  # November's home visit is due 2026-11-30: open, not overdue
    assert of("S2026006") == ["四个一:谈话 2026-10-01–2026-10-31 未完成(应于 2026-10-31 前完成,已逾期 28 天)"]
    assert of("S2025007") == ["四个一:家访 2026-10-01–2026-10-31 未完成(应于 2026-10-31 前完成,已逾期 28 天)"]
    assert of("S2025003") == []  # on time
    assert not any("S2024007" in line for line in lines)  # the closed case owes nothing


def test_installed_command_exits_with_the_status_and_all_its_output(tmp_path: Path) -> None:
    """The ``yidang`` script leaves with os._exit (no interpreter teardown): its exit
    codes must be main()'s, and output larger than a pipe's buffer must arrive whole."""
    yidang = str(Path(sys.executable).parent / "yidang")
    archive = tmp_path / "a"
    assert (
        subprocess.run(
            [yidang, "synth", "--students", "150", "--records-per-student", "3", str(archive)],
            capture_output=True,
        ).returncode
        == 0
    )
    for record in sorted(archive.glob("students/*/records/*.md")):  # one error per record
        text = record.read_text(encoding="utf-8")
        record.write_text(re.sub(r"^by: .*$", "by: T999", text, count=1, flags=re.M), encoding="utf-8")
    broken = subprocess.run([yidang, "check", str(archive), "--format", "json"], capture_output=True)
    assert broken.returncode == 1
    assert len(broken.stdout) > 65536  # more than a pipe holds: written while the reader reads
    data = json.loads(broken.stdout)  # a truncated stream would not parse
    assert data["summary"]["errors"] == 450
    assert "unknown teacher 'T999'" in data["problems"][-1]["message"]
    usage = subprocess.run([yidang, "check", str(tmp_path / "nope")], capture_output=True, text=True)
    assert usage.returncode == 2
    assert "archive folder not found" in usage.stderr
    version = subprocess.run([yidang, "--version"], capture_output=True, text=True)
    assert (version.returncode, version.stdout.startswith("yidang, version")) == (0, True)


def _chinese_first(line: str) -> bool:
    """``中文 / English`` (after the ``错误 / error:`` that begins every error)."""
    head = line.removeprefix("错误 / error: ").split(" / ")[0]
    return any("\u4e00" <= ch <= "\u9fff" for ch in head)


def test_what_the_office_reads_is_chinese_first(tiny: Path, tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """Summaries, reports and errors of the everyday commands read Chinese first, then the
    English for support."""
    from .test_site import write_config

    config = write_config(tmp_path, tiny)
    built = run("build", "--config", config, "--site-dir", tmp_path / "site", "--unprotected").output
    # (the unprotected warning's English is a line of its own, after the Chinese one)
    said = [line for line in built.splitlines() if ":" in line and not line.startswith("WARNING:")]
    outputs = [
        run("check", tiny).output.splitlines()[-1],
        *said,
        run("access", "remove", "T9", "--archive", tiny, "--yes").output.splitlines()[-1],
        run("new", "talk", "S1", "--by", "T99", "--archive", tiny).output.splitlines()[-1],
        run("new", "talk", "S9", "--archive", tiny).output.splitlines()[-1],
        run("check", tmp_path / "nowhere").output.splitlines()[-1],
        run("build", "--config", tmp_path / "nowhere.yml").output.splitlines()[-1],
        run("init", tiny).output.splitlines()[-1],  # not empty
        run("access", "passwd", "T9", "--reset", "--archive", tiny).output.splitlines()[-1],
        run(
            "export", "ledger", "--term", "T-none", "--archive", tiny, "--out", tmp_path / "l.xlsx"
        ).output.splitlines()[-1],
        run("booklets", "--archive", tiny, "--student", "S404", "--out", tmp_path / "b").output.splitlines()[
            -1
        ],
    ]
    assert [line for line in outputs if not _chinese_first(line)] == []


def test_no_error_the_commands_raise_is_english_only() -> None:
    """Every error message written into the code as a literal says it in Chinese too (the
    rest come from the labels file): a structural check, so a new one cannot slip in."""
    from .conftest import REPO

    english_only = []
    for path in sorted((REPO / "generator").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.exc.args[0]
            if name in ("UsageError", "YidangError") and isinstance(first, ast.Constant | ast.JoinedStr):
                text = ast.get_source_segment(source, first) or ""
                if not re.search(r"[\u4e00-\u9fff]", text):
                    english_only.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert english_only == []


def test_the_launcher_runs_this_checkout_from_anywhere(tmp_path: Path) -> None:
    """./yidang (which make demo links as /usr/local/bin/yidang) runs this checkout's yidang
    from any folder, so the README's commands work as written."""
    import subprocess

    from .conftest import REPO

    done = subprocess.run([str(REPO / "yidang"), "--version"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and "yidang" in done.stdout
    linked = Path("/usr/local/bin/yidang")
    if linked.exists():  # make demo and make test link it where they may
        assert linked.resolve() == (REPO / "yidang").resolve()
