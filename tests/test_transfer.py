"""A student moves to another school: `yidang transfer` here, `yidang intake` there.

Two git repositories: the sample archive (云溪县第一中学) sends S2025003 to a school made
with `yidang init`, which has an intake key and hands out its card. The bundle is read
as an outsider would (no plaintext), as the sender's reviewer would (only the profile
changed) and as the receiving school would (every record, photo and source file, its
site showing them, the booklet a PDF/A-3 carrying the sources)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from generator.archive.load import split_front_matter
from generator.core import crypto
from generator.protect import access

from .conftest import SAMPLE
from .site_helpers import soup
from .test_booklets import pdfa_claims
from .test_site import write_config
from .test_year import _repo, _state, git, said_in_chinese_first

STUDENT = "S2025003"
SENT_ON, ARRIVED_ON = "2026-11-30", "2026-12-07"
SOURCE = SAMPLE / "students" / STUDENT


def _receiving_school(base: Path, run) -> tuple[Path, Path, Path]:  # type: ignore[no-untyped-def]
    """A new school's repository (yidang init) with an intake key; its card and the file
    holding the intake passphrase."""
    repo = base / "school-b"
    made = run("init", repo)
    assert made.exit_code == 0
    passphrase = next(line.strip() for line in made.output.splitlines() if line.startswith("    "))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a new school")
    card, secret = base / f"{repo.name}-card.json", base / f"{repo.name}-passphrase"
    assert run("access", "intake", "--card", card, "--archive", repo / "archives").exit_code == 0
    secret.write_text(passphrase, encoding="utf-8")
    return repo, card, secret


def _read_out(card: Path) -> str:
    """The fingerprint as the receiving school's office reads it out by phone: groups of four."""
    fingerprint = json.loads(card.read_text(encoding="utf-8"))["fingerprint"]
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4)).upper()


