"""Independent readings of an archive and a built site, for the site tests.

Nothing here imports the code under test: expectations are computed from the
YAML files with plain PyYAML, and pages are read with BeautifulSoup.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml
from bs4 import BeautifulSoup


@dataclass
class Facts:
    school: dict
    teachers: list[dict]
    classes: list[dict]
    profiles: dict[str, dict]


def read_facts(root: Path) -> Facts:
    def load(p: Path):  # type: ignore[no-untyped-def]
        return yaml.safe_load(p.read_text(encoding="utf-8"))

    profiles = {p.parent.name: load(p) for p in sorted(root.glob("students/*/profile.yml"))}
    return Facts(load(root / "school.yml"), load(root / "teachers.yml"), load(root / "classes.yml"), profiles)


def title_of(facts: Facts, sid: str) -> str:
    """A student's page title as lists and the page's heading show it: the name, and the
    class too when another student has the same name."""
    name = facts.profiles[sid]["name"]
    if sum(p["name"] == name for p in facts.profiles.values()) < 2:
        return str(name)
    klass = next(c["name"] for c in facts.classes if c["id"] == facts.profiles[sid]["class"])
    return f"{name}({klass})"


def current(entry: dict, day: dt.date) -> bool:
    return entry["since"] <= day and (entry.get("until") is None or day <= entry["until"])


def active(profile: dict) -> bool:
    return profile.get("status", "active") == "active"


def soup(site: Path, url: str) -> BeautifulSoup:
    return BeautifulSoup((site / url / "index.html").read_text(encoding="utf-8"), "html.parser")


def listed(page: BeautifulSoup, list_name: str) -> list[str]:
    """Student ids in the table marked data-list=list_name, in page order."""
    block = page.find(attrs={"data-list": list_name})
    if block is None:
        return []
    return [tr["data-student"] for tr in block.find_all("tr", attrs={"data-student": True})]
