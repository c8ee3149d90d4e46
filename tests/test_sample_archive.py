"""The sample archive shows every feature, and is fictional and varied."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from pathlib import Path

from .conftest import SAMPLE
from .site_helpers import active, read_facts

# SHA-256 prefixes of the real people and places named in the school's plan
# (shared/reference). Kept as hashes so that no real name enters the project.
REAL_NAMES = {
    "aeda544b16803b1b",
    "b5459bc720caa042",
    "dc9085a7e7f18289",
    "05cfacf3fd03bb09",
    "b6904a4db49eb394",
    "ad83d5e7da8bce48",
}


def _texts() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in SAMPLE.rglob("*") if p.suffix in (".md", ".yml")}


def _bodies() -> dict[Path, str]:
    return {p: t.split("\n---", 1)[1].split("\n", 1)[1] for p, t in _texts().items() if p.suffix == ".md"}


def test_check_is_clean(run) -> None:
    """No errors, and no warnings but the four-ones ones (some students are behind on purpose)."""
    result = run("check", SAMPLE, "--as-of", "2026-11-28")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if ": warning: " in line]
    assert warnings and all("四个一" in w for w in warnings)


def test_size_and_coverage() -> None:
    facts = read_facts(SAMPLE)
    assert len(facts.profiles) >= 30
    assert len(facts.teachers) >= 12
    assert len(facts.classes) >= 8 and len({c["grade"] for c in facts.classes}) >= 3
    roles = {r for t in facts.teachers for r in t["roles"]}
    assert {"leader", "deputy", "office", "head_teacher", "mentor"} <= roles
    cats = Counter(c["key"] for p in facts.profiles.values() for c in p["categories"])
    assert set(cats) == set(facts.school["categories"])
    assert sum(1 for p in facts.profiles.values() if len(p["categories"]) >= 2) >= 3
    kinds = {c.get("kind") for p in facts.profiles.values() for c in p["categories"]}
    assert set(facts.school["categories"]["poverty"]["kinds"]) <= kinds
    modes = {m.get("mode", "one_to_one") for p in facts.profiles.values() for m in p["mentors"]}
    assert modes == {"one_to_one", "one_to_many"}
    assert sum(1 for p in facts.profiles.values() if not active(p)) >= 1


def test_two_terms_of_records_of_every_kind() -> None:
    names = [p.name for p in SAMPLE.glob("students/*/records/*.md")]
    types = Counter(re.sub(r"^\d{4}-\d{2}-\d{2}-|(-\d+)?\.md$", "", n) for n in names)
    assert {"talk", "home_visit", "evaluation", "activity", "aid"} <= set(types)
    spring = [n for n in names if "2026-02-23" <= n[:10] <= "2026-07-03"]
    fall = [n for n in names if n[:10] >= "2026-09-01"]
    assert len(spring) > 100 and len(fall) > 100
    visits = " ".join(t for p, t in _texts().items() if "home_visit" in p.name)
    assert "mode: in_person" in visits and "mode: phone" in visits
    assert len(list(SAMPLE.glob("students/*/plan.md"))) == len(list(SAMPLE.glob("students/*/")))
    assert len(list(SAMPLE.glob("students/*/photos/*.jpg"))) >= 3


def test_some_students_are_behind_on_monthly_visits() -> None:
    """At least three active students miss a home visit in Oct or Nov 2026."""
    facts = read_facts(SAMPLE)
    behind = 0
    for sid, p in facts.profiles.items():
        months = {f.name[:7] for f in (SAMPLE / "students" / sid / "records").glob("*home_visit*")}
        if active(p) and not {"2026-10", "2026-11"} <= months:
            behind += 1
    assert behind >= 3


def test_no_sentence_is_repeated() -> None:
    seen: dict[str, Path] = {}
    for path, body in _bodies().items():
        for sentence in re.split(r"[。!?!?\n]", body):
            sentence = sentence.strip()
            if len(sentence) >= 8:
                assert sentence not in seen or seen[sentence] == path, (sentence, path, seen.get(sentence))
                seen[sentence] = path
    assert len(seen) > 1000


def test_no_real_name_from_the_reference() -> None:
    for path, text in _texts().items():
        for n in (2, 3, 4):
            for i in range(len(text) - n + 1):
                digest = hashlib.sha256(text[i : i + n].encode()).hexdigest()[:16]
                assert digest not in REAL_NAMES, f"{path}: a real name from the reference"


def test_records_are_in_the_past() -> None:
    latest = max(dt.date.fromisoformat(p.name[:10]) for p in SAMPLE.glob("students/*/records/*.md"))
    assert latest <= dt.date(2026, 11, 28)