def _take_in(run, repo: Path, bundle: Path, secret: Path, *args: str):  # type: ignore[no-untyped-def]
    return run(
        "intake",
        bundle,
        "--archive",
        repo / "archives",
        "--passphrase-file",
        secret,
        "--as-of",
        ARRIVED_ON,
        *args,
    )


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory, run) -> dict:  # type: ignore[no-untyped-def]
    """S2025003 sent from the sample's repository and taken in at the new school."""
    base = tmp_path_factory.mktemp("transfer")
    temp_before = set(Path(tempfile.gettempdir()).glob("yidang-transfer-*"))
    sender = _repo(base)
    receiver, card, secret = _receiving_school(base, run)
    config = write_config(base, sender / "archives", booklets=True)
    bundle = base / f"{STUDENT}.yidang"
    sent = run(
        "transfer", STUDENT, "--to", card, "--out", bundle, "--as-of", SENT_ON,
        "--archive", sender / "archives", "--config", config, "--fingerprint", _read_out(card),
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    left_behind = set(Path(tempfile.gettempdir()).glob("yidang-transfer-*")) - temp_before
    inbox = base / "inbox"
    inbox.mkdir()
    shutil.copy(bundle, inbox / bundle.name)
    taken = _take_in(run, receiver, inbox / bundle.name, secret, "--class", "G1-01", "--mentor", "T003")
    assert taken.exit_code == 0, taken.output
    return {
        "base": base, "sender": sender, "receiver": receiver, "card": card, "secret": secret,
        "bundle": bundle, "sent": sent.output, "taken": taken.output, "left_behind": left_behind,
    }  # fmt: skip


def test_the_bundle_holds_no_plaintext(moved) -> None:  # type: ignore[no-untyped-def]
    data = moved["bundle"].read_bytes()
    outer = json.loads(data)
    assert set(outer) == {"format", "intake", "epk", "data"}
    opened = crypto.unb64(outer["data"])  # what base64 would hide, were it only encoded
    profile = yaml.safe_load((SOURCE / "profile.yml").read_text("utf-8"))
    talk = (SOURCE / "records/2026-11-24-talk.md").read_text("utf-8")
    body = next(line for line in split_front_matter(talk)[1].splitlines() if len(line) > 12)
    secrets = [profile["name"], STUDENT, "云溪县第一中学", body[:12], "%PDF", "profile.yml"]
    for text in secrets:
        assert text.encode("utf-8") not in data and text.encode("utf-8") not in opened, text
    photo = (SOURCE / "photos/2026-09-19-家访.jpg").read_bytes()[:64]
    assert photo not in opened and crypto.b64(photo).encode()[:40] not in opened
    assert moved["bundle"].stat().st_mode & 0o077 == 0  # readable by the office only
    assert moved["left_behind"] == set()  # the booklet was made in a temporary folder, now gone


def test_the_sender_marks_the_student_transferred_on_a_branch(moved, run) -> None:  # type: ignore[no-untyped-def]
    sender = moved["sender"]
    assert git(sender, "status", "--porcelain") == "" and git(sender, "branch", "--show-current") == "main\n"
    changed = git(sender, "diff", "--name-only", "main", f"transfer/{STUDENT}").split()
    assert changed == [f"archives/students/{STUDENT}/profile.yml"]
    git(sender, "checkout", "-q", f"transfer/{STUDENT}")
    try:
        profile = yaml.safe_load((sender / "archives/students" / STUDENT / "profile.yml").read_text("utf-8"))
        checked = run("check", sender / "archives", "--as-of", SENT_ON)
    finally:
        git(sender, "checkout", "-q", "main")
    assert profile["status"] == "transferred" and str(profile["closed_on"]) == SENT_ON
    assert profile["transferred_to"] == "示例中学(请替换为本校名称)"
    assert all(str(m.get("until")) == SENT_ON for m in profile["mentors"])
    assert checked.exit_code == 0 and " 0 error(s)" in checked.output, checked.output


def _front(path: Path) -> tuple[dict, str]:
    meta, body, _ = split_front_matter(path.read_text("utf-8"))
    return yaml.safe_load(meta), body


def test_the_receiving_school_gets_every_record_and_photo(moved, run) -> None:  # type: ignore[no-untyped-def]
    receiver = moved["receiver"]
    records = len(list((SAMPLE / "students" / STUDENT / "records").glob("*.md")))  # every one of them
    assert f"transfer {STUDENT} from 云溪县第一中学 as {STUDENT}, {records} record(s)" in moved["taken"]
    git(receiver, "checkout", "-q", f"transfer/in-{STUDENT}")
    try:
        folder = receiver / "archives/students" / STUDENT
        checked = run("check", receiver / "archives", "--as-of", ARRIVED_ON)
        profile = yaml.safe_load((folder / "profile.yml").read_text("utf-8"))
        records = {p.name: _front(p) for p in (folder / "records").glob("*.md")}
        photo = (folder / "photos/2026-09-19-家访.jpg").read_bytes()
        kept_plan = (folder / "transferred/plan.md").read_bytes()
    finally:
        git(receiver, "checkout", "-q", "main")
    assert checked.exit_code == 0 and " 0 error(s)" in checked.output, checked.output
    assert profile["class"] == "G1-01" and [m["teacher"] for m in profile["mentors"]] == ["T003"]
    assert profile["transferred_from"] == {
        "school": "云溪县第一中学", "date": __import__("datetime").date(2026, 12, 7), "id": STUDENT,
    }  # fmt: skip
    originals = {p.name: _front(p) for p in (SOURCE / "records").glob("*.md")}
    assert set(records) == set(originals)
    teachers = {t["id"]: t["name"] for t in yaml.safe_load((SAMPLE / "teachers.yml").read_text("utf-8"))}
    for name, (meta, body) in records.items():
        old_meta, old_body = originals[name]
        assert body == old_body, name  # what the teacher wrote, unchanged
        assert meta["from_school"] == "云溪县第一中学"
        assert meta["by"] == teachers[old_meta["by"]]  # the author's name, not the other school's id
        assert {k: v for k, v in meta.items() if k not in {"by", "reviewed_by", "from_school"}} == {
            k: v for k, v in old_meta.items() if k not in {"by", "reviewed_by"}
        }
    assert photo == (SOURCE / "photos/2026-09-19-家访.jpg").read_bytes()
    assert kept_plan == (SOURCE / "plan.md").read_bytes()


def _received_booklet(receiver: Path) -> bytes:
    listing = git(
        receiver, "ls-tree", "-r", "--name-only", f"transfer/in-{STUDENT}", "--", "archives/students"
    )
    (path,) = [p for p in listing.split() if p.endswith(".pdf")]
    assert path == f"archives/students/{STUDENT}/transferred/{SENT_ON}-{STUDENT}.pdf"
    return git_bytes(receiver, "show", f"transfer/in-{STUDENT}:{path}")


def git_bytes(repo: Path, *args: str) -> bytes:
    import subprocess

    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True).stdout


