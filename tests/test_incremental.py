"""Incremental builds: after each kind of change, the site that the build cache
helped make decrypts to exactly what a clean full build of the same archive
decrypts to, for every reader; and the cache redid only what the change touched.
"""

from __future__ import annotations

import gc
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.core import cache
from generator.core.crypto import CryptoError
from generator.protect import access

from .conftest import SAMPLE
from .site_reader import Reader, login, opens_nothing
from .test_protect import CREDS
from .test_site import REPO, write_config

STUDENT = "S2025007"  # mentored by T015 (the demo mentor), class G2-02
EXTRA = {}  # teacher → passphrase of accounts a change adds


def _project(where: Path, archive: Path | None = None, templates: Path | None = None) -> Path:
    """A project folder: its own archive copy, templates copy, mkdocs.yml (and, later, cache)."""
    where.mkdir(parents=True)
    shutil.copytree(archive or SAMPLE, where / "archives")
    shutil.copytree(templates or REPO / "site_templates", where / "templates")
    return write_config(where, where / "archives", protect=True, templates=str(where / "templates"))


def _build(config: Path) -> str:
    result = CliRunner().invoke(
        main, ["build", "--config", str(config), "--no-booklets", "--site-dir", str(config.parent / "site")]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _readers(site: Path) -> dict[str, Reader]:
    creds = {**CREDS, **EXTRA}
    names = [p.stem for p in (site.parent / "archives" / "access").glob("*.json")]
    return {t: login(site, t, creds[t]) for t in sorted(names) if t in creds}


def _same_as_clean_build(project: Path, tmp_path: Path) -> dict[str, Reader]:
    """Build the changed archive from scratch elsewhere; every reader sees the same."""
    clean = _project(tmp_path / "clean", project / "archives", project / "templates")
    _build(clean)
    ours, theirs = _readers(project / "site"), _readers(clean.parent / "site")
    assert ours.keys() == theirs.keys()
    for teacher in ours:
        assert ours[teacher].everything() == theirs[teacher].everything(), teacher
    return ours


def _records(root: Path) -> Path:
    return root / "students" / STUDENT / "records"


def edit_record(project: Path) -> None:
    talk = _records(project / "archives") / "2026-03-06-talk.md"
    talk.write_text(talk.read_text(encoding="utf-8") + "\n复查结果已告知班主任。\n", encoding="utf-8")


def add_record(project: Path) -> None:
    text = (_records(project / "archives") / "2026-03-06-talk.md").read_text(encoding="utf-8")
    text = text.replace("date: 2026-03-06", "date: 2026-11-20").replace("美琳的宿舍", "期中考试后美琳的宿舍")
    (_records(project / "archives") / "2026-11-20-talk.md").write_text(text, encoding="utf-8")


def delete_record(project: Path) -> None:
    (_records(project / "archives") / "2026-03-06-talk.md").unlink()


def _edit_profile(project: Path, change: Callable[[str], str]) -> None:
    path = project / "archives" / "students" / STUDENT / "profile.yml"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def move_class(project: Path) -> None:  # into G2-01, the demo head teacher T008's class
    _edit_profile(project, lambda t: t.replace("class: G2-02", "class: G2-01"))


def change_mentor(project: Path) -> None:  # T015 hands over to T014
    _edit_profile(
        project,
        lambda t: t.replace(
            "  - teacher: T015\n    since: 2025-09-10\n    mode: one_to_many\n",
            "  - teacher: T015\n    since: 2025-09-10\n    until: 2026-10-31\n    mode: one_to_many\n"
            "  - teacher: T014\n    since: 2026-11-01\n    mode: one_to_one\n",
        ),
    )


def change_template(project: Path) -> None:
    path = project / "templates" / "pages" / "student.html.j2"
    path.write_text(
        path.read_text(encoding="utf-8") + '\n<p class="yd-note">模板已修改</p>\n', encoding="utf-8"
    )


def add_user(project: Path) -> None:
    account, passphrase = access.create("T014")
    access.save(project / "archives", account)
    EXTRA["T014"] = passphrase


def remove_user(project: Path) -> None:
    (project / "archives" / "access" / "T015.json").unlink()


CHANGES = {  # change → how many students the incremental build reads again
    edit_record: 1,
    add_record: 1,
    delete_record: 1,
    move_class: 1,
    change_mentor: 1,
    change_template: 31,
    add_user: 0,
    remove_user: 0,
}


@pytest.mark.parametrize("change", list(CHANGES), ids=lambda f: f.__name__)
def test_incremental_build_equals_a_clean_build(change: Callable[[Path], None], tmp_path: Path) -> None:
    config = _project(tmp_path / "project")
    first = _build(config)
    assert "students read: 31, reused from the cache: 0" in first
    before = _readers(config.parent / "site")
    change(config.parent)
    output = _build(config)
    reread = CHANGES[change]
    assert f"students read: {reread}, reused from the cache: {31 - reread}" in output
    sealed = int(output.split("encrypted files sealed: ")[1].split(",")[0])
    if change is add_user:
        assert sealed == 0, output  # a new reader gets existing keys: no blob changes
    else:
        assert 0 < sealed < 100, output  # the site has 150+ blobs: most were reused
    after = _same_as_clean_build(config.parent, tmp_path)
    if change is change_mentor:
        _old_keys_open_nothing_new(before["T015"], config.parent / "site", output)
    if change is remove_user:  # every key the removed reader held was replaced
        assert "new content keys (" in output
        assert opens_nothing(config.parent / "site", before["T015"].keys, after["T001"])
    if change is move_class:
        assert f"students/{STUDENT}/" in after["T008"].routes  # the head teacher gained the student
        assert f"students/{STUDENT}/" not in before["T008"].routes


def test_a_build_whose_files_are_stat_ed_in_children_equals_a_clean_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From 200 students on (``PARALLEL_STATS``), the build stats (and on a first build hashes)
    the folders in child processes it starts before asking git who changed what: lowered to 1
    here, the sample's builds take that way, and the rebuild after an edit still reads the one
    student again and makes what a clean build makes."""
    monkeypatch.setattr(cache, "PARALLEL_STATS", 1)
    config = _project(tmp_path / "project")
    assert "students read: 31, reused from the cache: 0" in _build(config)
    edit_record(config.parent)
    assert "students read: 1, reused from the cache: 30" in _build(config)
    _same_as_clean_build(config.parent, tmp_path)


def test_a_rebuilt_site_does_not_say_which_files_the_build_wrote(tmp_path: Path) -> None:
    """After one record changed, the rebuild writes only the blobs that differ, the keyrings
    and the login page into the published site, and removes the blobs nothing refers to any
    more; then every file carries the build's one timestamp and no hard link, so a copy of
    the site (cp -p, rsync -a, a zip: none keeps inode numbers) does not tell the blobs this
    build sealed from those it kept."""
    config = _project(tmp_path / "project")
    _build(config)
    site = config.parent / "site"
    before = {p.relative_to(site).as_posix(): p.stat().st_ino for p in site.rglob("*") if p.is_file()}
    edit_record(config.parent)
    output = _build(config)
    sealed, reused = (int(n) for n in re.findall(r"encrypted files sealed: (\d+), reused: (\d+)", output)[0])
    assert 0 < sealed < reused, output  # both kinds are there to tell apart
    after = {p.relative_to(site).as_posix(): p.stat().st_ino for p in site.rglob("*") if p.is_file()}
    kept = {rel for rel, ino in after.items() if before.get(rel) == ino}
    new_blobs = {rel for rel in after if rel.startswith("d/") and rel not in kept}
    assert len(new_blobs) == sealed + 2  # and the indexes of leadership and of the counsellors
    assert len([rel for rel in kept if rel.startswith("d/")]) == reused
    assert not any(rel.startswith("k/") for rel in kept) and "index.html" not in kept
    assert len(after) == len(before)  # each new blob took the place of one no longer shown
    everything = [site, *site.rglob("*")]
    files = [p for p in everything if p.is_file()]
    assert len({p.stat().st_mtime_ns for p in everything}) == 1
    assert len({p.stat().st_atime_ns for p in files}) == 1  # (listing a folder sets its own)
    assert [p for p in files if p.stat().st_nlink != 1] == []
    copy = tmp_path / "copy"
    shutil.copytree(site, copy)  # keeps modification times (copy2), not inodes
    assert len({p.stat().st_mtime_ns for p in [copy, *copy.rglob("*")] if p.is_file()}) == 1
    assert "复查结果已告知班主任" in _readers(site)["T015"].open(f"students/{STUDENT}/")["h"]


def test_a_rebuild_in_place_leaves_nothing_else_in_the_blob_folders(tmp_path: Path) -> None:
    """A rebuild moves its blobs into the published site instead of swapping the folder:
    whatever else is in d/ or k/ (a file or folder put there by hand) goes, as the swap
    of a whole new folder took it away."""
    config = _project(tmp_path / "project")
    _build(config)
    site = config.parent / "site"
    planted = [site / "d" / "notes.txt", site / "k" / "old" / "ring.js", site / "d" / "link.js"]
    planted[0].write_text("张小明 13800001111", encoding="utf-8")
    planted[1].parent.mkdir()
    planted[1].write_text("{}", encoding="utf-8")
    planted[2].symlink_to(planted[0])
    edit_record(config.parent)
    output = _build(config)
    assert re.search(r"encrypted files sealed: [1-9]\d*, reused: [1-9]", output), output  # in place
    assert [p for p in planted if p.exists() or p.is_symlink()] == [] and not planted[1].parent.exists()
    assert "复查结果已告知班主任" in _readers(site)["T015"].open(f"students/{STUDENT}/")["h"]


def _old_keys_open_nothing_new(old: Reader, site: Path, output: str) -> None:
    """A reader who lost a student keeps their old keys; the student's new blobs need a new key."""
    assert "new content keys (" in output
    new = _readers(site)["T001"]  # leadership reads everything: the current blob names
    route = f"students/{STUDENT}/"
    assert new.routes[route][0] != old.routes[route][0]  # sealed again, under a new key
    moved = Reader(site, old.keys, {"t": [new.routes[route][0], "page", old.routes[route][2], "", route]})
    with pytest.raises(CryptoError):
        moved.raw(route)


def _shell(site: Path) -> str:
    """The login page without its per-build id and salt."""
    html = (site / "index.html").read_text(encoding="utf-8")
    return re.sub(r'<script type="application/json" id="yd-config">.*?</script>', "", html)


def test_unchanged_archive_reuses_everything(tmp_path: Path) -> None:
    config = _project(tmp_path / "project")
    _build(config)
    first = _shell(config.parent / "site")
    assets = {
        p.relative_to(config.parent / "site"): p.read_bytes()
        for p in (config.parent / "site" / "assets").rglob("*")
        if p.is_file()
    }
    output = _build(config)
    assert "students read: 0, reused from the cache: 31" in output
    assert gc.get_freeze_count() == 0  # the loaded entries were frozen, and released after the build
    assert "encrypted files sealed: 0," in output
    # MkDocs did not run: the login page and Material's assets came from the cache, unchanged
    assert "login page and Material's assets: reused" in output
    assert _shell(config.parent / "site") == first
    assert {
        p.relative_to(config.parent / "site"): p.read_bytes()
        for p in (config.parent / "site" / "assets").rglob("*")
        if p.is_file()
    } == assets
    assert len(_readers(config.parent / "site")["T001"].everything()) > 100


def test_a_changed_mkdocs_yml_runs_mkdocs_again(tmp_path: Path) -> None:
    config = _project(tmp_path / "project")
    _build(config)
    config.write_text(
        config.read_text(encoding="utf-8").replace("site_name: ", "site_name: 新"), encoding="utf-8"
    )
    output = _build(config)
    assert "login page and Material's assets: reused" not in output
    assert "<title>新" in (config.parent / "site" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("damage", ["delete", "corrupt", "version"])
def test_a_lost_or_foreign_cache_gives_a_full_build(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _project(tmp_path / "project")
    _build(config)
    edit_record(config.parent)
    store = config.parent / ".cache" / "yidang"
    entry = store / "students" / "students" / f"{STUDENT}.bin"
    if damage == "delete":
        shutil.rmtree(store)
    elif damage == "corrupt":  # one flipped byte in one student's entry: that student is read again
        data = bytearray(entry.read_bytes())
        data[len(data) // 2] ^= 1
        entry.write_bytes(bytes(data))
        other = store / "students" / "students" / "S2024001.bin"
        other.write_bytes(other.read_bytes()[:100])  # and a truncated one
    else:
        monkeypatch.setattr("generator.build.stages.version", lambda: "yidang-cache-1|another version")
    output = _build(config)
    reread = {"delete": 31, "corrupt": 2, "version": 31}[damage]
    assert f"students read: {reread}, reused from the cache: {31 - reread}" in output
    _same_as_clean_build(config.parent, tmp_path)


def test_cache_entries_are_private_and_tagged(tmp_path: Path) -> None:
    """The cache holds plaintext pages: owner-only files, and a tag that a copied-in
    (or committed) entry cannot carry."""
    config = _project(tmp_path / "project")
    _build(config)
    entry = config.parent / ".cache" / "yidang" / "students" / "students" / f"{STUDENT}.bin"
    assert entry.stat().st_mode & 0o077 == 0
    store = cache.Store(entry.parent.parent, key=b"k" * 32)  # someone else's key
    assert store.get(f"students/{STUDENT}") is None and store.corrupt == 1


def test_a_changed_record_reaches_the_booklet_in_the_site(tiny: Path, tmp_path: Path) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    account, passphrase = access.create("T1")
    access.save(tiny, account)
    config = write_config(tmp_path, tiny, booklets=True, protect=True)

    def build() -> str:
        result = CliRunner().invoke(
            main, ["build", "--config", str(config), "--site-dir", str(tmp_path / "site")]
        )
        assert result.exit_code == 0, result.output
        return result.output

    build()
    talk = tiny / "students/S1/records/2026-03-05-talk.md"
    talk.write_text(talk.read_text(encoding="utf-8") + "第二次谈话约在下周三。\n", encoding="utf-8")
    output = build()
    assert "booklets rendered: 1, unchanged: 0" in output
    reader = login(tmp_path / "site", "T1", passphrase)
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(reader.open("booklets/S1.pdf"))).pages)
    assert "第二次谈话约在下周三" in text.replace("\n", "")
    assert "第二次谈话约在下周三" in reader.open("students/S1/")["h"]


def test_a_deleted_site_is_published_whole_again(tmp_path: Path) -> None:
    """The cache remembers blobs, but a blob is reused only if it is still in the live site."""
    config = _project(tmp_path / "project")
    _build(config)
    shutil.rmtree(config.parent / "site")
    output = _build(config)
    assert "students read: 0, reused from the cache: 31" in output
    assert gc.get_freeze_count() == 0  # the loaded entries were frozen, and released after the build
    assert ", reused: 0\n" in output.split("encrypted files sealed: ")[1]
    _same_as_clean_build(config.parent, tmp_path)


def test_the_build_shows_progress_once_per_student(tmp_path: Path) -> None:
    """`yidang build` shows a progress bar over the students, read or taken from the cache."""
    import contextlib

    from generator.build.stages import build_site

    config = _project(tmp_path / "project")
    for _ in range(2):  # a full build, then one that takes every student from the cache
        seen: list[object] = []

        @contextlib.contextmanager
        def bar(total: int, seen: list[object] = seen):  # type: ignore[no-untyped-def]
            seen.append(total)
            yield lambda: seen.append("tick")

        build_site(config, config.parent / "site", booklets=False, progress=bar)
        assert seen[0] == 31 and seen.count("tick") == 31
