"""The office's day, as the README writes it: every command of «办公室的一天» run as written,
in a shell, on a school repository made by ``yidang init`` (its archive replaced by the
sample's fictional school), from a mentor's sealed file in ~/收件箱/ to the published site
whose student page shows the record, once merged locally and once through a forge.

Only two things are put in, as the README says to: the branch name intake printed, and the
school's web folder. The intake passphrase is typed at the prompt (stdin, no terminal)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.archive.read import school_today

from .conftest import REPO, SAMPLE
from .site_reader import login
from .submit import seal
from .test_protect import CREDS, INTAKE_PASSPHRASE

README = (REPO / "README.md").read_text(encoding="utf-8")
EXAMPLE_BRANCH = "intake/2026-12-03-S2025003-1a2b3c4d"
WEB_FOLDER = "/srv/yidang/site"
MENTEE = "S2025007"  # T015 mentors this student
SENTENCE = "今天午饭后在操场边谈了期末复习的安排,她说物理最没把握,约好每周三答疑。"


def _blocks() -> list[str]:
    """The ```sh blocks of the README's section «办公室的一天», in order."""
    start = README.index("### 办公室的一天")
    end = README.find("\n#", start + 1)
    section = README[start : end if end > 0 else None]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


SETUP, TAKE_AND_REVIEW, FORGE, LOCAL, PUBLISH = _blocks()


@pytest.fixture()
def office(tmp_path: Path) -> dict[str, Path]:
    """An office PC: a home with ~/收件箱/ holding one sealed talk record from T015, and
    ~/档案仓库 as `yidang init` makes it, holding the sample school, committed on main."""
    home = tmp_path / "home"
    repo = home / "档案仓库"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "yidang").symlink_to(REPO / "yidang")  # what `make demo` links into PATH
    env = _env(home, bin_dir)
    _sh(f"yidang init {repo}", home, env)
    shutil.rmtree(repo / "archives")
    shutil.copytree(SAMPLE, repo / "archives")
    _sh("git add -A && git -c user.name=setup -c user.email=setup@x.invalid commit -qm 本校档案", repo, env)
    inbox = home / "收件箱"
    inbox.mkdir()
    today = school_today(repo / "archives")
    record = {"type": "talk", "date": today.isoformat(), "mode": "in_person", "topic": "期末复习"}
    sealed = seal(repo / "archives", "T015", CREDS["T015"], MENTEE, record, SENTENCE)
    (inbox / "yidang-3f9a.yidang").write_bytes(sealed)
    web = tmp_path / "srv/yidang/site"
    return {"home": home, "repo": repo, "bin": bin_dir, "web": web, "tmp": tmp_path}


def _env(home: Path, bin_dir: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "YIDANG_"))}
    return keep | {"HOME": str(home), "PATH": f"{bin_dir}:{keep['PATH']}", "LANG": "C.UTF-8"}


def _sh(script: str, cwd: Path, env: dict[str, str], stdin: str = "") -> str:
    """Run ``script`` as the office would type it (bash, no terminal: a prompt reads stdin)."""
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal: getpass reads stdin
        timeout=600,
    )
    assert done.returncode == 0, f"$ {script}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _as_written(block: str, office: dict[str, Path], branch: str) -> list[str]:
    """The block's commands, one by one, with the README's two stand-ins replaced."""
    web = str(office["web"])
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line.replace(EXAMPLE_BRANCH, branch).replace(WEB_FOLDER, web) for line in lines if line]


def _take_in_and_review(office: dict[str, Path]) -> tuple[str, dict[str, str]]:
    env = _env(office["home"], office["bin"])
    for command in _as_written(SETUP, office, ""):
        _sh(command, office["home"], env)
    take, review = _as_written(TAKE_AND_REVIEW, office, "")[1:], None
    assert take[0].startswith("yidang intake") and take[1].startswith("yidang review")
    said = _sh(take[0], office["repo"], env, stdin=INTAKE_PASSPHRASE + "\n")
    assert "收取 1 份" in said, said
    branch = re.search(r"intake/[\w-]+", said)
    assert branch is not None, said
    review = _sh(_as_written(TAKE_AND_REVIEW, office, branch.group(0))[2], office["repo"], env)
    assert "期末复习" in review and SENTENCE in review, review  # the reviewer reads the record
    assert "谢美玲" in review  # and who wrote it
    return branch.group(0), env


def _published_page(office: dict[str, Path], env: dict[str, str], branch: str) -> str:
    """Build and publish as written; the student's page as the mentor reads it there."""
    (office["web"].parent).mkdir(parents=True, exist_ok=True)
    for command in _as_written(PUBLISH, office, branch):
        _sh(command, office["repo"], env)
    reader = login(office["web"], "T015", CREDS["T015"])
    return str(reader.open(f"students/{MENTEE}/")["h"])


def test_the_office_day_merged_on_this_pc(office: dict[str, Path]) -> None:
    branch, env = _take_in_and_review(office)
    commands = _as_written(LOCAL, office, branch)
    for command in commands:
        _sh(command, office["repo"], env)
    assert branch not in _sh("git branch", office["repo"], env)
    page = _published_page(office, env, branch)
    assert SENTENCE in page
    today = school_today(office["repo"] / "archives")
    assert f"最后修改:谢美玲老师,{today}" in page and "学校办公室审核合并" in page
    assert "帮扶办公室" not in page and "office@school.invalid" not in page


def test_the_office_day_merged_on_the_forge(office: dict[str, Path]) -> None:
    """origin is a bare repository; the reviewer's 合并 on the forge is a merge commit made
    there by 周明远's account (git_user zhou.mingyuan), as Gitea makes it."""
    forge = office["tmp"] / "forge.git"
    env = _env(office["home"], office["bin"])
    _sh(
        f"git init -q --bare -b main {forge} && git remote add origin {forge} && git push -q origin main",
        office["repo"],
        env,
    )
    branch, env = _take_in_and_review(office)
    push, pull = _as_written(FORGE, office, branch)
    _sh(push, office["repo"], env)
    clicked = office["tmp"] / "clicked"
    merge = (
        f"git clone -q {forge} {clicked} && cd {clicked} && "
        f"git -c user.name=zhou.mingyuan -c user.email=zhou@forge.invalid merge -q --no-ff "
        f"-m 'Merge pull request' origin/{branch} && git push -q origin main"
    )
    _sh(merge, office["tmp"], env)
    _sh(pull, office["repo"], env)
    page = _published_page(office, env, branch)
    assert SENTENCE in page
    assert "周明远老师审核合并" in page