def _attachments(pdf: PdfReader) -> dict[str, bytes]:
    """Embedded files by their Unicode name (/UF: what a PDF reader shows; WeasyPrint writes
    /F as the name's UTF-8 bytes, which pypdf's `attachments` reads as Latin-1)."""
    tree = pdf.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    specs = [tree[i + 1].get_object() for i in range(0, len(tree), 2)]
    assert all(str(s["/AFRelationship"]) == "/Source" for s in specs)
    return {str(s["/UF"]): s["/EF"]["/F"].get_object().get_data() for s in specs}


def test_the_transfer_booklet_is_pdf_a_3_carrying_the_sources(moved) -> None:  # type: ignore[no-untyped-def]
    pdf = PdfReader(io.BytesIO(_received_booklet(moved["receiver"])))
    assert pdfa_claims(pdf).get("part") == "3"
    attached = _attachments(pdf)
    sources = {
        p.relative_to(SOURCE).as_posix(): p.read_bytes() for p in sorted(SOURCE.rglob("*")) if p.is_file()
    }
    assert set(attached) == set(sources)
    for name, data in sources.items():
        assert attached[name] == data, name


def test_the_receiving_site_shows_the_student_with_all_records(moved, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    receiver = moved["receiver"]
    work = tmp_path / "b"
    git(receiver, "worktree", "add", "-q", work, f"transfer/in-{STUDENT}")
    config = write_config(tmp_path, work / "archives", as_of=ARRIVED_ON)
    built = run("build", "--config", config, "--site-dir", tmp_path / "site", "--no-booklets")
    assert built.exit_code == 0, built.output
    page = soup(tmp_path / "site", f"students/{STUDENT}")
    shown = {d["data-record"] for d in page.find_all(attrs={"data-record": True})}
    assert shown == {p.name for p in (SOURCE / "records").glob("*.md")}
    assert "云溪县第一中学" in page.text  # where the student and each record come from
    name = yaml.safe_load((SOURCE / "profile.yml").read_text("utf-8"))["name"]
    assert name in page.text
    assert STUDENT in {
        a["href"].strip("./").split("/")[-1]
        for a in soup(tmp_path / "site", "classes/G1-01").find_all("a", href=True)
    }


def test_an_id_taken_here_is_renumbered(moved, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    receiver = tmp_path / "school-b"
    shutil.copytree(moved["receiver"], receiver)
    git(receiver, "merge", "-q", "--no-edit", f"transfer/in-{STUDENT}")
    again = tmp_path / "again.yidang"
    shutil.copy(moved["bundle"], again)
    taken = _take_in(run, receiver, again, moved["secret"], "--class", "G1-01", "--mentor", "T002")
    assert taken.exit_code == 0, taken.output
    assert f"as {STUDENT}-2" in taken.output
    profile = yaml.safe_load(
        git(receiver, "show", f"transfer/in-{STUDENT}-2:archives/students/{STUDENT}-2/profile.yml")
    )
    assert profile["id"] == f"{STUDENT}-2" and profile["transferred_from"]["id"] == STUDENT


def test_a_bundle_for_another_school_is_refused(moved, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other, _, secret = _receiving_school(tmp_path, run)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(moved["bundle"], inbox / "x.yidang")
    state = _state(other)
    taken = _take_in(run, other, inbox / "x.yidang", secret, "--class", "G1-01", "--mentor", "T003")
    assert taken.exit_code == 1 and "0 taken in, 1 refused" in taken.output
    reason = (inbox / "rejected/x.yidang.reason.txt").read_text("utf-8")
    assert "sealed to another school's intake key" in reason and "不是本校的" in reason
    assert (inbox / "rejected/x.yidang").read_bytes() == moved["bundle"].read_bytes()
    assert _state(other) == state


def test_a_bundle_needs_a_class_and_a_mentor_here(moved, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    receiver = moved["receiver"]
    bundle = tmp_path / "y.yidang"
    shutil.copy(moved["bundle"], bundle)
    state = _state(receiver)
    for extra, message in [
        (("--class", "G9-09", "--mentor", "T003"), "G9-09"),
        (("--class", "G1-01", "--mentor", "T999"), "T999"),
    ]:
        taken = _take_in(run, receiver, bundle, moved["secret"], *extra)
        assert taken.exit_code == 2 and message in taken.output, taken.output
        assert said_in_chinese_first(taken.output)
        assert bundle.read_bytes() == moved["bundle"].read_bytes() and _state(receiver) == state
    # Without them the bundle is refused on its own (an inbox of records goes on), and kept.
    taken = _take_in(run, receiver, bundle, moved["secret"])
    assert taken.exit_code == 1 and "--class 和 --mentor" in taken.output, taken.output
    assert (tmp_path / "rejected" / bundle.name).read_bytes() == moved["bundle"].read_bytes()
    assert _state(receiver) == state


@pytest.mark.parametrize(
    ("student", "card", "message"),
    [
        ("S9999999", "theirs", "no student 'S9999999'"),
        ("S2024007", "theirs", "S2024007 is not active"),
        (STUDENT, "ours", "this school's own intake key card"),
        (STUDENT, "bad", "not a school's intake key card"),
        (STUDENT, "exists", "exists; transfer never overwrites a file"),
    ],
)
def test_bad_transfers_are_refused_and_change_nothing(
    moved, run, tmp_path: Path, student, card, message
) -> None:  # type: ignore[no-untyped-def]
    sender = _repo(tmp_path)
    cards = {"theirs": moved["card"], "bad": tmp_path / "bad.json", "exists": moved["card"]}
    cards["bad"].write_text('{"format": "yidang-intake-card-1", "school": "x"}', encoding="utf-8")
    if card == "ours":
        cards["ours"] = tmp_path / "ours.json"
        ours = access.load_intake(sender / "archives")
        assert ours is not None  # the sample has an intake key
        from generator.review.transfer import card_json

        cards["ours"].write_text(card_json("云溪县第一中学", ours), encoding="utf-8")
    out = tmp_path / "out.yidang"
    if card == "exists":
        out.write_bytes(b"an earlier file")
    state = _state(sender)
    heard = ("--fingerprint", _read_out(cards[card])) if card != "bad" else ()
    archive = sender / "archives"
    result = run("transfer", student, "--to", cards[card], "--out", out, "--archive", archive, *heard)
    assert result.exit_code == 2 and message in result.output, result.output
    assert said_in_chinese_first(result.output)
    assert _state(sender) == state
    assert not out.exists() or out.read_bytes() == b"an earlier file"


def test_what_travels_is_the_students_own_sources(tmp_path: Path) -> None:
    """A student who came from elsewhere moves on: the earlier school's plan and booklet
    (transferred/) and hidden files stay; the bundle and the booklet's attachments share this list."""
    from generator.archive.read import source_files

    folder = tmp_path / STUDENT
    shutil.copytree(SOURCE, folder)
    (folder / "transferred").mkdir()
    (folder / "transferred/2025-09-01-S1.pdf").write_bytes(b"%PDF-1.7 another school's booklet")
    (folder / "records/.2026-11-24-talk.md.swp").write_bytes(b"an editor's swap file")
    names = [rel for rel, _ in source_files(folder)]
    expected = sorted(p.relative_to(SOURCE).as_posix() for p in SOURCE.rglob("*") if p.is_file())
    assert names == expected


def test_a_card_swapped_on_the_way_seals_nothing(moved, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The card came by chat: someone put their own key in it, under the school's name. The
    fingerprint the receiving school reads out by phone is not the card's: nothing is sealed."""
    from click.testing import CliRunner

    from generator.cli import main
    from generator.review.transfer import card_json

    sender = _repo(tmp_path)
    school = json.loads(moved["card"].read_text(encoding="utf-8"))["school"]
    forged = tmp_path / "forged-card.json"
    forged.write_text(card_json(school, access.create_intake()[0]), encoding="utf-8")
    out, state = tmp_path / "out.yidang", _state(sender)
    archive = str(sender / "archives")
    args = ["transfer", STUDENT, "--to", str(forged), "--out", str(out), "--archive", archive]
    heard = _read_out(moved["card"])
    said = run(*args, "--fingerprint", heard)
    assert said.exit_code == 2 and "does not match the one the receiving school read out" in said.output
    assert said_in_chinese_first(said.output)
    asked = CliRunner().invoke(main, args, input=heard + "\n", catch_exceptions=False)
    assert "请打电话给该校办公室" in asked.output and asked.exit_code == 2, asked.output
    assert not out.exists() and _state(sender) == state
